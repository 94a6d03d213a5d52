"""SIPp load through the real server: built-in scenarios, digest calls, mass REGISTER.

Covers: SIPp's built-in ``uac`` calling an extension whose contact is SIPp's built-in
``uas`` (200 calls at 50 per second, none failed), with the load generator in a
trusted network (``--trusted-network``) since the built-in ``uac`` cannot answer a
challenge; ``uac_auth.xml`` answering the proxy's 407 with digest credentials
against a server that trusts nobody (UDP and TCP); ``register_auth.xml`` registering
100 extensions with digest, every binding then visible to the proxy.

Not covered here: softphones (``test_calls.py``), overload shedding (503) — the
rates used stay far below ``--max-transactions``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.raw_sip import RawSip
from tests.integration.server import RongheServer, extension_password
from tests.integration.sipp import Sipp, run_sipp, scenario, users_injection

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

ServerFactory = Callable[..., RongheServer]


def test_builtin_uac_calls_builtin_uas_through_the_proxy(
    ronghe_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = ronghe_server_factory(["--trusted-network", "127.0.0.0/8"])
    password = server.ensure_extension("8301")
    calls = 200
    with Sipp.start("uas", calls=calls, timeout=40, workdir=tmp_path / "uas") as uas:
        with RawSip(server.sip_host, server.sip_port) as raw:
            contact = f"sip:8301@{uas.address}"
            bound = raw.register(server.domain, "8301", password, contact=contact)
            assert bound.status_code == 200, bytes(bound).decode()

        result = run_sipp(
            "uac",
            server.sip_address,
            service="8301",
            calls=calls,
            rate=50,
            limit=100,
            timeout=30,
            recv_timeout_ms=5000,
            workdir=tmp_path / "uac",
        )
        assert result.successful_calls == calls, result.describe() + server.log_tail
        assert result.failed_calls == 0
        uas_result = uas.wait(20).check(calls=calls)
        assert uas_result.incoming_calls == calls


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_uac_auth_answers_the_proxy_challenge(
    ronghe_server: RongheServer, tmp_path: Path, transport: str
) -> None:
    server = ronghe_server
    caller_password = server.ensure_extension("8311")
    callee_password = server.ensure_extension("8312")
    calls = 20
    with Sipp.start(
        scenario("uas"), transport=transport, calls=calls, timeout=30, workdir=tmp_path / "uas"
    ) as uas:
        with RawSip(server.sip_host, server.sip_port) as raw:
            contact = f"sip:8312@{uas.address}" + (";transport=tcp" if transport == "tcp" else "")
            bound = raw.register(server.domain, "8312", callee_password, contact=contact)
            assert bound.status_code == 200, bytes(bound).decode()

        result = run_sipp(
            scenario("uac_auth"),
            server.sip_address,
            transport=transport,
            calls=calls,
            rate=20,
            injection=users_injection([("8311", caller_password)] * calls),
            keys={"domain": server.domain},
            service="8312",
            call_length_ms=100,
            timeout=30,
            # SIPp hashes sip:<remote address> unless told; the server checks the
            # digest uri against the Request-URI (RFC 3261 §22.4, RFC 7616 §3.4.6).
            extra_args=["-auth_uri", f"8312@{server.domain}"],
            workdir=tmp_path / "uac_auth",
        )
        assert result.successful_calls == calls, result.describe() + server.log_tail
        assert result.failed_calls == 0
        uas.wait(20).check(calls=calls)


def test_register_auth_registers_100_extensions(
    ronghe_server: RongheServer, tmp_path: Path
) -> None:
    server = ronghe_server
    numbers = [str(n) for n in range(8400, 8500)]
    for number in numbers:
        server.ensure_extension(number, wait=False)
    server.wait_plan_loaded()
    users = [(number, extension_password(number)) for number in numbers]

    result = run_sipp(
        scenario("register_auth"),
        server.sip_address,
        calls=len(users),
        rate=50,
        injection=users_injection(users),
        keys={"domain": server.domain, "expires": "300"},
        timeout=30,
        extra_args=["-auth_uri", server.domain],
        workdir=tmp_path / "register_auth",
    )

    assert result.successful_calls == len(users), result.describe() + server.log_tail
    assert result.failed_calls == 0
    # The registrations are the proxy's: the admin view lists every AOR.
    registered = server.api("GET", "/registrations", params={"limit": 200})
    assert registered["count"] == len(numbers)
    assert {item["extension"] for item in registered["data"]} == set(numbers)
