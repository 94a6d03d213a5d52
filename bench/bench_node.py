"""CPU cost per call and per registration through :class:`SipNode`, without sockets.

Usage::

    .venv/bin/python bench/bench_node.py [--calls N] [--registrations N] [--repeat R]
                                         [--rate R] [--profile FILE]

The node, transaction layer, proxy and registrar are wired as ``ronghe serve`` wires
them (trusted 127.0.0.0/8 for calls, digest for REGISTER, the numbering plan compiled
from rows, bindings in :class:`MemoryBindingStore` instead of the SQL-backed store,
the garbage collector frozen and tuned as ``ronghe serve`` does once started).
The transports are replaced by a recorder and the event loop by a clock that moves at
``--rate`` calls (or registrations) per second, so Timer L, M, J and K expire during
the run as they would under that load; at the end the clock jumps past every timer
so expiry is part of the cost.

Scenarios, with the messages SIPp's scenarios send (``bench/scenarios/uac_dialog.xml``
and ``tests/integration/scenarios/uas.xml``, ``register_auth.xml``):

* ``call``: INVITE, 100, 180, 200, ACK (routed), BYE (routed), 200: seven datagrams in,
  eight out through the proxy.
* ``register``: REGISTER, 401, REGISTER with MD5 digest, 200, for distinct users.

Only the time spent inside the node (parse, transaction layer, proxy, registrar,
serialise) is counted, as ``time.process_time``; building the peers' messages is not.
It prints the median over ``--repeat`` runs in microseconds per call or registration,
and the implied ceiling of one core (calls or registrations per CPU second). With
``--profile`` the first run is profiled with cProfile into ``FILE``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import ipaddress
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialplan.credentials import derive_ha1  # noqa: E402
from dialplan.engine import CallerContext, NumberingPlan, RouteDecision, compile_plan  # noqa: E402
from dialplan.model import (  # noqa: E402
    ClassOfServiceRow,
    DestinationKind,
    ExtensionRow,
    NumberBlockRow,
    PlanRows,
    UnitKind,
    UnitRow,
)
from ronghe import housekeeping  # noqa: E402
from ronghe.wiring import PlanCredentials, PlanRouter  # noqa: E402
from voip_core.node import SipNode  # noqa: E402
from voip_core.proxy.config import ListenAddress, ProxyConfig  # noqa: E402
from voip_core.proxy.core import Proxy  # noqa: E402
from voip_core.proxy.location import StoreLocation  # noqa: E402
from voip_core.registrar import RegistrarPolicy  # noqa: E402
from voip_core.registrar.authentication import DigestAuthenticator  # noqa: E402
from voip_core.registrar.memory_store import MemoryBindingStore  # noqa: E402
from voip_core.registrar.service import Registrar  # noqa: E402
from voip_core.sip.digest import NonceManager, build_authorization, select_challenge  # noqa: E402
from voip_core.sip.parser import parse_message  # noqa: E402
from voip_core.sip.peer import Peer  # noqa: E402
from voip_core.transaction import TimerConfig, TransactionLayer  # noqa: E402
from voip_core.transport.manager import TransportManager  # noqa: E402

#: The collector as `ronghe serve` tunes it once started.
SERVE_GC: tuple[int, int, int] | None = housekeeping._GC_THRESHOLDS

DOMAIN = "bench.test"
PROXY = ("127.0.0.1", 5060)
UAC = Peer("udp", "127.0.0.1", 5061)
UAS = Peer("udp", "127.0.0.1", 5062)
FIRST_USER = 20_000_000
CALLEE = str(FIRST_USER)
WALL = 1_780_000_000.0
_DEFAULT_GC = gc.get_threshold()


def password_of(user: str) -> str:
    return f"bench-{user}-pw"


class _Plan:
    def __init__(self, plan: NumberingPlan) -> None:
        self._plan = plan

    def current(self) -> NumberingPlan:
        return self._plan


def _plan(users: int) -> NumberingPlan:
    numbers = [str(FIRST_USER + n) for n in range(users)]
    extensions = tuple(
        ExtensionRow(
            n + 1,
            number,
            f"分机{number}",
            1,
            None,
            1,
            True,
            derive_ha1("MD5", number, DOMAIN, password_of(number)),
            derive_ha1("SHA-256", number, DOMAIN, password_of(number)),
        )
        for n, number in enumerate(numbers)
    )
    return compile_plan(
        PlanRows(
            realm=DOMAIN,
            units=(UnitRow(1, None, "基准县", "bench", UnitKind.COUNTY),),
            blocks=(NumberBlockRow(1, 1, numbers[0], numbers[-1]),),
            classes_of_service=(ClassOfServiceRow(1, "bench-all", frozenset(DestinationKind)),),
            extensions=extensions,
            trunks=(),
            rules=(),
        )
    )


class _Clock:
    """The loop the node sees: ``time()`` and one ``call_at`` at a time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.deadline: float | None = None
        self.callback: Callable[[], None] | None = None

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Clock:
        self.deadline, self.callback = when, callback
        return self

    def cancel(self) -> None:
        self.deadline = self.callback = None


