"""The live numbering plan: build the new plan beside the old one, then swap one reference.

Like Kamailio's ``dialplan/dp_db.c`` reload: a plan that fails to compile never replaces the
working one; the caller gets the compiler's reasons and the proxy keeps routing with the
last good plan. Reading ``current`` is a single attribute load, so the SIP core sees either
the old or the new plan, never a mixture, and calls in progress are unaffected.
"""

from __future__ import annotations

from dialplan.engine import NumberingPlan, PlanError, compile_plan
from dialplan.model import PlanRows

__all__ = ["PlanHolder"]


class PlanHolder:
    """Holds the plan the proxy routes with."""

    def __init__(self, plan: NumberingPlan) -> None:
        self._plan = plan

    @property
    def current(self) -> NumberingPlan:
        """The live plan."""
        return self._plan

    def replace(self, rows: PlanRows) -> PlanError | None:
        """Compile ``rows`` and swap it in; on failure keep the old plan and return the error."""
        try:
            plan = compile_plan(rows)
        except PlanError as error:
            return error
        self._plan = plan
        return None
