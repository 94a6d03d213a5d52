"""The asyncio transports on loopback sockets bound to port 0, like aioquic tests/test_asyncio.py.

Each test runs its own event loop with :func:`asyncio.run`; the peers are plain asyncio
sockets. Every wait is bounded, so a lost message fails the test instead of hanging it.

Covered: UDP receive and send from the listener (RFC 3581 symmetric response), short
keep-alive datagrams ignored, IPv6 UDP; TCP framing by Content-Length (RFC 3261 §18.3),
replies over the connection a request came on (§18.2.2, ``connection_id``), reuse of a
connection by address, outbound connections with data queued until they open, the
RFC 5626 §3.5.1 double-CRLF ping answered with a CRLF pong, closing a stream that cannot
be framed, a stream stalled in mid-message and an idle connection; send failures reported
to ``on_error``; wire tracing with credentials redacted.

Left out: TLS and WebSocket (not implemented), IPv4-mapped addresses from dual-stack
sockets, SO_REUSEPORT and the socket buffer sizes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import pytest

from tests.voip_core.transport.loopback import WAIT, run, udp_peer
from voip_core.sip.peer import Peer
from voip_core.transport.manager import TransportManager
from voip_core.transport.tracer import LoggingTracer, RecordingTracer, redact

REGISTER = (
    b"REGISTER sip:county.gov.cn SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKreg1\r\n"
    b"From: <sip:8001@county.gov.cn>;tag=r1\r\n"
    b"To: <sip:8001@county.gov.cn>\r\n"
    b"Call-ID: reg-1@127.0.0.1\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b"Contact: <sip:8001@127.0.0.1:5070>\r\n"
    b'Authorization: Digest username="8001", realm="county.gov.cn", nonce="abc", '
    b'uri="sip:county.gov.cn", response="6629fae49393a05397450978507c4ef1"\r\n'
    b"Max-Forwards: 70\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"body"
)
OK = b"SIP/2.0 200 OK\r\nCall-ID: reg-1@127.0.0.1\r\nContent-Length: 0\r\n\r\n"


class Inbox:
    """The ``on_message`` and ``on_error`` callbacks, queued for the test to await."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[bytes, Peer, bool]] = asyncio.Queue()
        self.errors: asyncio.Queue[Peer] = asyncio.Queue()

    def on_message(self, data: bytes, peer: Peer, stream: bool) -> None:
        self.messages.put_nowait((data, peer, stream))

    def on_error(self, peer: Peer) -> None:
        self.errors.put_nowait(peer)

    async def message(self) -> tuple[bytes, Peer, bool]:
        return await asyncio.wait_for(self.messages.get(), WAIT)

    async def error(self) -> Peer:
        return await asyncio.wait_for(self.errors.get(), WAIT)


def manager_for(inbox: Inbox, **options: float) -> TransportManager:
    return TransportManager(
        on_message=inbox.on_message,
        on_error=inbox.on_error,
        idle_timeout=options.get("idle_timeout", 600.0),
        stall_timeout=options.get("stall_timeout", 1.5),
    )


async def read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(size), WAIT)


