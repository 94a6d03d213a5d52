"""The guard against the real server: guessing limits, the flood limit, the blocks API.

Covers: an svcrack-like prober sending wrong-digest REGISTERs for 8001 from 127.0.0.2 is
answered 403 (reason naming user and source) from its fifth failure, while a pjsua2
phone registers as 8001 from 127.0.0.1; the block is logged in the fail2ban format,
listed by ``GET /api/v1/security/blocks`` and lifted by ``DELETE``, after which the
prober's right password registers; a phone re-registering 50 times, each with its
first 401, is never blocked; with ``--workers 2`` a block made by one worker refuses
requests the other worker owns, and still does after that worker is killed and
restarted; a server restart keeps the block (SQLite); a UDP flood of a few thousand
datagrams a second from 127.0.0.2 is dropped and blocked while pjsua2 phones on
127.0.0.1 register and call.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.integration.phone import Phone
from tests.integration.raw_sip import RawSip
from tests.integration.server import RongheServer, extension_password
from tests.integration.test_calls import hang_up, ring_and_answer
from tests.integration.test_workers import wait_for, worker_pids
from tests.ronghe.test_security import host_of
from voip_core.sip.digest import build_authorization, parse_challenge
from voip_core.sip.message import Response

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ServerFactory = Callable[..., RongheServer]
ExtensionPhone = Callable[..., Phone]

PROBER = "127.0.0.2"
REFUSED = f"Forbidden (too many failed authentications for 8001 from {PROBER})"
BLOCKED_LINE = re.compile(
    r"ronghe\.security: blocked source=127\.0\.0\.2 user=8001 reason=auth-failures "
    r"failures=5 seconds=300$"
)


def probe(server: RongheServer, password: str, *, user: str = "8001") -> Response:
    """One svcrack-style guess: a REGISTER, its 401, the answer with ``password``."""
    with RawSip(server.sip_host, server.sip_port, local_host=PROBER) as raw:
        return raw.register(server.domain, user, password, contact=f"sip:{user}@{PROBER}:5999")


def blocks(server: RongheServer) -> list[dict[str, object]]:
    listed = server.api("GET", "/security/blocks")
    assert listed["count"] == len(listed["data"])
    return list(listed["data"])


def block_prober(server: RongheServer) -> dict[str, object]:
    server.ensure_extension("8001")
    results = [(r.status_code, r.reason) for r in (probe(server, f"guess{n}") for n in range(5))]
    assert results == [(401, "Unauthorized")] * 4 + [(403, REFUSED)], server.log_tail
    (block,) = blocks(server)
    return block


def message_from_prober(server: RongheServer, call_id: str) -> Response:
    """A MESSAGE from 8001 at the prober with the right password, answering its 407;
    its Call-ID decides which worker owns it."""
    with RawSip(server.sip_host, server.sip_port, local_host=PROBER) as raw:
        raw.call_id = call_id
        uri = f"sip:8002@{server.domain}"
        aor = f"sip:8001@{server.domain}"
        challenge = raw.request("MESSAGE", uri, from_uri=aor)
        assert challenge.status_code == 407, bytes(challenge).decode()
        value = challenge.header("Proxy-Authenticate")
        assert value is not None
        authorization = build_authorization(
            parse_challenge(value),
            method="MESSAGE",
            uri=uri,
            username="8001",
            password=extension_password("8001"),
            cnonce="c0ffee",
        )
        return raw.request(
            "MESSAGE", uri, from_uri=aor, headers=[("Proxy-Authorization", authorization)]
        )


def test_prober_is_refused_while_the_phone_registers_and_the_block_is_lifted(
    ronghe_server_factory: ServerFactory, extension_phone: ExtensionPhone
) -> None:
    server = ronghe_server_factory()
    block = block_prober(server)
    assert {key: block[key] for key in ("source", "user", "reason", "failures")} == {
        "source": PROBER,
        "user": "8001",
        "reason": "auth-failures",
        "failures": 5,
    }
    (line,) = [line for line in server.log_tail.splitlines() if "blocked source=" in line]
    assert BLOCKED_LINE.search(line), line
    assert host_of(line) == PROBER

    # The real 8001 registers from its own address; the prober is refused even with
    # the right password.
    extension_phone(server, "8001")
    refused = probe(server, extension_password("8001"))
    assert (refused.status_code, refused.reason) == (403, REFUSED)

    lifted = server.api("DELETE", f"/security/blocks/{block['id']}")
    assert lifted["id"] == block["id"]
    assert blocks(server) == []
    assert "unblocked source=127.0.0.2 user=8001 reason=lifted" in server.log_tail
    assert probe(server, extension_password("8001")).status_code == 200
    missing = server.client.delete(f"/api/v1/security/blocks/{block['id']}")
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": f"security block {block['id']} not found"},
    )
    stats = server.stats()
    assert (stats["auth_failures"], stats["auth_blocks"], stats["blocked_sources"]) == (5, 1, 0)


def test_a_phone_reregistering_50_times_is_never_blocked(
    ronghe_server_factory: ServerFactory,
) -> None:
    server = ronghe_server_factory()
    password = server.ensure_extension("8005")
    with RawSip(server.sip_host, server.sip_port) as raw:
        for _ in range(50):
            # Each starts without credentials and is answered 401 first.
            response = raw.register(
                server.domain, "8005", password, contact="sip:8005@127.0.0.1:5998"
            )
            assert response.status_code == 200, bytes(response).decode()
    assert blocks(server) == []
    assert server.stats()["auth_failures"] == 0


def test_two_workers_enforce_one_block_also_after_a_worker_restart(
    ronghe_server_factory: ServerFactory,
) -> None:
    server = ronghe_server_factory(["--workers", "2"])
    server.ensure_extension("8002")
    block_prober(server)
    # MESSAGEs are owned by Call-ID: of 12, both workers own some (the REGISTERs that
    # earned the block were owned by the To user's worker alone).
    time.sleep(1.5)  # one poll of the blocks table

    def all_refused() -> None:
        answers = [message_from_prober(server, f"guard-{n}@{PROBER}") for n in range(12)]
        assert [(a.status_code, a.reason) for a in answers] == [(403, REFUSED)] * 12

    all_refused()
    (old,) = worker_pids(server)
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: worker_pids(server) not in ([], [old]), 20, "a new worker process")
    wait_for(
        lambda: server.log_tail.count("worker 1 serves SIP with") >= 2,
        30,
        "the new worker serving SIP",
    )
    all_refused()
    assert server.stats()["blocked_sources"] == 1


def test_a_block_survives_a_server_restart(ronghe_server_factory: ServerFactory) -> None:
    first = ronghe_server_factory()
    block = block_prober(first)
    assert first.stop() == 0
    second = ronghe_server_factory(restart_of=first)
    assert [item["id"] for item in blocks(second)] == [block["id"]]
    refused = probe(second, extension_password("8001"))
    assert (refused.status_code, refused.reason) == (403, REFUSED)


FLOODER = """
import socket, sys, time
host, port, rate, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.2", 0))
local = sock.getsockname()[1]
start = time.monotonic()
sent = 0
while time.monotonic() - start < seconds:
    due = int((time.monotonic() - start) * rate)
    while sent < due:
        sent += 1
        sock.sendto((
            f"OPTIONS sip:{host}:{port} SIP/2.0\\r\\n"
            f"Via: SIP/2.0/UDP 127.0.0.2:{local};branch=z9hG4bKflood{sent}\\r\\n"
            "Max-Forwards: 70\\r\\nFrom: <sip:flood@127.0.0.2>;tag=f\\r\\n"
            f"To: <sip:{host}>\\r\\nCall-ID: flood{sent}@127.0.0.2\\r\\n"
            "CSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n"
        ).encode(), (host, port))
    time.sleep(0.001)
