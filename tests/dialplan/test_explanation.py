"""Explanations of route() decisions, as the REST API's route test prints them.

Covers: the matched text and every step, in order (normalisation, match, class of
service, forwarding, digit manipulation, result), for forwarding to an external
number, a class-of-service refusal, a short number, an emergency call, an unknown
number, a conference room, and escaping of untrusted input in reasons.

Leaves out: the decisions themselves (test_engine.py).
"""

from __future__ import annotations

from dialplan.engine import NumberingPlan, Reject
from tests.dialplan.helpers import dial


def test_explanation_of_forwarding_to_external_number(plan: NumberingPlan) -> None:
    decision = dial(plan, "8105")
    assert decision.explanation.matched == "extension 8105 (县政府办公室 孙科员)"
    assert decision.explanation.steps == (
        "dialed '8105'",
        "matched extension 8105 (县政府办公室 孙科员)",
        "class of service '全功能' of 8001 allows extension",
        "8105 forwards all calls to 013912345678 (hop 1); the forwarded call is dialed as by 8105",
        "matched rule #7 '01[3-9]XXXXXXXXX' external_national (priority 60)",
        "class of service '国内长途' of 8105 allows external_national",
        "strip 1, prepend '': '013912345678' becomes '13912345678'",
        "send '13912345678' to trunk 'cm-county'",
    )


def test_explanation_of_class_of_service_refusal(plan: NumberingPlan) -> None:
    decision = dial(plan, "0371 6512 3456", caller="8003")
    assert str(decision.explanation) == "\n".join(
        [
            "matched: rule #8 '0[1-9]X.' external_national (priority 70)",
            "1. normalised '0371 6512 3456' to '037165123456'",
            "2. matched rule #8 '0[1-9]X.' external_national (priority 70)",
            "3. reject 403 Forbidden: class of service '本地' of 8003 does not allow "
            "external_national",
        ]
    )


def test_explanation_of_short_number_and_emergency(plan: NumberingPlan) -> None:
    assert dial(plan, "61002").explanation.steps[2:] == (
        "class of service '全功能' of 8001 allows short_number",
        "short number 61002 is mobile +8613800000002, carried by rule #3 '6XXXX' short_number",
        "send '+8613800000002' to trunk 'cm-county'",
    )
    emergency = dial(plan, "110", caller="8399")
    assert emergency.explanation.matched == "emergency number 110"
    assert emergency.explanation.steps[2] == "emergency call: class of service not checked"


def test_explanation_of_unknown_number(plan: NumberingPlan) -> None:
    decision = dial(plan, "8500")
    assert decision.explanation.matched == "nothing"
    assert decision.explanation.steps == (
        "dialed '8500'",
        "reject 404 Not Found: no extension, short number or dial rule matches '8500'",
    )


def test_explanation_of_conference_room(plan: NumberingPlan) -> None:
    assert dial(plan, "7901").explanation.steps[1:] == (
        "matched rule #5 '79XX' conference (priority 40)",
        "digits unchanged: '7901'",
        "class of service '全功能' of 8001 allows conference",
        "join conference room 7901",
    )


def test_invalid_characters_are_quoted_and_truncated(plan: NumberingPlan) -> None:
    decision = dial(plan, "x" * 100)
    assert isinstance(decision, Reject)
    assert decision.reason == f"Not Found: invalid characters in dialed number '{'x' * 40}…'"
