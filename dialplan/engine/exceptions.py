"""Errors of the numbering-plan engine.

Routing never raises: "no route", "incomplete number" and refusals are
:class:`~dialplan.engine.decisions.Reject` decisions. Errors exist only for plans that
cannot be compiled and for malformed dial-rule patterns::

    DialplanError
    ├── PlanError       compile_plan refused the rows; ``problems`` lists every one
    └── PatternError    a dial-rule pattern does not parse; the message names why
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DialplanError", "PatternError", "PlanError", "PlanProblem"]


class DialplanError(Exception):
    """Root of the numbering-plan engine's errors."""


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """One reason why a numbering plan cannot be compiled."""

    kind: str
    """Machine-readable category, e.g. ``"block_overlap"`` or ``"unknown_trunk"``."""
    object_kind: str
    """Which table the offending row lives in: ``"extension"``, ``"dial_rule"``, ..."""
    object_id: int | None
    """Row id of the offending object; ``None`` for problems of the plan as a whole."""
    message: str
    """Operator-facing text that names the object and the offending value."""


class PlanError(DialplanError):
    """The rows do not form a valid numbering plan.

    ``problems`` holds every problem found, in a stable order, not only the first, so
    an operator can fix a whole import in one pass.
    """

    def __init__(self, problems: tuple[PlanProblem, ...]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


class PatternError(DialplanError):
    """A dial-rule pattern is malformed; the message names the pattern and the fault."""
