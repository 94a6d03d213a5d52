"""Transactions per second through :class:`voip_core.transaction.TransactionLayer`.

Each scenario runs complete request-response cycles through one layer, as a proxy would
see them, with simulated time advancing at the target rate (8,000 transactions/s) so the
timer heap holds a realistic number of live timers; at the end time jumps past every
timer so the cost of expiring transactions is included. Messages are parsed before the
clock starts, as the transport adapter would have parsed them: parsing and serialising
belong to ``voip_core.sip`` and are measured by ``bench_parser.py``.

Scenarios:

* ``invite-uas``: INVITE in, 100 Trying out, TU sends 180 and 200, Timer L expires.
* ``invite-uac``: INVITE out, 100, 180 and 200 in, Timer M expires.
* ``invite-uac-486``: INVITE out, 100 and 486 in, ACK out, Timer D expires.
* ``non-invite-uas``: request in, TU sends 200, Timer J expires.
* ``non-invite-uac``: request out, 200 in, Timer K expires.
* ``proxy-invite``: one layer does invite-uas and invite-uac for the same call.

The garbage collector stays on by default: the prepared messages are alive all at once,
as a proxy's live transactions keep theirs (8,000/s x 32 s = 256,000 requests), so the
collections they cause are part of the real cost. ``--no-gc`` shows the layer's own work.

Run: ``.venv/bin/python bench/bench_transactions.py [--count N] [--repeat R] [--no-gc]``.
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

from voip_core.sip.headers import make_header
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri
from voip_core.transaction import (
    RequestReceived,
    ServerKey,
    TimerConfig,
    TransactionLayer,
    new_branch,
)

RATE = 8000.0
UAC = Peer("udp", "192.0.2.10", 5060)
UAS = Peer("udp", "192.0.2.20", 5060)


def request(method: str, branch: str, number: int, via_host: str = "192.0.2.10") -> Request:
    """A typical phone request, as the parser delivers it."""
    headers = (
        make_header("Via", f"SIP/2.0/UDP {via_host}:5060;branch={branch};rport"),
        make_header("Max-Forwards", "70"),
        make_header("To", "<sip:8005@county.gov.cn>"),
        make_header("From", f'"县政府办公室" <sip:8001@county.gov.cn>;tag=f{number}'),
        make_header("Call-ID", f"{number}-bench@192.0.2.10"),
        make_header("CSeq", f"1 {method}"),
        make_header("Contact", "<sip:8001@192.0.2.10:5060>"),
        make_header("User-Agent", "Yealink SIP-T46U 108.86.0.20"),
    )
    built = Request(method=method, uri=SipUri("sip", "county.gov.cn", user="8005"), headers=headers)
    parsed = parse_message(bytes(built))
    assert isinstance(parsed, Request)
    return parsed


def response(answered: Request, status_code: int, to_tag: str) -> Response:
    """A response to ``answered``, as the parser delivers it."""
    parsed = parse_message(bytes(make_response(answered, status_code, to_tag=to_tag)))
    assert isinstance(parsed, Response)
    return parsed


@dataclass
class Scenario:
    """One benchmark: ``prepare(count)`` builds inputs, the returned callable runs them."""

    name: str
    prepare: Callable[[int], Callable[[], TransactionLayer]]


def _pump(layer: TransactionLayer) -> None:
    layer.messages_to_send()
    while layer.next_event() is not None:
        pass


def _tick(layer: TransactionLayer, now: float) -> None:
    deadline = layer.next_timer()
    if deadline is not None and deadline <= now:
        layer.handle_timer(now)
        _pump(layer)


def _request_received(layer: TransactionLayer) -> ServerKey:
    event = layer.next_event()
    assert isinstance(event, RequestReceived)
    return event.key


def _finish(layer: TransactionLayer, now: float) -> None:
    layer.handle_timer(now + 3600)
    _pump(layer)
    assert len(layer) == 0, len(layer)


def prepare_invite_uas(count: int) -> Callable[[], TransactionLayer]:
    invites = [request("INVITE", new_branch(), n) for n in range(count)]
    answers = [
        (make_response(r, 180, to_tag=f"t{n}"), make_response(r, 200, to_tag=f"t{n}"))
        for n, r in enumerate(invites)
    ]

    def run() -> TransactionLayer:
        layer = TransactionLayer(TimerConfig())
        now = 0.0
        for invite, (ringing, ok) in zip(invites, answers, strict=True):
            now += 1 / RATE
            layer.receive(invite, UAC, now)
            key = _request_received(layer)
            layer.send_response(key, ringing, now)
            layer.send_response(key, ok, now)
            layer.messages_to_send()
            _tick(layer, now)
        _finish(layer, now)
        return layer

    return run


def _prepare_uac(
    count: int, codes: tuple[int, ...], method: str = "INVITE"
) -> Callable[[], TransactionLayer]:
    requests = [request(method, new_branch(), n) for n in range(count)]
    responses = [[response(r, code, f"t{n}") for code in codes] for n, r in enumerate(requests)]

    def run() -> TransactionLayer:
        layer = TransactionLayer(TimerConfig())
        now = 0.0
        for outgoing, incoming in zip(requests, responses, strict=True):
            now += 1 / RATE
            layer.start_client(outgoing, UAS, now)
            for answer in incoming:
                layer.receive(answer, UAS, now)
            _pump(layer)
            _tick(layer, now)
        _finish(layer, now)
        return layer

    return run


def prepare_non_invite_uas(count: int) -> Callable[[], TransactionLayer]:
    requests = [request("OPTIONS", new_branch(), n) for n in range(count)]
    answers = [make_response(r, 200, to_tag=f"t{n}") for n, r in enumerate(requests)]

    def run() -> TransactionLayer:
        layer = TransactionLayer(TimerConfig())
        now = 0.0
        for incoming, ok in zip(requests, answers, strict=True):
            now += 1 / RATE
            layer.receive(incoming, UAC, now)
            layer.send_response(_request_received(layer), ok, now)
            layer.messages_to_send()
            _tick(layer, now)
        _finish(layer, now)
        return layer

    return run


def prepare_proxy_invite(count: int) -> Callable[[], TransactionLayer]:
    inbound = [request("INVITE", new_branch(), n) for n in range(count)]
    outbound = [request("INVITE", new_branch(), n, via_host="192.0.2.1") for n in range(count)]
    downstream = [
        [response(r, code, f"t{n}") for code in (100, 180, 200)] for n, r in enumerate(outbound)
    ]
    upstream = [
        [make_response(r, code, to_tag=f"t{n}") for code in (180, 200)]
        for n, r in enumerate(inbound)
    ]

    def run() -> TransactionLayer:
        layer = TransactionLayer(TimerConfig())
        now = 0.0
        for n in range(count):
            now += 1 / RATE
            layer.receive(inbound[n], UAC, now)
            server_key = _request_received(layer)
            layer.start_client(outbound[n], UAS, now)
            for incoming in downstream[n]:
                layer.receive(incoming, UAS, now)
            while layer.next_event() is not None:
                pass
            for answer in upstream[n]:
                layer.send_response(server_key, answer, now)
            layer.messages_to_send()
            _tick(layer, now)
        _finish(layer, now)
        return layer

    return run


SCENARIOS = (
    Scenario("invite-uas", prepare_invite_uas),
    Scenario("invite-uac", lambda count: _prepare_uac(count, (100, 180, 200))),
    Scenario("invite-uac-486", lambda count: _prepare_uac(count, (100, 486))),
    Scenario("non-invite-uas", prepare_non_invite_uas),
    Scenario("non-invite-uac", lambda count: _prepare_uac(count, (200,), "OPTIONS")),
    Scenario("proxy-invite", prepare_proxy_invite),
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50_000, help="transactions per run")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per scenario (best is reported)"
    )
    parser.add_argument("--only", help="run only the scenario with this name")
    parser.add_argument(
        "--no-gc", action="store_true", help="disable the garbage collector while timing"
    )
    args = parser.parse_args()
    version = platform.python_version()
    collector = "off" if args.no_gc else "on"
    print(f"python {version}, {args.count} per run, best of {args.repeat}, gc {collector}")
    for scenario in SCENARIOS:
        if args.only and scenario.name != args.only:
            continue
        best = float("inf")
        for _ in range(args.repeat):
            run = scenario.prepare(args.count)
            gc.collect()
            if args.no_gc:
                gc.disable()
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
            gc.enable()
        unit = "calls" if scenario.name == "proxy-invite" else "transactions"
        each = best / args.count * 1e6
        print(f"{scenario.name:16} {args.count / best:10,.0f} {unit}/s  ({each:6.1f} µs each)")


if __name__ == "__main__":
    main()
