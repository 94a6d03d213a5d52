"""The compiled NumberingPlan: accessors, statistics, immutability.

Covers: extension, short-number, mobile and trunk look-ups with their resolved names
and sites; digest credentials; statistics and rule order; read-only mappings and
frozen fields; identity equality; an empty plan.

Leaves out: validation (test_compiler.py, test_compiler_numbers.py).
"""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from dialplan.engine import NumberingPlan, TrunkInfo, compile_plan
from dialplan.model import PlanRows


def test_county_plan_compiles(plan: NumberingPlan) -> None:
    assert plan.realm == "pingan.gov.example"
    assert plan.version == 7


def test_plan_accessors(plan: NumberingPlan) -> None:
    director = plan.extension("8101")
    assert director is not None
    assert (director.display_name, director.unit_name, director.site_name) == (
        "王县长",
        "县政府办公室",
        "应急指挥中心",
    )
    assert director.priority_site is True
    assert director.class_of_service == "全功能"
    assert director.label == "extension 8101 (县政府办公室 王县长)"
    secretary = plan.extension("8002")
    assert secretary is not None
    assert (secretary.priority_site, secretary.forward_busy, secretary.no_answer_seconds) == (
        False,
        "8003",
        15,
    )
    no_site = plan.extension("8103")
    assert no_site is not None
    assert (no_site.site_name, no_site.priority_site) == (None, False)
    assert plan.extension("8999") is None


def test_extension_carries_digest_credentials(plan: NumberingPlan) -> None:
    info = plan.extension("8001")
    assert info is not None
    assert info.ha1_md5 == hashlib.md5(b"8001:pingan.gov.example:pw8001").hexdigest()
    assert info.ha1_sha256 == hashlib.sha256(b"8001:pingan.gov.example:pw8001").hexdigest()


def test_short_number_accessors(plan: NumberingPlan) -> None:
    info = plan.short_number("61001")
    assert info is not None
    assert (info.mobile_e164, info.person_name, info.unit_name, info.desk_extension) == (
        "+8613800000001",
        "张三",
        "县委办公室",
        "8001",
    )
    assert plan.short_number_for_mobile("+8613800000002") == plan.short_number("61002")
    assert plan.short_number("69999") is None
    assert plan.short_number_for_mobile("+8613899999999") is None


def test_trunk_by_name_or_id(plan: NumberingPlan) -> None:
    expected = TrunkInfo(1, "cm-county", True, "10.10.0.1", 5060, "udp")
    assert plan.trunk("cm-county") == expected
    assert plan.trunk(1) == expected
    assert plan.trunk("nope") is None
    assert plan.trunk(99) is None


def test_plan_stats_and_rule_order(plan: NumberingPlan) -> None:
    stats = plan.stats
    assert (stats.units, stats.sites, stats.blocks, stats.trunks, stats.rules) == (7, 4, 6, 2, 12)
    assert (stats.extensions, stats.enabled_extensions, stats.short_numbers) == (24, 22, 3)
    assert stats.index_states == plan.index.size
    priorities = [rule.priority for rule in plan.rules]
    assert priorities == sorted(priorities)
    assert plan.is_emergency("110")
    assert not plan.is_emergency("112")


def test_plan_is_immutable(plan: NumberingPlan) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.version = 8  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.extensions["8999"] = plan.extensions["8001"]  # type: ignore[index]
    with pytest.raises(TypeError):
        plan.index.transitions[0] = 1  # type: ignore[index]


def test_plan_equality_is_identity(rows: PlanRows) -> None:
    first, second = compile_plan(rows), compile_plan(rows)
    assert first != second
    assert first == first
    assert "NumberingPlan(realm='pingan.gov.example', version=7" in repr(first)


def test_empty_plan_compiles() -> None:
    plan = compile_plan(PlanRows(realm="empty.example"))
    assert plan.stats.extensions == 0
    assert plan.rules == ()
