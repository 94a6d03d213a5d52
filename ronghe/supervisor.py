"""``ronghe serve --workers N``: the supervising process's side of the worker processes.

Theory of operation
-------------------
The supervising process is worker 0: it runs the admin API, writes registrations to the
database and serves SIP like any worker. It binds the SIP sockets once and starts
workers 1..N-1 (``python -m ronghe.worker``), which inherit the sockets
(``pass_fds``) and read their settings as JSON from a pipe, never from the command
line or the environment, since the settings hold the deployment secret. The kernel
hands each datagram and each new TCP connection to whichever process reads first; the
cluster router (:mod:`voip_core.cluster.router`) passes every message to its owner.

Workers talk over Unix sockets in a private directory (:mod:`voip_core.cluster.mesh`).
A worker that exits is started again after a pause that doubles up to 30 s; worker 0
sends it every registration when its channel opens. On shutdown the workers get
SIGTERM, and SIGKILL after 10 s; a worker also stops by itself when worker 0's channel
closes, so none outlives a crashed supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Final

from dialplan.engine import NumberingPlan
from dialplan.storage import StoredPlanSource
from ronghe.settings import ServeSettings
from ronghe.stack import Listeners, SipStack
from voip_core.cluster import ClusterRouter, Mesh, ReplicatedBindingStore
from voip_core.cluster.mesh import CALL_TIMEOUT
from voip_core.overload import SHED_REASONS, shed_key
from voip_core.registrar import BindingStore

__all__ = ["REPLICATED_KEYS", "Cluster", "ClusterPlanSource", "call_views", "stack_stats"]

logger = logging.getLogger("ronghe")

#: Seconds a worker may take to start before ``ronghe serve`` gives up.
_START_TIMEOUT: Final = 60.0
#: Longest pause before a worker that keeps exiting is started again.
_MAX_BACKOFF: Final = 30.0
#: Seconds between SIGTERM and SIGKILL at shutdown.
_STOP_TIMEOUT: Final = 10.0


#: The counters of requests refused for each reason (``SipNode.overload_reason``).
_SHED_KEYS: Final = tuple(shed_key(reason) for reason in SHED_REASONS)


#: Counters every process holds a full copy of (replicated or shared): worker 0's value
#: is the cluster's, never a sum.
REPLICATED_KEYS: Final = frozenset({"registrations", "blocked_sources"})


def stack_stats(stack: SipStack) -> dict[str, int]:
    """The counters of one process's SIP stack (the SIGUSR1 line, the metrics).

    Flat, so that the workers' dictionaries sum key by key (:meth:`Cluster.stats`);
    labelled counters are ``<family>:<label>`` keys (``sip_requests:INVITE``). Every
    value is read in constant time: this runs on the event loop that serves SIP.
    """
    node = stack.node
    traffic = node.traffic
    return {
        "transactions": len(stack.layer),
        "contexts": stack.proxy.context_count,
        "registrations": stack.store.count(),
        "calls": len(stack.proxy.calls),
        "shed": node.shed_count,
        **{
            key: node.shed_by_reason.get(reason, 0)
            for reason, key in zip(SHED_REASONS, _SHED_KEYS, strict=True)
        },
        "forwarded": stack.router.forwarded if stack.router is not None else 0,
        "malformed": node.malformed_count,
        "internal_errors": node.internal_errors,
        **{f"sip_requests:{key}": value for key, value in traffic.requests_received.items()},
        **{f"sip_responses_received:{k}": v for k, v in traffic.responses_received.items()},
        **{f"sip_responses_sent:{key}": value for key, value in traffic.responses_sent.items()},
        **{f"call_outcomes:{key}": value for key, value in stack.proxy.call_outcomes.items()},
        # auth_failures, auth_blocks, rate_limited, rate_blocks, blocked_sources
        **(stack.security.stats() if stack.security is not None else {}),
    }


def call_views(stack: SipStack) -> list[dict[str, object]]:
    """The calls one process's proxy is carrying, as JSON values."""
    return [
        {
            "call_id": record.call_id,
            "caller": record.caller,
            "callee": record.callee,
            "state": record.state,
            "started_at": record.started_at,
        }
        for record in stack.proxy.calls.values()
    ]


