"""Pure numbering-plan engine: compile validated rows, route dialed numbers.

``compile_plan(rows)`` validates :class:`~dialplan.model.PlanRows` once and builds an
immutable :class:`NumberingPlan` with a prefix index; ``route(plan, dialed, caller, at)``
turns a dialed number into a :data:`RouteDecision` that explains itself. Neither does
I/O, reads a clock or logs.
"""

from dialplan.engine.compiler import compile_plan
from dialplan.engine.decisions import (
    CallerContext,
    ConferenceRoom,
    Explanation,
    ExternalRoute,
    LocalExtension,
    Reject,
    RouteDecision,
)
from dialplan.engine.exceptions import DialplanError, PatternError, PlanError, PlanProblem
from dialplan.engine.info import DialRule, ExtensionInfo, ShortNumberInfo, TrunkInfo
from dialplan.engine.pattern import Pattern, parse_pattern
from dialplan.engine.plan import NumberingPlan, PlanStats
from dialplan.engine.router import MAX_DIALED_LENGTH, MAX_FORWARD_HOPS, route

__all__ = [
    "CallerContext",
    "ConferenceRoom",
    "DialRule",
    "DialplanError",
    "Explanation",
    "ExtensionInfo",
    "ExternalRoute",
    "LocalExtension",
    "MAX_DIALED_LENGTH",
    "MAX_FORWARD_HOPS",
    "NumberingPlan",
    "Pattern",
    "PatternError",
    "PlanError",
    "PlanProblem",
    "PlanStats",
    "Reject",
    "RouteDecision",
    "ShortNumberInfo",
    "TrunkInfo",
    "compile_plan",
    "parse_pattern",
    "route",
]
