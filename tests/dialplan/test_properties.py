"""Hypothesis properties of the engine.

Covers: route() never raises for any dialed string (dial alphabet, separators and
junk) or caller, always returns one of the four decision types with an explanation,
and is deterministic; compile_plan() either returns a plan or raises PlanError for any
generated rows, never another exception, and a plan it returns routes any input
without raising.

Leaves out: whether the decisions are the right ones (test_engine.py) and agreement
of the index with the pattern matcher (test_index.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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
from dialplan.model import (
    EMERGENCY_NUMBERS,
    ClassOfServiceRow,
    DestinationKind,
    DialRuleRow,
    ExtensionRow,
    NumberBlockRow,
    PlanRows,
    ShortNumberRow,
    SiteRow,
    TrunkRow,
    UnitKind,
    UnitRow,
)
from tests.dialplan.conftest import county_rows
from tests.dialplan.helpers import AT

DIALED = st.text(alphabet="0123456789*#+ -().xX\r\n\x00汉８", max_size=40) | st.text(max_size=40)
CALLERS = st.builds(
    CallerContext,
    st.sampled_from([None, "8001", "8202", "8399", "8999", "8104", "\r\n"]),
    st.sampled_from([None, "cm-county", "unknown"]),
)
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_well_formed(decision: RouteDecision) -> None:
    assert isinstance(decision, LocalExtension | ExternalRoute | ConferenceRoom | Reject)
    assert decision.explanation.matched
    assert decision.explanation.steps
    if isinstance(decision, Reject):
        # The reason becomes a SIP reason phrase: no line breaks may leak into it.
        assert "\r" not in decision.reason
        assert "\n" not in decision.reason


@SETTINGS
@given(dialed=DIALED, caller=CALLERS)
@example(dialed="8001\r\nVia: SIP/2.0/UDP evil", caller=CallerContext("8001"))
@example(dialed="+" * 32, caller=CallerContext(None))
@example(dialed="0" * 33, caller=CallerContext("8001"))
def test_route_never_raises_and_returns_a_decision(
    plan: NumberingPlan, dialed: str, caller: CallerContext
) -> None:
    decision = route(plan, dialed, caller, AT)
    assert_well_formed(decision)
    assert route(plan, dialed, caller, AT) == decision


IDS = st.integers(min_value=0, max_value=4)
NUMBERS = st.sampled_from(
    ["8001", "8002", "8099", "61001", "110", "80a1", "", "8", "８"]
) | st.text(max_size=6)
NAMES = st.sampled_from(["县委办公室", "城关镇", "张三", "a\nb", ""]) | st.text(max_size=4)
KINDS = st.sampled_from(list(DestinationKind))
PATTERNS = st.sampled_from(
    ["8XXX", "6XXXX", "0.", "1[12][029]", "[5-1]", ".", "9N.", "X"]
) | st.text(alphabet="0189XNZ[]-.*#+a", max_size=8)
SMALL = st.integers(min_value=-2, max_value=20)
EXTENSIONS = st.builds(
    ExtensionRow,
    id=IDS,
    number=NUMBERS,
    display_name=NAMES,
    unit_id=IDS,
    site_id=st.none() | IDS,
    class_of_service_id=IDS,
    enabled=st.booleans(),
    ha1_md5=st.just(""),
    ha1_sha256=st.just(""),
    forward_unconditional=st.none() | NUMBERS,
    forward_busy=st.none() | NUMBERS,
    forward_no_answer=st.none() | NUMBERS,
    no_answer_seconds=st.sampled_from([20, 0, 301]),
)
RULES = st.builds(
    DialRuleRow,
    id=IDS,
    priority=IDS,
    pattern=PATTERNS,
    min_length=SMALL,
    max_length=SMALL,
    destination=KINDS,
    trunk_id=st.none() | IDS,
    strip=SMALL,
    prepend=st.sampled_from(["", "0", "+86", "x"]),
    description=NAMES,
)
ROWS = st.builds(
    PlanRows,
    realm=st.sampled_from(["pingan.gov.example", "", "a b"]),
    units=st.lists(
        st.builds(UnitRow, IDS, st.none() | IDS, NAMES, st.just("u"), st.sampled_from(UnitKind)),
        max_size=4,
    ).map(tuple),
    sites=st.lists(
        st.builds(SiteRow, IDS, IDS, NAMES, st.booleans(), st.just("lan")), max_size=2
    ).map(tuple),
    blocks=st.lists(
        st.builds(
            NumberBlockRow,
            IDS,
            IDS,
            st.sampled_from(["8000", "8050", "61000", "82a0"]),
            st.sampled_from(["8099", "8049", "61999", "8"]),
        ),
        max_size=3,
    ).map(tuple),
    classes_of_service=st.lists(
        st.builds(ClassOfServiceRow, IDS, NAMES, st.frozensets(KINDS)), max_size=2
    ).map(tuple),
    extensions=st.lists(EXTENSIONS, max_size=4).map(tuple),
    short_numbers=st.lists(
        st.builds(
            ShortNumberRow,
            IDS,
            NUMBERS,
            st.sampled_from(["+8613800000001", "+8613800000002", "13800000001"]),
            NAMES,
            IDS,
            st.none() | NUMBERS,
        ),
        max_size=3,
    ).map(tuple),
    trunks=st.lists(st.builds(TrunkRow, IDS, NAMES, st.booleans()), max_size=2).map(tuple),
    rules=st.lists(RULES, max_size=4).map(tuple),
    version=st.integers(),
    emergency_numbers=st.just(EMERGENCY_NUMBERS) | st.frozensets(NUMBERS, max_size=3),
)
_T = TypeVar("_T")


@st.composite
def county_variants(draw: st.DrawFn) -> PlanRows:
    """The county plan with rows dropped and perhaps a generated rule or extension
    added: mostly valid plans, so that the routing half of the property runs too."""
    rows = county_rows()

    def some(items: tuple[_T, ...]) -> tuple[_T, ...]:
        return tuple(draw(st.lists(st.sampled_from(items), unique=True, max_size=len(items))))

    # Generated rows get ids and priorities of their own, so they add their own faults
    # rather than colliding with the county's rows.
    extra_extensions = tuple(
        replace(row, id=100 + row.id) for row in draw(st.lists(EXTENSIONS, max_size=1))
    )
    extra_rules = tuple(
        replace(row, id=100 + row.id, priority=1000 + row.priority)
        for row in draw(st.lists(RULES, max_size=1))
    )
    if draw(st.integers(0, 3)):  # three times in four, only drop rows: a valid plan
        extra_extensions = extra_rules = ()
    return replace(
        rows,
        # 8001 stays: short number 61001 names it as desk extension.
        extensions=rows.extensions[:1] + some(rows.extensions[1:]) + extra_extensions,
        short_numbers=some(rows.short_numbers),
        # Rule #3 stays: short numbers need a short-number rule.
        rules=rows.rules[2:3] + some(rows.rules[:2] + rows.rules[3:]) + extra_rules,
    )


@SETTINGS
@given(
    rows=st.one_of(ROWS, county_variants(), county_variants()),
    dialed=st.lists(DIALED, max_size=5),
    caller=CALLERS,
)
def test_compile_returns_a_plan_or_raises_plan_error(
    rows: PlanRows, dialed: list[str], caller: CallerContext
) -> None:
    try:
        plan = compile_plan(rows)
    except PlanError as error:
        refused = error
    else:
        for number in [*dialed, "8001", "61001", "110", "013912345678", "8110"]:
            assert_well_formed(route(plan, number, caller, AT))
        return
    assert refused.problems
    assert str(refused) == "; ".join(problem.message for problem in refused.problems)
