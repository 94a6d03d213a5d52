"""What an unauthenticated request and a spent Max-Forwards draw from the real server.

Covers, over UDP with plain sockets against ``ronghe serve`` (default timers, T1 500 ms):

* RFC 3261 §8.2.7 / §16.6: an INVITE without credentials, never ACKed, gets exactly one
  answer, its 407 (no 100 Trying, no Timer G retransmissions in 5 s, where the old
  stateful challenge was sent again at 0.5, 1.5 and 3.5 s); no transaction is kept; the
  ACK of the challenge is answered by nothing and forwarded nowhere, even with our Route.
* §16.3 step 3: an OPTIONS with ``Max-Forwards: 00`` to a registered extension is
  answered 200 by the proxy itself and never reaches the phone (it was forwarded with
  ``Max-Forwards: -1``); an INVITE with ``00`` gets 483.

Not covered here: authenticated calls (test_calls, test_sipp with pjsua2 and SIPp).
"""

from __future__ import annotations

import time

import pytest

from tests.integration.raw_sip import RawSip
from tests.integration.server import RongheServer
from voip_core.sip.message import Response
from voip_core.sip.parser import parse_message

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

#: Long enough for Timer G to have fired three times (0.5 + 1 + 2 s) with T1 = 500 ms.
LISTEN_SECONDS = 5.0


def collect(raw: RawSip, seconds: float) -> list[bytes]:
    """Every datagram that reaches ``raw`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    received = []
    while (left := deadline - time.monotonic()) > 0:
        data = raw.receive(left)
        if data is not None:
            received.append(data)
    return received


def status_of(data: bytes) -> int:
    message = parse_message(data)
    assert isinstance(message, Response), data.decode(errors="replace")
    return message.status_code


def registered_phone(server: RongheServer, number: str) -> RawSip:
    """A plain socket registered as ``number`` (its own address as the Contact)."""
    password = server.ensure_extension(number)
    phone = RawSip(server.sip_host, server.sip_port)
    bound = phone.register(
        server.domain, number, password, contact=f"sip:{number}@{phone.local_address}"
    )
    assert bound.status_code == 200, bytes(bound).decode()
    return phone


def test_unauthenticated_invite_gets_one_407_and_keeps_no_transaction(
    ronghe_server: RongheServer,
) -> None:
    server = ronghe_server
    with (
        registered_phone(server, "8941") as phone,
        RawSip(server.sip_host, server.sip_port) as caller,
    ):
        invite = caller.build(
            "INVITE",
            f"sip:8941@{server.domain}",
            from_uri=f"sip:8940@{server.domain}",
            headers=[
                ("Route", f"<sip:{server.sip_address};lr>"),
                ("Contact", f"<sip:8940@{caller.local_address}>"),
            ],
        )
        # The REGISTER's 200 keeps its transaction for Timer J (32 s): count from here.
        before = server.stats()["transactions"]
        caller.send(invite)

        answers = collect(caller, LISTEN_SECONDS)

        assert [status_of(data) for data in answers] == [407]
        assert server.stats()["transactions"] == before
        # The ACK the caller's transaction would send (§17.1.1.3), with the same Route.
        challenge = parse_message(answers[0])
        assert isinstance(challenge, Response)
        lines = invite.decode().split("\r\n")
        ack = "\r\n".join(
            line.replace("INVITE", "ACK")
            if line.startswith(("INVITE ", "CSeq:"))
            else (f"To: {challenge.header('to')}" if line.startswith("To:") else line)
            for line in lines
        ).encode()
        caller.send(ack)
        assert collect(caller, 1.0) == []
        assert collect(phone, 0.1) == []  # the INVITE and its ACK never reached the phone
        assert server.stats()["transactions"] == before
    assert "Traceback" not in server.log_tail


def test_options_with_max_forwards_00_to_a_registered_extension_is_answered_by_the_proxy(
    ronghe_server: RongheServer,
) -> None:
    server = ronghe_server
    with (
        registered_phone(server, "8942") as phone,
        RawSip(server.sip_host, server.sip_port) as prober,
    ):
        prober.send(prober.build("OPTIONS", f"sip:8942@{server.domain}", max_forwards="00"))
        ok = prober.final_response()

        assert (ok.status_code, ok.reason) == (200, "OK")
        assert ok.header("server") == "Ronghe"
        assert "INVITE" in ok.header_values("allow")
        assert collect(phone, 1.0) == []  # not forwarded (with Max-Forwards: -1 or at all)

        prober.send(prober.build("INVITE", f"sip:8942@{server.domain}", max_forwards="00"))
        refused = prober.final_response()
        assert (refused.status_code, refused.reason) == (483, "Too Many Hops")
        assert collect(phone, 0.5) == []
