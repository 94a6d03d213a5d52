"""Fixtures of the real-client integration tests.

- ``free_port``: a function returning a loopback port free for UDP and TCP.
- ``phone_factory``: starts pjsua2 phones (:class:`tests.integration.phone.Phone`),
  all closed at teardown.
- ``baresip_factory``: starts baresip agents, all closed at teardown.
- ``ronghe_server_factory`` / ``ronghe_server``: the real server (``ronghe serve``) on
  a fresh SQLite database and free loopback ports, with an admin API key and client
  (:class:`tests.integration.server.RongheServer`). At teardown it is stopped with
  SIGTERM and the test fails if it exited non-zero or logged a traceback. A server
  that cannot be started fails the test; it is never skipped.

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


@pytest.fixture
def ronghe_server_factory(tmp_path: Path) -> Iterator[Callable[..., RongheServer]]:
    """``ronghe_server_factory(extra_args=[...], domain=...)`` -> a running server.

    Each server gets its own directory and database under ``tmp_path``. At teardown
    every server is stopped with SIGTERM; a non-zero exit or a traceback in its
    output fails the test.
    """
    servers: list[RongheServer] = []

    def start(extra_args: list[str] | None = None, **options: Any) -> RongheServer:
        try:
            server = start_server(tmp_path / f"server{len(servers)}", extra_args, **options)
        except ServerError as exc:
            pytest.fail(f"the Ronghe server could not be started: {exc}", pytrace=False)
        servers.append(server)
        return server

    yield start
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
def ronghe_server(ronghe_server_factory: Callable[..., RongheServer]) -> RongheServer:
    """The real server with default options (domain ``ronghe.test``, no demo plan)."""
    return ronghe_server_factory()
