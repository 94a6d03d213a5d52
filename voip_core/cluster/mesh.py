"""Channels between the worker processes of one node: Unix stream sockets, framed.

Theory of operation
-------------------
Each worker listens on ``<directory>/worker-<index>.sock``; the directory is created
private (mode 0700) by the supervising process, and every accepted connection is also
checked with ``SO_PEERCRED`` to come from our own user, since the frames it carries move
registrations and SIP messages. A worker connects to every other worker and sends on
the connection it opened (first frame ``HELLO`` with its index); it receives on the
connections it accepted. So between two workers there are two one-way channels, each
ordered, and a restarted worker simply connects again. ``on_connected`` tells the owner
when a channel to a worker opens (worker 0 then sends it every registration), ``on_hello``
when a worker's channel to us opens, ``on_lost`` when it closes.

Frames to a worker with no open channel are dropped and counted (:attr:`Mesh.dropped`):
SIP over UDP recovers by retransmission, and a worker that (re)starts asks for a snapshot
of the registrations. ``CALL``/``REPLY`` frames give a small request-response
(:meth:`Mesh.call`) for the supervisor's aggregated views (statistics, live calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Final, cast

from voip_core.cluster.wire import FrameKind, FrameReader, decode_json, encode_frame, encode_json
from voip_core.sip.exceptions import RemoteProtocolError

__all__ = ["CALL_TIMEOUT", "FrameHandler", "Mesh", "socket_path"]

logger = logging.getLogger(__name__)

#: Called with (sender index, kind, payload) for every frame but HELLO, CALL and REPLY.
FrameHandler = Callable[[int, FrameKind, bytes], None]
#: Seconds between attempts to reach a worker that is not listening (yet).
_RECONNECT_INTERVAL: Final = 0.2
#: Bytes a channel may hold unsent before frames to it are dropped (the peer is stuck).
_MAX_BUFFERED: Final = 64 * 1024 * 1024
_UCRED: Final = struct.Struct("3i")
#: Seconds :meth:`Mesh.call` waits for a worker's answer.
CALL_TIMEOUT: Final = 5.0


def socket_path(directory: Path, index: int) -> Path:
    """Where worker ``index`` listens."""
    return directory / f"worker-{index}.sock"


class _Inbound(asyncio.Protocol):
    """A channel another worker opened to us: we only read from it."""

    def __init__(self, mesh: Mesh) -> None:
        self._mesh = mesh
        self._reader = FrameReader()
        self._sender: int | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._mesh.inbound.add(self._transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
            _pid, uid, _gid = _UCRED.unpack(credentials)
            if uid != os.getuid():
                logger.warning("refused a worker channel from uid %d", uid)
                transport.close()

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        try:
            frames = self._reader.feed(data)
        except RemoteProtocolError as error:
            logger.error("closing a worker channel: %s", error)
            self._transport.close()
            return
        for kind, payload in frames:
            if self._sender is None:
                if kind is not FrameKind.HELLO or len(payload) != 1:
                    logger.error("closing a worker channel that did not say hello")
                    self._transport.close()
                    return
                self._sender = payload[0]
                self._mesh.hello(self._sender)
                continue
            try:
                self._mesh.received(self._sender, kind, payload)
            except Exception:
                # One frame that cannot be handled must not close the channel and lose
                # the frames behind it; it is a bug, logged with its traceback.
                logger.exception(
                    "handling a %s frame from worker %d failed", kind.name, self._sender
                )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._mesh.inbound.discard(self._transport)
        if self._sender is not None:
            self._mesh.lost(self._sender)


class _Outbound(asyncio.Protocol):
    """The channel we opened to one worker: we only write to it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        logger.warning("unexpected %d bytes on an outbound worker channel", len(data))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.closed.set()


