"""Small adapters that connect the numbering plan to the SIP core's ports."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from dialplan.engine import CallerContext, NumberingPlan, PlanError, RouteDecision, route
from dialplan.storage import StoredPlanSource, current_plan_version

__all__ = ["LivePlan", "PlanCredentials", "PlanRouter", "watch_plan"]

logger = logging.getLogger(__name__)


class LivePlan(Protocol):
    """Where the live plan comes from (a :class:`StoredPlanSource`)."""

    def current(self) -> NumberingPlan:
        """The plan to use right now."""
        ...


class PlanRouter:
    """The proxy's ``Router`` port: ``route()`` over the live plan."""

    def __init__(self, source: LivePlan) -> None:
        self._source = source

    def route(self, dialed: str, caller: CallerContext, at: datetime) -> RouteDecision:
        """Decide with whatever plan is live right now.

        The proxy names the From user of an unchallenged request (a trusted network's
        gateway or load generator) as the calling extension. One the plan does not know
        is an outside caller, like a trunk's, not a refused extension: an authenticated
        caller always is an extension, its credentials come from the plan.
        """
        plan = self._source.current()
        if caller.extension is not None and plan.extension(caller.extension) is None:
            caller = CallerContext(extension=None, trunk=caller.trunk)
        return route(plan, dialed, caller, at)


class PlanCredentials:
    """HA1 lookup for digest authentication: enabled extensions of the live plan."""

    def __init__(self, source: LivePlan) -> None:
        self._source = source

    def __call__(self, username: str, algorithm: Literal["MD5", "SHA-256"]) -> str | None:
        extension = self._source.current().extension(username)
        if extension is None or not extension.enabled:
            return None
        return extension.ha1_sha256 if algorithm == "SHA-256" else extension.ha1_md5


async def watch_plan(
    source: StoredPlanSource, session_factory: sessionmaker[Session], *, interval: float = 0.5
) -> None:
    """Reload the plan when another node or ``ronghe plan import`` changed it.

    Writes through this process's API reload at once; this poll catches the rest within
    ``interval``. A plan that fails to compile is reported once and the last good one
    stays live; a database outage is logged and routing goes on with the live plan.
    """
    rejected: int | None = None
    while True:
        await asyncio.sleep(interval)
        try:
            version = await asyncio.to_thread(current_plan_version, session_factory)
            if version in (source.current().version, rejected):
                continue
            await asyncio.to_thread(source.reload_now)
        except PlanError as error:
            rejected = version
            logger.error(
                "numbering plan version %d rejected, keeping the live plan: %s", version, error
            )
        except SQLAlchemyError as error:
            # A database outage must not stop routing: the live plan stays in use.
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            logger.warning(
                "numbering plan poll failed (%s); routing with version %d",
                reason,
                source.current().version,
            )
