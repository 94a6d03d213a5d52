"""Schemas of the live views (registrations, calls), the route test and health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.ports import CallView, RegistrationView
from api.schemas.common import UtcTime, local_time
from dialplan.engine import ConferenceRoom, ExternalRoute, LocalExtension, Reject, RouteDecision

__all__ = [
    "CallPublic",
    "CallsPublic",
    "ExplanationPublic",
    "Health",
    "RegistrationPublic",
    "RegistrationsPublic",
    "RouteTestRequest",
    "RouteTestResult",
    "route_test_result",
]


class RegistrationPublic(BaseModel):
    """A phone's registered contact."""

    extension: str
    contact: str
    transport: str
    source: str
    user_agent: str
    expires_at: datetime
    expires_at_local: datetime = Field(description="`expires_at` in Asia/Shanghai time.")
    q: float

    @classmethod
    def from_view(cls, view: RegistrationView) -> RegistrationPublic:
        """Build from the registrar's view."""
        return cls(
            extension=view.extension,
            contact=view.contact,
            transport=view.transport,
            source=view.source,
            user_agent=view.user_agent,
            expires_at=view.expires_at,
            expires_at_local=local_time(view.expires_at),
            q=view.q,
        )


class RegistrationsPublic(BaseModel):
    """Registered contacts."""

    data: list[RegistrationPublic]
    count: int


class CallPublic(BaseModel):
    """A call in progress."""

    call_id: str
    caller: str
    callee: str
    state: str
    started_at: datetime
    started_at_local: datetime = Field(description="`started_at` in Asia/Shanghai time.")

    @classmethod
    def from_view(cls, view: CallView) -> CallPublic:
        """Build from the proxy's view."""
        return cls(
            call_id=view.call_id,
            caller=view.caller,
            callee=view.callee,
            state=view.state,
            started_at=view.started_at,
            started_at_local=local_time(view.started_at),
        )


class CallsPublic(BaseModel):
    """Calls in progress."""

    data: list[CallPublic]
    count: int


Dialable = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class RouteTestRequest(BaseModel):
    """A call to route with the live plan, without placing it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"caller": "8201", "dialed": "60001"},
                {"caller": None, "caller_trunk": "carrier-placeholder", "dialed": "8188"},
            ]
        }
    )

    caller: Dialable | None = Field(description="Calling extension; null for an anonymous caller.")
    dialed: Dialable
    caller_trunk: Dialable | None = Field(
        default=None, description="Trunk name, for a call arriving from a carrier."
    )
    at: UtcTime | None = Field(default=None, description="When the call happens; default now.")


class ExplanationPublic(BaseModel):
    """Why the engine decided as it did."""

    matched: str
    steps: list[str]


class RouteTestResult(BaseModel):
    """The routing decision and its explanation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision": "external_route",
                    "plan_version": 12,
                    "destination_kind": "short_number",
                    "number": "+8613800000001",
                    "trunk": "carrier-placeholder",
                    "explanation": {
                        "matched": "short number 60001 (县委办公室 张伟)",
                        "steps": ["dialed '60001'", "class of service local allows short_number"],
                    },
                }
            ]
        }
    )

    decision: Literal["local_extension", "external_route", "conference_room", "reject"]
    plan_version: int
    status_code: int | None = Field(default=None, description="For reject: the SIP status.")
    reason: str | None = Field(default=None, description="For reject: the reason phrase.")
    extension: str | None = Field(default=None, description="For local_extension.")
    display_name: str | None = None
    forward_busy: str | None = None
    forward_no_answer: str | None = None
    no_answer_seconds: int | None = None
    destination_kind: str | None = Field(default=None, description="For external_route.")
    trunk: str | None = None
    number: str | None = Field(default=None, description="Number sent to the trunk.")
    room: str | None = Field(default=None, description="For conference_room.")
    explanation: ExplanationPublic


class Health(BaseModel):
    """The API answers and reaches the database; the plan versions in use and stored."""

    status: Literal["ok"]
    plan_version: int = Field(description="Version of the plan the proxy routes with.")
    stored_plan_version: int = Field(description="Version in the database; equal once reloaded.")


def route_test_result(decision: RouteDecision, plan_version: int) -> RouteTestResult:
    """Render an engine decision for the route test."""
    explanation = ExplanationPublic(
        matched=decision.explanation.matched, steps=list(decision.explanation.steps)
    )
    match decision:
        case LocalExtension():
            return RouteTestResult(
                decision="local_extension",
                plan_version=plan_version,
                extension=decision.extension.number,
                display_name=decision.extension.display_name,
                forward_busy=decision.forward_busy,
                forward_no_answer=decision.forward_no_answer,
                no_answer_seconds=decision.no_answer_seconds,
                explanation=explanation,
            )
        case ExternalRoute():
            return RouteTestResult(
                decision="external_route",
                plan_version=plan_version,
                destination_kind=decision.kind.value,
                trunk=decision.trunk.name,
                number=decision.number,
                explanation=explanation,
            )
        case ConferenceRoom():
            return RouteTestResult(
                decision="conference_room",
                plan_version=plan_version,
                room=decision.room,
                explanation=explanation,
            )
        case Reject():
            return RouteTestResult(
                decision="reject",
                plan_version=plan_version,
                status_code=decision.status_code,
                reason=decision.reason,
                explanation=explanation,
            )
        case _:
            assert_never(decision)
