"""Number blocks: each unit's ranges of extension numbers, never overlapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.storage import repositories
from dialplan.storage.exceptions import NotFound, ValidationFailed
from dialplan.storage.models import NumberBlock
from dialplan.storage.records import Actor, BlockRecord, Page
from dialplan.storage.services import _rules
from dialplan.storage.services._convert import block_record
from dialplan.storage.services._unit_of_work import check_version, plan_write, snapshot
from dialplan.storage.validation import check_number

__all__ = [
    "BlockChanges",
    "BlockFilter",
    "NewBlock",
    "create_block",
    "delete_block",
    "get_block",
    "list_blocks",
    "update_block",
]

_KIND = "number_block"


@dataclass(frozen=True, slots=True)
class NewBlock:
    """The fields of a block to create."""

    unit_id: int
    first: str
    last: str


class BlockChanges(TypedDict, total=False):
    """The fields a partial update may change."""

    unit_id: int
    first: str
    last: str


@dataclass(frozen=True, slots=True)
class BlockFilter:
    """Listing filters: ``number_prefix`` matches the block's first number."""

    unit_id: int | None = None
    number_prefix: str | None = None


def list_blocks(
    session: Session, *, filters: BlockFilter | None = None, skip: int = 0, limit: int = 100
) -> Page[BlockRecord]:
    """Return a page of blocks in number order."""
    filters = filters or BlockFilter()
    statement = select(NumberBlock).order_by(NumberBlock.first, NumberBlock.id)
    if filters.unit_id is not None:
        statement = statement.where(NumberBlock.unit_id == filters.unit_id)
    if filters.number_prefix:
        statement = statement.where(
            NumberBlock.first.startswith(filters.number_prefix, autoescape=True)
        )
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(block_record(row) for row in rows), count=count)


def get_block(session: Session, *, block_id: int) -> BlockRecord:
    """Return block ``block_id`` or raise :class:`NotFound`."""
    with session.begin():
        return block_record(_load(session, block_id))


def create_block(session: Session, *, actor: Actor, realm: str, new: NewBlock) -> BlockRecord:
    """Create a block that overlaps no other block of any unit."""
    with plan_write(session, actor=actor, realm=realm) as write:
        unit = _rules.require_unit(session, "unit_id", new.unit_id)
        first, last = _checked_range(new.first, new.last)
        _rules.check_block_free(session, first, last, exclude_id=None)
        block = NumberBlock(unit_id=unit.id, first=first, last=last)
        repositories.add(session, block)
        write.record("create", _KIND, str(block.id), before=None, after=snapshot(block))
    return block_record(block)


def update_block(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    block_id: int,
    changes: BlockChanges,
    expected_version: int | None = None,
) -> BlockRecord:
    """Move or resize a block; every extension it held must stay inside a block."""
    with plan_write(session, actor=actor, realm=realm) as write:
        block = _load(session, block_id)
        check_version(f"block {block.first}-{block.last}", block.version, expected_version)
        before = snapshot(block)
        old_unit_id = block.unit_id
        first, last = _checked_range(
            changes.get("first", block.first), changes.get("last", block.last)
        )
        _rules.check_block_free(session, first, last, exclude_id=block.id)
        if "unit_id" in changes:
            block.unit_id = _rules.require_unit(session, "unit_id", changes["unit_id"]).id
        block.first, block.last = first, last
        session.flush()
        _rules.check_extensions_covered(session, [old_unit_id])
        write.record("update", _KIND, str(block.id), before=before, after=snapshot(block))
    return block_record(block)


def delete_block(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    block_id: int,
    expected_version: int | None = None,
) -> None:
    """Delete a block that no extension needs."""
    with plan_write(session, actor=actor, realm=realm) as write:
        block = _load(session, block_id)
        check_version(f"block {block.first}-{block.last}", block.version, expected_version)
        before = snapshot(block)
        unit_id = block.unit_id
        repositories.remove(session, block)
        _rules.check_extensions_covered(session, [unit_id])
        write.record("delete", _KIND, str(block_id), before=before, after=None)


def _checked_range(first: str | None, last: str | None) -> tuple[str, str]:
    first = check_number("first", first or "")
    last = check_number("last", last or "")
    if len(first) != len(last):
        raise ValidationFailed("last", f"{last} and first {first} differ in length")
    if int(first) > int(last):
        raise ValidationFailed("last", f"{last} is below first {first}")
    return first, last


def _load(session: Session, block_id: int) -> NumberBlock:
    block = session.get(NumberBlock, block_id)
    if block is None:
        raise NotFound(f"block {block_id} not found")
    return block
