"""One worker's traffic to and from the others: ``voip_core/cluster/router.py``.

Real meshes on Unix sockets in one event loop; the node and the transports (the
router's ``MessageSink`` and ``Sender`` ports) are recording fakes.

Covered: a message owned by another worker (by Call-ID, or by To user for REGISTER) is
forwarded and reaches that worker's node with identical bytes, peer and stream flag;
a message owned here, or without a key, is handled here; a message whose owner has no
channel is handled here and counted; sending to a stream connection another worker
holds goes through that worker (RFC 3261 §18.2.2: the response leaves on the
connection the request came on), UDP and connections held here leave from here; a
``SEND`` with no channel becomes a transport error on a later loop turn; transport
errors on a connection are broadcast as ``FLOW_ERROR`` (§17.1.4) and reach every node,
those without a connection stay local; registration changes reach the other workers'
stores in one ``BINDINGS`` frame per loop turn, and are not echoed back; a snapshot
fills a fresh store; malformed and unexpected frames are logged, not raised; a router
without a replicated store ignores registrations.

Left out: the real node and transport manager (tests/voip_core/test_node.py and
tests/voip_core/transport cover them); the supervisor's wiring (ronghe/).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.voip_core.cluster.harness import Channels, eventually, mesh_for, run, settle, started
from tests.voip_core.storage.binding_samples import NOW, full_binding, make_binding
from voip_core.cluster.mesh import Mesh
from voip_core.cluster.replica import ReplicatedBindingStore
from voip_core.cluster.router import ClusterRouter, MessageSink, Sender
from voip_core.cluster.sharding import ConnectionIds, message_owner
from voip_core.cluster.wire import FrameKind, encode_bindings, encode_peer_message
from voip_core.registrar.binding import Binding
from voip_core.registrar.memory_store import MemoryBindingStore
from voip_core.sip.peer import Peer

DOMAIN = "xiayi.gov.cn"


# -- fakes and workers --------------------------------------------------------------------


class RecordingNode:
    """The node port: what the router fed it."""

    def __init__(self) -> None:
        self.messages: list[tuple[bytes, Peer, bool]] = []
        self.errors: list[Peer] = []

    def on_message(self, data: bytes, peer: Peer, stream: bool) -> None:
        self.messages.append((data, peer, stream))

    def on_transport_error(self, peer: Peer) -> None:
        self.errors.append(peer)


class RecordingTransports:
    """The transports port: what the router wrote."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Peer]] = []

    def send(self, data: bytes, peer: Peer) -> None:
        self.sent.append((data, peer))


@dataclasses.dataclass
class Worker:
    mesh: Mesh
    router: ClusterRouter
    store: ReplicatedBindingStore
    local: MemoryBindingStore
    node: RecordingNode
    transports: RecordingTransports
    channels: Channels


def worker(directory: Path, index: int, workers: int) -> Worker:
    """A worker wired like ``ronghe serve --workers``: mesh, router, replicated store."""
    channels = Channels()
    local = MemoryBindingStore()
    store = ReplicatedBindingStore(local)
    routers: list[ClusterRouter] = []

    def on_frame(sender: int, kind: FrameKind, payload: bytes) -> None:
        channels.on_frame(sender, kind, payload)
        routers[0].on_frame(sender, kind, payload)

    mesh = mesh_for(directory, index, workers, channels, on_frame=on_frame)
    router = ClusterRouter(mesh=mesh, store=store, loop=asyncio.get_running_loop())
    routers.append(router)
    store.on_change = router.bindings_changed
    node, transports = RecordingNode(), RecordingTransports()
    sink: MessageSink = node
    sender: Sender = transports
    router.attach(sink, sender)
    return Worker(mesh, router, store, local, node, transports, channels)


