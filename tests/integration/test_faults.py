"""Faults: a phone that vanishes mid-call, and malformed SIP.

Covers: the callee's process killed before it answers (after 180, or after only 100
Trying; over UDP and TCP): the caller still gets a final response once Timer C
(RFC 3261 §16.6 step 11, §16.8) and the §9.1 CANCEL guard (64*T1) have run, 408 over
UDP, and 500 over TCP where the CANCEL meets a dead connection (§16.9, §16.7 step 6);
the server runs with a small T1 and Timer C so that this takes seconds, and every
transaction and response context is gone afterwards (read from the ``stats`` line
the server logs on SIGUSR1). Then the RFC 4475/5118 torture corpus
(``tests/data/torture``) and some plain garbage sent as UDP datagrams, after which
OPTIONS and a call through the proxy work, the tables drain and the server logged no
traceback. Under overload (the live-transaction limit reached) a new OPTIONS gets 503
with Retry-After while a phone still registers: its first REGISTER gets the 401, the
answer the 200. Not covered: TCP garbage (a stream that cannot be framed is closed; the
framer has its own tests).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.phone import Phone
from tests.integration.raw_sip import RawSip
from tests.integration.server import RongheServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ExtensionPhone = Callable[..., Phone]

TORTURE = Path(__file__).resolve().parents[1] / "data" / "torture"
_OCTET = re.compile(rb"\$\{([0-9A-F]{2})\}")

T1 = 0.02
TIMER_C = 1.5
#: Small timers: Timer B/F/H/J = 64*T1 = 1.28 s, Timers I/K = T4.
FAST_TIMERS = ["--t1", str(T1), "--t2", "0.5", "--t4", "0.5", "--timer-c", str(TIMER_C)]


def wait_until_idle(server: RongheServer, timeout: float) -> dict[str, int]:
    """Poll the server's stats until no transaction and no context is left."""
    deadline = time.monotonic() + timeout
    while True:
        stats = server.stats()
        if stats["transactions"] == 0 and stats["contexts"] == 0:
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"server not idle after {timeout}s: {stats}\n{server.log_tail}")
        time.sleep(0.2)


# Timer C, then the CANCEL's 64*T1 guard; slack for a loaded machine.
AFTER_TIMER_C = (TIMER_C - 0.5, TIMER_C + 64 * T1 + 1.0)


@pytest.mark.parametrize(
    ("transport", "ringing", "expected", "window"),
    [
        # Timer C fires; the CANCEL gets no answer; the §9.1 guard ends the branch: 408.
        ("udp", True, 408, AFTER_TIMER_C),
        # The same when the phone only sent 100 Trying (pjsua does at once).
        ("udp", False, 408, AFTER_TIMER_C),
        # The phone's TCP connection closes with it: the branch fails at once (§17.1.4),
        # a 503 that §16.7 step 6 turns into 500 for the caller.
        ("tcp", True, 500, (0.0, 1.0)),
    ],
    ids=["udp-ringing", "udp-trying", "tcp-ringing"],
)
def test_a_callee_killed_before_answering_ends_the_call_and_the_tables_drain(
    ronghe_server_factory: Callable[..., RongheServer],
    extension_phone: ExtensionPhone,
    transport: str,
    ringing: bool,
    expected: int,
    window: tuple[float, float],
) -> None:
    server = ronghe_server_factory(FAST_TIMERS)
    caller = extension_phone(server, "8801")
    callee = extension_phone(server, "8802", transport)

    outgoing = caller.call(f"sip:8802@{server.domain}")
    incoming = callee.wait_incoming(5)
    if ringing:
        incoming.ringing()
        outgoing.wait_state("EARLY", 5)
    killed = time.monotonic()
    callee.kill()

    outgoing.wait_state("DISCONNECTED", 10)
    waited = time.monotonic() - killed
    assert outgoing.last_status == expected, f"{outgoing.last_status} {outgoing.last_reason}"
    assert window[0] <= waited <= window[1], waited
    stats = wait_until_idle(server, 5)
    assert stats["registrations"] == 2  # the dead phone's binding stays until it expires


