"""The real-client drivers proven peer to peer, without the Ronghe server.

Each driver is exercised against another real SIP peer on loopback, so that when a
server test fails the drivers are known good:

- pjsua2 ↔ pjsua2 by IP over UDP and TCP: 180, 200, ACK, RTP both ways, BYE; the
  caller's Chinese display name arrives intact; CANCEL (487) and rejection (486)
  give the final status on both sides.
- pjsua2 REGISTER with digest against SIPp's ``registrar_auth.xml``: 200 with the
  right password, 403 with a wrong one, over UDP and TCP; un-REGISTER against
  ``registrar_unregister.xml``; INVITE, ACK and BYE through an outbound proxy.
- SIPp built-in ``uac`` → ``uas`` (10 calls, none failed); SIPp ``uac_auth.xml`` and
  ``register_auth.xml`` against the digest-checking stand-ins ``uas_auth.xml`` and
  ``registrar_auth.xml``, over UDP and TCP.
- baresip ↔ pjsua2 both ways (RTP counted on both sides), baresip REGISTER with
  digest against ``registrar_auth.xml``.

Not covered here: anything of the server; see the ``ronghe_server`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.baresip import Baresip
from tests.integration.phone import Phone
from tests.integration.sipp import Sipp, run_sipp, scenario, users_injection

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PhoneFactory = Callable[..., Phone]
BaresipFactory = Callable[..., Baresip]

COUNTY_OFFICE = "夏邑县政府办公室"
TOWNSHIP = "城关镇"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_pjsua_phones_call_each_other_with_rtp_both_ways(
    phone_factory: PhoneFactory, transport: str
) -> None:
    alice = phone_factory(transport=transport, user="alice", display_name=COUNTY_OFFICE)
    bob = phone_factory(transport=transport, user="bob")

    outgoing = alice.call(bob.contact_uri)
    incoming = bob.wait_incoming(5)
    incoming.ringing()
    outgoing.wait_state("EARLY", 5)
    incoming.answer(200)
    outgoing.wait_state("CONFIRMED", 5)
    incoming.wait_state("CONFIRMED", 5)

    assert incoming.remote_display_name == COUNTY_OFFICE
    assert f'"{COUNTY_OFFICE}"' in incoming.from_header
    assert incoming.via_transport == transport.upper()
    assert (";transport=tcp" in incoming.remote_contact.lower()) == (transport == "tcp")
    assert (";transport=tcp" in outgoing.remote_contact.lower()) == (transport == "tcp")
    out_rtp = outgoing.wait_rtp(min_packets=25, timeout=5)
    in_rtp = incoming.wait_rtp(min_packets=25, timeout=5)
    assert out_rtp.flows_both_ways
    assert in_rtp.flows_both_ways
    assert out_rtp.codec == "PCMU/8000"

    outgoing.hangup()
    incoming.wait_state("DISCONNECTED", 5)
    outgoing.wait_state("DISCONNECTED", 5)
    assert outgoing.states == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED", "DISCONNECTED"]
    assert outgoing.last_status == 200  # BYE answered
    assert incoming.rtp_stats().rx_packets >= in_rtp.rx_packets


def test_pjsua_cancel_before_answer_gives_487_on_both_sides(phone_factory: PhoneFactory) -> None:
    alice = phone_factory(user="alice")
    bob = phone_factory(user="bob")

    outgoing = alice.call(bob.contact_uri)
    incoming = bob.wait_incoming(5)
    incoming.ringing()
    outgoing.wait_state("EARLY", 5)
    outgoing.hangup()  # CANCEL

    incoming.wait_state("DISCONNECTED", 5)
    outgoing.wait_state("DISCONNECTED", 5)
    assert outgoing.last_status == 487
    assert incoming.last_status == 487
    assert "CONFIRMED" not in outgoing.states


def test_pjsua_rejected_call_reports_the_callee_status(phone_factory: PhoneFactory) -> None:
    alice = phone_factory(user="alice")
    bob = phone_factory(user="bob")
    bob.set_auto_answer(486)

    outgoing = alice.call(bob.contact_uri)
    with pytest.raises(Exception, match="486"):
        outgoing.wait_state("CONFIRMED", 5)
    assert outgoing.disconnected
    assert outgoing.last_status == 486
    assert bob.wait_incoming(1).remote_uri.endswith("<sip:alice@127.0.0.1>")


@pytest.mark.parametrize(
    ("transport", "password", "expected"),
    [("udp", "s3cret-8001", 200), ("tcp", "s3cret-8001", 200), ("udp", "wrong", 403)],
)
def test_pjsua_register_answers_the_digest_challenge(
    phone_factory: PhoneFactory, tmp_path: Path, transport: str, password: str, expected: int
) -> None:
    registrar = Sipp.start(
        scenario("registrar_auth"),
        transport=transport,
        calls=1,
        injection=users_injection([("8001", "s3cret-8001")]),
        keys={"realm": "ronghe.test"},
        timeout=15,
        workdir=tmp_path / "registrar",
    )
    with registrar:
        phone = phone_factory(transport=transport, display_name=COUNTY_OFFICE)
        code = phone.register(
            registrar.uri, "8001", password, "ronghe.test", expires=120, timeout=5
        )
        assert code == expected
        registrar.wait(10).check(calls=1)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_pjsua_unregister_removes_the_binding(
    phone_factory: PhoneFactory, tmp_path: Path, transport: str
) -> None:
    with Sipp.start(
        scenario("registrar_unregister"),
        transport=transport,
        calls=1,
        injection=users_injection([("8001", "s3cret-8001")]),
        keys={"realm": "ronghe.test"},
        timeout=15,
        workdir=tmp_path / "registrar",
    ) as registrar:
        phone = phone_factory(transport=transport)
        assert phone.register(registrar.uri, "8001", "s3cret-8001", "ronghe.test") == 200
        assert phone.unregister(timeout=5) == 200
        assert phone.reg_events[-1]["expiration"] == 0
        registrar.wait(10).check(calls=1)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_pjsua_sends_through_its_outbound_proxy(
    phone_factory: PhoneFactory, tmp_path: Path, transport: str
) -> None:
    # The request-URI's domain does not resolve: the call only connects because the
    # INVITE, ACK and BYE all go to the outbound proxy (SIPp's uas.xml here).
    with Sipp.start(
        scenario("uas"), transport=transport, calls=1, timeout=15, workdir=tmp_path / "proxy"
    ) as proxy:
        phone = phone_factory(transport=transport, outbound_proxy=proxy.address)
        call = phone.call("sip:8002@ronghe.invalid")
        call.wait_state("CONFIRMED", 5)
        call.hangup()
        call.wait_state("DISCONNECTED", 5)
        result = proxy.wait(10).check(calls=1)
        assert result.incoming_calls == 1


def test_sipp_uac_to_uas_completes_ten_calls(tmp_path: Path) -> None:
    with Sipp.start(scenario("uas"), calls=10, timeout=20, workdir=tmp_path / "uas") as uas:
        result = run_sipp(
            "uac",
            uas.address,
            calls=10,
            rate=50,
            limit=10,
            timeout=20,
            recv_timeout_ms=5000,
            workdir=tmp_path / "uac",
        )
        assert result.successful_calls == 10, result.describe()
        assert result.failed_calls == 0
        assert result.outgoing_calls == 10
        assert result.counts["4_200_Recv"] == "10"
        uas_result = uas.wait(10).check(calls=10)
        assert uas_result.incoming_calls == 10


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_digest_scenarios_pass_verification(tmp_path: Path, transport: str) -> None:
    users = users_injection([("8001", "s3cret-8001")] * 3)
    with Sipp.start(
        scenario("uas_auth"),
        transport=transport,
        calls=3,
        injection=users,
        keys={"realm": "ronghe.test"},
        timeout=15,
        workdir=tmp_path / "uas_auth",
    ) as callee:
        calls = run_sipp(
            scenario("uac_auth"),
            callee.address,
            transport=transport,
            calls=3,
            rate=20,
            injection=users,
            keys={"domain": "ronghe.test"},
            service="8002",
            call_length_ms=100,
            timeout=15,
            workdir=tmp_path / "uac_auth",
        )
        calls.check(calls=3)
        callee.wait(10).check(calls=3)

    with Sipp.start(
        scenario("registrar_auth"),
        transport=transport,
        calls=1,
        injection=users,
        keys={"realm": "ronghe.test"},
        timeout=15,
        workdir=tmp_path / "registrar_auth",
    ) as registrar:
        registered = run_sipp(
            scenario("register_auth"),
            registrar.address,
            transport=transport,
            calls=1,
            injection=users,
            keys={"domain": "ronghe.test", "expires": "120"},
            timeout=15,
            workdir=tmp_path / "register_auth",
        )
        registered.check(calls=1)
        registrar.wait(10).check(calls=1)


def test_sipp_register_with_a_wrong_password_fails(tmp_path: Path) -> None:
    with Sipp.start(
        scenario("registrar_auth"),
        calls=1,
        injection=users_injection([("8001", "s3cret-8001")]),
        keys={"realm": "ronghe.test"},
        timeout=15,
        workdir=tmp_path / "registrar_auth",
    ) as registrar:
        result = run_sipp(
            scenario("register_auth"),
            registrar.address,
            calls=1,
            injection=users_injection([("8001", "wrong")]),
            keys={"domain": "ronghe.test", "expires": "120"},
            timeout=15,
            workdir=tmp_path / "register_auth",
        )
        assert result.exit_code == 1
        assert result.failed_calls == 1
        assert "403 Forbidden" in result.errors
        registrar.wait(10)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_baresip_and_pjsua_call_each_other(
    phone_factory: PhoneFactory, baresip_factory: BaresipFactory, transport: str
) -> None:
    bob = phone_factory(transport=transport, user="bob")
    carol = baresip_factory(user="carol", display_name=TOWNSHIP, transport=transport)

    # baresip -> pjsua2
    carol.dial(bob.contact_uri)
    incoming = bob.wait_incoming(5)
    assert incoming.remote_display_name == TOWNSHIP
    assert incoming.via_transport == transport.upper()
    incoming.answer()
    carol.wait_event("CALL_ESTABLISHED", 5)
    rtp = incoming.wait_rtp(min_packets=25, timeout=5)
    assert rtp.flows_both_ways
    carol.hangup()
    incoming.wait_state("DISCONNECTED", 5)
    carol.wait_event("CALL_CLOSED", 5)
    assert carol.wait_rtp_report(0).flows_both_ways

    # pjsua2 -> baresip
    mark = carol.event_count
    outgoing = bob.call(carol.contact_uri)
    carol.wait_event("CALL_INCOMING", 5, since=mark)
    carol.accept()
    outgoing.wait_state("CONFIRMED", 5)
    assert outgoing.wait_rtp(min_packets=25, timeout=5).flows_both_ways
    outgoing.hangup()
    carol.wait_event("CALL_CLOSED", 5, since=mark)
    outgoing.wait_state("DISCONNECTED", 5)
    assert carol.wait_rtp_report(1).flows_both_ways


@pytest.mark.parametrize(("password", "expected"), [("s3cret-8003", 200), ("wrong", 403)])
def test_baresip_register_answers_the_digest_challenge(
    baresip_factory: BaresipFactory, tmp_path: Path, password: str, expected: int
) -> None:
    with Sipp.start(
        scenario("registrar_auth"),
        calls=1,
        injection=users_injection([("8003", "s3cret-8003")]),
        keys={"realm": "ronghe.test"},
        timeout=15,
        workdir=tmp_path / "registrar",
    ) as registrar:
        agent = baresip_factory(
            user="8003",
            domain="ronghe.test",
            password=password,
            outbound_proxy=registrar.address,
            regint=120,
        )
        assert agent.wait_registration(5) == expected
        registrar.wait(10).check(calls=1)