async def read_to_eof(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), WAIT + 2.0)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):  # the manager closed it first
        await writer.wait_closed()


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (connection bookkeeping runs on later loop turns)."""
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


# -- UDP ----------------------------------------------------------------------------------


def test_udp_datagram_is_delivered_and_the_reply_leaves_from_the_listener() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        listener = await manager.listen_udp("127.0.0.1", 0)
        phone = await udp_peer()

        phone.send(REGISTER, listener)
        data, peer, stream = await inbox.message()
        manager.send(OK, peer)
        reply, source = await phone.next()

        assert (data, stream) == (REGISTER, False)
        assert peer == Peer("udp", "127.0.0.1", phone.address[1])
        assert (reply, source) == (OK, listener)
        assert manager.udp_addresses == [listener]
        phone.close()
        await manager.close()

    run(main)


def test_datagrams_from_one_address_share_one_host_string() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        listener = await manager.listen_udp("127.0.0.1", 0)
        phone = await udp_peer()

        phone.send(REGISTER, listener)
        phone.send(REGISTER, listener)
        first = (await inbox.message())[1]
        second = (await inbox.message())[1]

        assert first.host == second.host == "127.0.0.1"
        assert first.host is second.host  # bindings and transactions keep it
        phone.close()
        await manager.close()

    run(main)


def test_short_udp_keepalives_are_ignored() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        listener = await manager.listen_udp("127.0.0.1", 0)
        phone = await udp_peer()

        for keepalive in (b"\r\n\r\n", b"\x00\x00\x00\x00", b"\r\n"):
            phone.send(keepalive, listener)
        phone.send(REGISTER, listener)

        assert (await inbox.message())[0] == REGISTER
        assert inbox.messages.empty()
        phone.close()
        await manager.close()

    run(main)


def test_udp_over_ipv6_uses_the_ipv6_listener() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        await manager.listen_udp("127.0.0.1", 0)
        listener6 = await manager.listen_udp("::1", 0)
        phone = await udp_peer("::1")

        phone.send(REGISTER, listener6)
        _, peer, _ = await inbox.message()
        manager.send(OK, peer)
        reply, source = await phone.next()

        assert peer.host == "::1"
        assert (reply, source[:2]) == (OK, listener6)
        phone.close()
        await manager.close()

    run(main)


def test_udp_send_without_a_listener_of_that_family_is_reported() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        await manager.listen_udp("127.0.0.1", 0)

        manager.send(OK, Peer("udp", "::1", 5060))

        assert await inbox.error() == Peer("udp", "::1", 5060)
        await manager.close()

    run(main)


def test_listeners_with_reuse_port_share_one_port() -> None:
    async def main() -> None:
        inbox = Inbox()
        first, second = manager_for(inbox), manager_for(inbox)
        _, udp_port = await first.listen_udp("127.0.0.1", 0, reuse_port=True)
        _, tcp_port = await first.listen_tcp("127.0.0.1", 0, reuse_port=True)

        assert await second.listen_udp("127.0.0.1", udp_port, reuse_port=True) == (
            "127.0.0.1",
            udp_port,
        )
        assert await second.listen_tcp("127.0.0.1", tcp_port, reuse_port=True) == (
            "127.0.0.1",
            tcp_port,
        )
        await first.close()
        await second.close()

    run(main)


# -- TCP ----------------------------------------------------------------------------------


def test_tcp_stream_is_framed_and_the_reply_goes_back_on_the_same_connection() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)

        writer.write(REGISTER[:100])  # a message in pieces, then two in one segment
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(REGISTER[100:] + REGISTER)
        first, peer, stream = await inbox.message()
        second, again, _ = await inbox.message()
        manager.send(OK, peer)

        assert (first, second, stream) == (REGISTER, REGISTER, True)
        assert peer.connection_id is not None
        assert again == peer
        assert peer.port == writer.get_extra_info("sockname")[1]
        assert await read_exactly(reader, len(OK)) == OK
        assert manager.tcp_addresses == [(host, port)]
        await close_writer(writer)
        await eventually(lambda: manager.connection_count() == 0)
        await manager.close()

    run(main)


def test_send_by_address_reuses_the_open_connection() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(REGISTER)
        _, peer, _ = await inbox.message()

        manager.send(OK, Peer("tcp", peer.host, peer.port))  # no connection id
        manager.send(OK, Peer("tcp", peer.host, peer.port, connection_id=999))  # stale id

        assert await read_exactly(reader, 2 * len(OK)) == OK + OK
        assert manager.connection_count() == 1
        await close_writer(writer)
        await manager.close()

    run(main)


def test_a_connection_id_naming_another_address_is_not_used() -> None:
    # Connection ids start over when a node restarts; a stored hop or Record-Route token
    # from before then may carry the id of someone else's connection now.
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(REGISTER)
        _, peer, _ = await inbox.message()
        gone = Peer("tcp", peer.host, peer.port + 1, peer.connection_id)

        manager.send(OK, gone)

        assert await inbox.error() == gone
        writer.write(REGISTER)  # the connection itself is untouched and got nothing
        await inbox.message()
        manager.send(OK, peer)
        assert await read_exactly(reader, len(OK)) == OK
        await close_writer(writer)
        await manager.close()

    run(main)


async def sip_server() -> tuple[
    asyncio.Server, asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
]:
    """A TCP peer (a carrier trunk) that queues every connection it accepts."""
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.put_nowait((reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, accepted


def test_send_opens_an_outbound_tcp_connection_and_reuses_it() -> None:
    async def main() -> None:
        inbox = Inbox()
        tracer = RecordingTracer()
        manager = TransportManager(on_message=inbox.on_message, tracer=tracer)
        server, accepted = await sip_server()
        trunk = Peer("tcp", "127.0.0.1", server.sockets[0].getsockname()[1])

        manager.send(REGISTER, trunk)  # queued until the connection opens
        reader, writer = await asyncio.wait_for(accepted.get(), WAIT)
        assert await read_exactly(reader, len(REGISTER)) == REGISTER
        writer.write(OK)
        data, peer, stream = await inbox.message()
        manager.send(REGISTER, trunk)

        assert (data, stream) == (OK, True)
        assert (peer.host, peer.port) == (trunk.host, trunk.port)
        assert peer.connection_id is not None
        assert await read_exactly(reader, len(REGISTER)) == REGISTER
        assert manager.connection_count() == 1
        assert accepted.empty()
        assert [record.direction for record in tracer.records] == ["send", "recv", "send"]
        await close_writer(writer)
        server.close()
        await server.wait_closed()
        await manager.close()

    run(main)


def test_sends_before_an_outbound_connection_opens_share_it() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        server, accepted = await sip_server()
        trunk = Peer("tcp", "127.0.0.1", server.sockets[0].getsockname()[1])

        manager.send(REGISTER, trunk)
        manager.send(REGISTER, trunk)  # e.g. a CANCEL right after its INVITE
        reader, writer = await asyncio.wait_for(accepted.get(), WAIT)
        await asyncio.sleep(0.1)
        try:
            assert accepted.empty()
            assert await read_exactly(reader, 2 * len(REGISTER)) == REGISTER + REGISTER
        finally:
            while not accepted.empty():
                await close_writer(accepted.get_nowait()[1])
            await close_writer(writer)
            server.close()
            await server.wait_closed()
            await manager.close()

    run(main)


def test_refused_outbound_connection_is_reported() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        server, _ = await sip_server()
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()  # nothing listens on the port any more

        manager.send(REGISTER, Peer("tcp", "127.0.0.1", port))

        assert await inbox.error() == Peer("tcp", "127.0.0.1", port)
        await manager.close()

    run(main)


@pytest.mark.parametrize(
    ("peer", "size"),
    [
        pytest.param(Peer("tls", "127.0.0.1", 5061), 10, id="no-tls-connection"),
        pytest.param(Peer("tcp", "127.0.0.1", 9), 5 * 65_535, id="too-much-queued"),
    ],
)
def test_send_that_cannot_be_queued_is_reported(peer: Peer, size: int) -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)

        manager.send(b"x" * size, peer)

        assert inbox.errors.get_nowait() == peer  # at once, from send() itself
        await manager.close()

    run(main)


def test_double_crlf_ping_is_answered_with_a_crlf_pong() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)

        writer.write(b"\r\n\r\n")
        pong = await read_exactly(reader, 2)
        writer.write(b"\r\n\r\n" + REGISTER)  # a ping before a message
        second_pong = await read_exactly(reader, 2)

        assert (pong, second_pong) == (b"\r\n", b"\r\n")
        assert (await inbox.message())[0] == REGISTER
        await close_writer(writer)
        await manager.close()

    run(main)


def test_single_crlf_keepalive_does_not_close_the_connection() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox, stall_timeout=0.05)
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"\r\n")
        await asyncio.sleep(0.3)
        try:
            assert manager.connection_count() == 1
        finally:
            await close_writer(writer)
            await manager.close()

    run(main)


def test_stream_that_cannot_be_framed_is_closed() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox)
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)

        writer.write(REGISTER.replace(b"Content-Length: 4\r\n", b""))  # §18.3: mandatory

        assert await read_to_eof(reader) == b""
        await eventually(lambda: manager.connection_count() == 0)
        assert inbox.messages.empty()
        await close_writer(writer)
        await manager.close()

    run(main)


def test_stream_stalled_in_mid_message_is_handed_over_and_closed() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox, stall_timeout=0.1)
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)

        writer.write(REGISTER[:-2])  # two body bytes short
        partial, peer, stream = await inbox.message()

        assert (partial, stream) == (REGISTER[:-2], True)
        assert await read_to_eof(reader) == b""
        await eventually(lambda: manager.connection_count() == 0)
        await close_writer(writer)
        await manager.close()

    run(main)


def test_peer_hanging_up_in_mid_message_hands_nothing_over() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox, stall_timeout=0.3)
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(REGISTER[:-2])
        await writer.drain()

        await close_writer(writer)
        await eventually(lambda: manager.connection_count() == 0)
        await asyncio.sleep(0.4)  # past the stall timeout

        assert inbox.messages.empty()
        await manager.close()

    run(main)


def test_idle_connection_is_closed_after_the_idle_timeout() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox, idle_timeout=0.2)  # swept every second
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(REGISTER)
        await inbox.message()
        loop = asyncio.get_running_loop()
        started = loop.time()

        assert await read_to_eof(reader) == b""
        assert loop.time() - started >= 0.2
        await eventually(lambda: manager.connection_count() == 0)
        await close_writer(writer)
        await manager.close()

    run(main)


def test_active_connection_survives_the_idle_sweep() -> None:
    async def main() -> None:
        inbox = Inbox()
        manager = manager_for(inbox, idle_timeout=1.5)  # swept every second
        host, port = await manager.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)

        for _ in range(4):  # 1.2 s of traffic every 0.3 s: never idle for 1.5 s
            writer.write(REGISTER)
            await inbox.message()
            await asyncio.sleep(0.3)

        assert manager.connection_count() == 1
        await close_writer(writer)
        await manager.close()

    run(main)


# -- tracing ------------------------------------------------------------------------------


def test_recording_tracer_sees_both_directions_with_credentials_redacted() -> None:
    async def main() -> None:
        inbox = Inbox()
        tracer = RecordingTracer()
        manager = TransportManager(on_message=inbox.on_message, tracer=tracer)
        listener = await manager.listen_udp("127.0.0.1", 0)
        phone = await udp_peer()

        phone.send(REGISTER, listener)
        _, peer, _ = await inbox.message()
        manager.send(REGISTER.replace(b"Authorization", b"Proxy-Authorization"), peer)
        await phone.next()

        received, sent = tracer.records
        assert (received.direction, received.peer, received.local) == ("recv", peer, listener)
        assert (sent.direction, sent.peer, sent.local) == ("send", peer, listener)
        for record in (received, sent):
            assert b"6629fae4" not in record.data
            assert b'uthorization: Digest username="8001", <redacted>\r\n' in record.data
        phone.close()
        await manager.close()

    run(main)


def test_logging_tracer_writes_redacted_dumps_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    tracer = LoggingTracer()
    peer = Peer("udp", "127.0.0.1", 5070)

    with caplog.at_level(logging.DEBUG, logger="ronghe.wire"):
        tracer.received(REGISTER, peer, ("127.0.0.1", 5060))
        tracer.sent(OK, peer, ("127.0.0.1", 5060))
    with caplog.at_level(logging.INFO, logger="ronghe.wire"):
        tracer.received(REGISTER, peer, ("127.0.0.1", 5060))

    assert [record.getMessage().splitlines()[0] for record in caplog.records] == [
        f"recv {len(REGISTER)} bytes udp:127.0.0.1:5070 -> 127.0.0.1:5060",
        f"send {len(OK)} bytes 127.0.0.1:5060 -> udp:127.0.0.1:5070",
    ]
    assert "6629fae4" not in caplog.text


def test_redact_keeps_scheme_and_username_only() -> None:
    assert redact(b'Proxy-Authorization: Digest response="x", nonce="y"\r\n') == (
        b"Proxy-Authorization: Digest <redacted>\r\n"
    )
    assert redact(b"authorization:Bearer abc.def\r\n") == b"authorization:Bearer <redacted>\r\n"
