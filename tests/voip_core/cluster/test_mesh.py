"""Channels between the workers of one node: ``voip_core/cluster/mesh.py``.

Two or three real meshes in one event loop, on Unix sockets in the test's directory.

Covered: the listening socket (path, mode 0600, a stale file replaced); channels opened
both ways with ``HELLO``, ``on_connected`` / ``on_hello``; frames arrive in order, with
the sender's index, large ones intact; ``broadcast`` reaches every other worker and not
the sender; frames to a worker without a channel are refused and counted in
``dropped``; a worker that starts late is reached; ``on_lost`` when a worker closes its
channel; a worker that restarts (in another process, and in this one) is reached again;
``call``/``serve``: the value, an unknown method, no channel, no answer (timeout),
awaitable answers (a value, a failure, a cancellation), several calls at once, a call
pending at ``close``; malformed ``CALL``/``REPLY`` frames;
an inbound channel that does not start with ``HELLO`` or sends a bad frame is closed.

Left out: the ``SO_PEERCRED`` refusal of another user (the tests run as one user) and
the 64 MiB write-buffer limit for a stuck worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import stat
import sys
from pathlib import Path

import pytest

from tests.voip_core.cluster.harness import (
    Channels,
    eventually,
    mesh_for,
    run,
    settle,
    started,
    within,
)
from voip_core.cluster import mesh as mesh_module
from voip_core.cluster.mesh import Mesh, socket_path
from voip_core.cluster.wire import FrameKind, encode_frame

ROOT = Path(__file__).resolve().parents[3]
#: Longest wait for a child process to import the SIP core and connect.
WAIT_CHILD = 8.0

#: A worker in a process of its own: prints each frame it receives, until killed.
CHILD_WORKER = """
import asyncio, sys
from pathlib import Path
from voip_core.cluster.mesh import Mesh