class _Wire:
    """The transports the node sees: records what it sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Peer]] = []

    def send(self, data: bytes, peer: Peer) -> None:
        self.sent.append((data, peer))


class Bench:
    """One wired node and the CPU time spent in it."""

    def __init__(self, users: int) -> None:
        self.clock = _Clock()
        self.wire = _Wire()
        live = _Plan(_plan(users))
        self.wall_offset = WALL
        store = MemoryBindingStore()
        authenticator = DigestAuthenticator(
            realm=DOMAIN,
            nonces=NonceManager(b"n" * 32, lifetime=300.0),
            lookup_ha1=PlanCredentials(live),
        )
        layer = TransactionLayer(TimerConfig(), send_trying=False)
        config = ProxyConfig(
            domain=DOMAIN,
            listen=(ListenAddress("udp", *PROXY), ListenAddress("tcp", *PROXY)),
            aliases=frozenset({"127.0.0.1"}),
            trusted_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            timer_c=181.0,
        )
        registrar = Registrar(
            domain=DOMAIN,
            store=store,
            authenticator=authenticator,
            policy=RegistrarPolicy(min_expires=60, max_expires=7200, default_expires=3600),
            gruu_secret=b"g" * 32,
        )
        self.proxy = Proxy(
            config=config,
            layer=layer,
            location=StoreLocation(store, gruu_secret=b"g" * 32),
            router=_Router(PlanRouter(live)),
            authenticator=authenticator,
            registrar=registrar,
            flow_secret=b"f" * 32,
        )
        self.node = SipNode(
            layer=layer,
            proxy=self.proxy,
            loop=cast(Any, self.clock),
            max_transactions=10_000_000,
            max_lag=float("inf"),  # the simulated clock jumps; lag means nothing here
        )
        self.node.attach(cast(TransportManager, self.wire))
        self.layer = layer
        self.store = store
        self.cpu = 0.0

    # -- feeding ----------------------------------------------------------------------

    def feed(self, data: bytes, peer: Peer) -> list[tuple[bytes, Peer]]:
        """Deliver one datagram (firing due timers first); return what was sent."""
        self.wire.sent = []
        started = time.process_time()
        self._fire_due()
        self.node.on_message(data, peer, False)
        self.cpu += time.process_time() - started
        return self.wire.sent

    def _fire_due(self) -> None:
        clock = self.clock
        while clock.deadline is not None and clock.deadline <= clock.now:
            callback = clock.callback
            clock.deadline = clock.callback = None
            assert callback is not None
            callback()

    def finish(self) -> None:
        """Jump past every timer and let everything expire."""
        started = time.process_time()
        self.clock.now += 1000.0
        self._fire_due()
        self.cpu += time.process_time() - started
        assert len(self.layer) == 0, f"{len(self.layer)} transactions left"


class _Router:
    """PlanRouter with the wall clock the proxy passes (as in production)."""

    def __init__(self, inner: PlanRouter) -> None:
        self._inner = inner

    def route(self, dialed: str, caller: CallerContext, at: datetime) -> RouteDecision:
        return self._inner.route(dialed, caller, at)


# -- the peers' messages -------------------------------------------------------------------

_SDP = (
    "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _message(first: str, headers: list[str], body: str = "") -> bytes:
    lines = [first, *headers, f"Content-Length: {len(body.encode())}", "", body]
    return "\r\n".join(lines).encode()


def _headers(data: bytes, *names: str) -> list[str]:
    wanted = tuple(name.lower() + ":" for name in names)
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    return [line for line in head.split("\r\n")[1:] if line.lower().startswith(wanted)]


def _only(sent: list[tuple[bytes, Peer]], peer: Peer, start: bytes) -> bytes:
    for data, destination in sent:
        if destination == peer and data.startswith(start):
            return data
    raise AssertionError(f"nothing starting {start!r} sent to {peer}: {sent}")


def run_call(bench: Bench, number: int) -> None:
    """One complete call, as SIPp's uac_dialog.xml and uas.xml play it."""
    proxy = f"{PROXY[0]}:{PROXY[1]}"
    uac = f"{UAC.host}:{UAC.port}"
    uas = f"{UAS.host}:{UAS.port}"
    call_id = f"{number}-1234@127.0.0.1"
    from_ = f"From: sipp <sip:sipp@{uac}>;tag=1234SIPpTag00{number}"
    to = f"To: {CALLEE} <sip:{CALLEE}@{proxy}>"
    invite = _message(
        f"INVITE sip:{CALLEE}@{proxy} SIP/2.0",
        [
            f"Via: SIP/2.0/UDP {uac};branch=z9hG4bK-1234-{number}-0",
            from_,
            to,
            f"Call-ID: {call_id}",
            "CSeq: 1 INVITE",
            f"Contact: sip:sipp@{uac}",
            "Max-Forwards: 70",
            "Subject: Performance Test",
            "Content-Type: application/sdp",
        ],
        _SDP,
    )
    sent = bench.feed(invite, UAC)
    forwarded = _only(sent, UAS, b"INVITE")
    dialog = _headers(forwarded, "via", "from", "call-id", "cseq")
    to_uas = _headers(forwarded, "to")[0]
    record_route = _headers(forwarded, "record-route")
    to_tag = f"{to_uas};tag=1234SIPpTag03{number}"
    bench.feed(_message("SIP/2.0 100 Trying", [*dialog[:-1], to_uas, dialog[-1]]), UAS)
    contact = f"Contact: <sip:{uas};transport=UDP>"
    ringing = [*dialog, to_tag, *record_route, contact]
    bench.feed(_message("SIP/2.0 180 Ringing", ringing), UAS)
    sdp_type = "Content-Type: application/sdp"
    ok = bench.feed(_message("SIP/2.0 200 OK", [*ringing, sdp_type], _SDP), UAS)
    answer = _only(ok, UAC, b"SIP/2.0 200")
    # RFC 3261 §12.1.2: the UAC's route set is the Record-Route list in reverse order.
    record = [line.split(":", 1)[1].strip() for line in _headers(answer, "record-route")]
    routes = [entry.strip() for value in record for entry in value.split(",")][::-1]
    route = [f"Route: {', '.join(routes)}"] if routes else []
    peer_tag = _headers(answer, "to")[0].split(";tag=", 1)[1]
    for cseq, method in ((1, "ACK"), (2, "BYE")):
        request = _message(
            f"{method} sip:{uas};transport=UDP SIP/2.0",
            [
                f"Via: SIP/2.0/UDP {uac};branch=z9hG4bK-1234-{number}-{cseq + 4}",
                from_,
                f"{to};tag={peer_tag}",
                f"Call-ID: {call_id}",
                *route,
                f"CSeq: {cseq} {method}",
                f"Contact: sip:sipp@{uac}",
                "Max-Forwards: 70",
                "Subject: Performance Test",
            ],
        )
        sent = bench.feed(request, UAC)
    bye = _only(sent, UAS, b"BYE")
    bye_ok = _message(
        "SIP/2.0 200 OK", [*_headers(bye, "via", "from", "to", "call-id", "cseq"), contact]
    )
    final = bench.feed(bye_ok, UAS)
    _only(final, UAC, b"SIP/2.0 200")


