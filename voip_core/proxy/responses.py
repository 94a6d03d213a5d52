"""Response handling helpers: best response (RFC 3261 §16.7) and where responses go (§18.2.2)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from voip_core.sip.message import Response
from voip_core.sip.peer import Peer
from voip_core.sip.via import Via

__all__ = ["choose_best_response", "derived_to_tag", "response_destination"]

# §16.7 step 6: among 4xx, responses that let the caller fix the request are preferred.
_PREFERRED_4XX = (401, 407, 415, 420, 484)


def choose_best_response(responses: Sequence[Response]) -> Response | None:
    """Pick the final response to forward once every branch has completed (§16.7 step 6).

    6xx wins; otherwise the lowest class; within 4xx, an authentication or repairable
    response is preferred. ``None`` when no branch produced a final response (the caller
    then sends 408).
    """
    finals = [r for r in responses if r.status_code >= 200]
    if not finals:
        return None
    six = [r for r in finals if r.status_code >= 600]
    if six:
        return six[0]
    lowest = min(r.status_code // 100 for r in finals)
    candidates = [r for r in finals if r.status_code // 100 == lowest]
    if lowest == 4:
        for code in _PREFERRED_4XX:
            for response in candidates:
                if response.status_code == code:
                    return response
        # 408 and 480 are the least informative; prefer any other 4xx.
        specific = [r for r in candidates if r.status_code not in (408, 480)]
        if specific:
            return specific[0]
    return candidates[0]


def derived_to_tag(call_id: str) -> str:
    """The To tag of every response this element generates for a request of ``call_id``.

    §8.2.6.2: a final response tags To. Derived rather than random, so that a
    retransmitted request is answered with the same tag even when no transaction was kept
    (a stateless challenge or 503), and so that the ACK of such a response is recognised
    by its tag and absorbed (§16.11 forwards only ACKs for other elements' 2xx).
    """
    return hashlib.blake2b(call_id.encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()


def response_destination(via: Via, source: Peer | None, *, force_rport: bool = True) -> Peer:
    """Where a response goes per RFC 3261 §18.2.2 and RFC 3581 §4.

    Reliable transports reuse the connection the request came on (``source``). For UDP,
    ``received``/``rport`` (or the request's real source when ``force_rport`` is set, which
    answers phones behind NAT like Kamailio's ``force_rport()``) win over the sent-by.
    """
    transport = via.transport.lower()
    if source is not None and (source.reliable or force_rport):
        return source
    host = via.maddr or via.received or via.host
    port = via.rport or via.port or 5060
    if source is not None and via.wants_rport and via.rport is None:
        port = source.port
    return Peer(transport if transport != "udp" else "udp", host.strip("[]"), port)
