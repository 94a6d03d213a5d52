"""``ronghe serve``: wire storage, numbering plan, SIP core, transports and the API; run them.

Signals: SIGINT and SIGTERM stop the server cleanly (pending registrations are written);
SIGUSR1 logs ``stats transactions=N contexts=M registrations=K shed=S forwarded=F
workers=W`` and the guard's counters (:mod:`ronghe.security`): the live transactions
and proxy response contexts summed over the worker processes, the registered contacts,
the requests refused with 503 under overload and the messages one worker passed to
another, so an operator or a test can watch the tables drain without an API call.
With ``--workers N`` this process is worker 0 and supervises the others (:mod:`ronghe.supervisor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dialplan.storage import (
    DemoCredential,
    StoredPlanSource,
    create_database_engine,
    create_session_factory,
    seed_demo_plan,
    upgrade_to_head,
)
from ronghe.housekeeping import collect_cycles, purge_registrations, tune_garbage_collector
from ronghe.logs import configure_logging
from ronghe.security import Security, SecurityBlocks
from ronghe.settings import ServeSettings, load_secret
from ronghe.stack import bind_listeners, build_stack
from ronghe.statistics import StackStatistics
from ronghe.supervisor import Cluster, ClusterPlanSource, stack_stats
from ronghe.wiring import watch_plan
from voip_core.proxy.core import Proxy
from voip_core.registrar import BindingStore
from voip_core.storage import (
    PersistentBindingStore,
    RedisBindingStore,
    SqlBindingStore,
    SqlBlockStore,
    flush_periodically,
)

if TYPE_CHECKING:
    import uvicorn

    from api.ports import PlanSource

__all__ = ["run"]

logger = logging.getLogger("ronghe")


def run(settings: ServeSettings) -> int:
    """Run until SIGINT/SIGTERM; returns the process exit status."""
    configure_logging(settings.log_level, settings.log_format)
    if settings.trace_sip:
        logging.getLogger("ronghe.wire").setLevel(logging.DEBUG)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(_serve(settings))
    return uvloop.run(_serve(settings))


async def _serve(settings: ServeSettings) -> int:
    loop = asyncio.get_running_loop()
    secret = load_secret(settings)
    await asyncio.to_thread(upgrade_to_head, settings.database_url)
    engine = create_database_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    credentials: list[DemoCredential] = []
    if settings.seeds_demo:
        credentials = await asyncio.to_thread(
            seed_demo_plan, session_factory, realm=settings.domain
        )
    live_plan = StoredPlanSource(session_factory, realm=settings.domain)
    await asyncio.to_thread(live_plan.reload_now)

    store, store_tasks = await _binding_store(settings, engine)
    listeners = bind_listeners(settings)
    cluster = Cluster(settings, listeners, store) if settings.workers > 1 else None
    if cluster is not None:
        store = cluster.store
    security = Security(settings, blocks=SqlBlockStore(engine), live_plan=live_plan, loop=loop)
    logger.info("enforcing %d blocks from the database", await security.restore())
    stack = await build_stack(
        settings,
        secret=secret,
        store=store,
        live_plan=live_plan,
        listeners=listeners,
        router=cluster.router if cluster is not None else None,
        security=security,
    )
    if cluster is not None:
        await cluster.start(stack)

    tasks = [
        asyncio.create_task(watch_plan(live_plan, session_factory), name="plan-watch"),
        asyncio.create_task(purge_registrations(store), name="binding-purge"),
        asyncio.create_task(collect_cycles(), name="gc-full"),
        asyncio.create_task(security.run(), name="security-poll"),
        *store_tasks,
    ]
    api_server = None
    api_url = "disabled"
    if settings.api_port:
        api_server, api_url = await _start_api(
            settings,
            session_factory,
            ClusterPlanSource(live_plan, cluster, loop) if cluster is not None else live_plan,
            store,
            stack.proxy,
            tasks,
            cluster.remote_calls if cluster is not None else None,
            security,
            StackStatistics(stack, plan=live_plan, cluster=cluster, workers=settings.workers),
        )

    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async def log_stats() -> None:
        counters = await cluster.stats() if cluster is not None else stack_stats(stack)
        logger.info(
            "stats transactions=%d contexts=%d registrations=%d shed=%d shed_backlog=%d "
            "shed_lag=%d shed_transactions=%d forwarded=%d workers=%d auth_failures=%d "
            "auth_blocks=%d rate_limited=%d rate_blocks=%d blocked_sources=%d",
            counters["transactions"],
            counters["contexts"],
            counters["registrations"],
            counters["shed"],
            counters["shed_backlog"],
            counters["shed_lag"],
            counters["shed_transactions"],
            counters["forwarded"],
            settings.workers,
            counters["auth_failures"],
            counters["auth_blocks"],
            counters["rate_limited"],
            counters["rate_blocks"],
            counters["blocked_sources"],
        )

    stats_tasks: set[asyncio.Task[None]] = set()

    def on_usr1() -> None:
        task = asyncio.create_task(log_stats())
        stats_tasks.add(task)
        task.add_done_callback(stats_tasks.discard)

    loop.add_signal_handler(signal.SIGUSR1, on_usr1)
    tune_garbage_collector()
    _announce(settings, listeners.advertised, listeners.port, credentials)
    host, port = listeners.bound_host, listeners.port
    print(f"READY sip=udp:{host}:{port},tcp:{host}:{port} api={api_url}", flush=True)
    await stop.wait()

    logger.info("shutting down")
    if api_server is not None:
        api_server.should_exit = True
    for task in tasks:
        if task.get_name() != "api":
            task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if cluster is not None:
        await cluster.close()
    await stack.close()
    engine.dispose()
    return 0


async def _binding_store(
    settings: ServeSettings, engine: Engine
) -> tuple[BindingStore, list[asyncio.Task[None]]]:
    """Registrations in Redis (shared by several nodes) or in memory written behind to SQL."""
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url)
        await asyncio.to_thread(client.ping)
        logger.info("registrations are shared through Redis at %s", settings.redis_url)
        return RedisBindingStore(client), []
    store = PersistentBindingStore(SqlBindingStore(engine))
    restored = await asyncio.to_thread(store.load, time.time())
    logger.info("restored %d registrations", restored)
    return store, [asyncio.create_task(flush_periodically(store), name="binding-flush")]


async def _start_api(
    settings: ServeSettings,
    session_factory: sessionmaker[Session],
    live_plan: PlanSource,
    store: BindingStore,
    proxy: Proxy,
    tasks: list[asyncio.Task[None]],
    remote_calls: Callable[[], Awaitable[list[dict[str, object]]]] | None,
    security: Security,
    statistics: StackStatistics,
) -> tuple[uvicorn.Server, str]:
    import uvicorn

    from api.app import create_app
    from ronghe.views import ProxyRegistrations

    app = create_app(
        session_factory=session_factory,
        realm=settings.domain,
        plan_source=live_plan,
        registrations=ProxyRegistrations(
            store, proxy, asyncio.get_running_loop(), remote_calls=remote_calls
        ),
        security_blocks=SecurityBlocks(security),
        stats_source=statistics,
        metrics_token=settings.metrics_token,
    )

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # signals belong to `ronghe serve`, which stops the API itself

    server = _Server(
        uvicorn.Config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level,
            # uvicorn's loggers go through the root handler, in the --log-format chosen.
            log_config=None,
            access_log=False,
        )
    )
    tasks.append(asyncio.create_task(server.serve(), name="api"))
    while not server.started:  # noqa: ASYNC110  # uvicorn exposes a flag, not an event
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    host = f"[{settings.api_host}]" if ":" in settings.api_host else settings.api_host
    return server, f"http://{host}:{port}"


def _announce(
    settings: ServeSettings, advertised: str, port: int, credentials: list[DemoCredential]
) -> None:
    print("Register a SIP phone with:", flush=True)
    print(f"  registrar/proxy: {advertised}:{port} (UDP or TCP), domain/realm: {settings.domain}")
    if not credentials:
        print("  user: an extension number, password: as set through the admin API", flush=True)
        return
    print("Demo numbering plan created; its extensions:")
    print("  extension  password          name")
    for credential in credentials:
        print(f"  {credential.number:<10} {credential.password:<17} {credential.display_name}")
    print("These passwords are shown once; reset them through the admin API.", flush=True)