def torture_wire(path: Path) -> bytes:
    """A fixture's wire bytes: comments dropped, LF as CRLF, ``${HH}`` octets
    (tests/data/torture/README.md)."""
    lines = path.read_text(encoding="utf-8")[:-1].split("\n")
    while lines[0].startswith("#"):
        del lines[0]
    wire = "\r\n".join(lines).encode("utf-8")
    return _OCTET.sub(lambda match: bytes([int(match.group(1), 16)]), wire)


def torture_messages() -> list[bytes]:
    """The RFC 4475/5118 corpus (valid and invalid) and some garbage."""
    corpus = [torture_wire(path) for path in sorted(TORTURE.glob("*/*.sip"))]
    assert len(corpus) > 50
    garbage = [
        b"\x00" * 64,
        b"\xff\xfe" * 300,
        b"INVITE sip:8901@ronghe.test SIP/2.0\r\n" * 40,
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKstray\r\n\r\n",
        b"OPTIONS sip:ronghe.test SIP/2.0\r\nVia: SIP/2.0/UDP x\r\nContent-Length: 99999\r\n\r\n",
        b"REGISTER sip:ronghe.test SIP/2.0\r\n" + b"X-Long: " + b"a" * 60000 + b"\r\n\r\n",
    ]
    return corpus + garbage


def test_malformed_sip_does_not_stop_the_next_call(
    ronghe_server_factory: Callable[..., RongheServer], extension_phone: ExtensionPhone
) -> None:
    server = ronghe_server_factory(FAST_TIMERS)
    alice = extension_phone(server, "8811")
    bob = extension_phone(server, "8812")

    with RawSip(server.sip_host, server.sip_port) as raw:
        for message in torture_messages():
            raw.send(message)
        time.sleep(0.5)  # let the server work through them before the probe
        assert raw.request("OPTIONS", f"sip:{server.sip_address}").status_code == 200

    outgoing = alice.call(f"sip:8812@{server.domain}")
    incoming = bob.wait_incoming(5)
    incoming.answer(200)
    outgoing.wait_state("CONFIRMED", 5)
    assert outgoing.wait_rtp(min_packets=10, timeout=5).flows_both_ways
    outgoing.hangup()
    incoming.wait_state("DISCONNECTED", 5)
    assert "malformed message" in server.log_tail
    wait_until_idle(server, 10)


def test_overloaded_server_refuses_new_work_but_still_registers_phones(
    ronghe_server_factory: Callable[..., RongheServer],
) -> None:
    # 100 live transactions is the server's limit here: 100 OPTIONS fill it for Timer J
    # (32 s at the default T1), and the server sheds new requests with 503.
    server = ronghe_server_factory(["--max-transactions", "100"])
    password = server.ensure_extension("8821")
    with RawSip(server.sip_host, server.sip_port) as raw:
        for _ in range(100):
            assert raw.request("OPTIONS", f"sip:{server.sip_address}").status_code == 200
        refused = raw.request("OPTIONS", f"sip:{server.sip_address}")
        assert refused.status_code == 503
        assert refused.header("Retry-After") is not None
        # A REGISTER without credentials is answered by a stateless 401, which costs no
        # more than the 503, and the REGISTER answering it completes the registration.
        bound = raw.register(
            server.domain, "8821", password, contact=f"sip:8821@{raw.local_address}"
        )
        assert bound.status_code == 200, bytes(bound).decode()
    stats = server.stats()
    assert stats["registrations"] == 1
    # The operator sees why: the counters per reason, and one warning naming the limit.
    assert (stats["shed"], stats["shed_transactions"]) == (1, 1)
    assert (stats["shed_backlog"], stats["shed_lag"]) == (0, 0)
    log = server.log_tail
    assert "overloaded: 100 live transactions (limit 100)" in log, log
