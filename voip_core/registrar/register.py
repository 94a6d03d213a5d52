"""REGISTER processing (RFC 3261 §10.3 steps 4-8, RFC 3327, RFC 5626 §6, RFC 5627 §5).

Theory of operation
-------------------
:func:`process_register` is a pure function: it takes the request, the AOR's current
bindings, the policy and ``now``, and returns the response together with the bindings
the AOR has afterwards. Nothing is stored here; the caller writes ``bindings`` to its
:class:`~voip_core.registrar.store.BindingStore` when ``changed`` is set, and sends
``response``. Any refusal leaves ``bindings`` equal to the (unexpired) current ones,
which makes the update all-or-nothing as §10.3 step 7 requires.

The caller does steps 1-5 first: decide that the Request-URI's domain is ours (step
1), answer ``Require`` (step 2), authenticate (step 3, :mod:`voip_core.sip.digest`),
authorise the user for the AOR (step 4) and derive the AOR with
:func:`~voip_core.registrar.binding.canonical_aor` from the To URI (step 5).

Decisions where the RFCs leave room:

* An out-of-order REGISTER (same Call-ID, CSeq not above the stored one, step 7 "the
  request fails") is answered **400**, not 500: the request is stale, and a 500 would
  invite a retry of the same stale request. Kamailio answers it the same way.
* A Contact listed twice is a 400 rather than the spurious out-of-order failure a
  literal reading of step 7 produces for the second copy.
* The per-AOR contact limit answers **403**; it only refuses requests that *add*
  bindings beyond the limit, so an AOR over a lowered limit can still refresh and
  unregister.
* ``reg-id`` only counts with ``+sip.instance`` and ``Supported: outbound`` (RFC 5626
  §6 ignores it without an instance); such a contact is keyed by (instance, reg-id),
  replacing the earlier flow even when the Contact URI changed.
* A Path header from a UA that did not send ``Supported: path`` is refused with 420
  and ``Unsupported: path`` (RFC 3327 §5.3, Kamailio's ``path_mode=2``).
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Final

from voip_core.registrar.binding import (
    MAX_CALL_ID_LENGTH,
    MAX_CONTACT_LENGTH,
    MAX_INSTANCE_ID_LENGTH,
    MAX_PATH_LENGTH,
    MAX_USER_AGENT_LENGTH,
    Binding,
)
from voip_core.registrar.exceptions import RegistrationRejected
from voip_core.registrar.gruu import GRUU_PARAM, normalize_instance_id, public_gruu, temporary_gruu
from voip_core.sip.address import NameAddress, parse_name_addr
from voip_core.sip.exceptions import LocalProtocolError, ParseError
from voip_core.sip.grammar import quote_string
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri, Uri, parse_uri, serialize_uri, uri_equal

__all__ = ["RegisterOutcome", "RegistrarPolicy", "process_register"]

#: RFC 3261 §10.3 step 7: 423 only for intervals "smaller than one hour".
_INTERVAL_TOO_BRIEF_CEILING: Final = 3600
#: Largest expiration interval a request may state (RFC 3261 §20.19: 2**32-1).
_MAX_DELTA_SECONDS: Final = 2**32 - 1
#: RFC 5626 §4.2.1: reg-id is 1 to 2**31-1.
_MAX_REG_ID: Final = 2**31 - 1
# RFC 3261 §25.1 qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE_RE: Final = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
_SHOWN_URI_LENGTH: Final = 100


@dataclass(frozen=True, slots=True)
class RegistrarPolicy:
    """Registrar settings (all intervals in seconds)."""

    min_expires: int = 60
    """Shorter requested intervals are refused with 423 (RFC 3261 §10.3 step 7)."""
    max_expires: int = 3600
    """Longer requested intervals are cut to this."""
    default_expires: int = 3600
    """Used when neither the contact nor the request states an interval."""
    max_contacts_per_aor: int = 10
    """Most bindings one AOR may hold."""

    def __post_init__(self) -> None:
        if self.min_expires < 1:
            raise ValueError(f"min_expires {self.min_expires} must be at least 1")
        if self.max_expires < self.min_expires:
            raise ValueError(f"max_expires {self.max_expires} below min_expires {self.min_expires}")
        if not self.min_expires <= self.default_expires <= self.max_expires:
            raise ValueError(
                f"default_expires {self.default_expires} outside "
                f"{self.min_expires}..{self.max_expires}"
            )
        if self.max_contacts_per_aor < 1:
            raise ValueError(f"max_contacts_per_aor {self.max_contacts_per_aor} must be at least 1")


@dataclass(frozen=True, slots=True)
class RegisterOutcome:
    """What :func:`process_register` decided."""

    response: Response
    """The final response to send."""
    bindings: tuple[Binding, ...]
    """Every unexpired binding of the AOR after the request (unchanged on refusal)."""
    changed: bool
    """Whether ``bindings`` differ from the current ones, i.e. must be stored."""


@dataclass(frozen=True, slots=True)
class _RequestedContact:
    address: NameAddress
    uri: Uri
    uri_text: str
    expires: int
    q: float | None
    instance_id: str | None
    reg_id: int | None


def _shown(uri_text: str) -> str:
    if len(uri_text) > _SHOWN_URI_LENGTH:
        uri_text = uri_text[:_SHOWN_URI_LENGTH] + "..."
    return f"<{uri_text}>"


def _delta_seconds(text: str, what: str) -> int:
    value = text.strip()
    if not value.isdigit() or not value.isascii():
        raise RegistrationRejected(f"malformed {what} {text!r}")
    return min(int(value), _MAX_DELTA_SECONDS)


def _parse_contact(
    address: NameAddress, header_expires: int | None, policy: RegistrarPolicy, outbound: bool
) -> _RequestedContact:
    uri_text = serialize_uri(address.uri)
    shown = _shown(uri_text)
    if len(uri_text) > MAX_CONTACT_LENGTH:
        raise RegistrationRejected(
            f"Contact URI of {len(uri_text)} characters exceeds {MAX_CONTACT_LENGTH}"
        )
    expires_param = address.param("expires")
    if expires_param is not None:
        expires = _delta_seconds(expires_param, f"expires parameter in Contact {shown}:")
    elif header_expires is not None:
        expires = header_expires
    else:
        expires = policy.default_expires
    q: float | None = None
    q_param = address.param("q")
    if q_param is not None:
        if not _QVALUE_RE.fullmatch(q_param):
            raise RegistrationRejected(
                f"q value {q_param!r} in Contact {shown} not between 0 and 1"
            )
        q = float(q_param)
    instance_id: str | None = None
    instance_param = address.param("+sip.instance")
    if instance_param is not None:
        instance_id = normalize_instance_id(instance_param)
        if not instance_id or len(instance_id) > MAX_INSTANCE_ID_LENGTH:
            raise RegistrationRejected(
                f"invalid +sip.instance {instance_param!r} in Contact {shown}"
            )
    reg_id: int | None = None
    reg_id_param = address.param("reg-id")
    if reg_id_param is not None and instance_id is not None and outbound:
        if not reg_id_param.isdigit() or not 1 <= int(reg_id_param) <= _MAX_REG_ID:
            raise RegistrationRejected(f"invalid reg-id {reg_id_param!r} in Contact {shown}")
        reg_id = int(reg_id_param)
    return _RequestedContact(address, address.uri, uri_text, expires, q, instance_id, reg_id)


def _format_q(q: float) -> str:
    return f"{q:.3f}".rstrip("0").rstrip(".")


@functools.lru_cache(maxsize=2)
def _date(second: int) -> str:
    """The Date header value of a 200 (RFC 3261 §20.17, whole seconds): formatted once per
    second, not once per registration."""
    return formatdate(second, usegmt=True)


def _to_tag(request: Request) -> str:
    """A To tag derived from the request, so a retransmission gets the same one.

    The Call-ID the UA chose supplies the randomness RFC 3261 §19.3 asks for.
    """
    seed = f"{request.call_id}\x00{request.header('cseq')}\x00{request.header('via')}"
    return hashlib.sha256(seed.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _render_contact(binding: Binding, now: float, *, gruu: bool) -> str:
    parts = [f"<{binding.contact}>;expires={binding.expires_in(now)}"]
    if binding.q is not None:
        parts.append(f";q={_format_q(binding.q)}")
    if binding.instance_id is not None:
        parts.append(f";+sip.instance={quote_string(f'<{binding.instance_id}>')}")
        if binding.reg_id is not None:
            parts.append(f";reg-id={binding.reg_id}")
        if gruu:
            parts.append(f";pub-gruu={quote_string(public_gruu(binding.aor, binding.instance_id))}")
            if binding.temp_gruu is not None:
                parts.append(f";temp-gruu={quote_string(binding.temp_gruu)}")
    return "".join(parts)


def _check_path(request: Request, supported: list[str]) -> tuple[str, ...]:
    path = tuple(request.header_values("path"))
    if not path:
        return ()
    if "path" not in supported:
        raise RegistrationRejected(
            "Path received but 'path' not in Supported",
            status_code=420,
            headers=[("Unsupported", "path")],
        )
    if sum(len(value) for value in path) > MAX_PATH_LENGTH:
        raise RegistrationRejected(f"Path of more than {MAX_PATH_LENGTH} characters")
    for value in path:
        parse_name_addr(value)  # ParseError -> 400
    return path


def _check_first_hop(request: Request, path: tuple[str, ...]) -> None:
    """RFC 5626 §6: an outbound REGISTER through an edge proxy needs ``;ob`` on its Path."""
    if len(request.vias()) <= 1:
        return  # straight from the UA: we are the first hop
    first = parse_name_addr(path[0]).uri if path else None
    if not isinstance(first, SipUri) or first.param("ob") is None:
        raise RegistrationRejected(
            "First Hop Lacks Outbound Support",
            status_code=439,
            reason="First Hop Lacks Outbound Support",
        )


def _remove_all(current: list[Binding], call_id: str, cseq: int) -> list[Binding]:
    """§10.3 step 6: ``Contact: *`` removes every binding, unless one is newer."""
    for binding in current:
        if binding.call_id == call_id and cseq <= binding.cseq:
            raise RegistrationRejected(
                f"out-of-order REGISTER: CSeq {cseq} not above {binding.cseq} "
                f"for Contact {_shown(binding.contact)}"
            )
    return []


def _parse_contacts(
    request: Request, policy: RegistrarPolicy, supported: list[str]
) -> list[_RequestedContact]:
    header_expires = request.expires()
    outbound = "outbound" in supported
    requested: list[_RequestedContact] = []
    for address in request.contacts():
        contact = _parse_contact(address, header_expires, policy, outbound)
        for earlier in requested:
            if uri_equal(earlier.uri, contact.uri):
                raise RegistrationRejected(f"duplicate Contact {_shown(contact.uri_text)}")
        requested.append(contact)
    if sum(1 for contact in requested if contact.reg_id is not None) > 1:
        raise RegistrationRejected("more than one Contact with reg-id")
    for contact in requested:
        # §10.3 step 7: 423 only when 0 < interval < 1 hour and below the minimum.
        if 0 < contact.expires < min(policy.min_expires, _INTERVAL_TOO_BRIEF_CEILING):
            raise RegistrationRejected(
                f"Expires {contact.expires} below minimum {policy.min_expires}",
                status_code=423,
                headers=[("Min-Expires", str(policy.min_expires))],
            )
    return requested


def _matches(contact: _RequestedContact, binding: Binding, binding_uri: Uri | None) -> bool:
    if contact.reg_id is not None and (binding.instance_id, binding.reg_id) == (
        contact.instance_id,
        contact.reg_id,
    ):
        return True  # RFC 5626 §6: the flow (instance, reg-id) identifies the binding
    return binding_uri is not None and uri_equal(contact.uri, binding_uri)


def _parsed_uri(binding: Binding) -> Uri | None:
    try:
        return parse_uri(binding.contact)
    except ParseError:
        return None  # not comparable; it can still expire or be removed by "*"


def process_register(
    request: Request,
    *,
    aor: str,
    current: Sequence[Binding],
    policy: RegistrarPolicy,
    source: Peer,
    now: float,
    gruu_secret: bytes | None = None,
    to_tag: str | None = None,
    first_hop: str | None = None,
) -> RegisterOutcome:
    """Apply a REGISTER to the AOR's ``current`` bindings (RFC 3261 §10.3 steps 4-8).

    ``aor`` is :func:`~voip_core.registrar.binding.canonical_aor` of the To URI, already
    authorised. ``source`` is where the request came from. ``gruu_secret`` enables GRUUs
    (RFC 5627) for UAs that send ``Supported: gruu`` and ``+sip.instance``. ``to_tag``
    defaults to one derived from the request. ``first_hop``, a Path value, goes in front
    of the Path stored with the bindings this request adds or refreshes, and is not
    echoed in the 200 (a cluster node's hop to the flow, :mod:`voip_core.proxy.nodes`).
    """
    if request.method != "REGISTER":
        raise LocalProtocolError(f"process_register given a {request.method} request")
    tag = to_tag if to_tag is not None else _to_tag(request)
    alive = [binding for binding in current if binding.expires_at > now]
    try:
        bindings, extra_headers = _apply(
            request,
            aor=aor,
            current=alive,
            policy=policy,
            source=source,
            now=now,
            gruu_secret=gruu_secret,
            first_hop=first_hop,
        )
    except RegistrationRejected as error:
        response = make_response(
            request, error.status_code, error.reason, to_tag=tag, headers=error.headers
        )
        return RegisterOutcome(response, tuple(alive), changed=len(alive) != len(current))
    except ParseError as error:
        response = make_response(request, error.status_code, error.reason, to_tag=tag)
        return RegisterOutcome(response, tuple(alive), changed=len(alive) != len(current))
    use_gruu = gruu_secret is not None and "gruu" in request.tokens("supported")
    headers = [("Contact", _render_contact(binding, now, gruu=use_gruu)) for binding in bindings]
    headers.append(("Date", _date(int(now))))
    headers.extend(extra_headers)
    response = make_response(request, 200, to_tag=tag, headers=headers)
    return RegisterOutcome(response, tuple(bindings), changed=tuple(bindings) != tuple(current))


def _apply(
    request: Request,
    *,
    aor: str,
    current: list[Binding],
    policy: RegistrarPolicy,
    source: Peer,
    now: float,
    gruu_secret: bytes | None,
    first_hop: str | None,
) -> tuple[list[Binding], list[tuple[str, str]]]:
    """The new binding list and the extra 200 headers, or ``RegistrationRejected``."""
    to_uri = request.to().uri
    if isinstance(to_uri, SipUri) and to_uri.param(GRUU_PARAM) is not None:
        # RFC 5627 §5.1 (registrar): a GRUU is not an AOR and cannot be registered.
        raise RegistrationRejected(
            f"To URI {_shown(serialize_uri(to_uri))} is a GRUU and cannot be registered",
            status_code=403,
        )
    supported = request.tokens("supported")
    path = _check_path(request, supported)
    call_id = request.call_id
    cseq = request.cseq().number
    if len(call_id) > MAX_CALL_ID_LENGTH:
        raise RegistrationRejected(
            f"Call-ID of {len(call_id)} characters exceeds {MAX_CALL_ID_LENGTH}"
        )
    extra_headers = [("Path", value) for value in path]

    # Step 6: no Contact is a query; "*" removes everything.
    if request.is_wildcard_contact():
        if len(request.header_values("contact")) > 1:
            raise RegistrationRejected("Contact: * must be the only Contact")
        expires = request.expires()
        if expires != 0:
            shown = "no Expires" if expires is None else f"Expires: {expires}"
            raise RegistrationRejected(f"Contact: * requires Expires: 0, got {shown}")
        return _remove_all(current, call_id, cseq), extra_headers
    requested = _parse_contacts(request, policy, supported)
    if not requested:
        return current, extra_headers
    if any(contact.reg_id is not None for contact in requested):
        _check_first_hop(request, path)
        extra_headers.append(("Require", "outbound"))

    # Step 7: each contact in turn, tentatively; committed only if all succeed.
    result = [(binding, _parsed_uri(binding)) for binding in current]
    added: list[Binding] = []
    user_agent = request.header("user-agent")
    if user_agent is not None:
        user_agent = sys.intern(user_agent.strip()[:MAX_USER_AGENT_LENGTH])
    use_gruu = gruu_secret is not None and "gruu" in supported
    stored_path = path if first_hop is None else (first_hop, *path)
    for contact in requested:
        registered_at = now
        kept: list[tuple[Binding, Uri | None]] = []
        for binding, binding_uri in result:
            if not _matches(contact, binding, binding_uri):
                kept.append((binding, binding_uri))
                continue
            if binding.call_id == call_id:
                if cseq <= binding.cseq:
                    raise RegistrationRejected(
                        f"out-of-order REGISTER: CSeq {cseq} not above {binding.cseq} "
                        f"for Contact {_shown(binding.contact)}"
                    )
                registered_at = min(registered_at, binding.registered_at)
        result = kept
        if contact.expires == 0:
            continue
        granted = min(contact.expires, policy.max_expires)
        temp_gruu = None
        if use_gruu and contact.instance_id is not None:
            assert gruu_secret is not None
            temp_gruu = temporary_gruu(
                aor, contact.instance_id, call_id=call_id, cseq=cseq, secret=gruu_secret
            )
        added.append(
            Binding(
                aor=aor,
                contact=contact.uri_text,
                expires_at=now + granted,
                call_id=call_id,
                cseq=cseq,
                source=source,
                registered_at=registered_at,
                q=contact.q,
                user_agent=user_agent,
                instance_id=contact.instance_id,
                reg_id=contact.reg_id,
                path=stored_path,
                temp_gruu=temp_gruu,
            )
        )
    bindings = [binding for binding, _ in result] + added
    limit = policy.max_contacts_per_aor
    if len(bindings) > limit and len(bindings) > len(current):
        raise RegistrationRejected(
            f"{len(bindings)} contacts for {aor} exceed limit {limit}", status_code=403
        )
    return bindings, extra_headers
