"""API keys: created with a random secret shown once; only its SHA-256 is stored.

Key writes are audited but do not touch the numbering plan, so they neither bump
``plan_state.version`` nor run the plan compiler.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialplan.storage import repositories
from dialplan.storage.base import utc_now
from dialplan.storage.exceptions import Conflict, NotFound, ValidationFailed
from dialplan.storage.models import ApiKey, AuditLog
from dialplan.storage.records import Actor, ApiKeyCreated, ApiKeyRecord, JsonObject, Page, Role
from dialplan.storage.services._convert import api_key_record
from dialplan.storage.services._unit_of_work import snapshot
from dialplan.storage.validation import check_name

__all__ = [
    "KEY_PREFIX",
    "authenticate",
    "create_api_key",
    "hash_api_key",
    "list_api_keys",
    "revoke_api_key",
]

#: Marks Ronghe keys so secret scanners and people recognise a leaked one.
KEY_PREFIX: Final = "rh_"
#: Characters of the key kept in clear for display: the marker and 8 random ones.
_DISPLAY_PREFIX_LENGTH: Final = len(KEY_PREFIX) + 8
_KIND: Final = "api_key"


def hash_api_key(secret: str) -> str:
    """Return the hex SHA-256 of ``secret``, as stored in ``api_key.key_hash``.

    A single fast hash suffices: the secret has 256 random bits, so there is nothing
    for a slow password hash to protect against.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, *, actor: Actor, name: str, role: Role) -> ApiKeyCreated:
    """Create a key; the returned secret is not stored and cannot be shown again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with session.begin():
        key = ApiKey(
            name=check_name("name", name),
            role=_role(role),
            key_hash=hash_api_key(secret),
            prefix=secret[:_DISPLAY_PREFIX_LENGTH],
            created_at=utc_now(),
        )
        repositories.add(session, key)
        _audit(session, actor, "create", key, before=None)
        return ApiKeyCreated(key=api_key_record(key), secret=secret)


def list_api_keys(
    session: Session, *, include_revoked: bool = False, skip: int = 0, limit: int = 100
) -> Page[ApiKeyRecord]:
    """Return a page of keys, newest first."""
    statement = select(ApiKey).order_by(ApiKey.id.desc())
    if not include_revoked:
        statement = statement.where(ApiKey.revoked_at.is_(None))
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(api_key_record(row) for row in rows), count=count)


def revoke_api_key(session: Session, *, actor: Actor, key_id: int) -> ApiKeyRecord:
    """Revoke a key; the last active admin key cannot be revoked."""
    with session.begin():
        key = session.get(ApiKey, key_id)
        if key is None:
            raise NotFound(f"api key {key_id} not found")
        if key.revoked_at is not None:
            raise Conflict(f"api key {key.name} ({key.prefix}…) is already revoked")
        if key.role is Role.ADMIN:
            admins = session.scalar(
                select(func.count())
                .select_from(ApiKey)
                .where(ApiKey.role == Role.ADMIN, ApiKey.revoked_at.is_(None))
            )
            if (admins or 0) <= 1:
                raise Conflict(f"api key {key.name} ({key.prefix}…) is the last active admin key")
        before = snapshot(key)
        key.revoked_at = utc_now()
        session.flush()
        _audit(session, actor, "revoke", key, before=before)
        return api_key_record(key)


def authenticate(session: Session, *, secret: str) -> ApiKeyRecord | None:
    """Return the active key whose secret is ``secret``, or ``None``."""
    with session.begin():
        key = repositories.api_key_by_hash(session, hash_api_key(secret))
        if key is None or key.revoked_at is not None:
            return None
        return api_key_record(key)


def _audit(
    session: Session, actor: Actor, action: str, key: ApiKey, *, before: JsonObject | None
) -> None:
    session.add(
        AuditLog(
            at=utc_now(),
            api_key_id=actor.api_key_id,
            api_key_name=actor.name,
            action=action,
            object_kind=_KIND,
            object_id=str(key.id),
            before=before,
            after=snapshot(key),
        )
    )
    session.flush()


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise ValidationFailed("role", f"{value!r} is not one of {known}") from None
