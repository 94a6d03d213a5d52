"""CSV import and export over HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import Keys

pytestmark = pytest.mark.anyio

CSV = {"Content-Type": "text/csv"}
HEADER = "number,display_name,unit_code,class_of_service\n"
MIXED = (
    HEADER
    + "8203,周杰,cgz,local\n"  # line 2: good
    + "8204,,cgz,local\n"  # line 3: no display name
    + "8205,吴敏,cgz,local\n"  # line 4: good
    + "8300,郑爽,cgz,local\n"  # line 5: 县公安局's block
)


async def test_dry_run_lists_every_bad_row_and_writes_nothing(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post(
        "/import/extensions",
        params={"dry_run": True},
        content=MIXED.encode(),
        headers={**keys.operator, **CSV},
    )
    assert response.status_code == 200
    report = response.json()
    assert report["ok"] is False
    assert report["errors"] == [
        {"line": 3, "message": "display_name: must not be empty"},
        {
            "line": 5,
            "message": (
                "number 8300 belongs to block 8300-8339 of unit 县公安局, not to unit 城关镇"
            ),
        },
    ]
    listed = await client.get("/extensions", params={"number_prefix": "820"}, headers=keys.viewer)
    assert listed.json()["count"] == 2


async def test_failed_import_is_422_and_changes_nothing(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    before = (await client.get("/health")).json()["stored_plan_version"]
    response = await client.post(
        "/import/extensions", content=MIXED.encode(), headers={**keys.operator, **CSV}
    )
    assert response.status_code == 422
    assert [item["line"] for item in response.json()["detail"]] == [3, 5]
    assert response.json()["detail"][0]["loc"] == ["body", "line", 3]
    assert (await client.get("/health")).json()["stored_plan_version"] == before
    assert (await client.get("/extensions/8203", headers=keys.viewer)).status_code == 404


async def test_csv_with_bom_imports(client: httpx.AsyncClient, keys: Keys) -> None:
    data = ("\ufeff" + HEADER + "8203,周杰,cgz,local\n8205,吴敏,cgz,local\n").encode()
    response = await client.post(
        "/import/extensions", content=data, headers={**keys.operator, **CSV}
    )
    assert response.status_code == 200
    report = response.json()
    assert (report["ok"], report["created"]) == (True, 2)
    assert [c["number"] for c in report["credentials"]] == ["8203", "8205"]
    assert response.headers["Cache-Control"] == "no-store"
    shown = await client.get("/extensions/8205", headers=keys.viewer)
    assert shown.json()["display_name"] == "吴敏"


async def test_export_is_utf8_csv_with_bom(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.get("/export/short-numbers", headers=keys.viewer)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines == [
        "short_code,mobile_e164,person_name,unit_code,desk_extension",
        "60001,+8613800000001,张伟,xwb,8001",
        "60002,+8613800000002,王芳,zfb,8101",
        "60003,+8613900000003,陈静,cgz,8201",
    ]


async def test_viewer_may_not_import(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(
        "/import/units", content=b"code,name,kind\n", headers={**keys.viewer, **CSV}
    )
    assert response.status_code == 403
