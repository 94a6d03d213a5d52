"""Meshes of one test in one event loop, their callbacks recorded, every wait bounded.

Like tests/voip_core/transport/loopback.py: real sockets (here Unix stream sockets in
the test's directory), a fresh event loop per test, and a bound on every wait so that a
lost frame fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from voip_core.cluster.mesh import FrameHandler, Mesh
from voip_core.cluster.wire import FrameKind

#: Longest wait for anything that should happen between two meshes of one loop.
WAIT = 2.0

T = TypeVar("T")


def run(test: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one async test body in a fresh event loop."""
    return asyncio.run(asyncio.wait_for(test(), 4 * WAIT))


async def within(awaitable: Awaitable[T], seconds: float = WAIT) -> T:
    """``awaitable``'s result, or ``TimeoutError`` after ``seconds``."""
    return await asyncio.wait_for(awaitable, seconds)


async def eventually(condition: Callable[[], bool], seconds: float = WAIT) -> None:
    """Wait until ``condition()`` holds (channels deliver on later loop turns)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


async def settle() -> None:
    """Give frames already written time to arrive (to check that nothing more does)."""
    await asyncio.sleep(0.05)


class Channels:
    """One mesh's callbacks, recorded in order."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, FrameKind, bytes]] = []
        self.connected: list[int] = []
        self.hellos: list[int] = []
        self.lost: list[int] = []

    def on_frame(self, sender: int, kind: FrameKind, payload: bytes) -> None:
        self.frames.append((sender, kind, payload))

    def kinds(self) -> list[FrameKind]:
        return [kind for _, kind, _ in self.frames]


def mesh_for(
    directory: Path,
    index: int,
    workers: int,
    channels: Channels,
    on_frame: FrameHandler | None = None,
) -> Mesh:
    """A mesh whose callbacks go to ``channels`` (frames to ``on_frame`` if given)."""
    return Mesh(
        index=index,
        workers=workers,
        directory=directory,
        on_frame=on_frame or channels.on_frame,
        on_connected=channels.connected.append,
        on_hello=channels.hellos.append,
        on_lost=channels.lost.append,
    )


@contextlib.asynccontextmanager
async def started(*meshes: Mesh, connect: bool = True) -> AsyncIterator[None]:
    """Start ``meshes``; wait until each has a channel to every other (``connect``);
    close them all on the way out."""
    try:
        for mesh in meshes:
            await mesh.start()
        if connect:
            await within(asyncio.gather(*(mesh.wait_connected() for mesh in meshes)))
        yield
    finally:
        for mesh in meshes:
            await mesh.close()
        await settle()  # the other ends of the closed channels see EOF and close too
