"""Forwarding a request to one target (RFC 3261 §16.6) and loop detection (§16.3 step 4)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from voip_core.proxy.config import ListenAddress, ProxyConfig
from voip_core.proxy.routing import FlowTokens
from voip_core.sip.exceptions import LocalProtocolError, RemoteProtocolError
from voip_core.sip.message import Request
from voip_core.sip.peer import Peer
from voip_core.sip.uri import Uri
from voip_core.sip.via import MAGIC_COOKIE

__all__ = [
    "RECORD_ROUTED_METHODS",
    "Target",
    "check_loop",
    "forward_request",
    "loop_hash",
    "make_branch",
    "next_max_forwards",
]

#: Methods whose initial requests create dialogs and so get Record-Route (§16.6 step 4).
RECORD_ROUTED_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})


@dataclass(frozen=True, slots=True)
class Target:
    """Where one branch of a request goes."""

    uri: Uri
    """The Request-URI of the forwarded copy (§16.5)."""
    destination: Peer
    """The next hop (the flow a phone registered over, or a resolved address)."""
    path: tuple[str, ...] = ()
    """RFC 3327 Path values recorded at registration, pushed as Route headers."""
    unreachable: tuple[int, str] | None = None
    """The final response (code, reason) the branch ends with when its destination
    cannot be reached or reports 430 Flow Failed, in place of the 503 of §16.9 that
    §16.7 step 6 turns into 500 (a flow held by a cluster node, :mod:`voip_core.proxy.nodes`)."""


def loop_hash(request: Request) -> str:
    """Hash of the fields RFC 3261 §16.6 step 8 lists for loop detection."""
    to_tag = request.to().tag or ""
    from_tag = request.from_().tag or ""
    cseq = request.cseq()
    parts = (
        str(request.uri),
        to_tag,
        from_tag,
        request.call_id,
        str(cseq.number),
        ",".join(request.header_lines("proxy-require")),
        ",".join(request.header_lines("proxy-authorization")),
        ",".join(request.header_lines("route")),
    )
    return hashlib.blake2b(
        "\x00".join(parts).encode("utf-8", "surrogateescape"), digest_size=8
    ).hexdigest()


def make_branch(loop: str, unique: str, index: int) -> str:
    """A branch that embeds the loop hash (§16.6 step 8) and is unique per forward."""
    salt = hashlib.blake2b(unique.encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()
    return f"{MAGIC_COOKIE}{loop}.{salt}{index}"


def check_loop(request: Request, config: ProxyConfig) -> None:
    """RFC 3261 §16.3 step 4: 482 when one of our Vias carries this request's loop hash.

    A spiral (the request came back with another Request-URI) gives another hash and is
    allowed.
    """
    vias = request.vias()
    if len(vias) < 2:
        return  # straight from a UA: no Via of ours below the top one
    ours = {address.host_port.lower() for address in config.listen}
    current: str | None = None  # the hash is only needed once a Via of ours turns up
    for via in vias[1:]:
        if via.sent_by not in ours:
            continue
        branch = via.branch or ""
        if not branch.startswith(MAGIC_COOKIE):
            continue
        if current is None:
            current = loop_hash(request)
        if branch[len(MAGIC_COOKIE) :].split(".", 1)[0] == current:
            raise RemoteProtocolError(
                "request looped back to this proxy", status_code=482, reason="Loop Detected"
            )


def forward_request(
    request: Request,
    target: Target,
    *,
    config: ProxyConfig,
    tokens: FlowTokens,
    source: Peer,
    branch: str,
    record_route: bool,
) -> Request:
    """Build the copy of ``request`` sent to ``target`` (§16.6 steps 1-8).

    ``request`` is the request after §16.4 route pre-processing. Record-Route is doubled
    (RFC 5658) with a flow token per side, see :mod:`voip_core.proxy.routing`.
    """
    outgoing = config.listen_for(target.destination.transport, ":" in target.destination.host)
    incoming = config.listen_for(source.transport, ":" in source.host)
    value = next_max_forwards(request, config)
    # Step 8: our Via on top.
    via = f"SIP/2.0/{outgoing.transport.upper()} {outgoing.host_port};branch={branch}"
    if outgoing.transport == "udp":
        via += ";rport"
    # Step 4: Record-Route, one entry per side, the top entry facing the target.
    record_routes = (
        (
            ("Record-Route", _record_route(outgoing, tokens.encode(target.destination))),
            ("Record-Route", _record_route(incoming, tokens.encode(source))),
        )
        if record_route
        else ()
    )
    # Step 6 for RFC 3327: the registered Path becomes the route to the contact.
    for hop in reversed(target.path):
        request = request.insert_first("Route", hop)
    return request.with_edits(
        uri=target.uri,
        replace=(("Max-Forwards", str(value)),),
        prepend=(("Via", via), *record_routes),
    )


def next_max_forwards(request: Request, config: ProxyConfig) -> int:
    """§16.6 step 3: the forwarded copy's Max-Forwards, one less, or the default when absent.

    Only for a request that §16.3 step 3 let through (above 0): 0 raises with the 483
    that step owes, so that a path that skipped validation never sends ``Max-Forwards: -1``.
    """
    max_forwards = request.max_forwards()
    if max_forwards is None:
        return config.default_max_forwards
    if max_forwards <= 0:
        raise LocalProtocolError(
            f"{request.method} at Max-Forwards 0 must not be forwarded",
            status_code=483,
            reason="Too Many Hops",
        )
    return max_forwards - 1


def _record_route(address: ListenAddress, token: str) -> str:
    transport = "" if address.transport == "udp" else f";transport={address.transport}"
    return f"<sip:{token}@{address.host_port}{transport};lr>"
