"""``ronghe serve``: wire storage, numbering plan, SIP core, transports and the API; run them.

Signals: SIGINT and SIGTERM stop the server cleanly (pending registrations are written);
SIGUSR1 logs ``stats transactions=N contexts=M registrations=K``, the live transactions,
proxy response contexts and registered contacts, so an operator or a test can watch the
tables drain without an API call.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import ipaddress
import logging
import signal
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

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
from ronghe.addresses import local_addresses, primary_address
from ronghe.settings import ServeSettings, load_secret
from ronghe.wiring import PlanCredentials, PlanRouter, watch_plan
from voip_core.node import SipNode
from voip_core.proxy.config import ListenAddress, ProxyConfig
from voip_core.proxy.core import Proxy
from voip_core.proxy.location import StoreLocation
from voip_core.registrar import BindingStore, RegistrarPolicy
from voip_core.registrar.authentication import DigestAuthenticator
from voip_core.registrar.service import Registrar
from voip_core.sip.digest import NonceManager
from voip_core.storage import (
    PersistentBindingStore,
    RedisBindingStore,
    SqlBindingStore,
    flush_periodically,
)
from voip_core.transaction import TimerConfig, TransactionLayer
from voip_core.transport.manager import TransportManager
from voip_core.transport.tracer import LoggingTracer, NullTracer

if TYPE_CHECKING:
    import uvicorn

__all__ = ["run"]

logger = logging.getLogger("ronghe")

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def run(settings: ServeSettings) -> int:
    """Run until SIGINT/SIGTERM; returns the process exit status."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if settings.trace_sip:
        logging.getLogger("ronghe.wire").setLevel(logging.DEBUG)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(_serve(settings))
    return uvloop.run(_serve(settings))


def _derive(secret: bytes, label: bytes) -> bytes:
    return hmac.new(secret, label, hashlib.sha256).digest()


async def _serve(settings: ServeSettings) -> int:
    loop = asyncio.get_running_loop()
    secret = load_secret(settings)
    await asyncio.to_thread(upgrade_to_head, settings.database_url)
    engine = create_database_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    credentials: list[DemoCredential] = []
    if settings.demo:
        credentials = await asyncio.to_thread(
            seed_demo_plan, session_factory, realm=settings.domain
        )
    live_plan = StoredPlanSource(session_factory, realm=settings.domain)
    await asyncio.to_thread(live_plan.reload_now)

    store, store_tasks = await _binding_store(settings, engine)
    gruu_secret = _derive(secret, b"gruu")
    authenticator = DigestAuthenticator(
        realm=settings.domain,
        nonces=NonceManager(_derive(secret, b"nonce"), lifetime=settings.nonce_lifetime),
        lookup_ha1=PlanCredentials(live_plan),
        algorithms=settings.digest_algorithms,
    )
    policy = RegistrarPolicy(
        min_expires=settings.min_expires,
        max_expires=settings.max_expires,
        default_expires=min(max(3600, settings.min_expires), settings.max_expires),
    )
    registrar = Registrar(
        domain=settings.domain,
        store=store,
        authenticator=authenticator,
        policy=policy,
        gruu_secret=gruu_secret,
    )

    advertised = settings.advertise or (
        primary_address() if settings.sip_host in _WILDCARDS else settings.sip_host
    )
    layer = TransactionLayer(TimerConfig(t1=settings.t1, t2=settings.t2, t4=settings.t4))
    node_holder: list[SipNode] = []
    transports = TransportManager(
        on_message=lambda data, peer, stream: node_holder[0].on_message(data, peer, stream),
        on_error=lambda peer: node_holder[0].on_transport_error(peer),
        tracer=LoggingTracer() if settings.trace_sip else NullTracer(),
        idle_timeout=settings.tcp_idle_timeout,
    )
    udp_host, udp_port = await transports.listen_udp(settings.sip_host, settings.sip_port)
    await transports.listen_tcp(settings.sip_host, udp_port)
    listen = [
        ListenAddress("udp", advertised, udp_port),
        ListenAddress("tcp", advertised, udp_port),
    ]
    advertised_v6 = await _listen_ipv6(settings, transports, udp_port)
    if advertised_v6 is not None:
        listen += [
            ListenAddress("udp", advertised_v6, udp_port),
            ListenAddress("tcp", advertised_v6, udp_port),
        ]
    aliases = {address.lower() for address in local_addresses()} | {advertised.lower()}
    if settings.sip_host not in _WILDCARDS:
        aliases.add(settings.sip_host.lower())
    config = ProxyConfig(
        domain=settings.domain,
        listen=tuple(listen),
        aliases=frozenset(aliases),
        trusted_networks=tuple(
            ipaddress.ip_network(n, strict=False) for n in settings.trusted_networks
        ),
        user_agent="Ronghe",
        timer_c=settings.timer_c,
    )
    proxy = Proxy(
        config=config,
        layer=layer,
        location=StoreLocation(store, gruu_secret=gruu_secret),
        router=PlanRouter(live_plan),
        authenticator=authenticator,
        registrar=registrar,
        flow_secret=_derive(secret, b"flow"),
    )
    node = SipNode(layer=layer, proxy=proxy, loop=loop, max_transactions=settings.max_transactions)
    node_holder.append(node)
    node.attach(transports)

    tasks = [
        asyncio.create_task(watch_plan(live_plan, session_factory), name="plan-watch"),
        asyncio.create_task(_purge(store), name="binding-purge"),
        asyncio.create_task(_collect_cycles(), name="gc-full"),
        *store_tasks,
    ]
    api_server = None
    api_url = "disabled"
    if settings.api_port:
        api_server, api_url = await _start_api(
            settings, session_factory, live_plan, store, proxy, tasks
        )

    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def log_stats() -> None:
        logger.info(
            "stats transactions=%d contexts=%d registrations=%d",
            len(layer),
            proxy.context_count,
            store.count(),
        )

    loop.add_signal_handler(signal.SIGUSR1, log_stats)
    _tune_garbage_collector()
    _announce(settings, advertised, udp_port, credentials)
    print(
        f"READY sip=udp:{udp_host}:{udp_port},tcp:{udp_host}:{udp_port} api={api_url}", flush=True
    )
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
    node.close()
    await transports.close()
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


