"""The node adapter on loopback sockets: parse, feed, drain, re-arm one timer.

A real :class:`SipNode` with a real :class:`TransportManager`, transaction layer, proxy,
registrar and location service runs on 127.0.0.1 ports chosen by the system; the
caller and the phone are plain UDP sockets (and a TCP stream) driven by the test, like
aioquic's tests/test_asyncio.py. Timers are shortened (T1 = 20 ms, so Timer B is 1.28 s)
and the phone can lose datagrams on arrival.

Covered: a registered phone called through the node with the first INVITE lost (Timer A
retransmission comes from the node's single re-armed timer), a transaction that times out
with no further input (408 after Timer B), the 400 for a malformed datagram built by
``make_error_response`` (RFC 3261 §8.2.6.2 / §16.3 step 1), a datagram without usable
Via dropped, overload shedding with 503 and Retry-After (§21.5.4) for new requests only
(on a full transaction table, a late event loop and a full receive buffer, each ending
when the cause does; a REGISTER answering a recent challenge is served all the same),
a send failure turned into 500 (§16.7 step 6), requests over TCP answered on their
connection, and a stream stalled in mid-message answered 400 and closed.

Left out: uvloop, the API, several processes sharing a port.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.voip_core.proxy.harness import (
    DOMAIN,
    FakeLocation,
    FakeRegistrar,
    PlanRouter,
    answer,
    cancel_for,
    invite,
)
from tests.voip_core.transport.loopback import WAIT, UdpPeer, run, udp_peer
from voip_core.node import LAG_INTERVAL, SipNode
from voip_core.overload import LATE_MEASUREMENTS
from voip_core.proxy.config import ListenAddress, ProxyConfig
from voip_core.proxy.core import Proxy
from voip_core.proxy.location import StoreLocation
from voip_core.proxy.ports import Authenticated, ContactTarget, Location, RegistrarPort
from voip_core.registrar.memory_store import MemoryBindingStore
from voip_core.registrar.register import RegistrarPolicy
from voip_core.registrar.service import Registrar
from voip_core.sip.exceptions import ParseError
from voip_core.sip.message import Request, Response
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer
from voip_core.sip.reply import make_error_response
from voip_core.sip.uri import parse_uri
from voip_core.transaction import TimerConfig, TransactionLayer
from voip_core.transport.manager import TransportManager

#: T1 = 20 ms: Timer A starts at 20 ms, Timers B, F, H, J, L and M last 1.28 s.
FAST = TimerConfig(t1=0.02, t2=0.08, t4=0.1)
AOR = f"sip:8001@{DOMAIN}"


class TrustEveryone:
    """Authenticates every request as the user it names (To for REGISTER)."""

    def authenticate(
        self, request: Request, *, proxy: bool, now: float, source: str | None = None
    ) -> Authenticated:
        uri = request.to().uri if request.method == "REGISTER" else request.from_().uri
        return Authenticated(getattr(uri, "user", None) or "")


@dataclass
class RunningNode:
    node: SipNode
    manager: TransportManager
    udp: tuple[str, int]
    tcp: tuple[str, int]

    async def close(self) -> None:
        self.node.close()
        await self.manager.close()
        await asyncio.sleep(0)  # let the transports finish closing


async def start_node(
    *,
    location: Location | None = None,
    max_transactions: int = 50_000,
    max_lag: float = 0.2,
    backlog: Callable[[], int] | None = None,
    max_backlog: int = 256 * 1024,
    spare_register: Callable[[Request, float], bool] | None = None,
) -> RunningNode:
    """A node on free loopback ports; a real registrar and location unless ``location``."""
    holder: list[SipNode] = []
    manager = TransportManager(
        on_message=lambda data, peer, stream: holder[0].on_message(data, peer, stream),
        on_error=lambda peer: holder[0].on_transport_error(peer),
    )
    udp = await manager.listen_udp("127.0.0.1", 0)
    tcp = await manager.listen_tcp("127.0.0.1", 0)
    config = ProxyConfig(
        domain=DOMAIN,
        listen=(
            ListenAddress("udp", "127.0.0.1", udp[1]),
            ListenAddress("tcp", "127.0.0.1", tcp[1]),
        ),
        aliases=frozenset({"127.0.0.1"}),
        require_authentication=False,
    )
    store = MemoryBindingStore()
    registrar: RegistrarPort = Registrar(
        domain=DOMAIN,
        store=store,
        authenticator=TrustEveryone(),
        policy=RegistrarPolicy(),
        gruu_secret=b"gruu secret",
    )
    if location is not None:
        registrar = FakeRegistrar()
    layer = TransactionLayer(FAST, send_trying=False)
    proxy = Proxy(
        config=config,
        layer=layer,
        location=location or StoreLocation(store, gruu_secret=b"gruu secret"),
        router=PlanRouter(),
        authenticator=TrustEveryone(),
        registrar=registrar,
        flow_secret=b"flow secret",
    )
    node = SipNode(
        layer=layer,
        proxy=proxy,
        loop=asyncio.get_running_loop(),
        max_transactions=max_transactions,
        retry_after=7,
        max_lag=max_lag,
        backlog=backlog or manager.udp_backlog,
        max_backlog=max_backlog,
        spare_register=spare_register,
    )
    holder.append(node)
    node.attach(manager)
    return RunningNode(node, manager, udp, tcp)


def location_of(phone: UdpPeer) -> FakeLocation:
    """A location service where ``AOR`` is registered at ``phone``."""
    location = FakeLocation()
    location.contacts[AOR] = [
        ContactTarget(parse_uri(f"sip:8001@127.0.0.1:{phone.address[1]}"), peer_of(phone))
    ]
    return location


def peer_of(phone: UdpPeer) -> Peer:
    return Peer("udp", *phone.address)


async def expect(phone: UdpPeer, what: str | int) -> Request | Response:
    """The next message called ``what`` (a method or a status), skipping retransmissions
    of others and 100 Trying."""
    while True:
        data, _ = await phone.next()
        message = parse_message(data)
        if isinstance(message, Request) and message.method == what:
            return message
        if isinstance(message, Response) and message.status_code == what:
            return message


def register_request(phone: UdpPeer) -> bytes:
    host, port = phone.address
    return (
        f"REGISTER sip:{DOMAIN} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bKregister1;rport\r\n"
        f"From: <{AOR}>;tag=reg\r\n"
        f"To: <{AOR}>\r\n"
        f"Call-ID: register-1@{host}\r\n"
        "CSeq: 1 REGISTER\r\n"
        f"Contact: <sip:8001@{host}:{port}>\r\n"
        "Expires: 600\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def parse_error(data: bytes) -> ParseError:
    try:
        parse_message(data)
    except ParseError as error:
        return error
    raise AssertionError("the message parsed")


# -- calls ----------------------------------------------------------------------------------


def test_registered_phone_is_called_through_the_node_despite_a_lost_invite() -> None:
    async def main() -> None:
        server = await start_node()
        phone, caller = await udp_peer(), await udp_peer()
        phone.send(register_request(phone), server.udp)
        registered = await expect(phone, 200)
        assert isinstance(registered, Response)
        assert registered.header("contact") is not None

        phone.drop = 1  # the first INVITE is lost on the way to the phone
        request = invite(source=peer_of(caller), credentials=False)
        caller.send(bytes(request), server.udp)
        await expect(caller, 100)
        forwarded = await expect(phone, "INVITE")  # Timer A, fired by the node's timer
        assert phone.dropped == [bytes(forwarded)]
        phone.send(bytes(answer(forwarded, 180)), server.udp)
        await expect(caller, 180)
        phone.send(
            bytes(
                answer(forwarded, 200, contact=f"<sip:8001@{phone.address[0]}:{phone.address[1]}>")
            ),
            server.udp,
        )
        ok = await expect(caller, 200)
        assert isinstance(ok, Response)

        ack = (
            f"ACK {ok.contacts()[0].uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {caller.address[0]}:{caller.address[1]};branch=z9hG4bKack1\r\n"
            + "".join(f"Route: {route}\r\n" for route in reversed(ok.header_lines("record-route")))
            + f"From: {ok.header('from')}\r\nTo: {ok.header('to')}\r\n"
            f"Call-ID: {ok.call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        caller.send(ack.encode(), server.udp)
        acked = await expect(phone, "ACK")
        assert acked.header("route") is None
        phone.close()
        caller.close()
        await server.close()

    run(main)


def test_transaction_times_out_without_further_input() -> None:
    async def main() -> None:
        phone, caller = await udp_peer(), await udp_peer()
        location = location_of(phone)
        server = await start_node(location=location)
        loop = asyncio.get_running_loop()
        started = loop.time()

        caller.send(bytes(invite(source=peer_of(caller), credentials=False)), server.udp)
        timeout = await expect(caller, 408)  # nothing more is sent to the node

        assert loop.time() - started >= 64 * FAST.t1
        assert phone.received.qsize() >= 3  # the INVITE and Timer A retransmissions
        assert isinstance(timeout, Response)
        assert timeout.reason == "Request Timeout"
        phone.close()
        caller.close()
        await server.close()

    run(main)


def test_send_failure_to_the_callee_gives_500_to_the_caller() -> None:
    async def main() -> None:
        caller = await udp_peer()
        closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = closed.sockets[0].getsockname()[1]
        closed.close()
        await closed.wait_closed()
        location = FakeLocation()
        location.contacts[AOR] = [
            ContactTarget(
                parse_uri(f"sip:8001@127.0.0.1:{port};transport=tcp"),
                Peer("tcp", "127.0.0.1", port),
            )
        ]
        server = await start_node(location=location)

        caller.send(bytes(invite(source=peer_of(caller), credentials=False)), server.udp)
        failure = await expect(caller, 500)

        assert isinstance(failure, Response)
        assert failure.reason == "Server Internal Error (downstream unavailable)"
        caller.close()
        await server.close()

    run(main)


# -- malformed input ------------------------------------------------------------------------


def test_malformed_datagram_is_answered_with_the_400_of_make_error_response() -> None:
    async def main() -> None:
        server = await start_node()
        caller = await udp_peer()
        data = bytes(invite(source=peer_of(caller))).replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE")
        expected = make_error_response(parse_error(data))
        assert expected is not None

        caller.send(data, server.udp)
        reply, source = await caller.next()

        assert reply == bytes(expected)
        assert source == server.udp
        assert expected.reason.startswith("Bad Request (")
        assert server.node.malformed_count == 1
        caller.close()
        await server.close()

    run(main)


def test_malformed_datagram_without_usable_via_is_dropped() -> None:
    async def main() -> None:
        server = await start_node()
        caller = await udp_peer()
        request = invite(f"sip:{DOMAIN}", method="OPTIONS", source=peer_of(caller))
        data = bytes(request).replace(b"CSeq: 1 OPTIONS", b"CSeq: x OPTIONS")
        without_via = b"".join(
            line for line in data.splitlines(keepends=True) if not line.startswith(b"Via:")
        )

        caller.send(without_via, server.udp)
        caller.send(bytes(request), server.udp)  # then a good one
        reply = parse_message((await caller.next())[0])

        assert isinstance(reply, Response)
        assert (reply.status_code, reply.cseq().method) == (200, "OPTIONS")
        assert server.node.malformed_count == 1
        caller.close()
        await server.close()

    run(main)


# -- overload -------------------------------------------------------------------------------


def test_overload_sheds_new_requests_but_lets_the_rest_through() -> None:
    async def main() -> None:
        phone, caller = await udp_peer(), await udp_peer()
        location = location_of(phone)
        server = await start_node(location=location, max_transactions=2)
        first = invite(source=peer_of(caller), credentials=False)
        caller.send(bytes(first), server.udp)
        forwarded = await expect(phone, "INVITE")
        phone.send(bytes(answer(forwarded, 180)), server.udp)
        await expect(caller, 180)
        assert len(server.node.layer) == 2  # the caller's and the phone's INVITE

        second = invite(source=peer_of(caller), credentials=False, call_id="call-2")
        caller.send(bytes(second), server.udp)
        refused = await expect(caller, 503)
        assert isinstance(refused, Response)
        assert refused.reason == "Service Unavailable (overloaded)"
        assert refused.header("retry-after") == "7"
        assert refused.call_id == "call-2"
        assert refused.to().tag is not None  # §8.2.6.2: a final response tags To

        caller.send(bytes(first), server.udp)  # a retransmission is absorbed as usual
        assert (await expect(caller, 180)).call_id == first.call_id
        caller.send(bytes(cancel_for(first)), server.udp)
        assert (await expect(caller, 200)).cseq().method == "CANCEL"
        assert isinstance(await expect(phone, "CANCEL"), Request)
        stray_bye = invite("sip:8001@192.0.2.99", method="BYE", source=peer_of(caller))
        caller.send(
            bytes(stray_bye).replace(
                b"To: <sip:8001@192.0.2.99>", b"To: <sip:8001@192.0.2.99>;tag=x"
            ),
            server.udp,
        )
        assert (await expect(caller, 481)).cseq().method == "BYE"
        assert server.node.shed_count == 1
        phone.close()
        caller.close()
        await server.close()

    run(main)


def test_one_stall_of_the_event_loop_sheds_nothing() -> None:
    async def main() -> None:
        phone, caller = await udp_peer(), await udp_peer()
        location = location_of(phone)
        server = await start_node(location=location, max_lag=0.1)
        time.sleep(0.3)  # noqa: ASYNC251  # one stall, as a long garbage-collector pass
        await asyncio.sleep(0.01)  # the late lag measurement runs first
        assert server.node.overload.lag > 0.1
        assert server.node.overload.late_streak == 1
        assert not server.node.overloaded
        caller.send(bytes(invite(source=peer_of(caller), call_id="after")), server.udp)
        assert (await expect(phone, "INVITE")).call_id == "after"
        assert server.node.shed_count == 0
        phone.close()
        caller.close()
        await server.close()

    run(main)


def test_an_event_loop_that_stays_late_sheds_new_requests_until_it_catches_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="voip_core.node")

    async def main() -> None:
        phone, caller = await udp_peer(), await udp_peer()
        location = location_of(phone)
        server = await start_node(location=location, max_lag=0.1)
        assert not server.node.overloaded
        loop = asyncio.get_running_loop()
        busy_until = loop.time() + 1.0

        def burst() -> None:  # work that keeps the loop busy, as under too much load
            time.sleep(0.2)  # noqa: ASYNC251
            if loop.time() < busy_until:
                loop.call_soon(burst)

        loop.call_soon(burst)
        await asyncio.sleep(0.5)  # two bursts and more: every measurement between is late
        assert server.node.overload.late_streak >= LATE_MEASUREMENTS
        late = invite(source=peer_of(caller), credentials=False, call_id="late")
        caller.send(bytes(late), server.udp)
        refused = await expect(caller, 503)
        assert (refused.call_id, refused.header("retry-after")) == ("late", "7")

        await asyncio.sleep(max(0.0, busy_until - loop.time()) + 3 * LAG_INTERVAL)
        assert not server.node.overloaded  # measured on time again
        accepted = invite(source=peer_of(caller), credentials=False, call_id="on-time")
        caller.send(bytes(accepted), server.udp)
        assert (await expect(phone, "INVITE")).call_id == "on-time"
        assert server.node.shed_count >= 1
        assert set(server.node.shed_by_reason) == {"lag"}
        # One warning when a request was refused, naming the limit; one line when the
        # node takes requests again.
        messages = [r.getMessage() for r in caplog.records if r.name == "voip_core.node"]
        assert len(messages) == 2, messages
        assert re.fullmatch(
            r"overloaded: the event loop runs \d+ ms late \(limit 100 ms\); "
            r"refusing new requests with 503",
            messages[0],
        )
        assert re.fullmatch(
            r"no longer overloaded: taking new requests \(\d+ refused in all\)", messages[1]
        )
        phone.close()
        caller.close()
        await server.close()

    run(main)


def test_a_full_receive_buffer_sheds_new_requests(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="voip_core.node")

    async def main() -> None:
        phone, caller = await udp_peer(), await udp_peer()
        location = location_of(phone)
        queued = [0]
        server = await start_node(location=location, backlog=lambda: queued[0], max_backlog=1000)
        queued[0] = 1001
        await asyncio.sleep(2 * LAG_INTERVAL)
        assert server.node.overload.backlog_bytes == 1001
        caller.send(bytes(invite(source=peer_of(caller), call_id="queued")), server.udp)
        assert (await expect(caller, 503)).call_id == "queued"
        assert server.node.shed_by_reason == {"backlog": 1}
        assert server.node.overload_reason == "backlog"
        queued[0] = 1000
        await asyncio.sleep(2 * LAG_INTERVAL)
        caller.send(bytes(invite(source=peer_of(caller), call_id="drained")), server.udp)
        assert (await expect(phone, "INVITE")).call_id == "drained"
        # Overloaded again within 10 s: refused and counted, but not warned again.
        queued[0] = 5000
        await asyncio.sleep(2 * LAG_INTERVAL)
        caller.send(bytes(invite(source=peer_of(caller), call_id="again")), server.udp)
        assert (await expect(caller, 503)).call_id == "again"
        assert server.node.shed_by_reason == {"backlog": 2}
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == [
            "overloaded: 1001 bytes wait in the UDP receive buffers (limit 1000); "
            "refusing new requests with 503"
        ]
        phone.close()
        caller.close()
        await server.close()

    run(main)


def test_overload_serves_a_register_that_answers_a_recent_challenge() -> None:
    async def main() -> None:
        phone = await udp_peer()
        asked: list[tuple[str, float]] = []

        def spare_register(request: Request, wall: float) -> bool:
            asked.append((request.method, wall))
            return 'nonce="recent"' in (request.header("authorization") or "")

        queued = [2000]
        server = await start_node(
            backlog=lambda: queued[0], max_backlog=1000, spare_register=spare_register
        )
        await asyncio.sleep(2 * LAG_INTERVAL)
        assert server.node.overloaded
        plain = register_request(phone)
        phone.send(plain, server.udp)
        assert (await expect(phone, 503)).cseq().method == "REGISTER"
        old = plain.replace(b"CSeq: 1", b"CSeq: 2").replace(b"register1", b"register2")
        phone.send(
            old.replace(b"Max-Forwards", b'Authorization: Digest nonce="old"\r\nMax-Forwards'),
            server.udp,
        )
        assert (await expect(phone, 503)).cseq().number == 2
        answer = plain.replace(b"CSeq: 1", b"CSeq: 3").replace(b"register1", b"register3")
        phone.send(
            answer.replace(
                b"Max-Forwards", b'Authorization: Digest nonce="recent"\r\nMax-Forwards'
            ),
            server.udp,
        )
        ok = await expect(phone, 200)  # the registration completes
        assert ok.cseq().number == 3
        assert server.node.shed_count == 2
        assert server.node.shed_by_reason == {"backlog": 2}
        assert [method for method, _ in asked] == ["REGISTER"] * 3
        assert all(abs(wall - time.time()) < 5 for _, wall in asked)  # the wall clock
        phone.close()
        await server.close()

    run(main)


def test_udp_backlog_counts_datagrams_not_yet_read() -> None:
    async def main() -> None:
        caller = await udp_peer()
        server = await start_node()
        assert server.manager.udp_backlog() == 0
        for _ in range(20):
            caller.send(b"OPTIONS sip:x SIP/2.0\r\n" + b"x" * 500, server.udp)
        time.sleep(0.1)  # noqa: ASYNC251  # delivered; the loop has not read them
        queued = server.manager.udp_backlog()
        # The kernel counts each datagram's buffer, a little more than its bytes.
        assert 20 * 500 < queued < 20 * 4096
        await asyncio.sleep(0.05)
        assert server.manager.udp_backlog() == 0
        caller.close()
        await server.close()

    run(main)


# -- TCP ------------------------------------------------------------------------------------


async def read_message(reader: asyncio.StreamReader) -> Response:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    message = parse_message(head, stream=True)
    assert isinstance(message, Response)
    return message


def test_request_over_tcp_is_answered_on_its_connection() -> None:
    async def main() -> None:
        server = await start_node()
        reader, writer = await asyncio.open_connection(*server.tcp)
        local = writer.get_extra_info("sockname")
        source = Peer("tcp", local[0], local[1])

        writer.write(bytes(invite(f"sip:{DOMAIN}", method="OPTIONS", source=source)))
        reply = await read_message(reader)

        assert (reply.status_code, reply.cseq().method) == (200, "OPTIONS")
        writer.close()
        await writer.wait_closed()
        await server.close()

    run(main)


def test_stream_stalled_in_mid_message_is_answered_400_and_closed() -> None:
    async def main() -> None:
        server = await start_node()
        reader, writer = await asyncio.open_connection(*server.tcp)
        local = writer.get_extra_info("sockname")
        request = invite(source=Peer("tcp", local[0], local[1])).with_body(
            b"v=0\r\n", "application/sdp"
        )

        writer.write(bytes(request)[:-2])  # the body two bytes short, for good
        reply = await read_message(reader)

        assert reply.status_code == 400
        assert reply.call_id == request.call_id
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        writer.close()
        await writer.wait_closed()
        await server.close()

    run(main)
