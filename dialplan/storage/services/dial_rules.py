"""Dial rules: priority-ordered patterns, checked by the plan compiler at save time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.model import DestinationKind
from dialplan.storage import repositories
from dialplan.storage.exceptions import Conflict, NotFound, ValidationFailed
from dialplan.storage.models import DialRule
from dialplan.storage.records import Actor, DialRuleRecord, Page
from dialplan.storage.services import _rules
from dialplan.storage.services._convert import dial_rule_record
from dialplan.storage.services._unit_of_work import check_version, plan_write, snapshot
from dialplan.storage.validation import check_name, check_prepend, check_range

__all__ = [
    "DialRuleChanges",
    "NewDialRule",
    "create_dial_rule",
    "delete_dial_rule",
    "get_dial_rule",
    "list_dial_rules",
    "update_dial_rule",
]

_KIND = "dial_rule"
MAX_NUMBER_LENGTH = 32


@dataclass(frozen=True, slots=True)
class NewDialRule:
    """The fields of a dial rule to create."""

    priority: int
    pattern: str
    min_length: int
    max_length: int
    destination: DestinationKind
    trunk_id: int | None = None
    strip: int = 0
    prepend: str = ""
    description: str = ""


class DialRuleChanges(TypedDict, total=False):
    """The fields a partial update may change."""

    priority: int
    pattern: str
    min_length: int
    max_length: int
    destination: DestinationKind
    trunk_id: int | None
    strip: int
    prepend: str
    description: str


def list_dial_rules(
    session: Session,
    *,
    destination: DestinationKind | None = None,
    trunk_id: int | None = None,
    skip: int = 0,
    limit: int = 100,
) -> Page[DialRuleRecord]:
    """Return a page of dial rules in priority order."""
    statement = select(DialRule).order_by(DialRule.priority)
    if destination is not None:
        statement = statement.where(DialRule.destination == destination)
    if trunk_id is not None:
        statement = statement.where(DialRule.trunk_id == trunk_id)
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(dial_rule_record(row) for row in rows), count=count)


def get_dial_rule(session: Session, *, rule_id: int) -> DialRuleRecord:
    """Return dial rule ``rule_id`` or raise :class:`NotFound`."""
    with session.begin():
        return dial_rule_record(_load(session, rule_id))


def create_dial_rule(
    session: Session, *, actor: Actor, realm: str, new: NewDialRule
) -> DialRuleRecord:
    """Create a dial rule; the compiler checks the pattern before the commit."""
    with plan_write(session, actor=actor, realm=realm) as write:
        rule = DialRule(
            priority=check_range("priority", new.priority, 0, 1_000_000),
            pattern=check_name("pattern", new.pattern, max_length=64),
            min_length=check_range("min_length", new.min_length, 1, MAX_NUMBER_LENGTH),
            max_length=check_range("max_length", new.max_length, 1, MAX_NUMBER_LENGTH),
            destination=_destination(new.destination),
            strip=check_range("strip", new.strip, 0, MAX_NUMBER_LENGTH),
            prepend=check_prepend("prepend", new.prepend),
            description=new.description.strip()[:200],
        )
        if new.trunk_id is not None:
            rule.trunk_id = _rules.require_trunk(session, "trunk_id", new.trunk_id).id
        _check_lengths(rule)
        _check_priority_free(session, rule.priority, own_id=None)
        repositories.add(session, rule)
        write.record("create", _KIND, str(rule.id), before=None, after=snapshot(rule))
    return dial_rule_record(rule)


def update_dial_rule(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    rule_id: int,
    changes: DialRuleChanges,
    expected_version: int | None = None,
) -> DialRuleRecord:
    """Apply ``changes`` if the stored version is ``expected_version``."""
    with plan_write(session, actor=actor, realm=realm) as write:
        rule = _load(session, rule_id)
        check_version(f"dial rule {rule.priority}", rule.version, expected_version)
        before = snapshot(rule)
        if "priority" in changes:
            priority = check_range("priority", changes["priority"], 0, 1_000_000)
            _check_priority_free(session, priority, own_id=rule.id)
            rule.priority = priority
        if "pattern" in changes:
            rule.pattern = check_name("pattern", changes["pattern"], max_length=64)
        if "min_length" in changes:
            rule.min_length = check_range("min_length", changes["min_length"], 1, MAX_NUMBER_LENGTH)
        if "max_length" in changes:
            rule.max_length = check_range("max_length", changes["max_length"], 1, MAX_NUMBER_LENGTH)
        if "destination" in changes:
            rule.destination = _destination(changes["destination"])
        if "trunk_id" in changes:
            trunk_id = changes["trunk_id"]
            rule.trunk_id = (
                None if trunk_id is None else _rules.require_trunk(session, "trunk_id", trunk_id).id
            )
        if "strip" in changes:
            rule.strip = check_range("strip", changes["strip"], 0, MAX_NUMBER_LENGTH)
        if "prepend" in changes:
            rule.prepend = check_prepend("prepend", changes["prepend"] or "")
        if "description" in changes:
            rule.description = (changes["description"] or "").strip()[:200]
        _check_lengths(rule)
        session.flush()
        write.record("update", _KIND, str(rule.id), before=before, after=snapshot(rule))
    return dial_rule_record(rule)


def delete_dial_rule(
    session: Session, *, actor: Actor, realm: str, rule_id: int, expected_version: int | None = None
) -> None:
    """Delete a dial rule."""
    with plan_write(session, actor=actor, realm=realm) as write:
        rule = _load(session, rule_id)
        check_version(f"dial rule {rule.priority}", rule.version, expected_version)
        before = snapshot(rule)
        repositories.remove(session, rule)
        write.record("delete", _KIND, str(rule_id), before=before, after=None)


def _check_lengths(rule: DialRule) -> None:
    if rule.min_length > rule.max_length:
        raise ValidationFailed(
            "max_length", f"{rule.max_length} is below min_length {rule.min_length}"
        )


def _check_priority_free(session: Session, priority: int, *, own_id: int | None) -> None:
    other = repositories.dial_rule_by_priority(session, priority)
    if other is not None and other.id != own_id:
        raise Conflict(
            f"priority {priority} is already used by dial rule {other.id} (pattern {other.pattern})"
        )


def _destination(value: DestinationKind | str | None) -> DestinationKind:
    try:
        return DestinationKind(value or "")
    except ValueError:
        known = ", ".join(kind.value for kind in DestinationKind)
        raise ValidationFailed("destination", f"{value!r} is not one of {known}") from None


def _load(session: Session, rule_id: int) -> DialRule:
    rule = session.get(DialRule, rule_id)
    if rule is None:
        raise NotFound(f"dial rule {rule_id} not found")
    return rule