def run_registration(bench: Bench, number: int, users: int, phone: Peer = UAC) -> None:
    """REGISTER, 401, REGISTER with digest, 200, as register_auth.xml plays it."""
    user = str(FIRST_USER + number % users)
    uac = f"{phone.host}:{phone.port}"
    common = [
        f"From: <sip:{user}@{DOMAIN}>;tag=1234SIPpTag02{number}",
        f"To: <sip:{user}@{DOMAIN}>",
        f"Call-ID: {number}-5678@127.0.0.1",
    ]
    tail = [
        f"Contact: <sip:{user}@{uac};transport=UDP>",
        "Expires: 3600",
        "Max-Forwards: 70",
        "User-Agent: Ronghe SIPp register_auth",
    ]

    def register(cseq: int, extra: list[str]) -> bytes:
        via = f"Via: SIP/2.0/UDP {uac};branch=z9hG4bK-5678-{number}-{cseq};rport"
        request = _message(
            f"REGISTER sip:{DOMAIN} SIP/2.0",
            [via, *common, f"CSeq: {cseq} REGISTER", *tail[:1], *extra, *tail[1:]],
        )
        return _only(bench.feed(request, phone), phone, b"SIP/2.0")

    challenge = parse_message(register(1, []))
    values = challenge.header_lines("WWW-Authenticate")
    authorization = build_authorization(
        select_challenge(values[:1]),
        method="REGISTER",
        uri=f"sip:{DOMAIN}",
        username=user,
        password=password_of(user),
        cnonce="0a4f113b",
    )
    final = register(2, [f"Authorization: {authorization}"])
    assert final.startswith(b"SIP/2.0 200"), final[:200]


