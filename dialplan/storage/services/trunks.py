"""Trunks: SIP connections to carriers that external dial rules route to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.storage import repositories
from dialplan.storage.exceptions import Conflict, NotFound, ValidationFailed
from dialplan.storage.models import DialRule, Trunk
from dialplan.storage.records import Actor, Page, TrunkRecord
from dialplan.storage.services._convert import trunk_record
from dialplan.storage.services._unit_of_work import check_version, plan_write, snapshot
from dialplan.storage.validation import check_name, check_range, check_transport

__all__ = [
    "NewTrunk",
    "TrunkChanges",
    "create_trunk",
    "delete_trunk",
    "get_trunk",
    "list_trunks",
    "update_trunk",
]

_KIND = "trunk"


@dataclass(frozen=True, slots=True)
class NewTrunk:
    """The fields of a trunk to create."""

    name: str
    host: str
    port: int = 5060
    transport: str = "udp"
    enabled: bool = True


class TrunkChanges(TypedDict, total=False):
    """The fields a partial update may change."""

    name: str
    host: str
    port: int
    transport: str
    enabled: bool


def list_trunks(
    session: Session, *, name_contains: str | None = None, skip: int = 0, limit: int = 100
) -> Page[TrunkRecord]:
    """Return a page of trunks in name order."""
    statement = select(Trunk).order_by(Trunk.name)
    if name_contains:
        statement = statement.where(Trunk.name.contains(name_contains, autoescape=True))
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(trunk_record(row) for row in rows), count=count)


def get_trunk(session: Session, *, trunk_id: int) -> TrunkRecord:
    """Return trunk ``trunk_id`` or raise :class:`NotFound`."""
    with session.begin():
        return trunk_record(_load(session, trunk_id))


def create_trunk(session: Session, *, actor: Actor, realm: str, new: NewTrunk) -> TrunkRecord:
    """Create a trunk with a unique name."""
    with plan_write(session, actor=actor, realm=realm) as write:
        trunk = Trunk(
            name=check_name("name", new.name, max_length=64),
            host=check_name("host", new.host, max_length=255),
            port=check_range("port", new.port, 1, 65535),
            transport=check_transport("transport", new.transport),
            enabled=new.enabled,
        )
        _check_name_free(session, trunk.name, own_id=None)
        repositories.add(session, trunk)
        write.record("create", _KIND, str(trunk.id), before=None, after=snapshot(trunk))
    return trunk_record(trunk)


def update_trunk(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    trunk_id: int,
    changes: TrunkChanges,
    expected_version: int | None = None,
) -> TrunkRecord:
    """Apply ``changes`` if the stored version is ``expected_version``."""
    with plan_write(session, actor=actor, realm=realm) as write:
        trunk = _load(session, trunk_id)
        check_version(f"trunk {trunk.name}", trunk.version, expected_version)
        before = snapshot(trunk)
        if "name" in changes:
            name = check_name("name", changes["name"], max_length=64)
            _check_name_free(session, name, own_id=trunk.id)
            trunk.name = name
        if "host" in changes:
            trunk.host = check_name("host", changes["host"], max_length=255)
        if "port" in changes:
            trunk.port = check_range("port", changes["port"], 1, 65535)
        if "transport" in changes:
            trunk.transport = check_transport("transport", changes["transport"] or "")
        if "enabled" in changes:
            enabled = changes["enabled"]
            if enabled is None:
                raise ValidationFailed("enabled", "must not be null")
            trunk.enabled = enabled
        session.flush()
        write.record("update", _KIND, str(trunk.id), before=before, after=snapshot(trunk))
    return trunk_record(trunk)


def delete_trunk(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    trunk_id: int,
    expected_version: int | None = None,
) -> None:
    """Delete a trunk no dial rule routes to."""
    with plan_write(session, actor=actor, realm=realm) as write:
        trunk = _load(session, trunk_id)
        check_version(f"trunk {trunk.name}", trunk.version, expected_version)
        rule = repositories.first(session, select(DialRule).where(DialRule.trunk_id == trunk.id))
        if rule is not None:
            raise Conflict(
                f"trunk {trunk.name} is used by dial rule {rule.priority} (pattern {rule.pattern})"
            )
        before = snapshot(trunk)
        repositories.remove(session, trunk)
        write.record("delete", _KIND, str(trunk_id), before=before, after=None)


def _check_name_free(session: Session, name: str, *, own_id: int | None) -> None:
    other = repositories.trunk_by_name(session, name)
    if other is not None and other.id != own_id:
        raise Conflict(f"name {name} is already used by trunk {other.id} ({other.host})")


def _load(session: Session, trunk_id: int) -> Trunk:
    trunk = session.get(Trunk, trunk_id)
    if trunk is None:
        raise NotFound(f"trunk {trunk_id} not found")
    return trunk
