"""Fixtures of the worker-channel tests: a directory short enough for Unix sockets, and
quick reconnection."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from voip_core.cluster import mesh

#: ``sun_path`` holds 108 bytes with the terminating NUL (unix(7)).
_MAX_SOCKET_PATH = 107


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[Path]:
    """Where the workers of one test listen: ``tmp_path``, or a short one under /tmp."""
    if len(str(tmp_path / "worker-99.sock")) <= _MAX_SOCKET_PATH:
        yield tmp_path
        return
    short = Path(tempfile.mkdtemp(prefix="mesh-", dir="/tmp"))
    try:
        yield short
    finally:
        shutil.rmtree(short, ignore_errors=True)


@pytest.fixture(autouse=True)
def fast_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry a worker that is not listening yet every 20 ms instead of 200 ms, as the
    node tests shorten T1: the meshes of a test start one after the other."""
    monkeypatch.setattr(mesh, "_RECONNECT_INTERVAL", 0.02)
