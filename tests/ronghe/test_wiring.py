"""The adapters between the live numbering plan and the proxy's ports.

Covers: ``PlanRouter`` treating a caller the plan does not know (the From user of a
trusted network's request) as an outside caller, while known extensions keep their
class of service and disabled ones stay refused. Not covered: ``watch_plan`` (it
needs a database; the integration tests reload plans through the API).
"""

from __future__ import annotations

from datetime import UTC, datetime

from dialplan.engine import (
    CallerContext,
    ExternalRoute,
    LocalExtension,
    NumberingPlan,
    Reject,
    compile_plan,
)
from ronghe.wiring import PlanRouter
from tests.dialplan.conftest import county_rows

AT = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


class FixedPlan:
    def __init__(self, plan: NumberingPlan) -> None:
        self.plan = plan

    def current(self) -> NumberingPlan:
        return self.plan


def router() -> PlanRouter:
    return PlanRouter(FixedPlan(compile_plan(county_rows())))


def test_a_caller_unknown_to_the_plan_reaches_an_extension_as_an_outside_caller() -> None:
    # Found by the integration tests: SIPp's built-in uac, trusted by network, calls
    # From "sipp" and was refused "calling extension 'sipp' is not in the numbering plan".
    decision = router().route("8001", CallerContext(extension="sipp"), AT)
    assert isinstance(decision, LocalExtension)
    assert decision.extension.number == "8001"


def test_a_caller_unknown_to_the_plan_gets_only_what_outside_callers_get() -> None:
    decision = router().route("013912345678", CallerContext(extension="13800138000"), AT)
    outside = router().route("013912345678", CallerContext(extension=None), AT)
    assert isinstance(decision, Reject)
    assert decision == outside


def test_a_known_extension_keeps_its_class_of_service() -> None:
    decision = router().route("013912345678", CallerContext(extension="8001"), AT)
    assert isinstance(decision, ExternalRoute)


def test_a_disabled_calling_extension_stays_refused() -> None:
    decision = router().route("8001", CallerContext(extension="8202"), AT)
    assert isinstance(decision, Reject)
    assert decision.reason == "Forbidden: calling extension 8202 is disabled"
