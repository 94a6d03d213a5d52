"""The registrar as a transaction user: authenticate, authorise, apply, store (RFC 3261 §10.3)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from voip_core.registrar.authentication import Authenticated, Authenticator
from voip_core.registrar.binding import canonical_aor
from voip_core.registrar.register import RegistrarPolicy, process_register
from voip_core.registrar.store import BindingStore
from voip_core.sip.exceptions import ParseError
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri

__all__ = ["Registrar"]


class Registrar:
    """Handles REGISTER for our domain; the AOR is always ``sip:user@<domain>``.

    Phones may register with the server's IP address as host (§10.3 step 3 lets a
    registrar serve several hosts for one domain); their AOR is still the domain's.
    """

    def __init__(
        self,
        *,
        domain: str,
        store: BindingStore,
        authenticator: Authenticator,
        policy: RegistrarPolicy,
        gruu_secret: bytes,
        server_name: str = "Ronghe",
        first_hop: Callable[[Peer], str] | None = None,
    ) -> None:
        self._domain = domain.lower()
        self._store = store
        self._authenticator = authenticator
        self._policy = policy
        self._gruu_secret = gruu_secret
        self._server_name = server_name
        #: The Path value a cluster node records in front of a binding's Path, naming
        #: itself and the REGISTER's flow (:mod:`voip_core.proxy.nodes`).
        self._first_hop = first_hop

    def register(self, request: Request, *, source: Peer, now: float) -> Response:
        """§10.3 steps 1-8 for one REGISTER addressed to us."""
        tag = hashlib.blake2b(
            request.call_id.encode("utf-8", "surrogateescape"), digest_size=6
        ).hexdigest()
        outcome = self._authenticator.authenticate(
            request, proxy=False, now=now, source=source.host
        )
        if not isinstance(outcome, Authenticated):
            return make_response(
                request, outcome.status_code, outcome.reason, to_tag=tag, headers=outcome.headers
            )
        to_uri = request.to().uri
        if not isinstance(to_uri, SipUri) or to_uri.user_unescaped is None:
            raise ParseError("To of REGISTER must be a SIP URI with a user part")
        user = to_uri.user_unescaped
        if user != outcome.username:
            # §10.3 step 6: an authenticated user may only change its own bindings.
            return make_response(
                request, 403, f"Forbidden ({outcome.username} may not register {user})", to_tag=tag
            )
        aor = canonical_aor(SipUri(scheme="sip", user=to_uri.user, host=self._domain))
        current = self._store.get(aor)
        result = process_register(
            request,
            aor=aor,
            current=current,
            policy=self._policy,
            source=source,
            now=now,
            gruu_secret=self._gruu_secret,
            to_tag=tag,
            first_hop=None if self._first_hop is None else self._first_hop(source),
        )
        if result.changed:
            self._store.replace(aor, result.bindings)
        return result.response.append("Server", self._server_name)
