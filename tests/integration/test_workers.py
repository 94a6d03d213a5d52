"""``ronghe serve --workers 2``: two SIP processes on one set of sockets, with real peers.

Covers: 100 extensions registered by SIPp with digest, every one listed by the admin API
of worker 0 although about half were registered in worker 1 (replication); SIPp's
``uac_auth`` calls over TCP, where one worker accepted SIPp's connection and the other
owns about half of the calls, so its responses leave through the first one (``SEND``
frames) and the digest nonce of each 407 is checked by the worker that issued it; the
transaction tables of both workers drain; a worker killed with SIGKILL is started
again, receives every registration from worker 0 and completes calls to a registered
extension; a supervisor killed with SIGKILL leaves no worker behind.

The calls and registrations of ``test_calls.py`` also run against two workers (its
``shared_ronghe_server`` fixture is parametrised). The routing between workers is
unit-tested with chosen Call-IDs in ``tests/voip_core/cluster``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.raw_sip import RawSip
from tests.integration.server import RongheServer, extension_password, start_server
from tests.integration.sipp import Sipp, run_sipp, scenario, users_injection

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ServerFactory = Callable[..., RongheServer]


def worker_pids(server: RongheServer) -> list[int]:
    """The worker processes ``ronghe serve`` started (its children)."""
    pid = server.proc.pid
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout}s")
        time.sleep(0.1)


def register_with_sipp(server: RongheServer, numbers: list[str], workdir: Path) -> None:
    for number in numbers:
        server.ensure_extension(number, wait=False)
    server.wait_plan_loaded()
    users = [(number, extension_password(number)) for number in numbers]
    result = run_sipp(
        scenario("register_auth"),
        server.sip_address,
        calls=len(users),
        rate=100,
        injection=users_injection(users),
        keys={"domain": server.domain, "expires": "300"},
        timeout=30,
        extra_args=["-auth_uri", server.domain],
        workdir=workdir,
    )
    assert result.successful_calls == len(users), result.describe() + server.log_tail
    assert result.failed_calls == 0


def test_registrations_in_either_worker_are_listed_by_the_api(
    ronghe_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = ronghe_server_factory(["--workers", "2"])
    assert len(worker_pids(server)) == 1
    numbers = [str(n) for n in range(8500, 8600)]

    register_with_sipp(server, numbers, tmp_path / "register")

    registered = server.api("GET", "/registrations", params={"limit": 200})
    assert registered["count"] == len(numbers)
    assert {item["extension"] for item in registered["data"]} == set(numbers)
    stats = server.stats()
    assert stats["registrations"] == len(numbers)
    assert stats["workers"] == 2
    # REGISTERs are owned by their To user: the ones SIPp's socket handed to the
    # other worker were passed on.
    assert stats["forwarded"] > 0


def test_tcp_calls_with_digest_cross_workers_and_the_tables_drain(
    ronghe_server_factory: ServerFactory, tmp_path: Path
) -> None:
    # Short timers so the finished transactions end within the test (RFC 3261 Table 4).
    server = ronghe_server_factory(["--workers", "2", "--t1", "0.1", "--t4", "1"])
    caller_password = server.ensure_extension("8611")
    callee_password = server.ensure_extension("8612")
    calls = 40
    with Sipp.start(
        scenario("uas"), transport="tcp", calls=calls, timeout=60, workdir=tmp_path / "uas"
    ) as uas:
        with RawSip(server.sip_host, server.sip_port) as raw:
            contact = f"sip:8612@{uas.address};transport=tcp"
            bound = raw.register(server.domain, "8612", callee_password, contact=contact)
            assert bound.status_code == 200, bytes(bound).decode()

        result = run_sipp(
            scenario("uac_auth"),
            server.sip_address,
            transport="tcp",
            calls=calls,
            rate=20,
            injection=users_injection([("8611", caller_password)] * calls),
            keys={"domain": server.domain},
            service="8612",
            call_length_ms=100,
            timeout=60,
            extra_args=["-auth_uri", f"8612@{server.domain}"],
            workdir=tmp_path / "uac_auth",
        )
        assert result.successful_calls == calls, result.describe() + server.log_tail
        assert result.failed_calls == 0
        uas.wait(20).check(calls=calls)

    stats = server.stats()
    assert stats["forwarded"] > 0
    wait_for(
        lambda: (s := server.stats())["transactions"] == 0 and s["contexts"] == 0,
        30,
        "empty transaction tables in both workers",
    )


def test_a_killed_worker_restarts_with_every_registration(
    ronghe_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = ronghe_server_factory(["--workers", "2", "--trusted-network", "127.0.0.0/8"])
    numbers = [str(n) for n in range(8700, 8740)]
    register_with_sipp(server, numbers, tmp_path / "register")
    password = server.ensure_extension("8750")
    calls = 60
    with Sipp.start("uas", calls=calls, timeout=60, workdir=tmp_path / "uas") as uas:
        with RawSip(server.sip_host, server.sip_port) as raw:
            bound = raw.register(server.domain, "8750", password, contact=f"sip:8750@{uas.address}")
            assert bound.status_code == 200, bytes(bound).decode()

        (old,) = worker_pids(server)
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: worker_pids(server) not in ([], [old]), 20, "a new worker process")
        # Ready once worker 0 answers for both again (the new worker said hello).
        wait_for(lambda: "worker 1 (pid" in server.log_tail, 5, "the restart logged")
        # It serves once its channels are open and worker 0's snapshot has arrived.
        wait_for(
            lambda: server.log_tail.count("worker 1 serves SIP with") >= 2,
            30,
            "the new worker serving SIP",
        )
        assert f"worker 1 serves SIP with {len(numbers) + 1} registrations" in server.log_tail

        # About half of these calls are owned by the new worker: they reach 8750 only
        # if its copy of the registrations came over in the snapshot.
        result = run_sipp(
            "uac",
            server.sip_address,
            service="8750",
            calls=calls,
            rate=30,
            timeout=40,
            recv_timeout_ms=5000,
            workdir=tmp_path / "uac",
        )
        assert result.successful_calls == calls, result.describe() + server.log_tail
        uas.wait(20).check(calls=calls)
    stats = server.stats()
    assert stats["registrations"] == len(numbers) + 1


def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", ["--workers", "3"])
    workers = worker_pids(server)
    assert len(workers) == 2
    server.proc.kill()
    server.proc.wait(10)
    server.release()

    def gone() -> bool:
        return not any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in workers)

    wait_for(gone, 10, "the workers' exit")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
