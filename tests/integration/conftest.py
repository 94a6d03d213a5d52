"""Fixtures of the real-client integration tests.

- ``free_port``: a function returning a loopback port free for UDP and TCP.
- ``phone_factory``: starts pjsua2 phones (:class:`tests.integration.phone.Phone`),
  all closed at teardown.
- ``extension_phone``: a pjsua2 phone registered as an extension (created through the
  admin API) with the server as its outbound proxy.
- ``baresip_factory``: starts baresip agents, all closed at teardown.
- ``ronghe_server_factory`` / ``ronghe_server``: the real server (``ronghe serve``) on
  a fresh SQLite database and free loopback ports, with an admin API key and client
  (:class:`tests.integration.server.RongheServer`). At teardown it is stopped with
  SIGTERM and the test fails if it exited non-zero or logged a traceback. A server
  that cannot be started fails the test; it is never skipped.
- ``shared_ronghe_server``: the same, one per test module.

With ``CI=true`` an integration test that skips is reported as failed: every peer it
needs must be installed on CI (``.ci/run``), not silently left out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.sipp_driver import free_port as _free_port
from tests.integration.baresip import Baresip
from tests.integration.phone import Phone
from tests.integration.server import RongheServer, ServerError, start_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        os.environ.get("CI") == "true"
        and report.skipped
        and item.get_closest_marker("integration") is not None
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = f"integration test skipped under CI=true: {report.longrepr}"


@pytest.fixture
def free_port() -> Callable[..., int]:
    """``free_port(host="127.0.0.1", kind="both")`` -> a free port number."""
    return _free_port


@pytest.fixture
def phone_factory() -> Iterator[Callable[..., Phone]]:
    """``phone_factory(**Phone.start options)`` -> a started phone, closed at teardown."""
    phones: list[Phone] = []

    def start(**options: Any) -> Phone:
        phone = Phone.start(**options)
        phones.append(phone)
        return phone

    yield start
    for phone in phones:
        phone.begin_close()
    for phone in phones:
        phone.close()


@pytest.fixture
def extension_phone(phone_factory: Callable[..., Phone]) -> Callable[..., Phone]:
    """``extension_phone(server, number, transport="udp", display_name="", register=True,
    **Phone.start options)`` -> a pjsua2 phone using ``server`` as outbound proxy and,
    unless ``register`` is false, registered (200, digest) as extension ``number``,
    which is created through the admin API the first time."""

    def start(
        server: RongheServer,
        number: str,
        transport: str = "udp",
        display_name: str = "",
        register: bool = True,
        **options: Any,
    ) -> Phone:
        password = server.ensure_extension(number)
        phone = phone_factory(
            transport=transport,
            user=number,
            display_name=display_name,
            outbound_proxy=server.sip_address,
            **options,
        )
        if register:
            code = phone.register(server.registrar_uri, number, password, server.domain)
            assert code == 200, f"{number} REGISTER over {transport} -> {code}\n{server.log_tail}"
        return phone

    return start


@pytest.fixture
def baresip_factory(tmp_path: Path) -> Iterator[Callable[..., Baresip]]:
    """``baresip_factory(**Baresip.start options)`` -> a started baresip, closed at
    teardown; its configuration lives under ``tmp_path``."""
    agents: list[Baresip] = []

    def start(**options: Any) -> Baresip:
        options.setdefault("workdir", tmp_path / f"baresip{len(agents)}")
        agent = Baresip.start(**options)
        agents.append(agent)
        return agent

    yield start
    for agent in reversed(agents):
        agent.close()


def _start_server(workdir: Path, extra_args: list[str] | None, **options: Any) -> RongheServer:
    try:
        return start_server(workdir, extra_args, **options)
    except ServerError as exc:
        pytest.fail(f"the Ronghe server could not be started: {exc}", pytrace=False)


def _stop_servers(servers: list[RongheServer]) -> None:
    """SIGTERM each server; fail on a non-zero exit or a logged traceback."""
    problems: list[str] = []
    for server in servers:
        try:
            code = server.stop()
        except ServerError as exc:
            problems.append(str(exc))
            continue
        if code != 0 or server.traceback_seen:
            problems.append(
                f"ronghe serve exited {code}"
                + (" after logging a traceback" if server.traceback_seen else "")
                + "\n"
                + server.describe()
            )
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def ronghe_server_factory(tmp_path: Path) -> Iterator[Callable[..., RongheServer]]:
    """``ronghe_server_factory(extra_args=[...], domain=...)`` -> a running server.

    Each server gets its own directory and database under ``tmp_path``.
    ``ronghe_server_factory(restart_of=server)`` starts a stopped server again on the
    same database, secret and ports. At teardown every server is stopped with
    SIGTERM; a non-zero exit or a traceback in its output fails the test.
    """
    servers: list[RongheServer] = []

    def start(extra_args: list[str] | None = None, **options: Any) -> RongheServer:
        server = _start_server(tmp_path / f"server{len(servers)}", extra_args, **options)
        servers.append(server)
        return server

    yield start
    _stop_servers(servers)


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def shared_ronghe_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[RongheServer]:
    """One server with default options for a whole test module, which saves starting
    one per test; its tests must each use their own extension numbers. Checked at the
    end of the module like ``ronghe_server``.

    Every test that uses it runs twice: on one SIP process, and on two worker processes
    (``--workers 2``), where a call's messages and a phone's connection are often in
    different workers and registrations reach the API's process by replication."""
    workers = int(request.param)
    server = _start_server(
        tmp_path_factory.mktemp(f"shared-server-{workers}"), ["--workers", str(workers)]
    )
    yield server
    _stop_servers([server])


@pytest.fixture
def ronghe_server(ronghe_server_factory: Callable[..., RongheServer]) -> RongheServer:
    """The real server with default options (domain ``ronghe.test``, no demo plan)."""
    return ronghe_server_factory()
