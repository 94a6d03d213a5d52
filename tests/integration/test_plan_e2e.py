"""The numbering plan end to end: admin API changes take effect on live SIP traffic.

Covers: an extension created through the API registers a real pjsua2 phone and is
called through the proxy within seconds; disabling it (PATCH ``enabled: false``)
makes the next call to it fail with the plan's 403 and reason, and its next REGISTER
fail too; ``POST /route-test`` explains the same refusal and routes a number through
an external dial rule to its trunk. Not covered: carrier calls over trunks (no trunk
gateway yet), time-of-day rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.integration.phone import Phone
from tests.integration.server import RongheServer
from tests.integration.sipp import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ExtensionPhone = Callable[..., Phone]


def test_an_extension_created_through_the_api_is_called_then_disabled(
    ronghe_server: RongheServer,
    extension_phone: ExtensionPhone,
    phone_factory: Callable[..., Phone],
) -> None:
    server = ronghe_server
    caller = extension_phone(server, "8601")

    started = time.monotonic()
    created = server.create_extension("8602", "城关镇值班室", "Chengguan-8602-pw")
    desk = phone_factory(user="8602", outbound_proxy=server.sip_address)
    assert desk.register(server.registrar_uri, "8602", "Chengguan-8602-pw", server.domain) == 200
    outgoing = caller.call(f"sip:8602@{server.domain}")
    incoming = desk.wait_incoming(5)
    incoming.answer(200)
    outgoing.wait_state("CONFIRMED", 5)
    assert time.monotonic() - started < 5
    outgoing.hangup()
    incoming.wait_state("DISCONNECTED", 5)

    version = created["extension"]["version"]
    server.api("PATCH", "/extensions/8602", json={"enabled": False, "version": version})
    server.wait_plan_loaded()

    refused = caller.call(f"sip:8602@{server.domain}")
    refused.wait_state("DISCONNECTED", 5)
    assert refused.last_status == 403
    assert refused.last_reason == "Forbidden: extension 8602 is disabled"
    assert desk.register(server.registrar_uri, "8602", "Chengguan-8602-pw", server.domain) in (
        401,
        403,
    )

    explained = server.api("POST", "/route-test", json={"caller": "8601", "dialed": "8602"})
    assert explained["decision"] == "reject"
    assert (explained["status_code"], explained["reason"]) == (403, refused.last_reason)


def test_route_test_follows_an_external_dial_rule_to_its_trunk(
    ronghe_server: RongheServer,
) -> None:
    server = ronghe_server
    server.ensure_extension("8611")
    trunk = server.api(
        "POST",
        "/trunks",
        json={"name": "电信中继", "host": "127.0.0.1", "port": free_port(), "transport": "udp"},
    )
    server.api(
        "POST",
        "/dial-rules",
        json={
            "priority": 30,
            "pattern": "9NXXXXXXX",
            "min_length": 9,
            "max_length": 9,
            "destination": "external_local",
            "trunk_id": trunk["id"],
            "strip": 1,
            "description": "9 + 本地固话",
        },
    )

    decision = server.api("POST", "/route-test", json={"caller": "8611", "dialed": "963123456"})

    assert decision["decision"] == "external_route"
    assert decision["destination_kind"] == "external_local"
    assert decision["number"] == "63123456"
    assert decision["trunk"] == "电信中继"