class Mesh:
    """Frames to and from the other workers of this node."""

    def __init__(
        self,
        *,
        index: int,
        workers: int,
        directory: Path,
        on_frame: FrameHandler,
        on_connected: Callable[[int], None] | None = None,
        on_hello: Callable[[int], None] | None = None,
        on_lost: Callable[[int], None] | None = None,
    ) -> None:
        self.index = index
        self.workers = workers
        self._directory = directory
        self._on_frame = on_frame
        self._on_connected = on_connected or (lambda worker: None)
        self._on_hello = on_hello or (lambda worker: None)
        self._on_lost = on_lost or (lambda worker: None)
        self._outbound: dict[int, _Outbound] = {}
        self._server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._calls = itertools.count(1)
        self._pending: dict[int, asyncio.Future[object]] = {}
        self._handlers: dict[str, Callable[[], object]] = {}
        self._answering: set[asyncio.Future[object]] = set()
        #: Channels other workers opened to this one.
        self.inbound: set[asyncio.Transport] = set()
        self._stopping = False
        self._connected = asyncio.Event()
        #: Frames dropped because their worker had no open channel or was stuck.
        self.dropped = 0

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, then keep a channel open to every other worker."""
        loop = asyncio.get_running_loop()
        path = socket_path(self._directory, self.index)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._server = await loop.create_unix_server(lambda: _Inbound(self), path=str(path))
        os.chmod(path, 0o600)
        for worker in range(self.workers):
            if worker != self.index:
                self._tasks.append(
                    asyncio.create_task(self._keep_connected(worker), name=f"mesh-{worker}")
                )

    async def _keep_connected(self, worker: int) -> None:
        loop = asyncio.get_running_loop()
        path = str(socket_path(self._directory, worker))
        while not self._stopping:
            try:
                _transport, protocol = await loop.create_unix_connection(_Outbound, path)
            except OSError:
                await asyncio.sleep(_RECONNECT_INTERVAL)
                continue
            assert protocol.transport is not None
            protocol.transport.write(encode_frame(FrameKind.HELLO, bytes([self.index])))
            self._outbound[worker] = protocol
            self._connected.set()
            self._on_connected(worker)
            await protocol.closed.wait()
            if self._outbound.get(worker) is protocol:
                del self._outbound[worker]

    async def wait_connected(self) -> None:
        """Return once a channel to every other worker is open."""
        while len(self._outbound) < self.workers - 1:
            self._connected.clear()
            await self._connected.wait()

    async def close(self) -> None:
        """Close every channel and stop listening."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for protocol in list(self._outbound.values()):
            if protocol.transport is not None:
                protocol.transport.close()
        self._outbound.clear()
        for transport in list(self.inbound):
            transport.close()
        self.inbound.clear()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for future in self._pending.values():
            future.cancel()

    # -- sending ----------------------------------------------------------------------

    def connected(self, worker: int) -> bool:
        """Whether a channel to ``worker`` is open."""
        return worker in self._outbound

    def send(self, worker: int, kind: FrameKind, payload: bytes) -> bool:
        """Queue one frame for ``worker``; ``False`` (and counted) when it cannot be."""
        protocol = self._outbound.get(worker)
        transport = protocol.transport if protocol is not None else None
        if transport is None or transport.get_write_buffer_size() > _MAX_BUFFERED:
            self.dropped += 1
            return False
        transport.write(encode_frame(kind, payload))
        return True

    def broadcast(self, kind: FrameKind, payload: bytes) -> None:
        """Send one frame to every other worker."""
        frame = encode_frame(kind, payload)
        for worker in range(self.workers):
            if worker == self.index:
                continue
            protocol = self._outbound.get(worker)
            if protocol is None or protocol.transport is None:
                self.dropped += 1
                continue
            protocol.transport.write(frame)

    # -- request and reply ------------------------------------------------------------

    def serve(self, method: str, handler: Callable[[], object]) -> None:
        """Answer ``CALL`` frames for ``method`` with ``handler()``: a JSON value, or an
        awaitable of one (answered when it is done)."""
        self._handlers[method] = handler

    async def call(self, worker: int, method: str) -> object:
        """Ask ``worker`` for ``method``'s value; ``ConnectionError`` when it cannot,
        ``TimeoutError`` when it does not answer within :data:`CALL_TIMEOUT` seconds."""
        call_id = next(self._calls)
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        request = encode_json({"id": call_id, "method": method})
        try:
            if not self.send(worker, FrameKind.CALL, request):
                raise ConnectionError(f"no channel to worker {worker}")
            async with asyncio.timeout(CALL_TIMEOUT):
                return await future
        finally:
            self._pending.pop(call_id, None)

    # -- receiving (called by the channels) -------------------------------------------

    def hello(self, worker: int) -> None:
        logger.debug("worker %d connected to worker %d", worker, self.index)
        self._on_hello(worker)

    def lost(self, worker: int) -> None:
        if not self._stopping:
            logger.info("channel from worker %d to worker %d closed", worker, self.index)
            self._on_lost(worker)

    def received(self, sender: int, kind: FrameKind, payload: bytes) -> None:
        if kind is FrameKind.CALL:
            self._answer(sender, payload)
        elif kind is FrameKind.REPLY:
            self._settle(payload)
        else:
            self._on_frame(sender, kind, payload)

    def _answer(self, sender: int, payload: bytes) -> None:
        try:
            request = decode_json(payload)
        except RemoteProtocolError as error:
            logger.error("malformed CALL from worker %d: %s", sender, error)
            return
        if not isinstance(request, dict) or not isinstance(request.get("id"), int):
            logger.error("malformed CALL from worker %d", sender)
            return
        call_id = request["id"]
        handler = self._handlers.get(str(request.get("method")))
        if handler is None:
            self._reply(sender, {"id": call_id, "error": "no such method"})
            return
        try:
            result = handler()
        except Exception as error:
            logger.exception("answering %s for worker %d failed", request["method"], sender)
            self._reply(sender, {"id": call_id, "error": str(error)})
            return
        if not inspect.isawaitable(result):
            self._reply(sender, {"id": call_id, "result": result})
            return
        task = asyncio.ensure_future(result)
        self._answering.add(task)

        def settled(task: asyncio.Future[object]) -> None:
            self._answering.discard(task)
            if task.cancelled():
                self._reply(sender, {"id": call_id, "error": "cancelled"})
            elif (error := task.exception()) is not None:
                logger.error(
                    "answering %s for worker %d failed: %s", request["method"], sender, error
                )
                self._reply(sender, {"id": call_id, "error": str(error)})
            else:
                self._reply(sender, {"id": call_id, "result": task.result()})

        task.add_done_callback(settled)

    def _reply(self, worker: int, reply: dict[str, object]) -> None:
        try:
            payload = encode_json(reply)
        except (TypeError, ValueError) as error:
            logger.error("answer for worker %d cannot be encoded: %s", worker, error)
            payload = encode_json({"id": reply["id"], "error": f"unencodable answer: {error}"})
        self.send(worker, FrameKind.REPLY, payload)

    def _settle(self, payload: bytes) -> None:
        try:
            reply = decode_json(payload)
        except RemoteProtocolError as error:
            logger.error("malformed REPLY: %s", error)
            return
        if not isinstance(reply, dict):
            logger.error("malformed REPLY: not an object")
            return
        future = self._pending.get(cast(int, reply.get("id")))
        if future is None or future.done():
            return
        if "error" in reply:
            future.set_exception(ConnectionError(str(reply["error"])))
        else:
            future.set_result(reply.get("result"))
