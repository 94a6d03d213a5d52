"""``/extensions``: create with a one-time password, ETags and If-Match, named conflicts,
field-level 422s, filters and pagination."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from dialplan.credentials import derive_ha1
from dialplan.storage.plan_source import StoredPlanSource
from tests.api.conftest import REALM, Keys

pytestmark = pytest.mark.anyio

NEW = {"number": "8203", "display_name": "周杰", "unit_id": 4, "class_of_service_id": 2}


async def test_create_returns_the_generated_password_once(
    client: httpx.AsyncClient, keys: Keys, plan_source: StoredPlanSource
) -> None:
    response = await client.post("/extensions", json=NEW, headers=keys.operator)
    assert response.status_code == 201
    body = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == "/extensions/8203"
    assert response.headers["Cache-Control"] == "no-store"
    assert len(body["password"]) == 16
    assert body["extension"]["version"] == 1
    assert "ha1_md5" not in body["extension"]
    created_at = datetime.fromisoformat(body["extension"]["created_at"])
    assert created_at.utcoffset() is not None
    assert created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    # The live plan was reloaded at once: the new phone can authenticate.
    extension = plan_source.current().extension("8203")
    assert extension is not None
    assert extension.ha1_md5 == derive_ha1("MD5", "8203", REALM, body["password"])

    shown = await client.get("/extensions/8203", headers=keys.viewer)
    assert "password" not in shown.json()


async def test_chosen_password_is_not_echoed(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(
        "/extensions", json={**NEW, "password": "Zhou-8203-pass"}, headers=keys.operator
    )
    assert response.json()["password"] is None


async def test_duplicate_number_is_409_naming_the_extension(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post(
        "/extensions", json={**NEW, "number": "8201"}, headers=keys.operator
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "number 8201 is already used by extension 8201 (陈静)"}


async def test_number_outside_the_units_block_is_409(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(
        "/extensions", json={**NEW, "number": "8101"[:3] + "9"}, headers=keys.operator
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "number 8109 belongs to block 8100-8199 of unit 县政府办公室, not to unit 城关镇"
    }


async def test_invalid_field_is_422_naming_the_field(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(
        "/extensions", json={**NEW, "number": "82x3"}, headers=keys.operator
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "number"]

    response = await client.post(
        "/extensions", json={**NEW, "class_of_service_id": 99}, headers=keys.operator
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "class_of_service_id"],
            "msg": "class of service 99 does not exist",
            "type": "value_error",
        }
    ]

    response = await client.patch(
        "/extensions/8201", json={"display_name": None}, headers=keys.operator
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "display_name"]


async def test_if_match_guards_updates_and_deletes(client: httpx.AsyncClient, keys: Keys) -> None:
    current = await client.get("/extensions/8202", headers=keys.viewer)
    etag = current.headers["ETag"]
    assert etag == f'"{current.json()["version"]}"'

    changed = await client.patch(
        "/extensions/8202",
        json={"forward_no_answer": "8201", "no_answer_seconds": 15},
        headers={**keys.operator, "If-Match": etag},
    )
    assert changed.status_code == 200
    new_etag = changed.headers["ETag"]
    assert new_etag != etag

    stale = await client.patch(
        "/extensions/8202", json={"enabled": False}, headers={**keys.operator, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == new_etag
    assert stale.json()["detail"] == (
        f"extension 8202 has version {new_etag.strip(chr(34))}, not {etag.strip(chr(34))}; "
        "reload it and retry"
    )

    stale_body = await client.patch(
        "/extensions/8202",
        json={"enabled": False, "version": int(etag.strip('"'))},
        headers=keys.operator,
    )
    assert stale_body.status_code == 412

    refused = await client.delete("/extensions/8202", headers={**keys.operator, "If-Match": etag})
    assert refused.status_code == 412
    malformed = await client.delete(
        "/extensions/8202", headers={**keys.operator, "If-Match": "yesterday"}
    )
    assert malformed.status_code == 412
    weak = await client.delete(
        "/extensions/8202", headers={**keys.operator, "If-Match": f"W/{new_etag}"}
    )
    assert weak.status_code == 412  # RFC 9110 §13.1.1: If-Match uses strong comparison
    deleted = await client.delete(
        "/extensions/8202", headers={**keys.operator, "If-Match": new_etag}
    )
    assert deleted.status_code == 204
    assert (await client.get("/extensions/8202", headers=keys.viewer)).status_code == 404


async def test_password_reset_is_a_put_returning_the_new_password(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    current = await client.get("/extensions/8241", headers=keys.viewer)
    response = await client.put(
        "/extensions/8241/password",
        json={},
        headers={**keys.operator, "If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200
    assert len(response.json()["password"]) == 16
    assert response.json()["extension"]["version"] == current.json()["version"] + 1
    again = await client.put(
        "/extensions/8241/password",
        json={},
        headers={**keys.operator, "If-Match": current.headers["ETag"]},
    )
    assert again.status_code == 412


async def test_listing_filters_and_paginates(client: httpx.AsyncClient, keys: Keys) -> None:
    page = (await client.get("/extensions", params={"unit_id": 3}, headers=keys.viewer)).json()
    assert [e["number"] for e in page["data"]] == ["8101", "8102", "8188"]
    page = (
        await client.get("/extensions", params={"number_prefix": "82"}, headers=keys.viewer)
    ).json()
    assert [e["number"] for e in page["data"]] == ["8201", "8202", "8241"]
    page = (await client.get("/extensions", params={"name": "值班"}, headers=keys.viewer)).json()
    assert page["count"] == 2
    page = (
        await client.get("/extensions", params={"skip": 8, "limit": 5}, headers=keys.viewer)
    ).json()
    assert page["count"] == 10
    assert [e["number"] for e in page["data"]] == ["8301", "8341"]
    too_many = await client.get("/extensions", params={"limit": 501}, headers=keys.viewer)
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "limit"]
