"""``/dial-rules``: priority-ordered patterns; the plan compiler vets each save."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Query, Response, status

from api.deps import (
    ContextDep,
    IfMatchDep,
    OperatorKey,
    PageDep,
    SessionDep,
    ViewerKey,
    actor_of,
    expected_version,
    notify_plan_changed,
)
from api.routers._common import (
    ERROR_RESPONSES,
    IdPath,
    IdQuery,
    after_write,
    changes_of,
    page_of,
    with_etag,
)
from api.schemas import DialRuleCreate, DialRulePublic, DialRulesPublic, DialRuleUpdate
from dialplan.model import DestinationKind
from dialplan.storage.services import dial_rules
from dialplan.storage.services.dial_rules import DialRuleChanges, NewDialRule

__all__ = ["router"]

router = APIRouter(prefix="/dial-rules", tags=["dial rules"], responses=ERROR_RESPONSES)


@router.get("")
def list_dial_rules(
    session: SessionDep,
    key: ViewerKey,
    page: PageDep,
    destination: Annotated[DestinationKind | None, Query()] = None,
    trunk_id: IdQuery = None,
) -> DialRulesPublic:
    """List dial rules in priority order (the order they are tried)."""
    result = dial_rules.list_dial_rules(
        session, destination=destination, trunk_id=trunk_id, skip=page.skip, limit=page.limit
    )
    return page_of(DialRulesPublic, DialRulePublic, result)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_dial_rule(
    body: DialRuleCreate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    response: Response,
) -> DialRulePublic:
    """Create a dial rule; 422 carries the compiler's reasons if the plan would break."""
    record = dial_rules.create_dial_rule(
        session, actor=actor_of(key), realm=context.realm, new=NewDialRule(**body.model_dump())
    )
    return after_write(context, response, DialRulePublic, record)


@router.get("/{rule_id}")
def get_dial_rule(
    rule_id: IdPath, session: SessionDep, key: ViewerKey, response: Response
) -> DialRulePublic:
    """Return one dial rule."""
    record = dial_rules.get_dial_rule(session, rule_id=rule_id)
    return with_etag(response, DialRulePublic, record)


@router.patch("/{rule_id}")
def update_dial_rule(
    rule_id: IdPath,
    body: DialRuleUpdate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
    response: Response,
) -> DialRulePublic:
    """Change a dial rule."""
    record = dial_rules.update_dial_rule(
        session,
        actor=actor_of(key),
        realm=context.realm,
        rule_id=rule_id,
        changes=cast(DialRuleChanges, changes_of(body)),
        expected_version=expected_version(if_match, body.version),
    )
    return after_write(context, response, DialRulePublic, record)


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dial_rule(
    rule_id: IdPath,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
) -> None:
    """Delete a dial rule."""
    dial_rules.delete_dial_rule(
        session,
        actor=actor_of(key),
        realm=context.realm,
        rule_id=rule_id,
        expected_version=if_match,
    )
    notify_plan_changed(context)
