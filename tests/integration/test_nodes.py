"""Two nodes sharing PostgreSQL and Redis: a phone registered at one is called through the other.

Covers (issue #9, several nodes over every transport; :mod:`voip_core.proxy.nodes`):
two ``ronghe serve`` processes on loopback (their own SIP and API ports, one fresh
PostgreSQL database, one Redis database, one ``RONGHE_SECRET``). A pjsua2 phone
registered over TCP or UDP at one node is called by a phone registered at the other
(UDP): the call goes through the node holding the callee's flow, connects with RTP both
ways, and the BYE, sent by either side, travels back through both nodes along their
Record-Routes; node A with two worker processes, where the flow's connection belongs to
one of them, too. A node killed with SIGKILL leaves the calls between the other node's
phones working, and a call through a dead node gets 480 within seconds, never 500.
Not covered: TLS and WebSocket flows (no such transports yet), a node that stops
answering without refusing connections (Timer B's 408, the unit tests'
``test_node_forwarding.py`` covers the branch failures).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.integration.phone import CallHandle, Phone
from tests.integration.server import (
    RongheServer,
    ServerError,
    extension_password,
    start_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.timeout(180)]

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
#: The Redis database the nodes share (the storage tests use 9).
REDIS_URL = "redis://127.0.0.1:6379/12"
SECRET = "two-nodes-share-this-secret-0123456789"
CALLEE = "8951"
CALLER = "8952"
OTHER = "8953"


class Nodes:
    """Nodes started on one database, one Redis database and one secret."""

    def __init__(self, workdir: Path, database_url: str) -> None:
        self._workdir = workdir
        self._database_url = database_url
        self.running: list[RongheServer] = []
        self.killed: list[RongheServer] = []

    def start(self, name: str, *extra: str) -> RongheServer:
        args = ["--redis-url", REDIS_URL, "--node-name", name, *extra]
        try:
            node = start_server(self._workdir / name, args, database_url=self._database_url)
        except ServerError as error:
            pytest.fail(f"node {name} could not be started: {error}", pytrace=False)
        self.running.append(node)
        return node

    def kill(self, node: RongheServer) -> None:
        """SIGKILL: the node is gone at once, its sockets closed by the kernel."""
        node.proc.kill()
        node.proc.wait(10)
        self.running.remove(node)
        self.killed.append(node)

    def close(self) -> None:
        problems = []
        for node in self.running:
            code = node.stop()
            if code != 0 or node.traceback_seen:
                problems.append(f"ronghe serve exited {code}\n{node.describe()}")
        for node in self.killed:
            node.release()
            if node.traceback_seen:
                problems.append(f"killed node logged a traceback\n{node.describe()}")
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Nodes]:
    name = f"ronghe_nodes_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    shared = redis.Redis.from_url(REDIS_URL)
    shared.flushdb()
    monkeypatch.setenv("RONGHE_SECRET", SECRET)
    cluster = Nodes(tmp_path, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        yield cluster
    finally:
        try:
            cluster.close()
        finally:
            shared.flushdb()
            shared.close()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


def provision(first: RongheServer, *others: RongheServer) -> None:
    """The test's extensions, created through ``first``'s API and loaded by every node."""
    for number in (CALLEE, CALLER, OTHER):
        first.ensure_extension(number)
    for node in others:
        node.wait_plan_loaded()


PhoneAt = Callable[[RongheServer, str, str], Phone]


@pytest.fixture
def phone_at(phone_factory: Callable[..., Phone]) -> PhoneAt:
    """``phone_at(node, number, transport)``: a pjsua2 phone registered at ``node``."""

    def start(node: RongheServer, number: str, transport: str) -> Phone:
        phone = phone_factory(transport=transport, user=number, outbound_proxy=node.sip_address)
        code = phone.register(node.registrar_uri, number, extension_password(number), node.domain)
        assert code == 200, f"{number} REGISTER over {transport} -> {code}\n{node.log_tail}"
        return phone

    return start


def connect(caller: Phone, callee: Phone, domain: str) -> tuple[CallHandle, CallHandle]:
    """``caller`` calls ``callee``'s extension; answered; RTP flows both ways."""
    outgoing = caller.call(f"sip:{callee.user}@{domain}")
    incoming = callee.wait_incoming(10)
    incoming.answer(200)
    outgoing.wait_state("CONFIRMED", 10)
    incoming.wait_state("CONFIRMED", 10)
    for call in (outgoing, incoming):
        stats = call.wait_rtp(min_packets=25, timeout=10)
        assert stats.flows_both_ways, stats
    return outgoing, incoming


