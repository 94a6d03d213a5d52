"""route(): decisions over the county plan of conftest.py.

Covers: calls between county offices, townships and departments; short numbers to the
carrier trunk with the E.164 number (dialed exactly and as 9 + code); emergency
numbers from a restricted phone and from disabled, unknown, anonymous and trunk
callers; unknown (404) and incomplete (484) numbers, including rule length bounds;
malformed and over-long input; disabled extensions as destination and as caller;
class-of-service refusals with the exact reason; reject rules; conference rooms;
unconditional forwarding to extensions and external numbers, loops (482) and
over-long chains (483); busy and no-answer forwarding handed to the proxy; strip and
prepend; disabled trunks; determinism.

Leaves out: explanations (test_explanation.py), routing in modified plans
(test_engine_variants.py), time-of-day rules (the plan model has none; ``at`` is
accepted and ignored) and arbitrary input (test_properties.py).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from dialplan.engine import CallerContext, LocalExtension, NumberingPlan, compile_plan, route
from dialplan.model import DestinationKind, PlanRows
from tests.dialplan.helpers import AT, dial, summary

D = DestinationKind


ROUTES = [
    # Internal calls between levels of the county.
    ("8001", "8201", ("ring", "8201")),  # county office -> township
    ("8301", "8351", ("ring", "8351")),  # department -> department
    ("8241", "8101", ("ring", "8101")),  # township -> county government
    ("8399", "8001", ("ring", "8001")),  # internal-only phone may call extensions
    # Short numbers leave by the carrier trunk with the full mobile number.
    ("8001", "61001", ("out", D.SHORT_NUMBER, "cm-county", "+8613800000001")),
    ("8241", "62001", ("out", D.SHORT_NUMBER, "cm-county", "+8613900000003")),
    ("8001", "961002", ("out", D.SHORT_NUMBER, "cm-county", "+8613800000002")),
    (
        "8001",
        "969999",
        ("reject", 404, "Not Found: rule #12 '96XXXX' short_number gives '69999', no short number"),
    ),
    (
        "8001",
        "69999",
        ("reject", 404, "Not Found: rule #3 '6XXXX' short_number gives '69999', no short number"),
    ),
    # Emergency numbers bypass class of service.
    ("8399", "110", ("out", D.EMERGENCY, "cm-county", "110")),
    ("8399", "119", ("out", D.EMERGENCY, "cm-county", "119")),
    ("8399", "120", ("out", D.EMERGENCY, "cm-county", "120")),
    ("8399", "122", ("out", D.EMERGENCY, "cm-county", "122")),
    ("8399", "112", ("out", D.EMERGENCY, "cm-county", "112")),  # by the emergency rule
    ("8202", "110", ("out", D.EMERGENCY, "cm-county", "110")),  # disabled caller
    ("8999", "120", ("out", D.EMERGENCY, "cm-county", "120")),  # unknown caller
    (None, "119", ("out", D.EMERGENCY, "cm-county", "119")),  # anonymous caller
    # External numbers with digit manipulation.
    ("8001", "013912345678", ("out", D.EXTERNAL_NATIONAL, "cm-county", "13912345678")),
    ("8001", "13912345678", ("out", D.EXTERNAL_NATIONAL, "cm-county", "013912345678")),
    ("8001", "0371-6512-3456", ("out", D.EXTERNAL_NATIONAL, "cm-county", "037165123456")),
    ("8241", "9 6512 3456", ("out", D.EXTERNAL_LOCAL, "cm-county", "65123456")),
    ("8001", "(0012) 125-551-234", ("out", D.EXTERNAL_INTERNATIONAL, "cm-county", "0012125551234")),
    (
        "8001",
        "1795101012345678",
        ("reject", 503, "Service Unavailable: trunk 'ct-backup' is disabled"),
    ),
    # Legacy 7-prefix numbers map to extensions.
    ("8001", "78201", ("ring", "8201")),
    (
        "8001",
        "78999",
        ("reject", 404, "Not Found: rule #4 '78XXX' extension gives '8999', no extension"),
    ),
    # Conference rooms.
    ("8001", "7901", ("room", "7901")),
    (
        "8399",
        "7901",
        ("reject", 403, "Forbidden: class of service '内线' of 8399 does not allow conference"),
    ),
    # Reject rules.
    ("8001", "90123", ("reject", 403, "Forbidden: 禁止拨打 90 开头的声讯号码")),
    # Class of service.
    (
        "8003",
        "0012125551234",
        (
            "reject",
            403,
            "Forbidden: class of service '本地' of 8003 does not allow external_international",
        ),
    ),
    (
        "8241",
        "013912345678",
        (
            "reject",
            403,
            "Forbidden: class of service '本地' of 8241 does not allow external_national",
        ),
    ),
    (
        "8399",
        "61001",
        ("reject", 403, "Forbidden: class of service '内线' of 8399 does not allow short_number"),
    ),
    ("8202", "8001", ("reject", 403, "Forbidden: calling extension 8202 is disabled")),
    (
        "8999",
        "8001",
        ("reject", 403, "Forbidden: calling extension '8999' is not in the numbering plan"),
    ),
    (None, "8001", ("ring", "8001")),
    (
        None,
        "61001",
        (
            "reject",
            403,
            "Forbidden: anonymous callers may reach only extension and emergency numbers, not "
            "short_number",
        ),
    ),
    # Disabled destinations, even when they forward.
    ("8001", "8202", ("reject", 403, "Forbidden: extension 8202 is disabled")),
    ("8001", "8203", ("reject", 403, "Forbidden: extension 8203 is disabled")),
    # Unconditional forwarding.
    ("8001", "8103", ("ring", "8101")),
    ("8001", "8105", ("out", D.EXTERNAL_NATIONAL, "cm-county", "13912345678")),
    (
        "8001",
        "8104",  # the forwarding extension's class of service applies
        (
            "reject",
            403,
            "Forbidden: class of service '本地' of 8104 does not allow external_national",
        ),
    ),
    ("8399", "8105", ("out", D.EXTERNAL_NATIONAL, "cm-county", "13912345678")),
    ("8001", "8110", ("reject", 482, "Loop Detected: forwarding loop 8110 -> 8111 -> 8110")),
    ("8001", "8121", ("ring", "8126")),  # five hops are fine
    (
        "8001",
        "8120",
        (
            "reject",
            483,
            "Too Many Hops: forwarding chain 8120 -> 8121 -> 8122 -> 8123 -> 8124 -> 8125 -> 8126 "
            "exceeds 5 hops",
        ),
    ),
    # Unknown and incomplete numbers.
    (
        "8001",
        "8500",
        ("reject", 404, "Not Found: no extension, short number or dial rule matches '8500'"),
    ),
    (
        "8001",
        "5555",
        ("reject", 404, "Not Found: no extension, short number or dial rule matches '5555'"),
    ),
    (
        "8001",
        "#",
        ("reject", 404, "Not Found: no extension, short number or dial rule matches '#'"),
    ),
    (
        "8001",
        "82011",
        ("reject", 404, "Not Found: no extension, short number or dial rule matches '82011'"),
    ),
    (
        "8001",
        "00" + "1" * 19,  # longer than the international rule's max_length 20
        (
            "reject",
            404,
            f"Not Found: no extension, short number or dial rule matches '00{'1' * 19}'",
        ),
    ),
    ("8001", "8", ("reject", 484, "Address Incomplete: '8' is the beginning of a longer number")),
    (
        "8001",
        "820",
        ("reject", 484, "Address Incomplete: '820' is the beginning of a longer number"),
    ),
    (
        "8001",
        "6100",
        ("reject", 484, "Address Incomplete: '6100' is the beginning of a longer number"),
    ),
    ("8001", "11", ("reject", 484, "Address Incomplete: '11' is the beginning of a longer number")),
    (
        "8001",
        "0139",
        ("reject", 484, "Address Incomplete: '0139' is the beginning of a longer number"),
    ),
    (
        "8001",
        "0012",
        ("reject", 484, "Address Incomplete: '0012' is the beginning of a longer number"),
    ),
    ("8001", "90", ("reject", 484, "Address Incomplete: '90' is the beginning of a longer number")),
    (
        "8001",
        "17951010",
        ("reject", 484, "Address Incomplete: '17951010' is the beginning of a longer number"),
    ),
    ("8001", "", ("reject", 484, "Address Incomplete: nothing was dialed")),
    ("8001", " - ", ("reject", 484, "Address Incomplete: nothing was dialed")),
    # Malformed input.
    ("8001", "80a1", ("reject", 404, "Not Found: invalid characters in dialed number '80a1'")),
    (
        "8001",
        "8001\r\nVia: x",
        ("reject", 404, "Not Found: invalid characters in dialed number '8001\\r\\nVia:x'"),
    ),
    (
        "8001",
        "８００１",
        ("reject", 404, "Not Found: invalid characters in dialed number '８００１'"),
    ),
    ("8001", "0" * 33, ("reject", 404, "Not Found: dialed number has 33 characters, more than 32")),
]


@pytest.mark.parametrize(("caller", "dialed", "expected"), ROUTES)
def test_route(
    plan: NumberingPlan, caller: str | None, dialed: str, expected: tuple[object, ...]
) -> None:
    assert summary(dial(plan, dialed, caller)) == expected


@pytest.mark.parametrize(
    ("dialed", "expected"),
    [
        ("8001", ("ring", "8001")),
        ("110", ("out", D.EMERGENCY, "cm-county", "110")),
        (
            "61001",
            (
                "reject",
                403,
                "Forbidden: callers from trunk 'cm-county' may reach only extension and emergency "
                "numbers, not short_number",
            ),
        ),
        (
            "013912345678",
            (
                "reject",
                403,
                "Forbidden: callers from trunk 'cm-county' may reach only extension and emergency "
                "numbers, not external_national",
            ),
        ),
    ],
)
def test_route_from_trunk_ignores_extension(
    plan: NumberingPlan, dialed: str, expected: tuple[object, ...]
) -> None:
    assert summary(dial(plan, dialed, caller="8001", trunk="cm-county")) == expected


def test_local_extension_carries_busy_and_no_answer_forwarding(plan: NumberingPlan) -> None:
    decision = dial(plan, "8002")
    assert isinstance(decision, LocalExtension)
    assert (decision.forward_busy, decision.forward_no_answer, decision.no_answer_seconds) == (
        "8003",
        "8003",
        15,
    )
    assert decision.extension.site_name == "县委大院"
    assert decision.explanation.steps[-1] == (
        "ring extension 8002; if busy forward to 8003; after 15 s without answer forward to 8003"
    )


def test_priority_site_extension_is_marked_for_video(plan: NumberingPlan) -> None:
    decision = dial(plan, "8102")
    assert isinstance(decision, LocalExtension)
    assert decision.extension.priority_site is True
    assert decision.extension.site_name == "应急指挥中心"


def test_route_is_deterministic_and_ignores_the_clock(rows: PlanRows, plan: NumberingPlan) -> None:
    again = compile_plan(rows)
    for caller, dialed, _ in ROUTES:
        first = route(plan, dialed, CallerContext(caller), AT)
        assert route(plan, dialed, CallerContext(caller), AT) == first
        assert route(again, dialed, CallerContext(caller), datetime(2027, 1, 1, 3, 0)) == first
