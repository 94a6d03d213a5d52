"""The guard's adapter: logs, persistence, sharing between processes, the API's port.

Theory of operation
-------------------
Each SIP process (worker) has one :class:`Security` around a pure
:class:`~voip_core.guard.Guard`. The guard decides; this adapter

* wraps the transport's ``on_message`` callback (:meth:`Security.guarded`), so the
  request-rate limit drops a flooding source's datagrams before they are parsed;
* logs every block and unblock made here as one line on logger ``ronghe.security``,
  in the format :data:`BLOCKED_FORMAT` / :data:`UNBLOCKED_FORMAT` that
  ``docker/fail2ban/ronghe.conf`` matches;
* writes each block to the ``security_block`` table and, every
  :data:`POLL_INTERVAL` seconds, makes the guard enforce exactly the active rows plus its
  own blocks not written yet: a block made by one worker (or node sharing the database)
  is enforced everywhere within a poll, a lift too, and blocks survive a restart.

Limits, by design: counters are per process. REGISTERs for one user always reach the
worker that owns the To user, so registration guesses are counted exactly; requests
answered with 407 (INVITE, MESSAGE, OPTIONS…) are owned by Call-ID, so a guesser whose
Call-IDs spread over N workers may make up to N × ``--auth-failure-limit`` failures
before one worker blocks it (then every worker refuses it within a poll). The request
rate is counted by the worker whose socket read the datagram; the kernel spreads one
source's datagrams over the workers, so a source may reach up to N × ``--rate-limit``.
The doubling of repeat offenders' blocks is remembered in memory by the worker that
counted them and restarts at the base length after a restart.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from api.ports import SecurityBlockView
from ronghe.settings import ServeSettings
from ronghe.wiring import LivePlan
from voip_core.guard import Block, Blocked, Guard, GuardEvent, GuardPolicy, Unblocked, escape_user
from voip_core.sip.peer import Peer
from voip_core.storage import SqlBlockStore

__all__ = [
    "BLOCKED_FORMAT",
    "POLL_INTERVAL",
    "UNBLOCKED_FORMAT",
    "Security",
    "SecurityBlocks",
    "guard_policy",
]

logger = logging.getLogger("ronghe.security")

#: Seconds between reads of the active blocks: how long another worker's block or an
#: operator's lift takes to reach this process.
POLL_INTERVAL: Final = 1.0
#: Ended blocks stay in the table this long (for the record) before they are deleted.
_KEEP_ENDED: Final = 7 * 86_400.0
#: Seconds between deletions of long-ended rows (by worker 0).
_PURGE_INTERVAL: Final = 3600.0
#: ``blocked`` line: source, user (``-`` for a rate block), reason, the count, seconds.
BLOCKED_FORMAT: Final = "blocked source=%s user=%s reason=%s %s=%d seconds=%d"
#: ``unblocked`` line: source, user, ``expired`` or ``lifted``.
UNBLOCKED_FORMAT: Final = "unblocked source=%s user=%s reason=%s"

MessageHandler = Callable[[bytes, Peer, bool], None]


def guard_policy(settings: ServeSettings) -> GuardPolicy:
    """The guard's limits from ``ronghe serve``'s settings."""
    return GuardPolicy(
        failure_limit=settings.auth_failure_limit,
        failure_window=settings.auth_failure_window,
        block_seconds=settings.auth_block_seconds,
        max_block_seconds=settings.auth_max_block_seconds,
        rate_limit=settings.rate_limit,
        rate_window=settings.rate_window,
        rate_block_seconds=settings.rate_block_seconds,
    )


def _first_line(error: Exception) -> str:
    """The first line of a database error (SQLAlchemy appends SQL and a link)."""
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__


def _user(block: Block) -> str:
    return "-" if block.user is None else escape_user(block.user)


class _Exemptions:
    """Sources the request-rate limit never counts: trusted networks and the trunk
    gateways of the live plan (by IP address literal; a trunk given by host name is
    not resolved here). Answers are cached until the plan changes."""

    def __init__(self, trusted: Sequence[str], plan: LivePlan) -> None:
        self._trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted)
        self._live = plan
        self._plan: object = None
        self._gateways: frozenset[str] = frozenset()
        self._cache: dict[str, bool] = {}

    def __call__(self, source: str) -> bool:
        plan = self._live.current()
        if plan is not self._plan:
            self._plan = plan
            self._gateways = frozenset(
                trunk.host.strip("[]").lower() for trunk in plan.trunks_by_id.values()
            )
            self._cache.clear()
        answer = self._cache.get(source)
        if answer is None:
            answer = source.lower() in self._gateways or self._trusted_address(source)
            if len(self._cache) < 4096:
                self._cache[source] = answer
        return answer

    def _trusted_address(self, source: str) -> bool:
        if not self._trusted:
            return False
        try:
            address = ipaddress.ip_address(source)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)


class Security:
    """One process's guard with its log lines, its table and its share of the others'."""

    def __init__(
        self,
        settings: ServeSettings,
        *,
        blocks: SqlBlockStore,
        live_plan: LivePlan,
        loop: asyncio.AbstractEventLoop,
        worker: int = 0,
    ) -> None:
        self._blocks = blocks
        self._loop = loop
        self._worker = worker
        self._unwritten: dict[str, Block] = {}
        # Blocks written since a poll began (loop time of the write): that poll's read
        # may have missed them, so it must not take them for lifted.
        self._fresh: dict[str, tuple[Block, float]] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self._purged_at = 0.0
        self.guard = Guard(
            guard_policy(settings),
            exempt=_Exemptions(settings.trusted_networks, live_plan),
            on_event=self._on_event,
        )

    # -- the SIP side ---------------------------------------------------------------

    def guarded(self, handler: MessageHandler) -> MessageHandler:
        """``handler`` behind the request-rate limit: messages of a source over the
        limit or blocked are dropped unread. Dropping costs a dictionary lookup, where a
        503 would cost a parse and a send, and under a flood from a forged address would
        reflect it at the address's owner; UDP senders retransmit what matters."""
        admit = self.guard.admit
        clock = time.time

        def on_message(data: bytes, peer: Peer, stream: bool) -> None:
            # RFC 3261 §7: a response's start line begins with the SIP version.
            if admit(peer.host, clock(), request=not data.startswith(b"SIP/2.0 ")):
                handler(data, peer, stream)

        return on_message

    def stats(self) -> dict[str, int]:
        """This process's counters (``stack_stats`` keys)."""
        guard = self.guard
        return {
            "auth_failures": guard.auth_failures,
            "auth_blocks": guard.auth_blocks,
            "rate_limited": guard.rate_limited,
            "rate_blocks": guard.rate_blocks,
            "blocked_sources": len(guard.blocks(time.time())),
        }

    def _on_event(self, event: GuardEvent) -> None:
        match event:
            case Blocked(block):
                count = "failures" if block.reason == "auth-failures" else "requests"
                logger.warning(
                    BLOCKED_FORMAT,
                    block.source,
                    _user(block),
                    block.reason,
                    count,
                    block.failures,
                    block.seconds,
                )
                self._unwritten[block.id] = block
                task = self._loop.create_task(self._write(block))
                self._writes.add(task)
                task.add_done_callback(self._writes.discard)
            case Unblocked(block, reason):
                logger.warning(UNBLOCKED_FORMAT, block.source, _user(block), reason)

    async def _write(self, block: Block) -> None:
        try:
            await asyncio.to_thread(self._blocks.add, block)
        except SQLAlchemyError as error:
            # Still enforced here; the next poll keeps it, and the next block is
            # written when the database is back. Logged with its cause, not hidden.
            logger.warning(
                "block %s of %s not written to the database (%s)",
                block.id,
                block.source,
                _first_line(error),
            )
            return
        if self._unwritten.pop(block.id, None) is not None:
            self._fresh[block.id] = (block, self._loop.time())

    # -- sharing ------------------------------------------------------------------------

    async def restore(self) -> int:
        """Enforce the blocks in the database at start; return how many. Worker 0 (or
        the single process) reports their expiry, since their maker may be gone."""
        active = await asyncio.to_thread(self._blocks.active, time.time())
        for block in active:
            self.guard.adopt(block, own=self._worker == 0)
        return len(active)

    async def run(self) -> None:
        """Poll the table every :data:`POLL_INTERVAL` seconds until cancelled."""
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            await self.refresh()

    async def refresh(self) -> None:
        """Read the active blocks once and enforce exactly them (and the blocks made here
        and not written yet); end expired blocks. A database error is logged and the
        blocks held are kept until the next poll."""
        now = time.time()
        started = self._loop.time()
        try:
            active = await asyncio.to_thread(self._blocks.active, now)
            if self._worker == 0 and now - self._purged_at > _PURGE_INTERVAL:
                self._purged_at = now
                await asyncio.to_thread(self._blocks.purge, now - _KEEP_ENDED)
        except SQLAlchemyError as error:
            # A database outage must not stop the guard: the blocks held stay in force.
            logger.warning(
                "reading the blocks from the database failed (%s); retrying", _first_line(error)
            )
            self.guard.sweep(now)
            return
        self._apply(active, time.time(), started)

    async def written(self) -> None:
        """Wait until the blocks made so far are written (or failed to be)."""
        if self._writes:
            await asyncio.gather(*self._writes)

    def _apply(self, active: list[Block], now: float, started: float) -> None:
        wanted = {block.id: block for block in active}
        wanted.update(self._unwritten)
        for block_id, (block, written) in list(self._fresh.items()):
            if written >= started:
                wanted[block_id] = block
            else:
                del self._fresh[block_id]
        for block in self.guard.blocks(now):
            if block.id not in wanted:
                self.guard.forget(block.id)
        held = {block.id for block in self.guard.blocks(now)}
        for block in active:
            if block.id not in held:
                self.guard.adopt(block)
        self.guard.sweep(now)

    # -- the API's port (called from the API's threads) ------------------------------

    def active_blocks(self) -> list[Block]:
        """Every block in force, in the database or made here and not written yet."""
        now = time.time()
        found = {block.id: block for block in self._blocks.active(now)}
        for block in list(self._unwritten.values()):
            if block.active(now):
                found.setdefault(block.id, block)
        return sorted(found.values(), key=lambda block: (block.since, block.id))

    def lift(self, block_id: str) -> Block | None:
        """End ``block_id`` now, everywhere; ``None`` when no such block is in force."""
        block = self._blocks.lift(block_id, time.time())
        if block is None:
            pending = self._unwritten.get(block_id)
            if pending is None or not pending.active(time.time()):
                return None
            block = pending
        logger.warning(UNBLOCKED_FORMAT, block.source, _user(block), "lifted")
        self._loop.call_soon_threadsafe(self._forget, block_id)
        return block

    def _forget(self, block_id: str) -> None:
        self._unwritten.pop(block_id, None)
        self._fresh.pop(block_id, None)
        block = self.guard.forget(block_id)
        if block is not None and block.user is not None:
            self.guard.authentication_succeeded(block.user, block.source)


def _view(block: Block) -> SecurityBlockView:
    return SecurityBlockView(
        id=block.id,
        source=block.source,
        user=block.user,
        reason=block.reason,
        since=datetime.fromtimestamp(block.since, UTC),
        until=datetime.fromtimestamp(block.until, UTC),
        failures=block.failures,
    )


class SecurityBlocks:
    """The admin API's port (:class:`api.ports.SecurityBlockSource`) over worker 0's
    :class:`Security`; called from the API's threads."""

    def __init__(self, security: Security) -> None:
        self._security = security

    def active_blocks(self) -> list[SecurityBlockView]:
        """The blocks in force in every process (from the database), oldest first."""
        return [_view(block) for block in self._security.active_blocks()]

    def lift(self, block_id: str) -> SecurityBlockView | None:
        """Lift ``block_id`` everywhere; ``None`` when it is not in force."""
        block = self._security.lift(block_id)
        return None if block is None else _view(block)
