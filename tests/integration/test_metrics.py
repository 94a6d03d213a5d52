"""``GET /metrics`` and ``GET /api/v1/stats`` on a real server with two SIP workers.

Covers (issue #9 item 7): registrations made by SIPp, whose REGISTERs are handled by
whichever worker owns each extension, are counted in the sums of both workers; the
Prometheus text parses with ``prometheus_client``'s own parser and its numbers are the
JSON stats' numbers; ``--metrics-token`` is required when given. Not covered here: call
outcomes (unit-tested in ``tests/ronghe/test_statistics.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.server import API_PREFIX, RongheServer
from tests.integration.test_workers import register_with_sipp

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ServerFactory = Callable[..., RongheServer]
TOKEN = "metrics-token-for-tests-0123"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_sum_both_workers_and_match_the_json_stats(
    ronghe_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = ronghe_server_factory(["--workers", "2", "--metrics-token", TOKEN])
    numbers = [str(8300 + index) for index in range(20)]
    register_with_sipp(server, numbers, tmp_path)

    refused = httpx.get(f"{server.api_url}/metrics", timeout=10)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "metrics need Authorization: Bearer <the --metrics-token>"

    response = httpx.get(
        f"{server.api_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    metrics = samples(response.text)
    stats = server.client.get(API_PREFIX + "/stats").json()

    assert metrics[("ronghe_workers", ())] == 2 == stats["workers"]
    assert metrics[("ronghe_registered_contacts", ())] == 20 == stats["registered_contacts"]
    registers = metrics[("ronghe_sip_requests_total", (("method", "REGISTER"),))]
    # Each extension: one REGISTER challenged, one with credentials (more only if SIPp
    # retransmitted); the owners of the 20 extensions are spread over both workers.
    assert registers >= 40
    assert registers == stats["sip_requests"]["REGISTER"]
    ok = metrics[("ronghe_sip_responses_total", (("class", "2xx"),))]
    challenged = metrics[("ronghe_sip_responses_total", (("class", "4xx"),))]
    assert ok >= 20
    assert challenged >= 20
    assert ok == stats["sip_responses"]["2xx"]
    assert challenged == stats["sip_responses"]["4xx"]
    assert metrics[("ronghe_plan_version", ())] == stats["plan_version"]


def test_stats_need_an_api_key(ronghe_server: RongheServer) -> None:
    response = httpx.get(f"{ronghe_server.api_url}/api/v1/stats", timeout=10)
    assert response.status_code == 401
    assert (
        "ronghe_registered_contacts"
        in httpx.get(f"{ronghe_server.api_url}/metrics", timeout=10).text
    )


def test_json_log_format_writes_one_json_object_a_line(
    ronghe_server_factory: ServerFactory,
) -> None:
    server = ronghe_server_factory(["--log-format", "json"])
    server.ensure_extension("8401")
    lines = [line for line in server.log_tail.splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    # uvicorn's own start-up lines go through the same root handler.
    assert len(parsed) == len(lines), server.log_tail
    assert {"time", "level", "logger", "message"} <= set(parsed[0])