@contextlib.asynccontextmanager
async def cluster(
    directory: Path, workers: int, present: tuple[int, ...] | None = None
) -> AsyncIterator[list[Worker]]:
    """Workers ``present`` (all by default) of ``workers``, connected to each other."""
    indexes = tuple(range(workers)) if present is None else present
    members = [worker(directory, index, workers) for index in indexes]
    async with started(*(member.mesh for member in members), connect=present is None):
        if present is not None:
            await eventually(
                lambda: all(
                    a.mesh.connected(b.mesh.index) for a in members for b in members if a is not b
                )
            )
        yield members


# -- messages -----------------------------------------------------------------------------


def invite(call_id: str) -> bytes:
    return (
        f"INVITE sip:8002@{DOMAIN} SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 10.1.2.3:5060;branch=z9hG4bK776asdhds\r\n"
        "Max-Forwards: 70\r\n"
        f"To: <sip:8002@{DOMAIN}>\r\n"
        f"From: <sip:8001@{DOMAIN}>;tag=1928301774\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 314159 INVITE\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 4\r\n"
        "\r\n"
        "v=0\n"
    ).encode()


def register(user: str) -> bytes:
    return (
        f"REGISTER sip:{DOMAIN} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK-reg1\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{user}@{DOMAIN}>;tag=from1\r\n"
        f"To: <sip:{user}@{DOMAIN}>\r\n"
        "Call-ID: reg-1@10.1.2.3\r\n"
        "CSeq: 1 REGISTER\r\n"
        "Content-Length: 0\r\n"
        "\r\n"
    ).encode()


def invite_owned_by(owner: int, workers: int) -> bytes:
    """An INVITE whose Call-ID ``owner`` owns among ``workers``."""
    for n in range(1000):
        data = invite(f"call-{n}@10.1.2.3")
        if message_owner(data, workers) == owner:
            return data
    raise AssertionError(f"no Call-ID owned by worker {owner}")


def register_owned_by(owner: int, workers: int) -> bytes:
    """A REGISTER whose To user ``owner`` owns among ``workers``."""
    for n in range(1000):
        data = register(str(8000 + n))
        if message_owner(data, workers) == owner:
            return data
    raise AssertionError(f"no user owned by worker {owner}")


def connection_of(index: int, workers: int) -> int:
    """A connection id that worker ``index`` of ``workers`` issued."""
    return next(ConnectionIds(index, workers))


# -- incoming -----------------------------------------------------------------------------


