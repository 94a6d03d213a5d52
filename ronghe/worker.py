"""A SIP worker process of ``ronghe serve --workers N`` (``python -m ronghe.worker``).

Started only by the supervising process (:mod:`ronghe.supervisor`), which writes the
worker's specification as JSON to its standard input: its index, the settings, the
inherited socket descriptors, the advertised addresses and the channel directory. The
worker serves SIP on the inherited sockets with its own transaction layer and proxy,
a copy of the registrations kept current by the other workers, and the numbering plan
read from the database (polled like every node's). It runs no admin API; the only
rows it writes are the blocks its guard makes (:mod:`ronghe.security`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import Any, Final

import redis

from dialplan.storage import StoredPlanSource, create_database_engine, create_session_factory
from ronghe.housekeeping import collect_cycles, purge_registrations, tune_garbage_collector
from ronghe.security import Security
from ronghe.settings import ServeSettings, load_secret
from ronghe.stack import Listeners, build_stack
from ronghe.supervisor import call_views, stack_stats
from ronghe.wiring import watch_plan
from voip_core.cluster import ClusterRouter, Mesh, ReplicatedBindingStore
from voip_core.registrar import BindingStore
from voip_core.registrar.memory_store import MemoryBindingStore
from voip_core.storage import RedisBindingStore, SqlBlockStore

__all__ = ["main"]

logger = logging.getLogger("ronghe")

#: Seconds a starting worker waits for its channels to the other workers.
_CONNECT_TIMEOUT: Final = 60.0


def main() -> int:
    """Read the specification from standard input and serve until told to stop."""
    spec: dict[str, Any] = json.loads(sys.stdin.buffer.read())
    settings = ServeSettings.model_validate(spec["settings"])
    index = int(spec["index"])
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s %(levelname)s worker-{index} %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if settings.trace_sip:
        logging.getLogger("ronghe.wire").setLevel(logging.DEBUG)
    import uvloop

    return uvloop.run(_serve(settings, spec, index))


async def _serve(settings: ServeSettings, spec: dict[str, Any], index: int) -> int:
    loop = asyncio.get_running_loop()
    secret = load_secret(settings)
    engine = create_database_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    live_plan = StoredPlanSource(session_factory, realm=settings.domain)
    await asyncio.to_thread(live_plan.reload_now)

    replica: ReplicatedBindingStore | None = None
    store: BindingStore
    if settings.redis_url:
        store = RedisBindingStore(redis.Redis.from_url(settings.redis_url))
    else:
        replica = ReplicatedBindingStore(MemoryBindingStore())
        store = replica
    stop = asyncio.Event()

    def lost(worker: int) -> None:
        if worker == 0:
            logger.error("the supervising process is gone: stopping")
            stop.set()

    mesh = Mesh(
        index=index,
        workers=settings.workers,
        directory=Path(spec["directory"]),
        on_frame=lambda sender, kind, payload: router.on_frame(sender, kind, payload),
        on_lost=lost,
    )
    router = ClusterRouter(mesh=mesh, store=replica, loop=loop)
    if replica is not None:
        replica.on_change = router.bindings_changed
    listeners = Listeners(
        udp=[socket.socket(fileno=fd) for kind, fd in spec["sockets"] if kind == "udp"],
        tcp=[socket.socket(fileno=fd) for kind, fd in spec["sockets"] if kind == "tcp"],
        port=int(spec["port"]),
        advertised=spec["advertised"],
        advertised_v6=spec["advertised_v6"],
    )
    # Channels first: the registrations (worker 0's snapshot) and changes made meanwhile
    # arrive before this worker reads its first message, and what it changes reaches
    # the others. SIP frames sent to it meanwhile wait in the router.
    mesh.serve("reload_plan", lambda: asyncio.to_thread(live_plan.reload_now))
    await mesh.start()
    async with asyncio.timeout(_CONNECT_TIMEOUT):
        await mesh.wait_connected()
        # A call this worker owns may be routed to any registered phone: serve only
        # with every registration (worker 0 sends them when its channel here opens).
        while replica is not None and not replica.snapshot_received:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # the frames arrive through protocol callbacks
    security = Security(
        settings, blocks=SqlBlockStore(engine), live_plan=live_plan, loop=loop, worker=index
    )
    await security.restore()
    stack = await build_stack(
        settings,
        secret=secret,
        store=store,
        live_plan=live_plan,
        listeners=listeners,
        worker=index,
        router=router,
        security=security,
    )
    mesh.serve("stats", lambda: stack_stats(stack))
    mesh.serve("calls", lambda: call_views(stack))
    logger.info("worker %d serves SIP with %d registrations", index, store.count())

    tasks = [
        asyncio.create_task(watch_plan(live_plan, session_factory), name="plan-watch"),
        asyncio.create_task(purge_registrations(store), name="binding-purge"),
        asyncio.create_task(collect_cycles(), name="gc-full"),
        asyncio.create_task(security.run(), name="security-poll"),
    ]
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tune_garbage_collector()
    await stop.wait()

    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await mesh.close()
    await stack.close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