def measure(scenario: str, count: int, rate: float, users: int, profile: str | None) -> float:
    """CPU microseconds per call or registration over ``count`` of them."""
    bench = Bench(users)
    bench.clock.now = 1.0
    run_registration(bench, 0, 1, phone=UAS)  # the callee's contact is the UAS
    bench.cpu = 0.0
    profiler = cProfile.Profile() if profile else None
    gc.collect()
    if SERVE_GC is not None:
        gc.freeze()  # as `ronghe serve` does once started
        gc.set_threshold(*SERVE_GC)
    if profiler is not None:
        profiler.enable()
    for number in range(1, count + 1):
        bench.clock.now = 1.0 + number / rate
        if scenario == "call":
            run_call(bench, number)
        else:
            run_registration(bench, number, users)
    bench.finish()
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    gc.unfreeze()
    gc.set_threshold(*_DEFAULT_GC)
    return 1e6 * bench.cpu / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--registrations", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="per simulated second")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenario", choices=["call", "register", "both"], default="both")
    parser.add_argument("--profile", help="cProfile the first run into this file")
    args = parser.parse_args()
    print(f"# Python {platform.python_version()} on {platform.machine()}, rate {args.rate:g}/s")
    scenarios = ["call", "register"] if args.scenario == "both" else [args.scenario]
    for scenario in scenarios:
        count = args.calls if scenario == "call" else args.registrations
        runs = []
        for run in range(args.repeat):
            profile = f"{args.profile}.{scenario}" if args.profile and run == 0 else None
            runs.append(measure(scenario, count, args.rate, args.users, profile))
        median = statistics.median(runs)
        print(
            f"{scenario:<9} {median:7.1f} µs CPU each (runs {', '.join(f'{r:.1f}' for r in runs)})"
            f" = {1e6 / median:,.0f} per CPU second"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
