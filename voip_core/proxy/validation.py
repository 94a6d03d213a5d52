"""RFC 3261 §16.3 request validation (and the §8.2.2 checks for requests to ourselves)."""

from __future__ import annotations

from typing import Final

from voip_core.sip.exceptions import RemoteProtocolError
from voip_core.sip.message import Request
from voip_core.sip.uri import AbsoluteUri

__all__ = ["SUPPORTED_SCHEMES", "BadExtension", "check_require", "validate_request"]

#: Request-URI schemes we route (§16.3 step 2): SIP, SIPS and TEL numbers.
SUPPORTED_SCHEMES: Final = frozenset({"sip", "sips", "tel"})


def validate_request(request: Request, *, proxy_supported: frozenset[str]) -> None:
    """Apply §16.3 steps 1-5 that do not need the loop hash; raise with the reply code.

    Step 1 (syntax) was done by the parser; step 4 (loop detection) needs the branch we
    would compute and is in :mod:`voip_core.proxy.forwarding`; step 6 (credentials) is
    the authenticator's.
    """
    if request.version != "SIP/2.0":
        # §8.2 / §21.5.25: we speak only SIP/2.0.
        raise RemoteProtocolError(
            f"SIP version {request.version} not supported",
            status_code=505,
            reason="Version Not Supported",
        )
    if isinstance(request.uri, AbsoluteUri) or request.uri.scheme not in SUPPORTED_SCHEMES:
        raise RemoteProtocolError(
            f"Request-URI scheme {request.uri.scheme!r} not supported",
            status_code=416,
            reason="Unsupported URI Scheme",
        )
    max_forwards = request.header("max-forwards")
    if max_forwards is not None and int(max_forwards) == 0 and request.method != "OPTIONS":
        # §16.3 step 3; OPTIONS with Max-Forwards 0 is answered by us as a UAS.
        raise RemoteProtocolError("Max-Forwards reached 0", status_code=483, reason="Too Many Hops")
    unsupported = [
        tag for tag in request.header_values("proxy-require") if tag.lower() not in proxy_supported
    ]
    if unsupported:
        raise BadExtension(unsupported)


def check_require(request: Request, *, supported: frozenset[str]) -> None:
    """§8.2.2.3: a request we answer as UAS must not require extensions we lack (420)."""
    unsupported = [tag for tag in request.header_values("require") if tag.lower() not in supported]
    if unsupported:
        raise BadExtension(unsupported)


class BadExtension(RemoteProtocolError):
    """420 Bad Extension; ``unsupported`` goes into the Unsupported header."""

    def __init__(self, unsupported: list[str]) -> None:
        super().__init__(
            f"unsupported extension {', '.join(unsupported)}",
            status_code=420,
            reason="Bad Extension",
        )
        self.unsupported = tuple(unsupported)
