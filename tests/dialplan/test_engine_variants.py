"""route() in variants of the county plan: emergency trunks, short-number trunks,
reject rules without description, an empty plan.

Covers: 503 when no enabled emergency trunk exists; an emergency rule with a disabled
trunk is passed over; an emergency number outside every emergency pattern goes out
unchanged by the first emergency rule; short numbers take the first short-number rule
whose pattern matches, else the first; a reject rule's default reason; routing with
no numbers and no rules.

Leaves out: the unmodified county plan (test_engine.py).
"""

from __future__ import annotations

from dataclasses import replace

from dialplan.engine import NumberingPlan, compile_plan
from dialplan.model import DestinationKind, DialRuleRow, PlanRows, TrunkRow
from tests.dialplan.helpers import dial, summary

D = DestinationKind


def with_rules(rows: PlanRows, *rules: DialRuleRow) -> NumberingPlan:
    others = tuple(rule for rule in rows.rules if rule.destination is not D.EMERGENCY)
    return compile_plan(replace(rows, rules=(*others, *rules)))


def test_emergency_without_emergency_trunk_is_refused_with_503(rows: PlanRows) -> None:
    plan = with_rules(rows)
    assert summary(dial(plan, "110", caller="8399")) == (
        "reject",
        503,
        "Service Unavailable: no enabled emergency trunk is configured to reach 110",
    )


def test_emergency_avoids_disabled_trunk(rows: PlanRows) -> None:
    plan = with_rules(
        rows,
        DialRuleRow(20, 1, "11X", 3, 3, D.EMERGENCY, trunk_id=2),
        DialRuleRow(21, 2, "1[12][029]", 3, 3, D.EMERGENCY, trunk_id=1, prepend="0371"),
    )
    assert summary(dial(plan, "110")) == ("out", D.EMERGENCY, "cm-county", "0371110")


def test_emergency_number_outside_every_emergency_pattern_is_sent_unchanged(
    rows: PlanRows,
) -> None:
    plan = with_rules(rows, DialRuleRow(20, 1, "11X", 3, 3, D.EMERGENCY, trunk_id=1, prepend="9"))
    assert summary(dial(plan, "110")) == ("out", D.EMERGENCY, "cm-county", "9110")
    decision = dial(plan, "120")
    assert summary(decision) == ("out", D.EMERGENCY, "cm-county", "120")
    assert decision.explanation.steps[3] == (
        "sent unchanged by rule #20 '11X' emergency, the first emergency rule with a trunk"
    )


def test_short_number_uses_first_matching_short_number_rule(rows: PlanRows) -> None:
    backup = DialRuleRow(20, 5, "62XXX", 5, 5, D.SHORT_NUMBER, trunk_id=3)
    plan = compile_plan(
        replace(
            rows,
            trunks=(*rows.trunks, TrunkRow(3, "cu-county")),
            rules=(*rows.rules, backup),
        )
    )
    assert summary(dial(plan, "62001")) == ("out", D.SHORT_NUMBER, "cu-county", "+8613900000003")
    assert summary(dial(plan, "61001")) == ("out", D.SHORT_NUMBER, "cm-county", "+8613800000001")


def test_short_number_outside_every_pattern_uses_first_short_number_rule(rows: PlanRows) -> None:
    rules = tuple(replace(rule, pattern="61XXX") if rule.id == 3 else rule for rule in rows.rules)
    plan = compile_plan(replace(rows, rules=rules))
    assert summary(dial(plan, "62001")) == ("out", D.SHORT_NUMBER, "cm-county", "+8613900000003")


def test_reject_rule_without_description_names_the_rule(rows: PlanRows) -> None:
    plan = compile_plan(
        replace(rows, rules=(*rows.rules, DialRuleRow(20, 200, "55XX", 4, 4, D.REJECT)))
    )
    assert summary(dial(plan, "5512")) == (
        "reject",
        403,
        "Forbidden: rule #20 '55XX' reject refuses '5512'",
    )


def test_route_in_an_empty_plan_finds_nothing() -> None:
    plan = compile_plan(PlanRows(realm="empty.example"))
    assert summary(dial(plan, "8001", caller=None)) == (
        "reject",
        404,
        "Not Found: no extension, short number or dial rule matches '8001'",
    )
