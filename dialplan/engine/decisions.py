"""What :func:`dialplan.engine.route` takes and returns: the caller and the decision.

A decision is a closed union of frozen dataclasses (STYLE.md §3); "no route" and
"incomplete number" are :class:`Reject` values, never exceptions. Every decision carries
an :class:`Explanation` that the REST API's route test prints to operators.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialplan.engine.info import ExtensionInfo, TrunkInfo
from dialplan.model import DestinationKind

__all__ = [
    "CallerContext",
    "ConferenceRoom",
    "Explanation",
    "ExternalRoute",
    "LocalExtension",
    "Reject",
    "RouteDecision",
]


@dataclass(frozen=True, slots=True)
class CallerContext:
    """Who is calling.

    When ``trunk`` is set the call came in from a carrier and ``extension`` is ignored:
    a call from outside cannot be authenticated as an extension. Anonymous and trunk
    callers may reach extensions and emergency numbers only.
    """

    extension: str | None
    """The authenticated calling extension; ``None`` for anonymous or unknown callers."""
    trunk: str | None = None
    """Name of the carrier trunk the call came in from, if any."""


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a decision was taken, for operators."""

    matched: str
    """What the dialed number matched, e.g. ``extension 8001 (县委办公室 张三)`` or
    ``rule #3 '0.' external_national``; ``nothing`` if nothing did."""
    steps: tuple[str, ...]
    """Human-readable steps in the order taken: normalisation, match, class-of-service
    check, forwarding, digit manipulation."""

    def __str__(self) -> str:
        lines = [f"matched: {self.matched}"]
        lines.extend(f"{number}. {step}" for number, step in enumerate(self.steps, start=1))
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class LocalExtension:
    """Ring an extension of the plan; the proxy applies busy and no-answer forwarding."""

    extension: ExtensionInfo
    """The extension to ring, after unconditional forwarding."""
    forward_busy: str | None
    """Where to send the call if the extension is busy; route it as dialed by the
    extension."""
    forward_no_answer: str | None
    """Where to send the call after ``no_answer_seconds`` of ringing."""
    no_answer_seconds: int
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class ExternalRoute:
    """Send the call out through a carrier trunk."""

    kind: DestinationKind
    """``short_number``, ``emergency`` or one of the ``external_*`` kinds."""
    trunk: TrunkInfo
    number: str
    """The number to send: the dialed digits after strip and prepend, or for a short
    number the staff member's E.164 mobile number."""
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class ConferenceRoom:
    """Join a conference room."""

    room: str
    """The room number, after the rule's digit manipulation."""
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the call with a SIP final response.

    Status codes used: 403 (class of service, disabled extension, reject rule),
    404 (unknown or malformed number), 482 (forwarding loop), 483 (forwarding chain
    too long), 484 (incomplete number), 503 (trunk disabled or missing).
    """

    status_code: int
    reason: str
    """Reason phrase, starting with the standard phrase, e.g. ``Not Found: ...``."""
    explanation: Explanation


#: Everything :func:`dialplan.engine.route` can decide; match on it with
#: ``assert_never`` in the default branch.
RouteDecision = LocalExtension | ExternalRoute | ConferenceRoom | Reject
