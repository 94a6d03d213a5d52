"""A database outage: the admin API answers 503 and the proxy keeps routing calls.

Covers (numbering-plan issue, "bad input and faults"): with the server on PostgreSQL,
the database is made unavailable (new connections refused, the server's sessions
terminated); the API then answers 503 with Retry-After, while a call between two
registered phones still connects through the proxy with the last good plan; once the
database is back, the API recovers by itself. Not covered: SQLite (a local file does
not go away while it is open).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests.integration.phone import Phone
from tests.integration.server import API_PREFIX, RongheServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@pytest.fixture
def outage_database() -> Iterator[tuple[str, psycopg.Connection]]:
    name = f"ronghe_outage_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, admin
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _take_down(admin: psycopg.Connection, name: str) -> None:
    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
    )


def _call_connects(caller: Phone, callee: Phone, uri: str) -> None:
    outgoing = caller.call(uri)
    incoming = callee.wait_incoming(5)
    incoming.answer(200)
    outgoing.wait_state("CONFIRMED", 5)
    outgoing.hangup()
    incoming.wait_state("DISCONNECTED", 5)


def test_api_answers_503_while_the_proxy_keeps_routing(
    ronghe_server_factory: Callable[..., RongheServer],
    extension_phone: Callable[..., Phone],
    outage_database: tuple[str, psycopg.Connection],
) -> None:
    name, admin = outage_database
    server = ronghe_server_factory(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    )
    caller = extension_phone(server, "8701")
    callee = extension_phone(server, "8702")
    time.sleep(0.5)  # let the registrations be written behind before the outage

    _take_down(admin, name)
    down = server.client.get(API_PREFIX + "/extensions")
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"] == "5"

    _call_connects(caller, callee, server.aor("8702"))

    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    deadline = time.monotonic() + 15
    status = down.status_code
    while time.monotonic() < deadline and status != 200:
        time.sleep(0.5)
        status = server.client.get(API_PREFIX + "/extensions").status_code
    assert status == 200, server.log_tail
    _call_connects(caller, callee, server.aor("8702"))