class Cluster:
    """Worker 0's channels, router and replicated store, and the other workers' processes."""

    def __init__(self, settings: ServeSettings, listeners: Listeners, store: BindingStore) -> None:
        self._settings = settings
        self._listeners = listeners
        self._directory = Path(tempfile.mkdtemp(prefix="ronghe-workers-"))
        loop = asyncio.get_running_loop()
        #: ``None`` with Redis: every worker then reads and writes the shared store.
        self.replica = None if settings.redis_url else ReplicatedBindingStore(store)
        self.store: BindingStore = self.replica if self.replica is not None else store
        self.mesh = Mesh(
            index=0,
            workers=settings.workers,
            directory=self._directory,
            on_frame=lambda sender, kind, payload: self.router.on_frame(sender, kind, payload),
            on_connected=lambda worker: self.router.send_snapshot(worker),
            on_hello=self._hello,
        )
        self.router = ClusterRouter(mesh=self.mesh, store=self.replica, loop=loop)
        if self.replica is not None:
            self.replica.on_change = self.router.bindings_changed
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._supervisors: list[asyncio.Task[None]] = []
        self._ready: set[int] = set()
        self._all_ready = asyncio.Event()
        self._stopping = False

    @property
    def worker_count(self) -> int:
        """Worker processes, this one included."""
        return self._settings.workers

    async def start(self, stack: SipStack) -> None:
        """Listen for the workers, start them and wait until each has said hello."""
        self._stack = stack
        self.mesh.serve("stats", lambda: stack_stats(stack))
        await self.mesh.start()
        for index in range(1, self._settings.workers):
            self._supervisors.append(
                asyncio.create_task(self._supervise(index), name=f"worker-{index}")
            )
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                await self._all_ready.wait()
                await self.mesh.wait_connected()
        except TimeoutError:
            missing = sorted(set(range(1, self._settings.workers)) - self._ready)
            raise RuntimeError(f"workers {missing} did not start in {_START_TIMEOUT:g} s") from None
        logger.info("%d worker processes serve SIP", self._settings.workers)

    def _hello(self, worker: int) -> None:
        self._ready.add(worker)
        if len(self._ready) == self._settings.workers - 1:
            self._all_ready.set()

    def _spec(self, index: int, fds: list[tuple[str, int]]) -> bytes:
        listeners = self._listeners
        return json.dumps(
            {
                "index": index,
                "directory": str(self._directory),
                "settings": self._settings.model_dump(mode="json"),
                "sockets": fds,
                "port": listeners.port,
                "advertised": listeners.advertised,
                "advertised_v6": listeners.advertised_v6,
            }
        ).encode()

    async def _supervise(self, index: int) -> None:
        listeners = self._listeners
        fds = [("udp", sock.fileno()) for sock in listeners.udp]
        fds += [("tcp", sock.fileno()) for sock in listeners.tcp]
        backoff = 1.0
        while not self._stopping:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ronghe.worker",
                stdin=asyncio.subprocess.PIPE,
                pass_fds=[fd for _kind, fd in fds],
            )
            self._processes[index] = process
            assert process.stdin is not None
            process.stdin.write(self._spec(index, fds))
            process.stdin.close()
            started = asyncio.get_running_loop().time()
            code = await process.wait()
            if self._stopping:
                return
            self._ready.discard(index)
            if asyncio.get_running_loop().time() - started > 60:
                backoff = 1.0
            logger.error(
                "worker %d (pid %d) exited with %s; starting it again in %.0f s",
                index,
                process.pid,
                code,
                backoff,
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    async def stats(self) -> dict[str, int]:
        """Counters summed over every worker (:data:`REPLICATED_KEYS`: worker 0's copy).

        The workers are asked at once, so a scrape waits at most one mesh call timeout;
        a worker that does not answer (restarting) is left out and logged.
        """
        totals = stack_stats(self._stack)
        workers = range(1, self._settings.workers)
        answers = await asyncio.gather(
            *(self.mesh.call(worker, "stats") for worker in workers), return_exceptions=True
        )
        for worker, counters in zip(workers, answers, strict=True):
            if isinstance(counters, ConnectionError | TimeoutError):
                logger.warning("no statistics from worker %d: %s", worker, counters)
                continue
            if isinstance(counters, BaseException):
                raise counters
            if not isinstance(counters, dict):
                continue
            for name, value in counters.items():
                if isinstance(value, int) and name not in REPLICATED_KEYS:
                    totals[name] = totals.get(name, 0) + value
        return totals

    async def remote_calls(self) -> list[dict[str, object]]:
        """The calls the other workers carry."""
        calls: list[dict[str, object]] = []
        for worker in range(1, self._settings.workers):
            try:
                views = await self.mesh.call(worker, "calls")
            except (ConnectionError, TimeoutError) as error:
                logger.warning("no live calls from worker %d: %s", worker, error)
                continue
            if isinstance(views, list):
                calls.extend(view for view in views if isinstance(view, dict))
        return calls

    async def reload_workers(self) -> None:
        """Have every worker reload the numbering plan now (after a write through the API)."""
        for worker in range(1, self._settings.workers):
            try:
                await self.mesh.call(worker, "reload_plan")
            except (ConnectionError, TimeoutError) as error:
                # Its poll of the plan version catches up within a second.
                logger.warning("worker %d did not reload the plan: %s", worker, error)

    async def close(self) -> None:
        """Stop the workers (SIGTERM, then SIGKILL) and close the channels."""
        self._stopping = True
        for process in self._processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
        for index, process in self._processes.items():
            try:
                async with asyncio.timeout(_STOP_TIMEOUT):
                    await process.wait()
            except TimeoutError:
                logger.error("worker %d did not stop in %.0f s: killed", index, _STOP_TIMEOUT)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for task in self._supervisors:
            task.cancel()
        for task in self._supervisors:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.mesh.close()
        shutil.rmtree(self._directory, ignore_errors=True)


class ClusterPlanSource:
    """Worker 0's live plan for the admin API: a reload after a write also reloads every
    worker before it returns, so a phone that registers right after an extension was
    created finds it in whichever worker owns it, as with one process."""

    def __init__(
        self, local: StoredPlanSource, cluster: Cluster, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._local = local
        self._cluster = cluster
        self._loop = loop

    def current(self) -> NumberingPlan:
        """The plan worker 0 routes with."""
        return self._local.current()

    def reload_now(self) -> None:
        """Reload here, then in every worker (called from the API's threads)."""
        self._local.reload_now()
        future = asyncio.run_coroutine_threadsafe(self._cluster.reload_workers(), self._loop)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop:
            future.result(timeout=CALL_TIMEOUT * self._cluster.worker_count + 1)