print(sent)
"""


def test_a_flood_from_one_source_is_dropped_while_phones_register_and_call(
    ronghe_server_factory: ServerFactory, extension_phone: ExtensionPhone
) -> None:
    # The default limits, given explicitly (the test harness turns the limit off).
    server = ronghe_server_factory(["--rate-limit", "100", "--rate-window", "2"])
    server.ensure_extension("8101")
    server.ensure_extension("8102")
    flooder = subprocess.Popen(
        [sys.executable, "-c", FLOODER, server.sip_host, str(server.sip_port), "3000", "6"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)  # the flood is under way
        alice = extension_phone(server, "8101")
        bob = extension_phone(server, "8102")
        outgoing, incoming = ring_and_answer(alice, bob, server, "8102")
        hang_up(server, outgoing, incoming)
        assert flooder.poll() is None, "the flood ended before the call did"
    finally:
        out, _ = flooder.communicate(timeout=20)
    sent = int(out)
    assert sent > 15_000
    stats = server.stats()
    assert stats["rate_blocks"] == 1
    assert stats["rate_limited"] > sent - 200
    (block,) = blocks(server)
    assert {key: block[key] for key in ("source", "user", "reason", "failures")} == {
        "source": PROBER,
        "user": None,
        "reason": "rate-limit",
        "failures": 101,
    }
    assert (
        "ronghe.security: blocked source=127.0.0.2 user=- reason=rate-limit requests=101 "
        "seconds=60" in server.log_tail
    )
