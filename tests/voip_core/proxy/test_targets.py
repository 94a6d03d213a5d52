"""RFC 3261 §16.5 target determination as a pure decision (voip_core.proxy.targets).

Covers: the decision is a value (the same request at the same time decides the same
Targets), a registered extension's contacts form one parallel set in q order, an
extension without contacts is a 480 Reply, a URI without user is 404, Targets refuses
empty sets, and the request side refuses several target sets with 500 instead of
forwarding only the first. The forwarding of each case is in test_core.py. Not covered:
serial forking over several sets (not implemented yet).
"""

from __future__ import annotations

import pytest

from dialplan.engine import CallerContext
from tests.voip_core.proxy.harness import (
    CALLER,
    DOMAIN,
    PHONE_A,
    PHONE_B,
    WALL_START,
    FakeLocation,
    PlanRouter,
    ProxyHarness,
    invite,
    make_config,
    response_to,
    summary,
)
from voip_core.proxy import request_handler
from voip_core.proxy.forwarding import Target
from voip_core.proxy.routing import RouteResult
from voip_core.proxy.targets import Reply, Targets, determine_targets

CALLER_8000 = CallerContext(extension="8000")


def decide(location: FakeLocation, uri: str) -> Targets | Reply:
    routed = RouteResult(request=invite(uri), flow=None, removed=0)
    return determine_targets(
        routed,
        caller=CALLER_8000,
        config=make_config(),
        location=location,
        router=PlanRouter(),
        wall=WALL_START,
    )


def test_registered_extension_is_one_parallel_set_of_its_contacts() -> None:
    location = FakeLocation()
    location.register(f"sip:8001@{DOMAIN}", PHONE_A, PHONE_B)

    decision = decide(location, f"sip:8001@{DOMAIN}")

    assert isinstance(decision, Targets)
    assert [[t.destination for t in targets] for targets in decision.sets] == [[PHONE_A, PHONE_B]]
    assert (decision.callee, decision.in_dialog) == ("8001", False)
    assert decide(location, f"sip:8001@{DOMAIN}") == decision  # a value, no side effects


def test_extension_without_contacts_and_uri_without_user_are_replies() -> None:
    location = FakeLocation()
    assert decide(location, f"sip:8001@{DOMAIN}") == Reply(
        480, "Temporarily Unavailable (extension 8001 not registered)"
    )
    assert decide(location, f"sip:{DOMAIN}") == Reply(404, "Not Found (no user in Request-URI)")


def test_targets_need_non_empty_sets() -> None:
    with pytest.raises(ValueError, match=r"^Targets needs non-empty target sets, not \(\(\),\)$"):
        Targets(sets=((),))


def test_several_target_sets_are_refused_not_cut_to_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = ProxyHarness()
    two_sets = Targets(
        sets=((Target(invite().uri, PHONE_A),), (Target(invite().uri, PHONE_B),)), callee="8001"
    )
    monkeypatch.setattr(request_handler, "determine_targets", lambda routed, **_: two_sets)

    sent = h.deliver(invite(), CALLER)

    assert summary(sent) == ["500>caller"]
    assert response_to(sent, CALLER, 500).reason == (
        "Server Internal Error (serial forking not supported)"
    )
    assert h.proxy.context_count == 0
