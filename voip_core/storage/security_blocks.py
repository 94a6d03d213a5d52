"""Blocks of the guard in SQL (``security_block``): shared by every worker and node that
uses the database, and kept over a restart.

Theory of operation: the process that makes a block inserts its row; an operator's lift
sets ``lifted_at``. Every process reads the active rows (not lifted, ``until_at`` in the
future) about once a second and makes its guard enforce exactly those, plus the blocks
it made that are not written yet, so a block made by one worker is enforced by the
others, and a lift everywhere, within a poll. Rows are kept after they end, for the
record, until :meth:`SqlBlockStore.purge` removes those ended long ago.

Each method runs in its own transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Engine, Integer, String, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from voip_core.guard import Block
from voip_core.storage.models import Base, UtcDateTime

__all__ = ["SecurityBlock", "SqlBlockStore"]

#: Longest block id; :class:`~voip_core.guard.Guard` makes 16 hex digits.
MAX_BLOCK_ID_LENGTH: Final = 32
#: Longest user name stored (longer ones are cut: the row is for display).
MAX_USER_LENGTH: Final = 128


class SecurityBlock(Base):
    """One block (a :class:`~voip_core.guard.Block`), with when an operator lifted it."""

    __tablename__ = "security_block"

    id: Mapped[str] = mapped_column(String(MAX_BLOCK_ID_LENGTH), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(MAX_USER_LENGTH))
    """``None`` for a rate block (every request of the source refused)."""
    reason: Mapped[str] = mapped_column(String(32))
    failures: Mapped[int] = mapped_column(Integer)
    since_at: Mapped[datetime] = mapped_column(UtcDateTime())
    until_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _block(row: SecurityBlock) -> Block:
    reason = row.reason
    assert reason in ("auth-failures", "rate-limit"), reason
    return Block(
        id=row.id,
        source=row.source,
        user=row.username,
        reason="auth-failures" if reason == "auth-failures" else "rate-limit",
        since=row.since_at.timestamp(),
        until=row.until_at.timestamp(),
        failures=row.failures,
    )


class SqlBlockStore:
    """The ``security_block`` table, through ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, block: Block) -> None:
        """Write a block made here."""
        with Session(self._engine) as session, session.begin():
            session.add(
                SecurityBlock(
                    id=block.id,
                    source=block.source,
                    username=None if block.user is None else block.user[:MAX_USER_LENGTH],
                    reason=block.reason,
                    failures=block.failures,
                    since_at=_when(block.since),
                    until_at=_when(block.until),
                )
            )

    def active(self, now: float) -> list[Block]:
        """The blocks in force at ``now`` (not lifted, not ended), oldest first."""
        query = (
            select(SecurityBlock)
            .where(SecurityBlock.lifted_at.is_(None), SecurityBlock.until_at > _when(now))
            .order_by(SecurityBlock.since_at, SecurityBlock.id)
        )
        with Session(self._engine) as session:
            return [_block(row) for row in session.scalars(query)]

    def lift(self, block_id: str, now: float) -> Block | None:
        """Mark ``block_id`` lifted at ``now``; return it, or ``None`` when no block with
        that id is in force."""
        when = _when(now)
        with Session(self._engine) as session, session.begin():
            row = session.scalars(
                select(SecurityBlock).where(
                    SecurityBlock.id == block_id,
                    SecurityBlock.lifted_at.is_(None),
                    SecurityBlock.until_at > when,
                )
            ).first()
            if row is None:
                return None
            row.lifted_at = when
            return _block(row)

    def purge(self, before: float) -> int:
        """Delete the rows that ended (or were lifted) before ``before``; return how many."""
        when = _when(before)
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                delete(SecurityBlock).where(
                    or_(SecurityBlock.until_at < when, SecurityBlock.lifted_at < when)
                )
            )
            return int(getattr(result, "rowcount", 0))
