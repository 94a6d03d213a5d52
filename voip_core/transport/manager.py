"""asyncio transports for SIP: UDP and TCP listeners, connection reuse, idle timeout.

Theory of operation: the manager owns every socket. Each complete message that arrives
(a datagram, or a frame cut by :class:`~voip_core.sip.parser.StreamFramer`) is handed to
the ``on_message`` callback with the :class:`Peer` it came from; the callback belongs to
the node adapter, which parses and feeds the sans-IO core. Outgoing bytes are sent with
:meth:`TransportManager.send` to a ``Peer``:

* UDP leaves from the listener of the peer's address family, so replies come from the
  port the phone talks to (needed behind NAT, RFC 3581).
* TCP reuses the connection named by ``peer.connection_id`` (a phone that registered over
  TCP is reached over the same connection, RFC 3261 §18.2.2 / RFC 5626), else any
  connection to the same address, else opens a new one. Connections idle longer than
  ``idle_timeout`` are closed.

Transport failures are reported to ``on_error`` with the peer, so the transaction layer
can end the affected transactions (RFC 3261 §17.1.4). TLS and WebSocket fit the same
shape: a listener that produces frames and a connection table keyed by id.

A stream that stops in the middle of a message for ``stall_timeout`` seconds gets what
arrived answered (400, as the message is incomplete) and is closed: the peer will not
finish the message, and keeping it would tie the connection up until the idle timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import struct
import sys
from collections.abc import Callable, Iterator
from typing import Final, cast

from voip_core.sip.exceptions import ParseError
from voip_core.sip.parser import MAX_MESSAGE_SIZE, StreamFramer
from voip_core.sip.peer import Peer
from voip_core.transport.tracer import NullTracer, SipTracer

__all__ = [
    "DEFAULT_UDP_RECEIVE_BUFFER",
    "MessageHandler",
    "TransportManager",
    "bind_tcp",
    "bind_udp",
    "udp_receive_buffer",
]

logger = logging.getLogger(__name__)

#: Called with (data, peer, stream) for each received message.
MessageHandler = Callable[[bytes, Peer, bool], None]
#: Called with the peer a send to failed.
ErrorHandler = Callable[[Peer], None]

#: Datagrams shorter than this cannot be SIP; phones send CRLF or 4 NUL bytes as NAT
#: keep-alives (RFC 5626 §4.4.1 uses STUN, older phones send junk) — ignore them.
_MIN_DATAGRAM: Final = 16
#: Linux ``SO_MEMINFO`` (``include/uapi/asm-generic/socket.h``): the socket's memory
#: counters, the first being the bytes held by its receive queue.
_SO_MEMINFO: Final = 55
_MEMINFO: Final = struct.Struct("9I")
#: Receive buffer asked for per UDP socket, in bytes; Linux doubles it for its own
#: bookkeeping. It must stay under T1 (500 ms) of work: a request that waits longer is
#: retransmitted by its client before it is answered, and under overload the server
#: spends itself on stale copies while the clients give up. A much smaller buffer drops
#: responses, ACKs and BYEs as readily as new INVITEs. Past it the kernel drops
#: datagrams on arrival, the cheapest shedding there is, and the client's
#: retransmission comes back later (figures in ``bench/RESULTS.md``).
DEFAULT_UDP_RECEIVE_BUFFER: Final = 1024 * 1024
#: Send buffer per UDP socket: the answers to a burst leave in one event-loop turn.
_UDP_SEND_BUFFER: Final = 4 * 1024 * 1024
#: Bytes queued for a TCP connection that is still connecting or flow-controlled.
_MAX_PENDING: Final = 4 * MAX_MESSAGE_SIZE


def _host_of(address: tuple[str, int] | tuple[str, int, int, int]) -> str:
    host = address[0]
    # IPv4-mapped IPv6 from dual-stack sockets: report plain IPv4.
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    # One string per address, not one per datagram: every binding and transaction keeps
    # the host of its peer, and phones behind one NAT share it.
    return sys.intern(host)


def _bound_socket(
    host: str,
    port: int,
    kind: socket.SocketKind,
    *,
    reuse_port: bool,
    receive_buffer: int = DEFAULT_UDP_RECEIVE_BUFFER,
) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_DGRAM:
            for option, size in (
                (socket.SO_RCVBUF, receive_buffer),
                (socket.SO_SNDBUF, _UDP_SEND_BUFFER),
            ):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, size)
                except OSError:
                    logger.debug("could not size UDP buffer %s to %d bytes", option, size)
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def bind_udp(
    host: str,
    port: int,
    *,
    reuse_port: bool = False,
    receive_buffer: int = DEFAULT_UDP_RECEIVE_BUFFER,
) -> socket.socket:
    """A UDP socket bound for SIP, asking for ``receive_buffer`` bytes of receive buffer
    (see :data:`DEFAULT_UDP_RECEIVE_BUFFER`); IPv6 sockets IPv6-only."""
    return _bound_socket(
        host, port, socket.SOCK_DGRAM, reuse_port=reuse_port, receive_buffer=receive_buffer
    )


def udp_receive_buffer(sock: socket.socket) -> int:
    """Bytes of datagrams ``sock`` can queue, as the kernel counts them (Linux reports,
    and counts against, twice the size asked for, capped by ``net.core.rmem_max``)."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def bind_tcp(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket for SIP; IPv6 sockets IPv6-only."""
    return _bound_socket(host, port, socket.SOCK_STREAM, reuse_port=reuse_port)