async def main() -> None:
    def on_frame(sender, kind, payload):
        print(sender, kind.name, payload.decode(), flush=True)
    mesh = Mesh(index=1, workers=2, directory=Path(sys.argv[1]), on_frame=on_frame)
    await mesh.start()
    await mesh.wait_connected()
    print("connected", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def pair(directory: Path) -> tuple[Mesh, Channels, Mesh, Channels]:
    first, second = Channels(), Channels()
    return (
        mesh_for(directory, 0, 2, first),
        first,
        mesh_for(directory, 1, 2, second),
        second,
    )


# -- the socket ---------------------------------------------------------------------------


def test_socket_path_names_the_worker(directory: Path) -> None:
    assert socket_path(directory, 3) == directory / "worker-3.sock"


def test_listening_socket_is_private_and_replaces_a_stale_file(directory: Path) -> None:
    async def main() -> None:
        stale = socket_path(directory, 0)
        stale.write_bytes(b"left over by a crashed worker")
        mesh = mesh_for(directory, 0, 1, Channels())
        async with started(mesh):
            mode = stale.stat().st_mode
            assert stat.S_ISSOCK(mode)
            assert stat.S_IMODE(mode) == 0o600

    run(main)


# -- channels and frames ------------------------------------------------------------------


def test_workers_connect_both_ways_and_say_hello(directory: Path) -> None:
    async def main() -> None:
        first, first_channels, second, second_channels = pair(directory)
        async with started(first, second):
            await eventually(lambda: first_channels.hellos == [1] and second_channels.hellos == [0])
            assert first_channels.connected == [1]
            assert second_channels.connected == [0]
            assert (first.connected(1), second.connected(0)) == (True, True)
            assert first_channels.frames == second_channels.frames == []
            assert first_channels.lost == second_channels.lost == []

    run(main)


def test_frames_arrive_in_order_with_the_sender(directory: Path) -> None:
    async def main() -> None:
        first, _, second, second_channels = pair(directory)
        async with started(first, second):
            sent = [(FrameKind.FORWARD, f"message {n}".encode()) for n in range(200)]
            sent.append((FrameKind.BINDINGS, b"[]"))
            assert all(first.send(1, kind, payload) for kind, payload in sent)
            await eventually(lambda: len(second_channels.frames) == len(sent))
            assert second_channels.frames == [(0, kind, payload) for kind, payload in sent]
            assert first.dropped == 0

    run(main)


def test_large_frame_arrives_intact(directory: Path) -> None:
    async def main() -> None:
        first, first_channels, second, _ = pair(directory)
        async with started(first, second):
            payload = bytes(range(256)) * 8192  # 2 MiB: many reads
            assert second.send(0, FrameKind.SNAPSHOT, payload)
            await eventually(lambda: len(first_channels.frames) == 1)
            assert first_channels.frames == [(1, FrameKind.SNAPSHOT, payload)]

    run(main)


def test_broadcast_reaches_every_other_worker(directory: Path) -> None:
    async def main() -> None:
        channels = [Channels() for _ in range(3)]
        meshes = [mesh_for(directory, index, 3, channels[index]) for index in range(3)]
        async with started(*meshes):
            meshes[1].broadcast(FrameKind.FLOW_ERROR, b"flow")
            await eventually(lambda: len(channels[0].frames) == len(channels[2].frames) == 1)
            await settle()
            assert channels[0].frames == channels[2].frames == [(1, FrameKind.FLOW_ERROR, b"flow")]
            assert channels[1].frames == []
            assert meshes[1].dropped == 0
            assert sorted(channels[1].connected) == [0, 2]

    run(main)


def test_frames_to_a_worker_without_a_channel_are_dropped_and_counted(directory: Path) -> None:
    async def main() -> None:
        first, second = Channels(), Channels()
        present = mesh_for(directory, 0, 3, first)
        other = mesh_for(directory, 1, 3, second)
        async with started(present, other, connect=False):
            await eventually(lambda: present.connected(1) and other.connected(0))
            assert present.connected(2) is False
            assert present.send(2, FrameKind.FORWARD, b"lost") is False
            assert present.dropped == 1
            present.broadcast(FrameKind.FLOW_ERROR, b"flow")
            assert present.dropped == 2
            assert present.send(present.index, FrameKind.FORWARD, b"to myself") is False
            assert present.dropped == 3
            await eventually(lambda: len(second.frames) == 1)
            assert second.frames == [(0, FrameKind.FLOW_ERROR, b"flow")]
            with pytest.raises(TimeoutError):
                await within(present.wait_connected(), 0.1)

    run(main)


def test_worker_that_starts_late_is_reached(directory: Path) -> None:
    async def main() -> None:
        first, first_channels, second, second_channels = pair(directory)
        async with started(first, connect=False):
            await asyncio.sleep(0.1)  # first has tried and failed several times
            assert first_channels.connected == []
            async with started(second):
                await within(first.wait_connected())
                assert first_channels.connected == [1]
                assert first.send(1, FrameKind.FORWARD, b"late")
                await eventually(
                    lambda: second_channels.frames == [(0, FrameKind.FORWARD, b"late")]
                )

    run(main)


def test_worker_closing_is_reported_as_lost(directory: Path) -> None:
    async def main() -> None:
        first, first_channels, second, second_channels = pair(directory)
        async with started(first, second):
            await eventually(lambda: first_channels.hellos == [1])
            await second.close()
            await eventually(lambda: first_channels.lost == [1])
            assert second_channels.lost == []  # a closing mesh reports nothing

    run(main)


def test_worker_restarted_in_another_process_is_reached_again(directory: Path) -> None:
    async def start_child() -> tuple[asyncio.subprocess.Process, asyncio.StreamReader]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD_WORKER,
            str(directory),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        assert await within(process.stdout.readline(), WAIT_CHILD) == b"connected\n"
        return process, process.stdout

    async def stop(process: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await within(process.wait())

    async def main() -> None:
        channels = Channels()
        first = mesh_for(directory, 0, 2, channels)
        async with started(first, connect=False):
            process, output = await start_child()
            try:
                await eventually(lambda: channels.connected == [1] and channels.hellos == [1])
                assert first.send(1, FrameKind.FORWARD, b"before")
                assert await within(output.readline()) == b"0 FORWARD before\n"
            finally:
                await stop(process)
            await eventually(lambda: channels.lost == [1] and not first.connected(1))
            assert first.send(1, FrameKind.FORWARD, b"while down") is False

            # Not exactly [1, 1]: while the kernel tears the killed process down, its
            # listening socket may still accept the reconnection it then resets.
            connections = len(channels.connected)
            process, output = await start_child()
            try:
                await eventually(lambda: first.connected(1) and channels.hellos == [1, 1])
                assert len(channels.connected) > connections
                assert set(channels.connected) == {1}
                assert first.send(1, FrameKind.FORWARD, b"after")
                assert await within(output.readline()) == b"0 FORWARD after\n"
            finally:
                await stop(process)
            assert first.dropped == 1

    run(main)


def test_worker_restarted_in_this_process_is_reached_again(directory: Path) -> None:
    async def main() -> None:
        first, first_channels, second, _ = pair(directory)
        restarted_channels = Channels()
        restarted = mesh_for(directory, 1, 2, restarted_channels)
        async with started(first, second):
            await second.close()
            await eventually(lambda: first_channels.lost == [1])
            async with started(restarted, connect=False):
                await eventually(lambda: first_channels.connected == [1, 1], seconds=0.5)
                assert first.send(1, FrameKind.FORWARD, b"after")
                await eventually(
                    lambda: restarted_channels.frames == [(0, FrameKind.FORWARD, b"after")]
                )

    run(main)


# -- inbound channels that misbehave ------------------------------------------------------


@pytest.mark.parametrize(
    ("first_bytes", "log"),
    [
        (encode_frame(FrameKind.FORWARD, b"x"), "closing a worker channel that did not say hello"),
        (
            encode_frame(FrameKind.HELLO, b"\x01\x02"),
            "closing a worker channel that did not say hello",
        ),
        (encode_frame(FrameKind.HELLO, b""), "closing a worker channel that did not say hello"),
        (b"\x00\x00\x00\x00\x01", "closing a worker channel: frame length 0 outside 1..4194304"),
        (b"\x00\x00\x00\x01\x63", "closing a worker channel: unknown frame kind 99"),
    ],
    ids=["no-hello", "long-hello", "empty-hello", "length-0", "kind-99"],
)
def test_inbound_channel_that_misbehaves_is_closed(
    directory: Path, caplog: pytest.LogCaptureFixture, first_bytes: bytes, log: str
) -> None:
    async def main() -> None:
        channels = Channels()
        mesh = mesh_for(directory, 0, 2, channels)
        async with started(mesh, connect=False):
            reader, writer = await asyncio.open_unix_connection(str(socket_path(directory, 0)))
            writer.write(first_bytes + encode_frame(FrameKind.FORWARD, b"after"))
            assert await within(reader.read()) == b""  # closed by the mesh
            writer.close()
            await writer.wait_closed()
            assert channels.frames == []
            assert channels.hellos == channels.lost == []

    with caplog.at_level(logging.ERROR, logger="voip_core.cluster.mesh"):
        run(main)
    assert [record.getMessage() for record in caplog.records] == [log]


def test_inbound_channel_after_hello_delivers_with_its_index(directory: Path) -> None:
    async def main() -> None:
        channels = Channels()
        mesh = mesh_for(directory, 0, 3, channels)
        async with started(mesh, connect=False):
            _, writer = await asyncio.open_unix_connection(str(socket_path(directory, 0)))
            writer.write(
                encode_frame(FrameKind.HELLO, b"\x02")
                + encode_frame(FrameKind.FORWARD, b"one")
                + encode_frame(FrameKind.HELLO, b"\x01")  # a later HELLO is a plain frame
            )
            await eventually(lambda: len(channels.frames) == 2)
            writer.close()
            await writer.wait_closed()
            await eventually(lambda: channels.lost == [2])
            assert channels.hellos == [2]
            assert channels.frames == [
                (2, FrameKind.FORWARD, b"one"),
                (2, FrameKind.HELLO, b"\x01"),
            ]

    run(main)


# -- call and serve -----------------------------------------------------------------------


def test_call_returns_the_served_value(directory: Path) -> None:
    async def main() -> None:
        first, first_channels, second, second_channels = pair(directory)
        second.serve("stats", lambda: {"transactions": 3, "name": "融合", "calls": [1, None]})
        second.serve("nothing", lambda: None)
        first.serve("index", lambda: 0)
        async with started(first, second):
            assert await within(first.call(1, "stats")) == {
                "transactions": 3,
                "name": "融合",
                "calls": [1, None],
            }
            assert await within(first.call(1, "nothing")) is None
            assert await within(second.call(0, "index")) == 0
            assert first_channels.frames == second_channels.frames == []  # CALL/REPLY kept

    run(main)


def test_call_waits_for_an_awaitable_answer(directory: Path) -> None:
    async def reload_plan() -> object:
        await asyncio.sleep(0.01)
        return {"version": 7}

    async def main() -> None:
        first, _, second, _ = pair(directory)
        second.serve("reload_plan", reload_plan)
        second.serve("in_thread", lambda: asyncio.to_thread(lambda: ["融合", 2]))
        async with started(first, second):
            assert await within(first.call(1, "reload_plan")) == {"version": 7}
            assert await within(first.call(1, "in_thread")) == ["融合", 2]

    run(main)


def test_awaitable_answer_that_fails_raises_at_the_caller(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def failing() -> object:
        await asyncio.sleep(0)
        raise RuntimeError("plan version 8 does not compile")

    async def cancelled() -> object:
        raise asyncio.CancelledError

    async def main() -> None:
        first, _, second, second_channels = pair(directory)
        second.serve("reload_plan", failing)
        second.serve("cancelled", cancelled)
        async with started(first, second):
            with pytest.raises(ConnectionError) as caught:
                await within(first.call(1, "reload_plan"))
            assert str(caught.value) == "plan version 8 does not compile"
            with pytest.raises(ConnectionError) as caught:
                await within(first.call(1, "cancelled"))
            assert str(caught.value) == "cancelled"
            assert second_channels.lost == []

    with caplog.at_level(logging.ERROR, logger="voip_core.cluster.mesh"):
        run(main)
    assert [record.getMessage() for record in caplog.records] == [
        "answering reload_plan for worker 0 failed: plan version 8 does not compile"
    ]


def test_concurrent_calls_get_their_own_answers(directory: Path) -> None:
    async def main() -> None:
        first, _, second, _ = pair(directory)
        for name in ("a", "b", "c"):
            second.serve(name, functools.partial(str.upper, name))
        async with started(first, second):
            answers = await within(
                asyncio.gather(*(first.call(1, name) for name in ("c", "a", "b", "a")))
            )
            assert answers == ["C", "A", "B", "A"]

    run(main)


def test_call_to_an_unknown_method_raises(directory: Path) -> None:
    async def main() -> None:
        first, _, second, _ = pair(directory)
        async with started(first, second):
            with pytest.raises(ConnectionError) as caught:
                await within(first.call(1, "reboot"))
            assert str(caught.value) == "no such method"

    run(main)


def test_call_without_a_channel_raises(directory: Path) -> None:
    async def main() -> None:
        mesh = mesh_for(directory, 0, 3, Channels())
        async with started(mesh, connect=False):
            with pytest.raises(ConnectionError) as caught:
                await within(mesh.call(2, "stats"))
            assert str(caught.value) == "no channel to worker 2"
            assert mesh.dropped == 1

    run(main)


async def silent_worker(directory: Path, index: int) -> asyncio.AbstractServer:
    """A worker socket that accepts channels and never answers."""
    return await asyncio.get_running_loop().create_unix_server(
        asyncio.Protocol, path=str(socket_path(directory, index))
    )


def test_call_that_is_not_answered_times_out(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mesh_module, "CALL_TIMEOUT", 0.1)

    async def main() -> None:
        server = await silent_worker(directory, 1)
        mesh = mesh_for(directory, 0, 2, Channels())
        try:
            async with started(mesh):
                with pytest.raises(TimeoutError):
                    await within(mesh.call(1, "stats"))
        finally:
            server.close()
            await server.wait_closed()

    run(main)


def test_close_cancels_a_pending_call(directory: Path) -> None:
    async def main() -> None:
        server = await silent_worker(directory, 1)
        mesh = mesh_for(directory, 0, 2, Channels())
        try:
            await mesh.start()
            await within(mesh.wait_connected())
            call = asyncio.create_task(mesh.call(1, "stats"))
            await settle()
            await mesh.close()
            with pytest.raises(asyncio.CancelledError):
                await within(call)
        finally:
            await mesh.close()
            server.close()
            await server.wait_closed()

    run(main)


def test_malformed_call_and_stray_replies_are_ignored(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        first, _, second, second_channels = pair(directory)
        second.serve("stats", lambda: 1)
        async with started(first, second):
            assert first.send(1, FrameKind.CALL, b'{"method": "stats"}')
            assert first.send(1, FrameKind.CALL, b'{"id": "1", "method": "stats"}')
            assert first.send(1, FrameKind.CALL, b"[1]")
            assert first.send(1, FrameKind.REPLY, b'{"id": 99, "result": 1}')
            assert first.send(1, FrameKind.REPLY, b"[99]")
            assert first.send(1, FrameKind.FORWARD, b"still open")
            await eventually(
                lambda: second_channels.frames == [(0, FrameKind.FORWARD, b"still open")]
            )
            assert await within(first.call(1, "stats")) == 1

    with caplog.at_level(logging.ERROR, logger="voip_core.cluster.mesh"):
        run(main)
    assert [record.getMessage() for record in caplog.records] == [
        "malformed CALL from worker 0",
        "malformed CALL from worker 0",
        "malformed CALL from worker 0",
        "malformed REPLY: not an object",
    ]


def raise_error() -> object:
    raise RuntimeError("statistics unavailable")


@pytest.mark.parametrize("frame", ["raising-handler", "call-not-json", "reply-not-json"])
def test_call_that_cannot_be_answered_leaves_the_channel_open(
    directory: Path, monkeypatch: pytest.MonkeyPatch, frame: str
) -> None:
    monkeypatch.setattr(mesh_module, "CALL_TIMEOUT", 0.2)

    async def main() -> None:
        first, _, second, second_channels = pair(directory)
        second.serve("stats", raise_error)
        async with started(first, second):
            await eventually(lambda: second_channels.hellos == [0])
            if frame == "raising-handler":
                with pytest.raises(ConnectionError):
                    await within(first.call(1, "stats"))
            else:
                kind = FrameKind.CALL if frame == "call-not-json" else FrameKind.REPLY
                assert first.send(1, kind, b"{")
            await settle()
            assert second_channels.lost == []
            assert first.send(1, FrameKind.FORWARD, b"after")
            await eventually(lambda: second_channels.frames == [(0, FrameKind.FORWARD, b"after")])

    run(main)


def test_mesh_index_and_workers_are_exposed(directory: Path) -> None:
    mesh = Mesh(index=2, workers=5, directory=directory, on_frame=Channels().on_frame)
    assert (mesh.index, mesh.workers, mesh.dropped) == (2, 5, 0)
    assert os.path.basename(socket_path(directory, mesh.index)) == "worker-2.sock"
