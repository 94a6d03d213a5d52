"""Helpers shared by the dial-plan tests: compact decisions and problem lists."""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

import pytest

from dialplan.engine import (
    CallerContext,
    ConferenceRoom,
    ExternalRoute,
    LocalExtension,
    NumberingPlan,
    PlanError,
    Reject,
    RouteDecision,
    compile_plan,
    route,
)
from dialplan.model import PlanRows

#: The time every test routes at; no decision depends on it.
AT = datetime(2026, 3, 2, 9, 30)

Problem = tuple[str, str, int | None, str]


def summary(decision: RouteDecision) -> tuple[object, ...]:
    """The decision without its explanation, as a compact tuple."""
    match decision:
        case LocalExtension():
            return ("ring", decision.extension.number)
        case ExternalRoute():
            return ("out", decision.kind, decision.trunk.name, decision.number)
        case ConferenceRoom():
            return ("room", decision.room)
        case Reject():
            return ("reject", decision.status_code, decision.reason)
        case _:
            assert_never(decision)


def dial(
    plan: NumberingPlan, dialed: str, caller: str | None = "8001", trunk: str | None = None
) -> RouteDecision:
    """Route ``dialed`` from extension ``caller`` (or a trunk) at :data:`AT`."""
    return route(plan, dialed, CallerContext(caller, trunk), AT)


def problems_of(rows: PlanRows) -> list[Problem]:
    """The problems compile_plan reports for ``rows``, as tuples; it must refuse them."""
    with pytest.raises(PlanError) as caught:
        compile_plan(rows)
    return [
        (problem.kind, problem.object_kind, problem.object_id, problem.message)
        for problem in caught.value.problems
    ]
