"""``/route-test``: route a dialed number with the live plan and explain the decision."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from api.deps import ContextDep, ViewerKey
from api.routers._common import ERROR_RESPONSES
from api.schemas import RouteTestRequest, RouteTestResult, route_test_result
from dialplan.engine import CallerContext, route

__all__ = ["router"]

router = APIRouter(tags=["route test"], responses=ERROR_RESPONSES)


@router.post("/route-test")
def route_test(body: RouteTestRequest, context: ContextDep, key: ViewerKey) -> RouteTestResult:
    """Decide what a call from ``caller`` to ``dialed`` would do, without placing it.

    Uses the plan the proxy routes with right now (``plan_version`` says which).
    """
    plan = context.plan_source.current()
    caller = CallerContext(extension=body.caller, trunk=body.caller_trunk)
    decision = route(plan, body.dialed, caller, body.at or datetime.now(UTC))
    return route_test_result(decision, plan.version)
