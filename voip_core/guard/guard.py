"""The guard: refuses sources that guess passwords or flood, as a pure engine.

Theory of operation
-------------------
The registrar and the proxy ask :meth:`Guard.refusal` before they accept credentials and
report each wrong digest answer with :meth:`Guard.authentication_failed`; the transport
callback asks :meth:`Guard.admit` for every message before it is parsed. Only a digest
answer for our realm that is wrong, or names an unknown or disabled user, is a failure:
a request without credentials (the first REGISTER of every registration, answered 401),
a stale nonce (right password, old nonce) and credentials for another realm never are,
so a phone cannot lock itself out by registering.

Counting is by (user, source address): a source that guesses 8001's password is refused
as 8001 only, so the real 8001 registers from its own address and the guessing source
may still be used by other users. The request rate is counted by source address alone,
and sources the adapter calls exempt (trusted networks, trunk gateways) are never
counted.

Every block made and every block ended here is reported through ``on_event`` (like the
tracer port, a value handed to the adapter, which logs and persists it). Blocks made
elsewhere (another worker, another node, before a restart) come in through
:meth:`Guard.adopt` and leave through :meth:`Guard.forget`, without events, so each block
is logged once, by the process that made it. Time is always the caller's ``now``
(seconds since the epoch, since blocks are shared between processes).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from voip_core.guard.blocks import Block, Blocked, BlockReason, GuardEvent, Unblocked
from voip_core.guard.counting import FailureRecord, count_failure, count_request
from voip_core.guard.policy import GuardPolicy
from voip_core.guard.store import GuardStore, MemoryGuardStore

__all__ = ["Guard"]


def _never(source: str) -> bool:
    return False


def _ignore(event: GuardEvent) -> None:
    return None


def _new_id() -> str:
    return secrets.token_hex(8)


class Guard:
    """Counts failed authentications and requests; holds the blocks they earn."""

    def __init__(
        self,
        policy: GuardPolicy,
        *,
        store: GuardStore | None = None,
        exempt: Callable[[str], bool] = _never,
        on_event: Callable[[GuardEvent], None] = _ignore,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self.policy = policy
        self._store: GuardStore = store if store is not None else MemoryGuardStore()
        self._exempt = exempt
        self._on_event = on_event
        self._new_id = new_id
        self._own: set[str] = set()
        self.auth_failures = 0
        """Failed digest answers counted."""
        self.auth_blocks = 0
        """Blocks made here for failed authentications."""
        self.rate_limited = 0
        """Messages dropped by the request-rate limit (including those of blocked sources)."""
        self.rate_blocks = 0
        """Blocks made here for exceeding the request rate."""

    # -- authentication -------------------------------------------------------------

    def refusal(self, user: str, source: str, now: float) -> Block | None:
        """The block that refuses ``user`` from ``source`` at ``now``, if any."""
        block = self._store.user_block(user, source)
        if block is not None and block.active(now):
            return block
        return None

    def authentication_failed(self, user: str, source: str, now: float) -> Block | None:
        """Count a wrong digest answer of ``user`` from ``source``; return the block that
        refuses them now (newly made or already held), if any."""
        self.auth_failures += 1
        held = self.refusal(user, source, now)
        if held is not None:
            return held
        record, seconds = count_failure(self._store.failure(user, source), self.policy, now)
        self._store.set_failure(user, source, record)
        if seconds is None:
            return None
        self.auth_blocks += 1
        return self._make(source, user, "auth-failures", now, seconds, self.policy.failure_limit)

    def authentication_succeeded(self, user: str, source: str) -> None:
        """Forget ``user``'s failures from ``source`` in the current window (the
        offences that lengthen later blocks are kept)."""
        record = self._store.failure(user, source)
        if record is not None and record.count:
            if record.offences:
                self._store.set_failure(
                    user,
                    source,
                    FailureRecord(0, record.window_start, record.offences, record.last_block_end),
                )
            else:
                self._store.set_failure(user, source, None)

    # -- request rate ---------------------------------------------------------------

    def admit(self, source: str, now: float, *, request: bool = True) -> bool:
        """Whether to handle a message from ``source``; ``False``: drop it unread.

        Only requests count towards the rate, as in pike: responses answer what we
        sent. A blocked source's responses are dropped too."""
        block = self._store.rate_block(source)
        if block is not None and block.active(now):
            self.rate_limited += 1
            return False
        if not request or not self.policy.rate_limit or self._exempt(source):
            return True
        window, over = count_request(self._store.window(source), self.policy, now)
        if not over:
            self._store.set_window(source, window)
            return True
        self._store.set_window(source, None)
        self.rate_limited += 1
        self.rate_blocks += 1
        self._make(source, None, "rate-limit", now, self.policy.rate_block_seconds, window.count)
        return False

    # -- blocks ---------------------------------------------------------------------

    def blocks(self, now: float) -> list[Block]:
        """The blocks in force at ``now``, oldest first."""
        return [block for block in self._store.blocks() if block.active(now)]

    def adopt(self, block: Block, *, own: bool = False) -> None:
        """Enforce a block made elsewhere (another process, or before a restart).

        With ``own``, this process reports its expiry (the one that restored it)."""
        self._store.add_block(block)
        if own:
            self._own.add(block.id)

    def forget(self, block_id: str) -> Block | None:
        """Stop enforcing a block that ended elsewhere (lifted or replaced); no event."""
        self._own.discard(block_id)
        return self._store.remove_block(block_id)

    def lift(self, block_id: str) -> Block | None:
        """An operator ends ``block_id`` now; ``None`` when no such block is held."""
        block = self._store.remove_block(block_id)
        if block is None:
            return None
        self._own.discard(block_id)
        if block.user is not None:
            # A lifted source starts afresh: its earlier failures do not count again.
            self._store.set_failure(block.user, block.source, None)
        self._on_event(Unblocked(block, "lifted"))
        return block

    def sweep(self, now: float) -> None:
        """End expired blocks (reporting those this process owns) and drop counters
        that no longer matter: windows past their end, failure records with no
        failures in their window and no offence still remembered."""
        for block in self._store.blocks():
            if not block.active(now):
                self._store.remove_block(block.id)
                if block.id in self._own:
                    self._own.discard(block.id)
                    self._on_event(Unblocked(block, "expired"))
        policy = self.policy
        for source, window in self._store.windows():
            if now - window.window_start >= policy.rate_window:
                self._store.set_window(source, None)
        for user, source, record in self._store.failures():
            counting = record.count and now - record.window_start < policy.failure_window
            remembered = record.offences and now - record.last_block_end < policy.max_block_seconds
            if not counting and not remembered:
                self._store.set_failure(user, source, None)

    def _make(
        self,
        source: str,
        user: str | None,
        reason: BlockReason,
        now: float,
        seconds: float,
        count: int,
    ) -> Block:
        block = Block(
            id=self._new_id(),
            source=source,
            user=user,
            reason=reason,
            since=now,
            until=now + seconds,
            failures=count,
        )
        self._store.add_block(block)
        self._own.add(block.id)
        self._on_event(Blocked(block))
        return block
