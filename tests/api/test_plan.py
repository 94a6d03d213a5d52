"""Units, sites, blocks, classes of service, short numbers, trunks and dial rules over
HTTP; the compiler's verdict at save time; the audit log; the route test."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.api.conftest import Keys

pytestmark = pytest.mark.anyio


async def test_overlapping_block_is_409_naming_the_other_block(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post(
        "/blocks", json={"unit_id": 7, "first": "8230", "last": "8260"}, headers=keys.operator
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "block 8230-8260 overlaps block 8200-8239 of unit 城关镇"}


async def test_invalid_dial_rule_pattern_is_rejected_with_the_compilers_reason(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    rule = {
        "priority": 60,
        "pattern": "9[5-",
        "min_length": 4,
        "max_length": 12,
        "destination": "external_local",
        "trunk_id": 1,
        "strip": 1,
    }
    response = await client.post("/dial-rules", json=rule, headers=keys.operator)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["type"] == "plan.pattern"
    assert problem["msg"].endswith("pattern '9[5-': '[' is never closed at position 2")
    assert problem["ctx"]["object_kind"] == "dial_rule"
    listed = await client.get("/dial-rules", headers=keys.viewer)
    assert listed.json()["count"] == 7


async def test_dial_rule_for_a_trunk_kind_needs_a_trunk(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    rule = {
        "priority": 61,
        "pattern": "8XXXXXXX",
        "min_length": 8,
        "max_length": 8,
        "destination": "external_local",
    }
    response = await client.post("/dial-rules", json=rule, headers=keys.operator)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"].endswith("destination external_local needs a trunk")


async def test_crud_of_each_plan_entity(client: httpx.AsyncClient, keys: Keys) -> None:
    unit = await client.post(
        "/units",
        json={"name": "县文旅局", "code": "wlj", "kind": "department", "parent_id": 1},
        headers=keys.operator,
    )
    assert unit.status_code == 201
    unit_id = unit.json()["id"]
    block = await client.post(
        "/blocks", json={"unit_id": unit_id, "first": "8380", "last": "8389"}, headers=keys.operator
    )
    assert block.status_code == 201
    site = await client.post(
        "/sites", json={"unit_id": unit_id, "name": "文化馆"}, headers=keys.operator
    )
    assert site.status_code == 201
    cos = await client.post(
        "/classes-of-service",
        json={"name": "conference-only", "allowed": ["conference", "extension"]},
        headers=keys.operator,
    )
    assert cos.json()["allowed"] == ["conference", "extension"]
    extension = await client.post(
        "/extensions",
        json={
            "number": "8381",
            "display_name": "馆长",
            "unit_id": unit_id,
            "class_of_service_id": cos.json()["id"],
            "site_id": site.json()["id"],
        },
        headers=keys.operator,
    )
    assert extension.status_code == 201
    short = await client.post(
        "/short-numbers",
        json={
            "short_code": "60009",
            "mobile_e164": "+8613700000009",
            "person_name": "馆长",
            "unit_id": unit_id,
            "desk_extension": "8381",
        },
        headers=keys.operator,
    )
    assert short.status_code == 201
    trunk = await client.post(
        "/trunks", json={"name": "电信中继", "host": "198.51.100.10"}, headers=keys.admin
    )
    assert trunk.status_code == 201

    renamed = await client.patch(
        f"/units/{unit_id}", json={"name": "县文化和旅游局"}, headers=keys.operator
    )
    assert renamed.json()["name"] == "县文化和旅游局"
    assert (await client.get(f"/sites/{site.json()['id']}", headers=keys.viewer)).status_code == 200
    found = await client.get("/units", params={"name": "文化"}, headers=keys.viewer)
    assert [u["code"] for u in found.json()["data"]] == ["wlj"]

    busy = await client.delete(f"/units/{unit_id}", headers=keys.operator)
    assert busy.status_code == 409
    assert busy.json() == {"detail": "unit 县文化和旅游局 still owns block 8380-8389"}
    busy = await client.delete("/extensions/8381", headers=keys.operator)
    assert busy.json() == {
        "detail": "extension 8381 (馆长) is the desk extension of short number 60009 (馆长)"
    }

    for path in (
        f"/short-numbers/{short.json()['id']}",
        "/extensions/8381",
        f"/sites/{site.json()['id']}",
        f"/blocks/{block.json()['id']}",
        f"/units/{unit_id}",
        f"/classes-of-service/{cos.json()['id']}",
    ):
        assert (await client.delete(path, headers=keys.operator)).status_code == 204, path
    assert (
        await client.delete(f"/trunks/{trunk.json()['id']}", headers=keys.admin)
    ).status_code == 204
    in_use = await client.delete("/trunks/1", headers=keys.admin)
    assert in_use.status_code == 409
    assert in_use.json() == {
        "detail": "trunk carrier-placeholder is used by dial rule 10 (pattern 11[09])"
    }


async def test_audit_log_records_before_and_after(client: httpx.AsyncClient, keys: Keys) -> None:
    await client.patch(
        "/extensions/8102", json={"display_name": "刘洋（办公室）"}, headers=keys.operator
    )
    response = await client.get(
        "/audit-log", params={"object_kind": "extension", "object_id": "8102"}, headers=keys.viewer
    )
    entries = response.json()["data"]
    update = entries[0]
    assert update["action"] == "update"
    assert update["api_key_name"] == "城关镇话务员"
    assert update["before"]["display_name"] == "刘洋"
    assert update["after"]["display_name"] == "刘洋（办公室）"
    assert entries[-1]["action"] == "create"
    assert entries[-1]["before"] is None
    at = datetime.fromisoformat(update["at"])
    at_local = datetime.fromisoformat(update["at_local"])
    assert at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert at_local.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    assert at_local == at


async def test_route_test_explains_the_decision(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(
        "/route-test", json={"caller": "8201", "dialed": "60001"}, headers=keys.viewer
    )
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "external_route"
    assert body["number"] == "+8613800000001"
    assert body["trunk"] == "carrier-placeholder"
    assert body["explanation"]["matched"] == "short number 60001 (县委办公室 张伟)"
    assert body["explanation"]["steps"]

    barred = await client.post(
        "/route-test", json={"caller": "8341", "dialed": "913800000000"}, headers=keys.viewer
    )
    assert barred.json()["decision"] == "reject"
    assert barred.json()["status_code"] == 403


async def test_route_test_sees_a_write_at_once(client: httpx.AsyncClient, keys: Keys) -> None:
    before = await client.post(
        "/route-test", json={"caller": "8001", "dialed": "8203"}, headers=keys.viewer
    )
    assert before.json()["decision"] == "reject"
    await client.post(
        "/extensions",
        json={"number": "8203", "display_name": "周杰", "unit_id": 4, "class_of_service_id": 2},
        headers=keys.operator,
    )
    after = await client.post(
        "/route-test", json={"caller": "8001", "dialed": "8203"}, headers=keys.viewer
    )
    assert after.json()["decision"] == "local_extension"
    assert after.json()["display_name"] == "周杰"
    assert after.json()["plan_version"] == before.json()["plan_version"] + 1


async def test_registrations_and_calls_views(client: httpx.AsyncClient, keys: Keys) -> None:
    registrations = await client.get(
        "/registrations", params={"extension": "8001"}, headers=keys.viewer
    )
    [binding] = registrations.json()["data"]
    assert binding["source"] == "192.0.2.10:5062"
    assert binding["expires_at"] == "2026-01-05T01:30:00Z"
    assert binding["expires_at_local"] == "2026-01-05T09:30:00+08:00"
    calls = await client.get("/calls", headers=keys.viewer)
    assert calls.json()["count"] == 1
    assert calls.json()["data"][0]["started_at_local"] == "2026-01-05T09:00:00+08:00"
