"""Pure numbering-plan engine: compile validated rows, route dialed numbers."""

from dialplan.engine.exceptions import DialplanError, PatternError, PlanError, PlanProblem

__all__ = ["DialplanError", "PatternError", "PlanError", "PlanProblem"]
