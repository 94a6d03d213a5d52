"""The guard's adapter (:mod:`ronghe.security`) on a real SQLite database, and the
fail2ban filter shipped in ``docker/fail2ban/ronghe.conf``.

Covers: a block made by one process is logged once in the documented format, written
to the table, listed, and enforced by a second process (another worker) after its poll;
a lift through the port ends it in both and is logged once; a restarted process
restores it; the request-rate wrapper drops a flooding source's requests unread while
another source and exempt ones pass; the filter's failregex, with ``<HOST>`` replaced as
fail2ban replaces it, finds the source in the real log lines (IPv4 and IPv6), not in
unblock lines, and not a forged ``source=`` inside a user name.
"""

from __future__ import annotations

import asyncio
import configparser
import io
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from dialplan.engine import NumberingPlan, compile_plan
from dialplan.storage.migrate import upgrade_to_head
from ronghe.security import Security, SecurityBlocks
from ronghe.settings import ServeSettings
from tests.dialplan.conftest import county_rows
from voip_core.sip.peer import Peer
from voip_core.storage import SqlBlockStore

REPO = Path(__file__).resolve().parents[2]
FILTER = REPO / "docker" / "fail2ban" / "ronghe.conf"
#: The log formats of ``ronghe serve`` (ronghe/serve.py) and of a worker (ronghe/worker.py).
FORMATS = (
    "%(asctime)s %(levelname)s %(name)s: %(message)s",
    "%(asctime)s %(levelname)s worker-1 %(name)s: %(message)s",
)
#: fail2ban's ``<HOST>`` (``<ADDR>`` or ``<DNS>``, filter.d/common and failregex.py).
FAIL2BAN_HOST = (
    r"(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})"
    r"|\[?(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))\]?"
    r"|(?P<dns>[\w\-.^_]*\w))"
)


class FixedPlan:
    def __init__(self, plan: NumberingPlan) -> None:
        self.plan = plan

    def current(self) -> NumberingPlan:
        return self.plan


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SqlBlockStore]:
    url = f"sqlite:///{tmp_path / 'guard.db'}"
    upgrade_to_head(url)
    engine = create_engine(url)
    yield SqlBlockStore(engine)
    engine.dispose()


@pytest.fixture
def security_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("ronghe.security")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def make_security(
    store: SqlBlockStore, loop: asyncio.AbstractEventLoop, worker: int, **settings: object
) -> Security:
    return Security(
        ServeSettings(**settings),  # type: ignore[arg-type]  # test values per field
        blocks=store,
        live_plan=FixedPlan(compile_plan(county_rows())),
        loop=loop,
        worker=worker,
    )


async def settle(security: Security) -> None:
    """Let the block writes finish, then poll the table once."""
    await security.written()
    await security.refresh()


def test_block_is_logged_shared_lifted_and_restored(
    database: SqlBlockStore, security_log: io.StringIO
) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        first = make_security(database, loop, 0)
        second = make_security(database, loop, 1)
        now = time.time()
        for n in range(5):
            first.guard.authentication_failed("8001", "127.0.0.2", now + n * 0.01)
        await settle(first)
        assert second.guard.refusal("8001", "127.0.0.2", time.time()) is None
        await settle(second)
        block = second.guard.refusal("8001", "127.0.0.2", time.time())
        assert block is not None
        port = SecurityBlocks(first)
        listed = await asyncio.to_thread(port.active_blocks)
        assert [
            (view.id, view.source, view.user, view.reason, view.failures) for view in listed
        ] == [(block.id, "127.0.0.2", "8001", "auth-failures", 5)]
        restarted = make_security(database, loop, 0)
        assert await restarted.restore() == 1
        assert restarted.guard.refusal("8001", "127.0.0.2", time.time()) == block

        lifted = await asyncio.to_thread(port.lift, block.id)
        assert lifted is not None
        assert lifted.id == block.id
        assert await asyncio.to_thread(port.lift, block.id) is None
        await asyncio.sleep(0)  # the lift reaches the first process's loop
        assert first.guard.refusal("8001", "127.0.0.2", time.time()) is None
        await settle(second)
        assert second.guard.refusal("8001", "127.0.0.2", time.time()) is None
        assert first.stats() == {
            "auth_failures": 5,
            "auth_blocks": 1,
            "rate_limited": 0,
            "rate_blocks": 0,
            "blocked_sources": 0,
        }

    asyncio.run(scenario())
    assert security_log.getvalue().splitlines() == [
        "blocked source=127.0.0.2 user=8001 reason=auth-failures failures=5 seconds=300",
        "unblocked source=127.0.0.2 user=8001 reason=lifted",
    ]


def test_rate_wrapper_drops_a_flooding_source_and_passes_the_others(
    database: SqlBlockStore, security_log: io.StringIO
) -> None:
    delivered: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        security = make_security(
            database, loop, 0, rate_limit=10, trusted_networks=("10.9.0.0/16",)
        )
        on_message = security.guarded(lambda data, peer, stream: delivered.append(peer.host))
        request = b"OPTIONS sip:x SIP/2.0\r\n\r\n"
        for _ in range(1000):
            on_message(request, Peer("udp", "127.0.0.2", 5060), False)
            on_message(request, Peer("udp", "10.9.1.1", 5060), False)
        on_message(b"SIP/2.0 200 OK\r\n\r\n", Peer("udp", "127.0.0.2", 5060), False)
        for _ in range(5):
            on_message(request, Peer("udp", "127.0.0.1", 5060), False)
        await settle(security)
        assert security.stats()["rate_limited"] == 991
        assert [view.reason for view in SecurityBlocks(security).active_blocks()] == ["rate-limit"]

    asyncio.run(scenario())
    assert delivered.count("127.0.0.2") == 10
    assert delivered.count("10.9.1.1") == 1000
    assert delivered.count("127.0.0.1") == 5
    assert security_log.getvalue().splitlines() == [
        "blocked source=127.0.0.2 user=- reason=rate-limit requests=11 seconds=60"
    ]


def failregexes() -> list[re.Pattern[str]]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(FILTER, encoding="utf-8")
    lines = [line.strip() for line in parser["Definition"]["failregex"].splitlines()]
    return [re.compile(line.replace("<HOST>", FAIL2BAN_HOST)) for line in lines if line]


def host_of(line: str) -> str | None:
    for pattern in failregexes():
        found = pattern.search(line)
        if found is not None:
            return found.group("ip4") or found.group("ip6") or found.group("dns")
    return None


@pytest.mark.parametrize("log_format", FORMATS)
@pytest.mark.parametrize("source", ["192.0.2.7", "2001:db8::7"])
def test_fail2ban_filter_finds_the_source_in_real_log_lines(
    database: SqlBlockStore, log_format: str, source: str
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(log_format))
    logger = logging.getLogger("ronghe.security")
    logger.addHandler(handler)
    try:

        async def scenario() -> None:
            security = make_security(database, asyncio.get_running_loop(), 0, rate_limit=1)
            now = time.time()
            for n in range(5):
                security.guard.authentication_failed(
                    "x source=10.6.6.6 user=8001", source, now + n * 0.01
                )
            security.guard.admit(source, now)
            security.guard.admit(source, now)
            await settle(security)
            security.guard.sweep(now + 400)

        asyncio.run(scenario())
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert [line.split(": ", 1)[1].split(" reason=")[1] for line in lines] == [
        "auth-failures failures=5 seconds=300",
        "rate-limit requests=2 seconds=60",
        "expired",
        "expired",
    ]
    assert [host_of(line) for line in lines] == [source, source, None, None]
