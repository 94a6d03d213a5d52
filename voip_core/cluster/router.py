"""The adapter between one worker's transports, its SIP node and the other workers.

Theory of operation
-------------------
Incoming: the transports hand every message to :meth:`ClusterRouter.on_message`, which
finds its owner (:func:`~voip_core.cluster.sharding.message_owner`) and either feeds
this worker's node or forwards the bytes, with the peer, in a ``FORWARD`` frame. The
owner's node then handles it exactly as if its own socket had read it. When the owner
has no open channel (it is restarting) the message is handled here, so a call still
gets an answer.

Outgoing: the node sends through :meth:`ClusterRouter.send`. UDP leaves from this
worker's copy of the shared socket, with the same source address and port. A stream
connection belongs to the worker that accepted or opened it (its id says which, see
:class:`~voip_core.cluster.sharding.ConnectionIds`); bytes for another worker's
connection go to it in a ``SEND`` frame.

Failures: a flow that fails or closes in one worker is announced to all
(``FLOW_ERROR``), since transactions on it may live in any of them (RFC 3261 §17.1.4).

Registrations: the replicated store's changes are sent once per event-loop turn in one
``BINDINGS`` frame; worker 0 sends every new channel a snapshot first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from voip_core.cluster.mesh import Mesh
from voip_core.cluster.replica import ReplicatedBindingStore
from voip_core.cluster.sharding import connection_owner, message_owner
from voip_core.cluster.wire import (
    FrameKind,
    decode_bindings,
    decode_peer_message,
    encode_bindings,
    encode_peer_message,
)
from voip_core.sip.exceptions import RemoteProtocolError
from voip_core.sip.peer import Peer

__all__ = ["ClusterRouter", "MessageSink", "Sender"]

logger = logging.getLogger(__name__)


class MessageSink(Protocol):
    """What the router feeds: the worker's SIP node."""

    def on_message(self, data: bytes, peer: Peer, stream: bool) -> None: ...

    def on_transport_error(self, peer: Peer) -> None: ...


class Sender(Protocol):
    """Where the router writes: the worker's transport manager."""

    def send(self, data: bytes, peer: Peer) -> None: ...


class ClusterRouter:
    """Routes one worker's SIP traffic to and from the other workers."""

    def __init__(
        self,
        *,
        mesh: Mesh,
        store: ReplicatedBindingStore | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._mesh = mesh
        self._index = mesh.index
        self._workers = mesh.workers
        self._store = store
        self._loop = loop
        self._node: MessageSink | None = None
        self._transports: Sender | None = None
        self._flush_scheduled = False
        self._early: list[tuple[int, FrameKind, bytes]] = []
        #: Messages passed to their owner / handled here although another worker owns them.
        self.forwarded = 0
        self.handled_for_absent_owner = 0

    def attach(self, node: MessageSink, transports: Sender) -> None:
        """Set the node and the transports (created after the router), and handle the
        SIP frames that arrived before them."""
        self._node = node
        self._transports = transports
        early, self._early = self._early, []
        for sender, kind, payload in early:
            self.on_frame(sender, kind, payload)

    # -- incoming -----------------------------------------------------------------------

    def on_message(self, data: bytes, peer: Peer, stream: bool) -> None:
        """A message our transports read: handle it or pass it to its owner."""
        assert self._node is not None, "attach() first"
        owner = message_owner(data, self._workers)
        if owner is not None and owner != self._index:
            if self._mesh.send(
                owner, FrameKind.FORWARD, encode_peer_message(peer, data, stream=stream)
            ):
                self.forwarded += 1
                return
            self.handled_for_absent_owner += 1
        self._node.on_message(data, peer, stream)

    def on_transport_error(self, peer: Peer) -> None:
        """A send failed or a connection closed here: tell our node and the others."""
        assert self._node is not None, "attach() first"
        self._node.on_transport_error(peer)
        if peer.connection_id is not None:
            self._mesh.broadcast(FrameKind.FLOW_ERROR, encode_peer_message(peer))

    def on_frame(self, sender: int, kind: FrameKind, payload: bytes) -> None:
        """A frame from another worker (SIP frames wait for :meth:`attach`)."""
        try:
            match kind:
                case FrameKind.BINDINGS:
                    if self._store is not None:
                        self._store.apply(decode_bindings(payload))
                case FrameKind.SNAPSHOT:
                    if self._store is not None:
                        self._store.apply_snapshot(decode_bindings(payload))
                case FrameKind.FORWARD | FrameKind.SEND | FrameKind.FLOW_ERROR:
                    if self._node is None or self._transports is None:
                        self._early.append((sender, kind, payload))
                        return
                    self._sip_frame(kind, payload, self._node, self._transports)
                case _:
                    logger.error("unexpected %s frame from worker %d", kind.name, sender)
        except RemoteProtocolError as error:
            logger.error("malformed %s frame from worker %d: %s", kind.name, sender, error)

    @staticmethod
    def _sip_frame(kind: FrameKind, payload: bytes, node: MessageSink, transports: Sender) -> None:
        peer, stream, data = decode_peer_message(payload)
        if kind is FrameKind.FORWARD:
            node.on_message(data, peer, stream)
        elif kind is FrameKind.SEND:
            transports.send(data, peer)
        else:
            node.on_transport_error(peer)

    # -- outgoing -----------------------------------------------------------------------

    def send(self, data: bytes, peer: Peer) -> None:
        """Send for the node: directly, or through the worker holding the connection.

        Registration changes still pending go first: a 200 to REGISTER must not leave
        before the other workers have the bindings it confirms, or a worker that dies
        right after answering would lose them.
        """
        assert self._transports is not None, "attach() first"
        if self._flush_scheduled:
            self._flush_bindings()
        connection_id = peer.connection_id
        if connection_id is not None and peer.transport != "udp":
            owner = connection_owner(connection_id, self._workers)
            if owner != self._index:
                if not self._mesh.send(owner, FrameKind.SEND, encode_peer_message(peer, data)):
                    # Reported from the next loop turn: the node is in the middle of
                    # sending what one event produced.
                    self._loop.call_soon(self.on_transport_error, peer)
                return
        self._transports.send(data, peer)

    # -- registrations ------------------------------------------------------------------

    def bindings_changed(self) -> None:
        """The store recorded a change: send the changes at the end of this loop turn."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush_bindings)

    def _flush_bindings(self) -> None:
        self._flush_scheduled = False
        if self._store is None:
            return
        changes = self._store.take_changes()
        if changes:
            self._mesh.broadcast(FrameKind.BINDINGS, encode_bindings(changes))

    def send_snapshot(self, worker: int) -> None:
        """Send ``worker`` every registration (worker 0 does, when a channel opens)."""
        if self._store is None:
            return
        for batch in self._store.snapshot():
            self._mesh.send(worker, FrameKind.SNAPSHOT, encode_bindings(batch))
