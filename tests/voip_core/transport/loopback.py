"""Loopback peers for adapter tests: a fresh event loop per test, bounded waits.

Like aioquic's tests/test_asyncio.py: real sockets on 127.0.0.1 (or ::1) bound to port 0,
with every wait bounded by :data:`WAIT` so that a lost message fails a test instead of
hanging it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

#: Longest wait for anything that should happen on loopback.
WAIT = 3.0

T = TypeVar("T")


def run(test: Callable[[], Awaitable[T]]) -> T:
    """Run one async test body in a fresh event loop."""
    return asyncio.run(asyncio.wait_for(test(), 4 * WAIT))


class UdpPeer(asyncio.DatagramProtocol):
    """A phone on a UDP socket of its own; ``drop`` datagrams are lost on arrival."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.drop = 0
        """How many of the next datagrams to lose (injected loss)."""
        self.dropped: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.drop:
            self.drop -= 1
            self.dropped.append(data)
            return
        self.received.put_nowait((data, addr))

    async def next(self, within: float = WAIT) -> tuple[bytes, tuple[str, int]]:
        """The next datagram and where it came from."""
        return await asyncio.wait_for(self.received.get(), within)

    def send(self, data: bytes, address: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, address)

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        assert self.transport is not None
        sockname = self.transport.get_extra_info("sockname")
        return sockname[0], sockname[1]

    def close(self) -> None:
        assert self.transport is not None
        self.transport.close()


async def udp_peer(host: str = "127.0.0.1") -> UdpPeer:
    """A :class:`UdpPeer` bound to ``host`` and a free port."""
    _, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        UdpPeer, local_addr=(host, 0)
    )
    return protocol