def _same_address(connected: Peer | None, peer: Peer) -> bool:
    return connected is not None and (connected.transport, connected.host, connected.port) == (
        peer.transport,
        peer.host,
        peer.port,
    )


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, manager: TransportManager) -> None:
        self._manager = manager
        self.transport: asyncio.DatagramTransport | None = None
        self.socket: socket.socket | None = None
        self.local: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDPTransport does not subclass asyncio.DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.socket = transport.get_extra_info("socket")
        sockname = transport.get_extra_info("sockname")
        self.local = (sockname[0], sockname[1])

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if len(data) < _MIN_DATAGRAM:
            return
        host = _host_of(addr)  # type: ignore[arg-type]  # asyncio types addr loosely
        peer = Peer("udp", host, addr[1])
        self._manager.dispatch(data, peer, self.local, stream=False)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable for an earlier sendto: the peer is gone.
        logger.debug("UDP error on %s: %s", self.local, exc)


class _StreamConnection(asyncio.Protocol):
    def __init__(self, manager: TransportManager, connection_id: int, transport_name: str) -> None:
        self._manager = manager
        self.id = connection_id
        self.transport_name = transport_name
        self.transport: asyncio.Transport | None = None
        self.framer = StreamFramer()
        self.peer: Peer | None = None
        self.local: tuple[str, int] = ("", 0)
        self.last_activity = 0.0
        self.pending = bytearray()
        self.closed = False
        self._stall_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peername = transport.get_extra_info("peername")
        sockname = transport.get_extra_info("sockname")
        self.peer = Peer(self.transport_name, _host_of(peername), peername[1], self.id)
        self.local = (sockname[0], sockname[1])
        self.last_activity = self._manager.loop.time()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._manager.register_connection(self)
        if self.pending:
            self.transport.write(bytes(self.pending))
            self.pending.clear()

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None
        assert self.transport is not None
        self.last_activity = self._manager.loop.time()
        try:
            self.framer.feed(data)
            while True:
                frame = self.framer.next_frame()
                if self.framer.pings:
                    # RFC 5626 §3.5.1: answer a double-CRLF ping with a single CRLF pong.
                    self.framer.pings = 0
                    self.transport.write(b"\r\n")
                if frame is None:
                    break
                self._manager.dispatch(frame, self.peer, self.local, stream=True)
            self._arm_stall_timer()
        except ParseError as error:
            # A stream that cannot be framed cannot be resynchronised: close it.
            logger.info("closing %s: %s", self.peer, error)
            self.transport.close()

    def _arm_stall_timer(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        if self.framer.in_message:
            self._stall_timer = self._manager.loop.call_later(
                self._manager.stall_timeout, self._on_stall
            )

    def _on_stall(self) -> None:
        # A message begun but not finished within the stall timeout will not be finished:
        # hand over what arrived (the node answers 400 when it can) and close, since the
        # stream cannot be resynchronised (RFC 3261 §18.3).
        self._stall_timer = None
        if self.transport is None or self.peer is None or not self.framer.in_message:
            return
        partial = self.framer.take_partial()
        logger.info(
            "closing %s: message incomplete after %.1f s", self.peer, self._manager.stall_timeout
        )
        self._manager.dispatch(partial, self.peer, self.local, stream=True)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        self.closed = True
        self._manager.unregister_connection(self)
        if self.peer is not None:
            # RFC 3261 §17.1.4 / §17.2.4: transactions that depended on this connection
            # fail now instead of waiting for their timers.
            self._manager.connection_closed(self.peer)

    def write(self, data: bytes) -> None:
        if self.transport is None:
            if len(self.pending) + len(data) > _MAX_PENDING:
                raise ConnectionError("too much data queued for a connection not yet open")
            self.pending += data
            return
        self.last_activity = self._manager.loop.time()
        self.transport.write(data)


class TransportManager:
    """Owns the SIP sockets of one process."""

    def __init__(
        self,
        *,
        on_message: MessageHandler,
        on_error: ErrorHandler | None = None,
        tracer: SipTracer | None = None,
        idle_timeout: float = 600.0,
        stall_timeout: float = 1.5,
        loop: asyncio.AbstractEventLoop | None = None,
        connection_ids: Iterator[int] | None = None,
    ) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self._on_message = on_message
        self._on_error = on_error or (lambda peer: None)
        self._tracer: SipTracer = tracer or NullTracer()
        self._idle_timeout = idle_timeout
        #: Seconds a stream may sit in the middle of a message before it is given up.
        self.stall_timeout = stall_timeout
        self._udp: list[_UdpListener] = []
        self._servers: list[asyncio.Server] = []
        self._connections: dict[int, _StreamConnection] = {}
        self._connecting: dict[tuple[str, str, int], _StreamConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._by_address: dict[tuple[str, str, int], int] = {}
        #: Ids for new connections; worker processes use disjoint, global ones.
        self._ids = connection_ids if connection_ids is not None else itertools.count(1)
        self._sweeper: asyncio.TimerHandle | None = None
        self.tcp_addresses: list[tuple[str, int]] = []

    # -- listening ------------------------------------------------------------------

    async def listen_udp(
        self, host: str, port: int, *, reuse_port: bool = False
    ) -> tuple[str, int]:
        """Bind a UDP listener; returns the bound (host, port)."""
        return await self.serve_udp(bind_udp(host, port, reuse_port=reuse_port))

    async def serve_udp(self, sock: socket.socket) -> tuple[str, int]:
        """Serve SIP on a bound UDP socket (one a parent process shares with its workers);
        returns its (host, port)."""
        _transport, protocol = await self.loop.create_datagram_endpoint(
            lambda: _UdpListener(self), sock=sock
        )
        self._udp.append(protocol)
        return protocol.local

    async def listen_tcp(
        self, host: str, port: int, *, reuse_port: bool = False
    ) -> tuple[str, int]:
        """Start a TCP listener; returns the bound (host, port)."""
        return await self.serve_tcp(bind_tcp(host, port, reuse_port=reuse_port))

    async def serve_tcp(self, sock: socket.socket) -> tuple[str, int]:
        """Accept SIP connections on a listening TCP socket (possibly shared with other
        worker processes, which then take turns accepting); returns its (host, port)."""
        server = await self.loop.create_server(
            lambda: _StreamConnection(self, next(self._ids), "tcp"), sock=sock
        )
        self._servers.append(server)
        sockname = server.sockets[0].getsockname()
        address = (sockname[0], sockname[1])
        self.tcp_addresses.append(address)
        self._arm_sweeper()
        return address

    def udp_backlog(self) -> int:
        """Bytes of datagrams waiting in the UDP receive buffers (Linux; else 0)."""
        total = 0
        for listener in self._udp:
            if listener.socket is None:
                continue
            try:
                raw = listener.socket.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, _MEMINFO.size)
            except OSError:
                return 0
            total += _MEMINFO.unpack(raw)[0]
        return total

    @property
    def udp_addresses(self) -> list[tuple[str, int]]:
        """Bound UDP addresses."""
        return [listener.local for listener in self._udp]

    # -- receiving ------------------------------------------------------------------

    def dispatch(self, data: bytes, peer: Peer, local: tuple[str, int], *, stream: bool) -> None:
        """Trace and hand one message to the node."""
        self._tracer.received(data, peer, local)
        self._on_message(data, peer, stream)

    def register_connection(self, connection: _StreamConnection) -> None:
        """Track a new connection by id and by remote address."""
        assert connection.peer is not None
        self._connections[connection.id] = connection
        peer = connection.peer
        self._by_address[(peer.transport, peer.host, peer.port)] = connection.id

    def unregister_connection(self, connection: _StreamConnection) -> None:
        """Forget a closed connection."""
        self._connections.pop(connection.id, None)
        if connection.peer is not None:
            peer = connection.peer
            key = (peer.transport, peer.host, peer.port)
            if self._by_address.get(key) == connection.id:
                del self._by_address[key]

    def connection_closed(self, peer: Peer) -> None:
        """Report a closed connection to whoever tracks the transactions on it."""
        if not self._closing:
            self._on_error(peer)

    def connection_count(self) -> int:
        """Open stream connections."""
        return len(self._connections)

    # -- sending --------------------------------------------------------------------

    def send(self, data: bytes, peer: Peer) -> None:
        """Send ``data`` to ``peer``; failures are reported to ``on_error``."""
        try:
            if peer.transport == "udp":
                self._send_udp(data, peer)
            else:
                self._send_stream(data, peer)
        except OSError as error:
            logger.info("send to %s failed: %s", peer, error)
            self._on_error(peer)

    def _send_udp(self, data: bytes, peer: Peer) -> None:
        want_v6 = ":" in peer.host
        for listener in self._udp:
            if (":" in listener.local[0]) == want_v6 and listener.transport is not None:
                listener.transport.sendto(data, (peer.host, peer.port))
                self._tracer.sent(data, peer, listener.local)
                return
        raise OSError(f"no UDP listener for the address family of {peer.host}")

    def _send_stream(self, data: bytes, peer: Peer) -> None:
        connection = None
        if peer.connection_id is not None:
            connection = self._connections.get(peer.connection_id)
            if connection is not None and not _same_address(connection.peer, peer):
                # An id from before a restart (a stored node hop or Record-Route token):
                # ids start over, and that one now names another phone's connection.
                connection = None
        if connection is None:
            connection_id = self._by_address.get((peer.transport, peer.host, peer.port))
            if connection_id is not None:
                connection = self._connections.get(connection_id)
        if connection is None:
            connection = self._connecting.get((peer.transport, peer.host, peer.port))
        if connection is None:
            if peer.transport != "tcp" or peer.connection_id is not None:
                # A flow the peer opened is gone: its port is ephemeral and nothing listens
                # there, so connecting would only hang; the peer must reconnect (RFC 5626).
                raise OSError(f"{peer.transport} connection to {peer.host_port} is closed")
            connection = self._connect(peer)
        connection.write(data)
        self._tracer.sent(data, connection.peer or peer, connection.local)

    def _connect(self, peer: Peer) -> _StreamConnection:
        connection = _StreamConnection(self, next(self._ids), peer.transport)
        address = (peer.transport, peer.host, peer.port)
        # Until it is open, later sends to the same address queue on this connection
        # instead of opening another (an INVITE and its CANCEL must share a flow).
        self._connecting[address] = connection

        async def open_connection() -> None:
            try:
                await self.loop.create_connection(lambda: connection, peer.host, peer.port)
            except OSError as error:
                logger.info("connect to %s failed: %s", peer, error)
                self._on_error(peer)
            finally:
                if self._connecting.get(address) is connection:
                    del self._connecting[address]

        task = self.loop.create_task(open_connection())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._arm_sweeper()
        return connection

    # -- housekeeping ---------------------------------------------------------------

    def _arm_sweeper(self) -> None:
        if self._sweeper is None:
            interval = max(1.0, self._idle_timeout / 4)
            self._sweeper = self.loop.call_later(interval, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        deadline = self.loop.time() - self._idle_timeout
        for connection in list(self._connections.values()):
            if connection.last_activity < deadline and connection.transport is not None:
                logger.debug("closing idle connection %s", connection.peer)
                connection.transport.close()
        self._arm_sweeper()

    async def close(self) -> None:
        """Close every listener and connection."""
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for listener in self._udp:
            if listener.transport is not None:
                listener.transport.close()
        for connection in list(self._connections.values()):
            if connection.transport is not None:
                connection.transport.close()
        for server in self._servers:
            server.close()
            await server.wait_closed()
        self._udp.clear()
        self._servers.clear()
