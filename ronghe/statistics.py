"""The counters of the SIP side for the admin API (its StatsSource port): ``/metrics``
and ``/api/v1/stats``.

Theory of operation: the API runs on worker 0's event loop, the one that serves SIP, so
a scrape must not hold it. :meth:`StackStatistics.stats` reads this process's counters
(:func:`ronghe.supervisor.stack_stats`, constant time) and, with several workers,
awaits the others' over the mesh (:meth:`ronghe.supervisor.Cluster.stats`, asked at once
and bounded by the mesh's call timeout) while the loop goes on serving SIP; the plan's
version and load time are in memory. Nothing here touches the database. The flat
dictionary is then turned into a :class:`~api.ports.StatsView`, filling every known
label with zero so that the metrics' series do not appear and vanish.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from api.ports import StatsView
from dialplan.storage import StoredPlanSource
from ronghe.stack import SipStack
from ronghe.supervisor import Cluster, stack_stats
from voip_core.overload import SHED_REASONS, shed_key
from voip_core.proxy.outcomes import CALL_OUTCOMES
from voip_core.traffic import METHODS, RESPONSE_CLASSES

__all__ = ["StackStatistics", "stats_view"]

#: The stats key of the requests the guard's rate limit refused (its shed reason).
_RATE_LIMITED: Final = "rate_limited"


class StackStatistics:
    """Worker 0's view of the counters of every worker process."""

    def __init__(
        self,
        stack: SipStack,
        *,
        plan: StoredPlanSource,
        cluster: Cluster | None = None,
        workers: int = 1,
    ) -> None:
        self._stack = stack
        self._plan = plan
        self._cluster = cluster
        self._workers = workers

    async def counters(self) -> dict[str, int]:
        """The flat counters, summed over the workers (the SIGUSR1 line's source)."""
        if self._cluster is not None:
            return await self._cluster.stats()
        return stack_stats(self._stack)

    async def stats(self) -> StatsView:
        """The counters now, as the API shows them."""
        counters = await self.counters()
        plan = self._plan
        loaded_at = plan.loaded_at
        return stats_view(
            counters,
            workers=self._workers,
            plan_version=plan.current().version,
            plan_loaded_at=None if loaded_at is None else datetime.fromtimestamp(loaded_at, UTC),
            plan_reload_failures=plan.reload_failures,
        )


def _labelled(counters: Mapping[str, int], family: str, labels: tuple[str, ...]) -> dict[str, int]:
    prefix = f"{family}:"
    table = dict.fromkeys(labels, 0)
    for key, value in counters.items():
        if key.startswith(prefix):
            table[key[len(prefix) :]] = value
    return table


def stats_view(
    counters: Mapping[str, int],
    *,
    workers: int,
    plan_version: int,
    plan_loaded_at: datetime | None,
    plan_reload_failures: int,
) -> StatsView:
    """The :class:`StatsView` of ``stack_stats``-shaped ``counters``.

    Keys another part of the stack may not provide (the guard's) count as zero.
    """
    shed = {reason: counters.get(shed_key(reason), 0) for reason in SHED_REASONS}
    shed["rate_limit"] = counters.get(_RATE_LIMITED, 0)
    return StatsView(
        workers=workers,
        registered_contacts=counters.get("registrations", 0),
        transactions=counters.get("transactions", 0),
        response_contexts=counters.get("contexts", 0),
        calls_in_progress=counters.get("calls", 0),
        calls=_labelled(counters, "call_outcomes", CALL_OUTCOMES),
        sip_requests=_labelled(counters, "sip_requests", (*METHODS, "other")),
        sip_responses=_labelled(counters, "sip_responses_sent", RESPONSE_CLASSES),
        sip_responses_received=_labelled(counters, "sip_responses_received", RESPONSE_CLASSES),
        malformed_messages=counters.get("malformed", 0),
        requests_shed=shed,
        messages_forwarded=counters.get("forwarded", 0),
        auth_failures=counters.get("auth_failures", 0),
        auth_blocks=counters.get("auth_blocks", 0),
        rate_blocks=counters.get("rate_blocks", 0),
        blocked_sources=counters.get("blocked_sources", 0),
        plan_version=plan_version,
        plan_loaded_at=plan_loaded_at,
        plan_reload_failures=plan_reload_failures,
    )