async def _listen_ipv6(
    settings: ServeSettings, transports: TransportManager, port: int
) -> str | None:
    """With the IPv4 wildcard as SIP host, also serve IPv6 (RFC 5118) when the host has it.

    Returns the IPv6 address to advertise, or ``None`` when IPv6 is not served.
    """
    if settings.sip_host != "0.0.0.0":
        return None
    try:
        await transports.listen_udp("::", port)
        await transports.listen_tcp("::", port)
    except OSError as error:
        logger.info("not serving IPv6: %s", error)
        return None
    global_v6 = sorted(
        address
        for address in local_addresses()
        if ":" in address and not address.startswith("fe80")
    )
    candidates = [address for address in global_v6 if address != "::1"] or ["::1"]
    return candidates[0]


#: Cyclic-collector thresholds while serving (CPython's defaults are 700, 10, 10). The
#: third is never reached: full collections run from :func:`_collect_cycles` instead.
_GC_THRESHOLDS: Final = (20_000, 5, 1_000_000_000)
#: Seconds between full collections of the cyclic garbage collector.
_FULL_COLLECTION_INTERVAL: Final = 3600.0


def _tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector's pauses off the SIP hot path.

    Messages, transactions, calls and registrations are freed by reference counting when
    they end: after 20,000 calls and 5,000 registrations through the node with the
    collector off, a collection finds nothing unreachable (``bench/bench_node.py``
    wiring). Yet a full collection walks every live object, and under load every
    transaction lingers 32 s after it ends (RFC 3261 Timers J, L, M): at 1,000 calls/s
    that is over two million objects and a pause above one second, during which requests
    pile up, retransmissions follow and the load cascades. So start-up objects (the API
    app, the ORM, the first numbering plan) are frozen out of every collection, young
    collections stay (bounded by the thresholds to tens of milliseconds) to catch the
    short-lived cycles of asyncio and the API, and full collections only run every
    :data:`_FULL_COLLECTION_INTERVAL` seconds (:func:`_collect_cycles`).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


async def _collect_cycles(interval: float = _FULL_COLLECTION_INTERVAL) -> None:
    """Run a full collection every ``interval`` seconds (see :func:`_tune_garbage_collector`)."""
    while True:
        await asyncio.sleep(interval)
        started = time.perf_counter()
        found = gc.collect()
        logger.info(
            "full garbage collection: %d unreachable objects in %.0f ms",
            found,
            (time.perf_counter() - started) * 1000,
        )


async def _purge(store: BindingStore, interval: float = 30.0) -> None:
    while True:
        await asyncio.sleep(interval)
        removed = store.purge_expired(time.time())
        if removed:
            logger.info("purged %d expired registrations", removed)


async def _start_api(
    settings: ServeSettings,
    session_factory: sessionmaker[Session],
    live_plan: StoredPlanSource,
    store: BindingStore,
    proxy: Proxy,
    tasks: list[asyncio.Task[None]],
) -> tuple[uvicorn.Server, str]:
    import uvicorn

    from api.app import create_app
    from ronghe.views import ProxyRegistrations

    app = create_app(
        session_factory=session_factory,
        realm=settings.domain,
        plan_source=live_plan,
        registrations=ProxyRegistrations(store, proxy, asyncio.get_running_loop()),
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
