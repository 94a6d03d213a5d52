"""The SIP side of one process, built from settings: sockets, core engines, transports.

``ronghe serve`` builds one :class:`SipStack` in its own process and, with
``--workers N``, one in each worker process (:mod:`ronghe.workers`). All of them serve
the same sockets, bound once by the supervising process (:func:`bind_listeners`) and
inherited by the workers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from ronghe.addresses import local_addresses, primary_address
from ronghe.security import Security
from ronghe.settings import ServeSettings
from ronghe.wiring import LivePlan, PlanCredentials, PlanRouter
from voip_core.cluster import ClusterRouter, ConnectionIds
from voip_core.node import SipNode
from voip_core.proxy.config import ListenAddress, ProxyConfig
from voip_core.proxy.core import Proxy
from voip_core.proxy.location import StoreLocation
from voip_core.proxy.nodes import NODE_HOP_TRANSPORT, NodeHops
from voip_core.registrar import BindingStore, RegistrarPolicy
from voip_core.registrar.authentication import DigestAuthenticator
from voip_core.registrar.service import Registrar
from voip_core.sip.digest import NonceManager
from voip_core.sip.peer import Peer
from voip_core.transaction import TimerConfig, TransactionLayer
from voip_core.transport.manager import (
    TransportManager,
    bind_tcp,
    bind_udp,
    udp_receive_buffer,
)
from voip_core.transport.tracer import LoggingTracer, NullTracer

__all__ = ["Listeners", "SipStack", "bind_listeners", "build_stack", "derive_secret"]

logger = logging.getLogger("ronghe")

WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def derive_secret(secret: bytes, label: bytes) -> bytes:
    """A key for one purpose (nonces, flow tokens, GRUUs) from the deployment secret."""
    return hmac.new(secret, label, hashlib.sha256).digest()


@dataclass
class Listeners:
    """The bound SIP sockets and the addresses put in Via and Record-Route."""

    udp: list[socket.socket]
    tcp: list[socket.socket]
    port: int
    advertised: str
    advertised_v6: str | None = None
    bound_host: str = ""

    def close(self) -> None:
        """Close the sockets (the supervisor's copies once the workers have theirs)."""
        for sock in [*self.udp, *self.tcp]:
            sock.close()


def _check_receive_buffer(sock: socket.socket, settings: ServeSettings) -> None:
    """Warn when the kernel gave the UDP socket too small a buffer for the 503 threshold:
    the queue then never holds ``--overload-queue-kib`` and only drops shed load."""
    held = udp_receive_buffer(sock)
    if held <= settings.overload_queue_kib * 1024:
        logger.warning(
            "the UDP receive buffer holds %d KiB (net.core.rmem_max caps it), not more than "
            "--overload-queue-kib %d: overload is shed by dropped datagrams, never by 503; "
            "raise net.core.rmem_max or lower --overload-queue-kib",
            held // 1024,
            settings.overload_queue_kib,
        )


def bind_listeners(settings: ServeSettings) -> Listeners:
    """Bind UDP and TCP on ``--sip-host``/``--sip-port`` (and IPv6 beside the IPv4
    wildcard, RFC 5118, when the host has it)."""
    receive_buffer = settings.udp_receive_buffer_kib * 1024
    udp = bind_udp(settings.sip_host, settings.sip_port, receive_buffer=receive_buffer)
    _check_receive_buffer(udp, settings)
    host, port = udp.getsockname()[:2]
    tcp = bind_tcp(settings.sip_host, port)
    advertised = settings.advertise or (
        primary_address() if settings.sip_host in WILDCARDS else settings.sip_host
    )
    listeners = Listeners([udp], [tcp], port, advertised, bound_host=host)
    if settings.sip_host == "0.0.0.0":
        try:
            udp6 = bind_udp("::", port, receive_buffer=receive_buffer)
        except OSError as error:
            logger.info("not serving IPv6: %s", error)
            return listeners
        try:
            tcp6 = bind_tcp("::", port)
        except OSError as error:
            udp6.close()
            logger.info("not serving IPv6: %s", error)
            return listeners
        listeners.udp.append(udp6)
        listeners.tcp.append(tcp6)
        global_v6 = sorted(
            address
            for address in local_addresses()
            if ":" in address and not address.startswith("fe80")
        )
        candidates = [address for address in global_v6 if address != "::1"] or ["::1"]
        listeners.advertised_v6 = candidates[0]
    return listeners


@dataclass
class SipStack:
    """One process's transaction layer, proxy, node and transports."""

    layer: TransactionLayer
    proxy: Proxy
    node: SipNode
    transports: TransportManager
    store: BindingStore
    router: ClusterRouter | None = None
    security: Security | None = None

    async def close(self) -> None:
        """Stop the timer and close every socket and connection."""
        self.node.close()
        await self.transports.close()


async def build_stack(
    settings: ServeSettings,
    *,
    secret: bytes,
    store: BindingStore,
    live_plan: LivePlan,
    listeners: Listeners,
    worker: int = 0,
    router: ClusterRouter | None = None,
    security: Security | None = None,
) -> SipStack:
    """The SIP core of worker ``worker``, serving ``listeners``.

    With a ``router`` (several workers), messages pass through it to reach their owner
    and sends to other workers' connections go through it. With ``security``, failed
    authentications are limited and every message from the transports passes the
    request-rate limit first (:mod:`ronghe.security`).
    """
    loop = asyncio.get_running_loop()
    gruu_secret = derive_secret(secret, b"gruu")
    authenticator = DigestAuthenticator(
        realm=settings.domain,
        nonces=NonceManager(
            derive_secret(secret, b"nonce"), lifetime=settings.nonce_lifetime, issuer=worker
        ),
        lookup_ha1=PlanCredentials(live_plan),
        algorithms=settings.digest_algorithms,
        guard=security.guard if security is not None else None,
    )
    policy = RegistrarPolicy(
        min_expires=settings.min_expires,
        max_expires=settings.max_expires,
        default_expires=min(max(3600, settings.min_expires), settings.max_expires),
    )
    # Requests for a flow this node holds reach it through its hop, from any node
    # sharing the registrations (voip_core.proxy.nodes); nodes connect over TCP.
    hops = NodeHops(
        derive_secret(secret, b"node-hop"),
        node=settings.node_name or f"{listeners.advertised}:{listeners.port}",
        address=ListenAddress(NODE_HOP_TRANSPORT, listeners.advertised, listeners.port),
    )
    registrar = Registrar(
        domain=settings.domain,
        store=store,
        authenticator=authenticator,
        policy=policy,
        gruu_secret=gruu_secret,
        first_hop=hops.path_entry,
    )
    # The proxy sends 100 Trying itself when it forwards an INVITE (and none before a
    # stateless challenge), see voip_core.proxy.request_handler.
    layer = TransactionLayer(
        TimerConfig(t1=settings.t1, t2=settings.t2, t4=settings.t4), send_trying=False
    )
    node_holder: list[SipNode] = []
    on_message: Callable[[bytes, Peer, bool], None] = (
        router.on_message
        if router is not None
        else lambda data, peer, stream: node_holder[0].on_message(data, peer, stream)
    )
    transports = TransportManager(
        on_message=security.guarded(on_message) if security is not None else on_message,
        on_error=(
            router.on_transport_error
            if router is not None
            else lambda peer: node_holder[0].on_transport_error(peer)
        ),
        tracer=LoggingTracer() if settings.trace_sip else NullTracer(),
        idle_timeout=settings.tcp_idle_timeout,
        connection_ids=ConnectionIds(worker, settings.workers),
    )
    for sock in listeners.udp:
        await transports.serve_udp(sock)
    for sock in listeners.tcp:
        await transports.serve_tcp(sock)
    port = listeners.port
    listen = [
        ListenAddress("udp", listeners.advertised, port),
        ListenAddress("tcp", listeners.advertised, port),
    ]
    if listeners.advertised_v6 is not None:
        listen += [
            ListenAddress("udp", listeners.advertised_v6, port),
            ListenAddress("tcp", listeners.advertised_v6, port),
        ]
    aliases = {address.lower() for address in local_addresses()} | {listeners.advertised.lower()}
    if settings.sip_host not in WILDCARDS:
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
        location=StoreLocation(store, gruu_secret=gruu_secret, hops=hops),
        router=PlanRouter(live_plan),
        authenticator=authenticator,
        registrar=registrar,
        flow_secret=derive_secret(secret, b"flow"),
        node_hops=hops,
    )
    challenge_window = layer.config.for_transport(reliable=False).f
    node = SipNode(
        layer=layer,
        proxy=proxy,
        loop=loop,
        max_transactions=max(100, settings.max_transactions // settings.workers),
        max_lag=settings.overload_lag,
        backlog=transports.udp_backlog,
        max_backlog=settings.overload_queue_kib * 1024,
        # A REGISTER answering a challenge issued within Timer F (64*T1 on UDP, as long as
        # a client retransmits its first REGISTER) completes work begun, and one without
        # credentials costs a stateless 401: neither is shed.
        spare_register=lambda request, wall: authenticator.spared_under_overload(
            request, now=wall, within=challenge_window
        ),
    )
    node_holder.append(node)
    if router is not None:
        router.attach(node, transports)
        node.attach(router)
    else:
        node.attach(transports)
    return SipStack(layer, proxy, node, transports, store, router, security)
