"""The stats dictionary of ``stack_stats`` as the API's view and as Prometheus metrics.

Covers: labelled keys (``sip_requests:INVITE``) become label values, every known label is
present with zero, keys the stack does not provide (the guard's) count as zero, and the
text ``render_metrics`` produces parses with ``prometheus_client``'s parser into the
documented names and values. Not covered here: the routes serving them (not wired yet).
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from api.metrics import render_metrics
from ronghe.statistics import stats_view


def test_counters_become_labelled_metrics_with_zeros_for_unseen_labels() -> None:
    counters = {
        "registrations": 3,
        "transactions": 7,
        "contexts": 1,
        "calls": 2,
        "shed_backlog": 4,
        "sip_requests:REGISTER": 6,
        "sip_requests:other": 1,
        "sip_responses_sent:2xx": 5,
        "sip_responses_received:4xx": 2,
        "call_outcomes:answered": 2,
        "rate_limited": 9,
    }
    loaded = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
    view = stats_view(
        counters, workers=2, plan_version=12, plan_loaded_at=loaded, plan_reload_failures=0
    )
    assert view.sip_requests["REGISTER"] == 6
    assert view.sip_requests["INVITE"] == 0
    assert view.calls == {
        "answered": 2,
        "busy": 0,
        "no_answer": 0,
        "cancelled": 0,
        "declined": 0,
        "failed": 0,
    }
    assert view.requests_shed == {"backlog": 4, "lag": 0, "transactions": 0, "rate_limit": 9}
    assert view.auth_failures == 0

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(render_metrics(view).decode())
        for sample in family.samples
    }
    assert samples[("ronghe_registered_contacts", ())] == 3
    assert samples[("ronghe_sip_transactions", ())] == 7
    assert samples[("ronghe_calls_in_progress", ())] == 2
    assert samples[("ronghe_sip_requests_total", (("method", "REGISTER"),))] == 6
    assert samples[("ronghe_sip_requests_total", (("method", "other"),))] == 1
    assert samples[("ronghe_sip_responses_total", (("class", "2xx"),))] == 5
    assert samples[("ronghe_sip_responses_received_total", (("class", "4xx"),))] == 2
    assert samples[("ronghe_calls_total", (("outcome", "answered"),))] == 2
    assert samples[("ronghe_requests_shed_total", (("reason", "rate_limit"),))] == 9
    assert samples[("ronghe_plan_version", ())] == 12
    assert samples[("ronghe_plan_reload_timestamp_seconds", ())] == loaded.timestamp()
    assert samples[("ronghe_workers", ())] == 2