def test_message_owned_by_another_worker_reaches_it_unchanged(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            tcp = Peer("tcp", "10.1.2.3", 50111, connection_of(0, 2))
            udp6 = Peer("udp", "2001:db8::7", 5060)
            data = invite_owned_by(1, 2)
            first.router.on_message(data, tcp, True)
            first.router.on_message(data, udp6, False)
            await eventually(lambda: len(second.node.messages) == 2)
            assert second.node.messages == [(data, tcp, True), (data, udp6, False)]
            assert second.channels.kinds() == [FrameKind.FORWARD, FrameKind.FORWARD]
            assert first.node.messages == []
            assert (first.router.forwarded, first.router.handled_for_absent_owner) == (2, 0)
            assert (second.router.forwarded, second.router.handled_for_absent_owner) == (0, 0)

    run(main)


def test_register_goes_to_the_owner_of_its_to_user(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 3) as workers:
            peer = Peer("udp", "10.1.2.3", 5060)
            messages = {owner: register_owned_by(owner, 3) for owner in range(3)}
            for data in messages.values():
                workers[1].router.on_message(data, peer, False)
            await eventually(lambda: all(len(w.node.messages) == 1 for w in workers))
            for owner, member in enumerate(workers):
                assert member.node.messages == [(messages[owner], peer, False)]
            assert workers[1].router.forwarded == 2

    run(main)


def test_message_owned_here_is_handled_here(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            peer = Peer("udp", "10.1.2.3", 5060)
            data = invite_owned_by(0, 2)
            first.router.on_message(data, peer, False)
            assert first.node.messages == [(data, peer, False)]  # at once, not a turn later
            await settle()
            assert second.node.messages == []
            assert second.channels.frames == []
            assert first.router.forwarded == 0

    run(main)


def test_message_without_a_key_is_handled_here(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            peer = Peer("udp", "10.1.2.3", 5060)
            garbage = b"NOT SIP AT ALL\r\n\r\n"
            first.router.on_message(garbage, peer, False)
            await settle()
            assert first.node.messages == [(garbage, peer, False)]
            assert second.node.messages == []
            assert (first.router.forwarded, first.router.handled_for_absent_owner) == (0, 0)

    run(main)


def test_message_whose_owner_has_no_channel_is_handled_here(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 3, present=(0, 1)) as (first, second):
            peer = Peer("tcp", "10.1.2.3", 50111, connection_of(0, 3))
            absent = invite_owned_by(2, 3)
            present = invite_owned_by(1, 3)
            first.router.on_message(absent, peer, True)
            first.router.on_message(present, peer, True)
            assert first.node.messages == [(absent, peer, True)]
            assert first.router.handled_for_absent_owner == 1
            assert first.router.forwarded == 1
            assert first.mesh.dropped == 1
            await eventually(lambda: second.node.messages == [(present, peer, True)])

    run(main)


# -- outgoing -----------------------------------------------------------------------------


def test_send_on_another_workers_connection_goes_through_it(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            held_there = Peer("tcp", "10.1.2.3", 50111, connection_of(1, 2))
            tls_there = Peer("tls", "2001:db8::7", 50112, connection_of(1, 2) + 2)
            data = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
            first.router.send(data, held_there)
            first.router.send(data + b"tls", tls_there)
            await eventually(lambda: len(second.transports.sent) == 2)
            assert second.transports.sent == [(data, held_there), (data + b"tls", tls_there)]
            assert second.channels.kinds() == [FrameKind.SEND, FrameKind.SEND]
            assert first.transports.sent == []
            assert second.node.messages == []
            assert first.node.errors == []

    run(main)


def test_send_on_this_workers_connection_or_udp_leaves_here(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            data = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
            held_here = Peer("tcp", "10.1.2.3", 50111, connection_of(0, 2))
            no_connection = Peer("tcp", "10.1.2.3", 5060)
            udp = Peer("udp", "10.1.2.3", 5060)
            udp_with_id = Peer("udp", "10.1.2.3", 5060, connection_of(1, 2))
            for peer in (held_here, no_connection, udp, udp_with_id):
                first.router.send(data, peer)
            assert first.transports.sent == [
                (data, held_here),
                (data, no_connection),
                (data, udp),
                (data, udp_with_id),
            ]
            await settle()
            assert second.transports.sent == []
            assert second.channels.frames == []

    run(main)


def test_send_without_a_channel_is_a_transport_error_a_turn_later(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 3, present=(0, 1)) as (first, second):
            peer = Peer("tcp", "10.1.2.3", 50111, connection_of(2, 3))
            first.router.send(b"BYE sip:8002@10.1.2.3 SIP/2.0\r\n\r\n", peer)
            assert first.node.errors == []  # not while the node is still sending
            await asyncio.sleep(0)
            assert first.node.errors == [peer]
            assert first.transports.sent == []
            # The failure is announced like any flow failure: worker 1 hears of it.
            await eventually(lambda: second.node.errors == [peer])
            assert second.channels.kinds() == [FrameKind.FLOW_ERROR]
            assert first.mesh.dropped == 2  # the SEND, and the FLOW_ERROR to worker 2

    run(main)


# -- flow failures ------------------------------------------------------------------------


def test_flow_error_reaches_every_worker(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 3) as workers:
            peer = Peer("tcp", "2001:db8::7", 50111, connection_of(1, 3))
            workers[1].router.on_transport_error(peer)
            assert workers[1].node.errors == [peer]
            await eventually(lambda: workers[0].node.errors == workers[2].node.errors == [peer])
            await settle()
            assert workers[1].node.errors == [peer]  # not echoed back
            assert [w.channels.kinds() for w in workers] == [
                [FrameKind.FLOW_ERROR],
                [],
                [FrameKind.FLOW_ERROR],
            ]

    run(main)


def test_transport_error_without_a_connection_stays_here(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            peer = Peer("udp", "10.1.2.3", 5060)
            first.router.on_transport_error(peer)
            await settle()
            assert first.node.errors == [peer]
            assert second.node.errors == []
            assert second.channels.frames == []

    run(main)


# -- registrations ------------------------------------------------------------------------


def aor(n: int) -> str:
    return f"sip:{8000 + n}@{DOMAIN}"


def binding_of(n: int, host: str = "10.1.2.3", **changes: object) -> Binding:
    return make_binding(aor(n), f"sip:{8000 + n}@{host}:5060", **changes)


def test_store_changes_reach_the_other_worker_in_one_frame_per_turn(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            flow = full_binding(aor(1))
            flow = dataclasses.replace(
                flow, source=dataclasses.replace(flow.source, connection_id=connection_of(0, 2))
            )
            first.store.replace(aor(1), [binding_of(1)])
            first.store.replace(aor(2), [binding_of(2)])
            first.store.replace(aor(1), [flow, binding_of(1, q=0.5)])
            await eventually(lambda: len(second.channels.frames) == 1)
            await settle()
            assert second.channels.kinds() == [FrameKind.BINDINGS]
            assert second.local.get(aor(1)) == (flow, binding_of(1, q=0.5))
            assert second.local.get(aor(2)) == (binding_of(2),)
            assert second.store.take_changes() == []  # applied, not recorded

            # A later turn: a second frame, with the removal.
            first.store.replace(aor(2), [])
            await eventually(lambda: len(second.channels.frames) == 2)
            assert second.local.get(aor(2)) == ()
            assert second.local.count() == 2
            await settle()
            assert first.channels.frames == []  # nothing echoed back

    run(main)


def test_store_changes_reach_every_other_worker(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 3) as workers:
            workers[2].store.replace(aor(1), [binding_of(1)])
            await eventually(
                lambda: workers[0].local.get(aor(1)) == workers[1].local.get(aor(1)) != ()
            )
            assert workers[0].local.get(aor(1)) == (binding_of(1),)

    run(main)


def test_turn_without_net_changes_sends_nothing(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            first.store.replace(aor(1), [binding_of(1)])
            first.store.take_changes()  # someone else took them this turn
            await settle()
            assert second.channels.frames == []

    run(main)


def test_snapshot_fills_a_fresh_store(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            for n in range(1, 4):
                first.local.replace(aor(n), [binding_of(n), binding_of(n, "10.1.2.4")])
            first.router.send_snapshot(1)
            await eventually(lambda: len(second.channels.frames) == 2)
            assert second.channels.kinds() == [FrameKind.SNAPSHOT, FrameKind.SNAPSHOT]
            assert second.channels.frames[1][2] == b"[]"  # the end of the snapshot
            assert sorted(second.local.all_bindings(), key=repr) == sorted(
                first.local.all_bindings(), key=repr
            )
            assert second.store.take_changes() == []

    run(main)


def test_snapshot_does_not_undo_a_live_change(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 3) as workers:
            zero, one, two = workers
            zero.local.replace(aor(1), [binding_of(1)])
            two.store.replace(aor(1), [binding_of(1, cseq=8)])  # the owner's newer set
            await eventually(lambda: one.local.get(aor(1)) == (binding_of(1, cseq=8),))
            zero.router.send_snapshot(1)  # worker 0 had not applied it yet
            await eventually(lambda: one.channels.kinds().count(FrameKind.SNAPSHOT) == 2)
            assert one.local.get(aor(1)) == (binding_of(1, cseq=8),)

    run(main)


# -- malformed frames ---------------------------------------------------------------------


def test_malformed_and_unexpected_frames_are_logged(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            peer = Peer("tcp", "10.1.2.3", 50111, 3)
            for kind in (FrameKind.FORWARD, FrameKind.SEND, FrameKind.FLOW_ERROR):
                assert first.mesh.send(1, kind, b"\x00")
            assert first.mesh.send(1, FrameKind.BINDINGS, b"{")
            assert first.mesh.send(1, FrameKind.SNAPSHOT, b"{}")
            assert first.mesh.send(1, FrameKind.HELLO, b"\x00")
            assert first.mesh.send(1, FrameKind.FORWARD, encode_peer_message(peer, b"ok"))
            await eventually(lambda: len(second.channels.frames) == 7)
            assert second.node.messages == [(b"ok", peer, False)]
            assert second.node.errors == []
            assert second.transports.sent == []
            assert second.local.count() == 0

    with caplog.at_level(logging.ERROR, logger="voip_core.cluster.router"):
        run(main)
    assert [record.getMessage() for record in caplog.records] == [
        "malformed FORWARD frame from worker 0: peer head of 1 bytes is truncated",
        "malformed SEND frame from worker 0: peer head of 1 bytes is truncated",
        "malformed FLOW_ERROR frame from worker 0: peer head of 1 bytes is truncated",
        "malformed BINDINGS frame from worker 0: malformed JSON frame: Expecting property "
        "name enclosed in double quotes: line 1 column 2 (char 1)",
        "malformed SNAPSHOT frame from worker 0: bindings payload is not a list",
        "unexpected HELLO frame from worker 0",
    ]


# -- without a replicated store -----------------------------------------------------------


def test_router_without_a_store_ignores_registrations(directory: Path) -> None:
    async def main() -> None:
        channels = Channels()
        mesh = mesh_for(directory, 0, 2, channels)
        router = ClusterRouter(mesh=mesh, store=None, loop=asyncio.get_running_loop())
        node, transports = RecordingNode(), RecordingTransports()
        router.attach(node, transports)
        payload = encode_bindings([(aor(1), [binding_of(1, expires_at=NOW + 60)])])
        router.on_frame(1, FrameKind.BINDINGS, payload)
        router.on_frame(1, FrameKind.SNAPSHOT, payload)
        router.bindings_changed()
        router.bindings_changed()
        router.send_snapshot(1)
        await asyncio.sleep(0)
        assert mesh.dropped == 0  # nothing was even tried
        assert node.messages == []
        assert node.errors == []
        assert transports.sent == []

    run(main)


def test_sip_frames_before_attach_wait_for_the_node(directory: Path) -> None:
    async def main() -> None:
        channels = Channels()
        routers: list[ClusterRouter] = []
        mesh = mesh_for(
            directory,
            1,
            2,
            channels,
            on_frame=lambda sender, kind, payload: routers[0].on_frame(sender, kind, payload),
        )
        local = MemoryBindingStore()
        store = ReplicatedBindingStore(local)
        late = ClusterRouter(mesh=mesh, store=store, loop=asyncio.get_running_loop())
        routers.append(late)
        first = worker(directory, 0, 2)
        async with started(first.mesh, mesh):
            data = invite_owned_by(1, 2)
            peer = Peer("udp", "10.1.2.3", 5060)
            first.router.on_message(data, peer, False)
            first.store.replace(aor(1), [binding_of(1)])
            await eventually(lambda: local.count() == 1)  # registrations need no node
            node, transports = RecordingNode(), RecordingTransports()
            late.attach(node, transports)
            assert node.messages == [(data, peer, False)]

    run(main)


def test_pending_registrations_leave_before_the_next_send(directory: Path) -> None:
    async def main() -> None:
        async with cluster(directory, 2) as (first, second):
            first.store.replace(aor(1), [binding_of(1)])
            first.router.send(b"SIP/2.0 200 OK", Peer("udp", "10.1.2.3", 5060))
            # Taken and written before the response, in the same loop turn.
            assert first.store.take_changes() == []
            assert first.transports.sent == [(b"SIP/2.0 200 OK", Peer("udp", "10.1.2.3", 5060))]
            await eventually(lambda: second.local.count() == 1)
            await settle()
            assert second.channels.kinds() == [FrameKind.BINDINGS]

    run(main)
