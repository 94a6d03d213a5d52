"""FastAPI dependencies: the app's context, database session, API key and role checks.

Use the ``Annotated`` aliases in route signatures: ``session: SessionDep``,
``key: OperatorKey``. Authentication is ``Authorization: Bearer <key>``; a missing,
unknown or revoked key is 401, a key whose role is too low is 403.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.ports import PlanSource, RegistrationSource, SecurityBlockSource, StatsSource
from dialplan.storage.records import Actor, ApiKeyRecord, Role
from dialplan.storage.services.api_keys import authenticate

__all__ = [
    "MAX_PAGE_SIZE",
    "AdminKey",
    "AppContext",
    "ContextDep",
    "CurrentKey",
    "IfMatchDep",
    "OperatorKey",
    "PageDep",
    "PageParams",
    "SessionDep",
    "ViewerKey",
    "actor_of",
    "expected_version",
    "notify_plan_changed",
]

logger = logging.getLogger(__name__)

#: Largest page a listing returns.
MAX_PAGE_SIZE: Final = 500
_ENTITY_TAG: Final = re.compile(r'^\s*"(\d{1,9})"\s*$')


@dataclass(frozen=True, slots=True)
class AppContext:
    """Everything ``create_app`` was given; stored on ``app.state``, never global."""

    session_factory: sessionmaker[Session]
    realm: str
    plan_source: PlanSource
    registrations: RegistrationSource
    security_blocks: SecurityBlockSource | None = None
    """The SIP guard's blocks; ``None`` when no SIP stack runs beside the API."""
    stats: StatsSource | None = None
    """The SIP side's counters; ``None`` when no SIP stack runs beside the API."""
    metrics_token: str | None = None
    """Bearer token ``/metrics`` requires; ``None``: no token."""


def _context(request: Request) -> AppContext:
    context = request.app.state.context
    assert isinstance(context, AppContext)
    return context


ContextDep = Annotated[AppContext, Depends(_context)]


def _session(context: ContextDep) -> Iterator[Session]:
    with context.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(_session)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rh_…`")


def _current_key(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKeyRecord:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = authenticate(session, secret=credentials.credentials)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return key


CurrentKey = Annotated[ApiKeyRecord, Depends(_current_key)]


def _require(role: Role) -> Callable[[ApiKeyRecord], ApiKeyRecord]:
    def check(key: CurrentKey) -> ApiKeyRecord:
        if key.role.rank < role.rank:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"api key {key.name} has role {key.role.value}; this needs {role.value}",
            )
        return key

    return check


ViewerKey = Annotated[ApiKeyRecord, Depends(_require(Role.VIEWER))]
OperatorKey = Annotated[ApiKeyRecord, Depends(_require(Role.OPERATOR))]
AdminKey = Annotated[ApiKeyRecord, Depends(_require(Role.ADMIN))]


def actor_of(key: ApiKeyRecord) -> Actor:
    """The audit-log author for writes made with ``key``."""
    return Actor(name=key.name, api_key_id=key.id)


@dataclass(frozen=True, slots=True)
class PageParams:
    """``skip`` and ``limit`` of a listing."""

    skip: int
    limit: int


def _page(
    skip: Annotated[int, Query(ge=0, le=2_147_483_647, description="Rows to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows to return")] = 100,
) -> PageParams:
    return PageParams(skip=skip, limit=limit)


PageDep = Annotated[PageParams, Depends(_page)]


def _if_match(
    if_match: Annotated[
        str | None,
        Header(
            description='The ETag of the version being changed, e.g. `"3"`; `*` for any.',
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    # RFC 9110 §13.1.1: If-Match compares strongly, so a weak tag (W/"3") never matches.
    match = _ENTITY_TAG.match(if_match)
    if match is None:
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED,
            f'If-Match {if_match!r} is not an entity tag of this API, such as "3"',
        )
    return int(match.group(1))


IfMatchDep = Annotated[int | None, Depends(_if_match)]


def notify_plan_changed(context: AppContext) -> None:
    """Tell the live proxy to reload after a committed write.

    The write is committed whatever happens here; if the reload fails, the proxy
    keeps its previous plan and its ``plan_state`` poll retries, so the failure is
    logged rather than reported to the client as a failed write.
    """
    try:
        context.plan_source.reload_now()
    except Exception:
        logger.exception("plan reload after a committed write failed; the poller will retry")


def expected_version(if_match: int | None, body_version: int | None) -> int | None:
    """The version a write expects: ``If-Match`` if sent, else the body's ``version``."""
    return if_match if if_match is not None else body_version