def hang_up(by: CallHandle, other: CallHandle) -> None:
    """``by`` sends BYE; both ends end the call (the BYE got its 200 back)."""
    by.hangup()
    other.wait_state("DISCONNECTED", 10)
    by.wait_state("DISCONNECTED", 10)
    assert by.last_status == 200, f"BYE -> {by.last_status} {by.last_reason}"


@pytest.mark.parametrize(
    ("transport", "callee_node", "workers_a", "bye_by_callee"),
    [
        ("tcp", "a", 1, False),
        ("tcp", "a", 1, True),
        ("udp", "a", 1, True),
        ("tcp", "b", 1, False),
        ("tcp", "a", 2, True),
    ],
    ids=[
        "tcp-callee-at-a-caller-hangs-up",
        "tcp-callee-at-a-callee-hangs-up",
        "udp-callee-at-a",
        "tcp-callee-at-b-reverse",
        "tcp-callee-at-a-with-2-workers",
    ],
)
def test_a_phone_at_one_node_is_called_through_the_other_with_media_and_bye(
    nodes: Nodes,
    phone_at: PhoneAt,
    transport: str,
    callee_node: str,
    workers_a: int,
    bye_by_callee: bool,
) -> None:
    node_a = nodes.start("a", "--workers", str(workers_a))
    node_b = nodes.start("b")
    provision(node_a, node_b)
    home, away = (node_a, node_b) if callee_node == "a" else (node_b, node_a)
    callee = phone_at(home, CALLEE, transport)
    caller = phone_at(away, CALLER, "udp")

    outgoing, incoming = connect(caller, callee, home.domain)
    assert incoming.via_transport == transport.upper()  # over the callee's own flow
    if bye_by_callee:
        hang_up(incoming, outgoing)
    else:
        hang_up(outgoing, incoming)

    # The phones' flows were used, not opened anew: a second call connects as well.
    outgoing, incoming = connect(caller, callee, home.domain)
    hang_up(outgoing, incoming)
    for node in (node_a, node_b):
        assert "Server Internal Error" not in node.log_tail


def test_calls_between_phones_of_node_a_go_on_after_node_b_is_killed(
    nodes: Nodes, phone_at: PhoneAt
) -> None:
    node_a = nodes.start("a")
    node_b = nodes.start("b")
    provision(node_a, node_b)
    callee = phone_at(node_a, CALLEE, "tcp")
    caller = phone_at(node_a, CALLER, "udp")
    phone_at(node_b, OTHER, "udp")

    nodes.kill(node_b)

    outgoing, incoming = connect(caller, callee, node_a.domain)
    hang_up(incoming, outgoing)


def test_a_call_through_a_dead_node_gets_480_at_once_never_500(
    nodes: Nodes, phone_at: PhoneAt
) -> None:
    node_a = nodes.start("a")
    node_b = nodes.start("b")
    provision(node_a, node_b)
    phone_at(node_a, CALLEE, "tcp")
    caller = phone_at(node_b, CALLER, "udp")

    nodes.kill(node_a)
    started = time.monotonic()
    outgoing = caller.call(f"sip:{CALLEE}@{node_b.domain}")
    outgoing.wait_state("DISCONNECTED", 40)
    waited = time.monotonic() - started

    assert (outgoing.last_status, outgoing.last_reason) == (
        480,
        "Temporarily Unavailable (node a unreachable)",
    ), node_b.log_tail
    assert waited < 5.0, waited
