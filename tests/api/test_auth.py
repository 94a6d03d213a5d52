"""Authentication (bearer API keys stored hashed) and the three roles."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import Keys, bearer

pytestmark = pytest.mark.anyio


async def test_health_needs_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "plan_version": 1, "stored_plan_version": 1}


async def test_missing_or_unknown_key_is_401(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.get("/extensions")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    response = await client.get("/extensions", headers=bearer("rh_not-a-key"))
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown or revoked API key"}
    response = await client.get("/extensions", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert response.status_code == 401


async def test_viewer_reads_but_may_not_write(client: httpx.AsyncClient, keys: Keys) -> None:
    assert (await client.get("/extensions", headers=keys.viewer)).status_code == 200
    response = await client.patch(
        "/extensions/8001", json={"display_name": "张伟"}, headers=keys.viewer
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "api key 值班查看 has role viewer; this needs operator"}


async def test_operator_edits_the_plan_but_not_trunks_or_keys(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.patch(
        "/extensions/8001", json={"display_name": "张伟（县委）"}, headers=keys.operator
    )
    assert response.status_code == 200
    response = await client.patch("/trunks/1", json={"enabled": False}, headers=keys.operator)
    assert response.status_code == 403
    assert (await client.get("/api-keys", headers=keys.operator)).status_code == 403
    assert (
        await client.patch("/trunks/1", json={"port": 5080}, headers=keys.admin)
    ).status_code == 200


async def test_admin_manages_keys_and_revoked_keys_stop_working(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post(
        "/api-keys", json={"name": "马头镇话务员", "role": "operator"}, headers=keys.admin
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    created = response.json()
    new_key = bearer(created["secret"])
    me = await client.get("/api-keys/current", headers=new_key)
    assert me.json()["name"] == "马头镇话务员"
    assert me.json()["prefix"] == created["secret"][:11]

    listed = (await client.get("/api-keys", headers=keys.admin)).json()
    assert listed["count"] == 4
    assert "secret" not in str(listed)
    assert created["secret"] not in str(listed)

    revoked = await client.delete(f"/api-keys/{created['key']['id']}", headers=keys.admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/extensions", headers=new_key)).status_code == 401
