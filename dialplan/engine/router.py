"""Routing a dialed number: a pure function of the plan, the number and the caller.

Theory of operation
-------------------
1. **Normalise.** Drop visual separators; refuse characters outside ``0-9*#+`` and
   numbers longer than :data:`MAX_DIALED_LENGTH` with 404 (a letter-bearing user part
   such as ``alice`` is simply not a number of this plan).
2. **Match.** One walk of the prefix index finds, in this order of precedence, an
   emergency number, an exact extension or short code, or the first dial rule by
   priority whose pattern and length bounds accept the number. Nothing matches: 484
   if some longer number could still match, else 404.
3. **Class of service.** The caller's class of service must allow the destination
   kind. Emergency calls skip this check, whoever calls.
4. **Forwarding.** An extension with unconditional forwarding hands the call on; the
   forwarded leg is routed again (steps 2-4) as if the forwarding extension had dialed
   the target, so its class of service applies. A repeated extension is a loop (482);
   more than :data:`MAX_FORWARD_HOPS` hops is refused (483).
5. **Digit manipulation and result.** The matched rule's strip and prepend shape the
   number sent to the trunk or the conference room.

Every step appends a line to the decision's explanation. The function reads no clock
and writes no log, so the REST API's route test shows exactly what a call would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, assert_never

from dialplan.engine._alphabet import has_foreign_characters, normalise, quote
from dialplan.engine.decisions import (
    CallerContext,
    ConferenceRoom,
    Explanation,
    ExternalRoute,
    LocalExtension,
    Reject,
    RouteDecision,
)
from dialplan.engine.index import NO_STATE
from dialplan.engine.info import (
    DialRule,
    EmergencyTarget,
    ExtensionInfo,
    ShortNumberTarget,
    TrunkInfo,
)
from dialplan.engine.plan import NumberingPlan
from dialplan.model import DestinationKind

__all__ = ["MAX_DIALED_LENGTH", "MAX_FORWARD_HOPS", "route"]

#: Longest dialed number routed. E.164 allows 15 digits; access codes and carrier
#: prefixes fit twice that. Longer input is junk, and the bound keeps reasons short.
MAX_DIALED_LENGTH: Final = 32
#: Unconditional forwarding hops followed before the call is refused with 483.
MAX_FORWARD_HOPS: Final = 5

_OUTSIDE_CALLER_KINDS: Final = frozenset({DestinationKind.EXTENSION, DestinationKind.EMERGENCY})


def route(plan: NumberingPlan, dialed: str, caller: CallerContext, at: datetime) -> RouteDecision:
    """Decide where a call from ``caller`` to ``dialed`` goes; see the module docstring.

    ``at`` is the call's time, for time-of-day rules; the current plan model has none,
    so no decision depends on it yet. Never raises for any ``dialed`` string.
    """
    trace = _Trace()
    number = normalise(dialed)
    if number != dialed:
        trace.step(f"normalised {quote(dialed)} to {quote(number)}")
    else:
        trace.step(f"dialed {quote(number)}")
    if has_foreign_characters(number):
        return trace.reject(404, f"Not Found: invalid characters in dialed number {quote(number)}")
    if len(number) > MAX_DIALED_LENGTH:
        return trace.reject(
            404,
            f"Not Found: dialed number has {len(number)} characters, more than {MAX_DIALED_LENGTH}",
        )
    if not number:
        return trace.reject(484, "Address Incomplete: nothing was dialed")
    return _route_legs(plan, number, _outside_or_extension(plan, caller), trace)


@dataclass(frozen=True, slots=True)
class _Caller:
    """Who dials the current leg, as the class-of-service check needs it."""

    allowed: frozenset[DestinationKind]
    allows: str
    """Step text before the kind: ``class of service '全功能' of 8001 allows``."""
    refuses: str
    """Reason before the kind: ``Forbidden: class of service '内线' of 8003 does not
    allow``."""
    refusal: str | None = None
    """Set when the caller may dial emergency numbers only, with the reason why."""


class _Trace:
    """The explanation under construction; local to one ``route`` call."""

    __slots__ = ("matched", "steps")

    def __init__(self) -> None:
        self.matched: str | None = None
        self.steps: list[str] = []

    def step(self, text: str) -> None:
        self.steps.append(text)

    def match(self, what: str) -> None:
        # The explanation names what the dialed number matched; forwarded legs'
        # matches appear as steps only.
        if self.matched is None:
            self.matched = what
        self.steps.append(f"matched {what}")

    def explanation(self) -> Explanation:
        return Explanation(matched=self.matched or "nothing", steps=tuple(self.steps))

    def reject(self, status_code: int, reason: str) -> Reject:
        self.steps.append(f"reject {status_code} {reason}")
        return Reject(status_code=status_code, reason=reason, explanation=self.explanation())


@dataclass(frozen=True, slots=True)
class _Room:
    """A conference room, before the class-of-service check."""

    room: str


@dataclass(frozen=True, slots=True)
class _Outbound:
    """A call for a trunk, before the class-of-service check."""

    kind: DestinationKind
    trunk: TrunkInfo | None
    number: str
    manipulation: str | None
    """Step text for the digit manipulation, recorded after the check."""


def _outside_or_extension(plan: NumberingPlan, caller: CallerContext) -> _Caller:
    if caller.trunk is not None:
        who = f"callers from trunk {quote(caller.trunk)}"
    elif caller.extension is None:
        who = "anonymous callers"
    else:
        extension = plan.extension(caller.extension)
        if extension is None:
            refusal = f"calling extension {quote(caller.extension)} is not in the numbering plan"
            return _Caller(frozenset(), "", "", refusal=f"Forbidden: {refusal}")
        return _extension_caller(extension)
    return _Caller(
        _OUTSIDE_CALLER_KINDS,
        f"{who} may reach",
        f"Forbidden: {who} may reach only extension and emergency numbers, not",
    )


def _extension_caller(extension: ExtensionInfo) -> _Caller:
    who = f"class of service '{extension.class_of_service}' of {extension.number}"
    refusal = None
    if not extension.enabled:
        refusal = f"Forbidden: calling extension {extension.number} is disabled"
    return _Caller(
        extension.allowed_kinds, f"{who} allows", f"Forbidden: {who} does not allow", refusal
    )


def _route_legs(plan: NumberingPlan, number: str, caller: _Caller, trace: _Trace) -> RouteDecision:
    """Route ``number``, following unconditional forwarding from leg to leg."""
    chain: list[str] = []
    while True:
        target = _match(plan, number, trace)
        match target:
            case Reject():
                return target
            case _Room():
                refused = _check_class_of_service(caller, DestinationKind.CONFERENCE, trace)
                if refused is not None:
                    return refused
                trace.step(f"join conference room {target.room}")
                return ConferenceRoom(room=target.room, explanation=trace.explanation())
            case _Outbound():
                refused = _check_class_of_service(caller, target.kind, trace)
                if refused is not None:
                    return refused
                return _send_out(target, trace)
            case ExtensionInfo():
                refused = _check_class_of_service(caller, DestinationKind.EXTENSION, trace)
                if refused is not None:
                    return refused
                forward = _forwarding(target, chain, trace)
                if not isinstance(forward, str):
                    return forward
                caller = _extension_caller(target)
                number = forward
            case _:
                assert_never(target)


def _forwarding(extension: ExtensionInfo, chain: list[str], trace: _Trace) -> RouteDecision | str:
    """Ring ``extension``, refuse the call, or return where it forwards all calls to.

    ``chain`` holds the extensions that forwarded this call so far; this appends to it.
    """
    if not extension.enabled:
        return trace.reject(403, f"Forbidden: extension {extension.number} is disabled")
    forward = extension.forward_unconditional
    if forward is None:
        return _ring(extension, trace)
    if extension.number in chain:
        loop = " -> ".join([*chain, extension.number])
        return trace.reject(482, f"Loop Detected: forwarding loop {loop}")
    chain.append(extension.number)
    if len(chain) > MAX_FORWARD_HOPS:
        hops = " -> ".join([*chain, forward])
        return trace.reject(
            483, f"Too Many Hops: forwarding chain {hops} exceeds {MAX_FORWARD_HOPS} hops"
        )
    trace.step(
        f"{extension.number} forwards all calls to {forward} (hop {len(chain)}); "
        f"the forwarded call is dialed as by {extension.number}"
    )
    return forward


def _match(
    plan: NumberingPlan, number: str, trace: _Trace
) -> ExtensionInfo | _Outbound | _Room | Reject:
    """Find what ``number`` leads to: an extension, a trunk call, a conference room
    or a rejection."""
    index = plan.index
    state = index.walk(number)
    if state == NO_STATE:
        return _not_found(number, trace)
    exact = index.exact[state]
    if isinstance(exact, ExtensionInfo):
        trace.match(exact.label)
        return exact
    if isinstance(exact, ShortNumberTarget):
        trace.match(exact.info.label)
        trunk = exact.rule.trunk
        return _Outbound(
            DestinationKind.SHORT_NUMBER,
            trunk,
            exact.info.mobile_e164,
            f"short number {exact.info.short_code} is mobile {exact.info.mobile_e164}, "
            f"carried by {exact.rule.label}",
        )
    if isinstance(exact, EmergencyTarget):
        return _emergency(exact, trace)
    for rule in index.accepting[state]:
        if rule.accepts_length(len(number)):
            return _apply_rule(plan, rule, number, trace)
    if len(number) <= index.longer_within[state]:
        return trace.reject(
            484, f"Address Incomplete: '{number}' is the beginning of a longer number"
        )
    return _not_found(number, trace)


def _not_found(number: str, trace: _Trace) -> Reject:
    return trace.reject(
        404, f"Not Found: no extension, short number or dial rule matches '{number}'"
    )


def _emergency(target: EmergencyTarget, trace: _Trace) -> _Outbound:
    trace.match(f"emergency number {target.number}")
    rule = target.rule
    if rule is None:
        return _Outbound(DestinationKind.EMERGENCY, None, target.number, None)
    if not target.pattern_matched:
        note = f"sent unchanged by {rule.label}, the first emergency rule with a trunk"
        return _Outbound(DestinationKind.EMERGENCY, rule.trunk, target.number, note)
    sent = rule.transform(target.number)
    return _Outbound(
        DestinationKind.EMERGENCY, rule.trunk, sent, _manipulation(rule, target.number, sent)
    )


def _apply_rule(
    plan: NumberingPlan, rule: DialRule, number: str, trace: _Trace
) -> ExtensionInfo | _Outbound | _Room | Reject:
    trace.match(f"{rule.label} (priority {rule.priority})")
    kind = rule.destination
    if kind is DestinationKind.REJECT:
        reason = rule.description or f"{rule.label} refuses '{number}'"
        return trace.reject(403, f"Forbidden: {reason}")
    result = rule.transform(number)
    manipulation = _manipulation(rule, number, result)
    if kind is DestinationKind.EXTENSION:
        trace.step(manipulation)
        extension = plan.extension(result)
        if extension is None:
            return trace.reject(404, f"Not Found: {rule.label} gives '{result}', no extension")
        trace.match(extension.label)
        return extension
    if kind is DestinationKind.SHORT_NUMBER:
        trace.step(manipulation)
        target = plan.short_numbers.get(result)
        if target is None:
            return trace.reject(404, f"Not Found: {rule.label} gives '{result}', no short number")
        trace.match(target.info.label)
        note = f"short number {result} is mobile {target.info.mobile_e164}"
        return _Outbound(kind, rule.trunk, target.info.mobile_e164, note)
    if kind is DestinationKind.CONFERENCE:
        trace.step(manipulation)
        return _Room(result)
    return _Outbound(kind, rule.trunk, result, manipulation)


def _manipulation(rule: DialRule, number: str, result: str) -> str:
    if result == number:
        return f"digits unchanged: '{number}'"
    return f"strip {rule.strip}, prepend '{rule.prepend}': '{number}' becomes '{result}'"


def _check_class_of_service(caller: _Caller, kind: DestinationKind, trace: _Trace) -> Reject | None:
    if kind is DestinationKind.EMERGENCY:
        trace.step("emergency call: class of service not checked")
        return None
    if caller.refusal is not None:
        return trace.reject(403, caller.refusal)
    if kind not in caller.allowed:
        return trace.reject(403, f"{caller.refuses} {kind.value}")
    trace.step(f"{caller.allows} {kind.value}")
    return None


def _send_out(call: _Outbound, trace: _Trace) -> RouteDecision:
    if call.manipulation is not None:
        trace.step(call.manipulation)
    trunk = call.trunk
    if trunk is None:
        return trace.reject(
            503,
            f"Service Unavailable: no enabled {call.kind.value} trunk is configured "
            f"to reach {call.number}",
        )
    if not trunk.enabled:
        return trace.reject(503, f"Service Unavailable: trunk '{trunk.name}' is disabled")
    trace.step(f"send '{call.number}' to trunk '{trunk.name}'")
    return ExternalRoute(
        kind=call.kind, trunk=trunk, number=call.number, explanation=trace.explanation()
    )


def _ring(extension: ExtensionInfo, trace: _Trace) -> LocalExtension:
    trace.step(_ringing(extension))
    return LocalExtension(
        extension=extension,
        forward_busy=extension.forward_busy,
        forward_no_answer=extension.forward_no_answer,
        no_answer_seconds=extension.no_answer_seconds,
        explanation=trace.explanation(),
    )


def _ringing(extension: ExtensionInfo) -> str:
    text = f"ring extension {extension.number}"
    if extension.forward_busy is not None:
        text += f"; if busy forward to {extension.forward_busy}"
    if extension.forward_no_answer is not None:
        text += (
            f"; after {extension.no_answer_seconds} s without answer "
            f"forward to {extension.forward_no_answer}"
        )
    return text
