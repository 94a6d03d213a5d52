"""``GET /metrics`` in the Prometheus text format, rendered from one :class:`StatsView`.

The values are gathered first (awaited from the SIP side, see
:class:`api.ports.StatsSource`); then a registry of its own, holding one collector that
yields metric families built from those values, is rendered by ``prometheus_client``.
No metric object lives across scrapes and nothing is read while rendering, so a scrape
costs a few dozen samples' formatting and never reaches into the SIP core. Names follow
the Prometheus naming guide: ``ronghe_`` prefix, ``_total`` for counters, base units
(``_seconds``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.ports import StatsView

__all__ = ["CONTENT_TYPE", "render_metrics"]

#: The exposition format's media type (text format 0.0.4).
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _counters(
    name: str, documentation: str, label: str, values: Mapping[str, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family


class _StatsCollector(Collector):
    """Yields the metric families of one snapshot."""

    def __init__(self, view: StatsView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        view = self._view
        yield _gauge("ronghe_workers", "SIP worker processes.", view.workers)
        yield _gauge(
            "ronghe_registered_contacts", "Contacts bound by REGISTER.", view.registered_contacts
        )
        yield _gauge(
            "ronghe_sip_transactions",
            "Live SIP transactions (RFC 3261 section 17), lingering ones included.",
            view.transactions,
        )
        yield _gauge(
            "ronghe_proxy_response_contexts",
            "Forwarded requests awaiting their final response (RFC 3261 section 16.7).",
            view.response_contexts,
        )
        yield _gauge(
            "ronghe_calls_in_progress",
            "Calls ringing or answered through the proxy.",
            view.calls_in_progress,
        )
        yield _counters(
            "ronghe_calls",
            "Calls forwarded to a callee that ended, by outcome.",
            "outcome",
            view.calls,
        )
        yield _counters(
            "ronghe_sip_requests", "SIP requests received, by method.", "method", view.sip_requests
        )
        yield _counters(
            "ronghe_sip_responses",
            "SIP responses sent (answered here or forwarded upstream), by class.",
            "class",
            view.sip_responses,
        )
        yield _counters(
            "ronghe_sip_responses_received",
            "SIP responses received from downstream, by class.",
            "class",
            view.sip_responses_received,
        )
        yield _counter(
            "ronghe_sip_malformed_messages",
            "Messages that did not parse (answered 400 or dropped).",
            view.malformed_messages,
        )
        yield _counters(
            "ronghe_requests_shed",
            "New requests refused with 503 under overload or by the rate limit, by reason.",
            "reason",
            view.requests_shed,
        )
        yield _counter(
            "ronghe_worker_messages_forwarded",
            "Messages passed to the worker process owning their call or extension.",
            view.messages_forwarded,
        )
        yield _counter(
            "ronghe_auth_failures",
            "Wrong digest answers (wrong password, unknown or disabled user).",
            view.auth_failures,
        )
        yield _counter(
            "ronghe_auth_blocks",
            "Sources blocked for a user after repeated authentication failures.",
            view.auth_blocks,
        )
        yield _counter(
            "ronghe_rate_limit_blocks",
            "Sources blocked for sending requests too fast.",
            view.rate_blocks,
        )
        yield _gauge("ronghe_blocked_sources", "Blocks in force now.", view.blocked_sources)
        yield _gauge(
            "ronghe_plan_version",
            "Version of the numbering plan the proxy routes with.",
            view.plan_version,
        )
        if view.plan_loaded_at is not None:
            yield _gauge(
                "ronghe_plan_reload_timestamp_seconds",
                "When the live numbering plan was last loaded, seconds since the epoch.",
                view.plan_loaded_at.timestamp(),
            )
        yield _counter(
            "ronghe_plan_reload_failures",
            "Numbering plan reloads that failed (kept the live plan).",
            view.plan_reload_failures,
        )


def render_metrics(view: StatsView) -> bytes:
    """The Prometheus text exposition of ``view``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatsCollector(view))
    return generate_latest(registry)
