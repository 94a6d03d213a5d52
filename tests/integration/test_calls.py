"""Calls between registered pjsua2 phones through the real server (registrar + proxy).

Covers: digest REGISTER of extensions created through the admin API; INVITE with
proxy authentication (407), 180, 200, ACK, RTP both ways and BYE from either side
(in-dialog requests follow the proxy's double Record-Route and flow tokens) over UDP,
over TCP, and across transports (UDP caller and TCP callee, and the reverse); forking
to the three phones of one extension, with CANCEL to the two that did not answer; the
caller's CANCEL (487); a wrong password or an unknown extension refused alike at
REGISTER; 404 for a number not in the plan and 480 for an extension with no
registration; the caller's Chinese display name passed through unchanged; OPTIONS
keep-alives answered 200.

Not covered here: SIPp load (``test_sipp.py``), baresip (``test_baresip.py``), plan
changes through the API (``test_plan_e2e.py``), restarts (``test_restart.py``), lost
peers and malformed input (``test_faults.py``).

All tests share one server (``shared_ronghe_server``); each uses its own extensions.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.phone import CallHandle, Phone
from tests.integration.raw_sip import RawSip
from tests.integration.server import RongheServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ExtensionPhone = Callable[..., Phone]

COUNTY_OFFICE = "夏邑县政府办公室"


def proxy_calls(server: RongheServer) -> dict[str, str]:
    """The calls the proxy tracks (admin API ``/calls``): Call-ID -> state."""
    calls = server.api("GET", "/calls")["data"]
    return {call["call_id"]: call["state"] for call in calls}


def ring_and_answer(
    caller: Phone, callee: Phone, server: RongheServer, number: str
) -> tuple[CallHandle, CallHandle]:
    """``caller`` dials ``number``; ``callee`` rings (180) and answers (200); both are
    CONFIRMED and the proxy lists the call as confirmed. Returns (outgoing, incoming)."""
    outgoing = caller.call(f"sip:{number}@{server.domain}")
    incoming = callee.wait_incoming(5)
    incoming.ringing()
    outgoing.wait_state("EARLY", 5)
    incoming.answer(200)
    outgoing.wait_state("CONFIRMED", 5)
    incoming.wait_state("CONFIRMED", 5)
    assert proxy_calls(server).get(incoming.call_id) == "confirmed"
    return outgoing, incoming


def assert_rtp_both_ways(outgoing: CallHandle, incoming: CallHandle) -> None:
    assert outgoing.wait_rtp(min_packets=25, timeout=5).flows_both_ways
    assert incoming.wait_rtp(min_packets=25, timeout=5).flows_both_ways


def hang_up(server: RongheServer, by: CallHandle, other: CallHandle) -> None:
    """``by`` sends BYE; both sides end, the BYE got its 200, and the proxy saw it (the
    call left its list): it followed the proxy's Record-Route, since a BYE without the
    proxy's Route entries is refused (481) for a Request-URI that is not the proxy's."""
    by.hangup()
    other.wait_state("DISCONNECTED", 5)
    by.wait_state("DISCONNECTED", 5)
    assert by.last_status == 200, f"BYE answered {by.last_status} {by.last_reason}"
    assert by.call_id not in proxy_calls(server)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_extensions_call_with_rtp_and_the_caller_hangs_up(
    shared_ronghe_server: RongheServer, extension_phone: ExtensionPhone, transport: str
) -> None:
    server = shared_ronghe_server
    first = "8201" if transport == "udp" else "8211"
    second = "8202" if transport == "udp" else "8212"
    alice = extension_phone(server, first, transport)
    bob = extension_phone(server, second, transport)

    outgoing, incoming = ring_and_answer(alice, bob, server, second)

    assert incoming.via_transport == transport.upper()
    assert outgoing.states == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED"]
    assert_rtp_both_ways(outgoing, incoming)
    hang_up(server, outgoing, incoming)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_the_callee_hangs_up_through_the_record_route(
    shared_ronghe_server: RongheServer, extension_phone: ExtensionPhone, transport: str
) -> None:
    server = shared_ronghe_server
    first = "8203" if transport == "udp" else "8213"
    second = "8204" if transport == "udp" else "8214"
    alice = extension_phone(server, first, transport)
    bob = extension_phone(server, second, transport)

    outgoing, incoming = ring_and_answer(alice, bob, server, second)
    assert_rtp_both_ways(outgoing, incoming)

    hang_up(server, incoming, outgoing)


@pytest.mark.parametrize(("caller_transport", "callee_transport"), [("udp", "tcp"), ("tcp", "udp")])
def test_a_call_across_transports_and_both_can_hang_up(
    shared_ronghe_server: RongheServer,
    extension_phone: ExtensionPhone,
    caller_transport: str,
    callee_transport: str,
) -> None:
    server = shared_ronghe_server
    first, second = ("8221", "8222") if caller_transport == "udp" else ("8223", "8224")
    alice = extension_phone(server, first, caller_transport)
    bob = extension_phone(server, second, callee_transport)

    # The proxy record-routes twice, one entry per side: one toward alice on her
    # transport, one toward bob on his. Each BYE enters on one and leaves on the other.
    outgoing, incoming = ring_and_answer(alice, bob, server, second)
    assert incoming.via_transport == callee_transport.upper()
    assert_rtp_both_ways(outgoing, incoming)
    hang_up(server, incoming, outgoing)

    outgoing, incoming = ring_and_answer(alice, bob, server, second)
    assert_rtp_both_ways(outgoing, incoming)
    hang_up(server, outgoing, incoming)


def test_a_call_forks_to_three_phones_and_the_others_are_cancelled(
    shared_ronghe_server: RongheServer, extension_phone: ExtensionPhone
) -> None:
    server = shared_ronghe_server
    caller = extension_phone(server, "8230")
    desks = [extension_phone(server, "8231") for _ in range(3)]

    outgoing = caller.call(f"sip:8231@{server.domain}")
    ringing = [desk.wait_incoming(5) for desk in desks]
    for incoming in ringing:
        incoming.ringing()
    outgoing.wait_state("EARLY", 5)
    answered, *others = ringing[1], ringing[0], ringing[2]
    answered.answer(200)
    outgoing.wait_state("CONFIRMED", 5)
    answered.wait_state("CONFIRMED", 5)

    for other in others:
        other.wait_state("DISCONNECTED", 5)
        assert "CONFIRMED" not in other.states
        assert other.last_status == 487, f"{other.last_status} {other.last_reason}"
    assert_rtp_both_ways(outgoing, answered)
    hang_up(server, outgoing, answered)


def test_the_caller_cancels_before_answer_and_gets_487(
    shared_ronghe_server: RongheServer, extension_phone: ExtensionPhone
) -> None:
    server = shared_ronghe_server
    alice = extension_phone(server, "8241")
    bob = extension_phone(server, "8242")

    outgoing = alice.call(f"sip:8242@{server.domain}")
    incoming = bob.wait_incoming(5)
    incoming.ringing()
    outgoing.wait_state("EARLY", 5)
    outgoing.hangup()  # CANCEL

    outgoing.wait_state("DISCONNECTED", 5)
    incoming.wait_state("DISCONNECTED", 5)
    assert outgoing.last_status == 487, f"{outgoing.last_status} {outgoing.last_reason}"
    assert incoming.last_status == 487
    assert "CONFIRMED" not in outgoing.states
    assert outgoing.call_id not in proxy_calls(server)


def test_a_wrong_password_and_an_unknown_extension_are_refused_alike(
    shared_ronghe_server: RongheServer, extension_phone: ExtensionPhone
) -> None:
    server = shared_ronghe_server
    server.ensure_extension("8251")
    impostor = extension_phone(server, "8251", register=False)
    wrong = impostor.register(server.registrar_uri, "8251", "not-the-password", server.domain)
    stranger = extension_phone(server, "8252", register=False)
    # 8259 lies in a number block but was never created.
    unknown = stranger.register(server.registrar_uri, "8259", "any-password", server.domain)

    assert wrong in (401, 403)
    assert unknown == wrong  # no hint which extensions exist


def test_unknown_number_gets_404_and_unregistered_extension_480(
    shared_ronghe_server: RongheServer, extension_phone: ExtensionPhone
) -> None:
    server = shared_ronghe_server
    alice = extension_phone(server, "8261")
    server.ensure_extension("8262")  # exists, never registers

    unknown = alice.call(f"sip:7777@{server.domain}")
    unknown.wait_state("DISCONNECTED", 5)
    assert unknown.last_status == 404, f"{unknown.last_status} {unknown.last_reason}"

    absent = alice.call(f"sip:8262@{server.domain}")
    absent.wait_state("DISCONNECTED", 5)
    assert absent.last_status == 480, f"{absent.last_status} {absent.last_reason}"


def test_the_chinese_display_name_of_the_caller_arrives_intact(
    shared_ronghe_server: RongheServer, extension_phone: ExtensionPhone
) -> None:
    server = shared_ronghe_server
    office = extension_phone(server, "8271", display_name=COUNTY_OFFICE)
    clerk = extension_phone(server, "8272")

    outgoing = office.call(f"sip:8272@{server.domain}")
    incoming = clerk.wait_incoming(5)

    assert incoming.remote_display_name == COUNTY_OFFICE
    assert f'"{COUNTY_OFFICE}"' in incoming.from_header
    incoming.answer(486)
    outgoing.wait_state("DISCONNECTED", 5)
    assert outgoing.last_status == 486


@pytest.mark.parametrize("uri", ["sip:{address}", "sip:{domain}"])
def test_options_keepalive_to_the_proxy_is_answered_200(
    shared_ronghe_server: RongheServer, uri: str
) -> None:
    server = shared_ronghe_server
    target = uri.format(address=server.sip_address, domain=server.domain)
    with RawSip(server.sip_host, server.sip_port) as raw:
        response = raw.request("OPTIONS", target)
        again = raw.request("OPTIONS", target)

    assert response.status_code == 200
    assert again.status_code == 200
    assert "INVITE" in (response.header("Allow") or "")
