"""Schemas of the SIP guard's blocks (``/security/blocks``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.ports import SecurityBlockView
from api.schemas.common import local_time

__all__ = ["SecurityBlockPublic", "SecurityBlocksPublic"]


class SecurityBlockPublic(BaseModel):
    """A source address refused by the SIP guard."""

    id: str
    source: str = Field(description="The IP address refused.")
    user: str | None = Field(
        description="The user it may not authenticate as; null for a rate block, which "
        "drops every request of the source."
    )
    reason: Literal["auth-failures", "rate-limit"]
    since: datetime
    until: datetime
    until_local: datetime = Field(description="`until` in Asia/Shanghai time.")
    failures: int = Field(
        description="Failed authentications (auth-failures) or requests in the sampling "
        "window (rate-limit) that earned the block."
    )

    @classmethod
    def from_view(cls, view: SecurityBlockView) -> SecurityBlockPublic:
        """Build from the guard's view."""
        reason: Literal["auth-failures", "rate-limit"] = (
            "auth-failures" if view.reason == "auth-failures" else "rate-limit"
        )
        return cls(
            id=view.id,
            source=view.source,
            user=view.user,
            reason=reason,
            since=view.since,
            until=view.until,
            until_local=local_time(view.until),
            failures=view.failures,
        )


class SecurityBlocksPublic(BaseModel):
    """The blocks in force."""

    data: list[SecurityBlockPublic]
    count: int
