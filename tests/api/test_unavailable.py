"""A database that cannot be reached answers 503 with Retry-After, not 500."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api import create_app
from dialplan.engine import NumberingPlan, compile_plan
from dialplan.model import PlanRows
from dialplan.storage.database import create_database_engine, create_session_factory
from dialplan.storage.migrate import upgrade_to_head
from dialplan.storage.plan_source import StoredPlanSource
from dialplan.storage.records import Actor, Role
from dialplan.storage.services.api_keys import create_api_key
from tests.api.conftest import BASE_URL, REALM, FakeRegistrations, bearer
from tests.dialplan.storage.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
)

pytestmark = pytest.mark.anyio


class FixedPlan:
    """The last plan the proxy compiled, still served while the database is away."""

    def __init__(self) -> None:
        self.plan = compile_plan(PlanRows(realm=REALM, version=7))

    def current(self) -> NumberingPlan:
        return self.plan

    def reload_now(self) -> None:
        raise AssertionError("no write can succeed without a database")


@pytest.fixture(params=["sqlite", "postgresql"])
async def unreachable(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'no-such-directory' / 'ronghe.db'}"
    else:
        # A port nothing listens on: connection refused at once.
        url = "postgresql+psycopg://postgres@127.0.0.1:1/ronghe?connect_timeout=2"
    engine = create_database_engine(url)
    app = create_app(
        session_factory=create_session_factory(engine),
        realm=REALM,
        plan_source=FixedPlan(),
        registrations=FakeRegistrations(),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        yield client
    engine.dispose()


async def test_requests_get_503_with_retry_after(unreachable: httpx.AsyncClient) -> None:
    for response in (
        await unreachable.get("/health"),
        await unreachable.get("/extensions", headers=bearer("rh_anything")),
        await unreachable.post(
            "/extensions",
            json={"number": "8203", "display_name": "周杰", "unit_id": 4, "class_of_service_id": 2},
            headers=bearer("rh_anything"),
        ),
    ):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json() == {"detail": "the database is unavailable; retry later"}


async def test_database_lost_while_serving_gets_503(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    directory = tmp_path / "data"
    if backend == "sqlite":
        directory.mkdir()
        url = f"sqlite:///{directory / 'ronghe.db'}"
    else:
        if not postgres_available():
            pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
        name, url = create_postgres_database()
        request.addfinalizer(lambda: drop_postgres_database(name))
    upgrade_to_head(url)
    engine = create_database_engine(url)
    request.addfinalizer(engine.dispose)
    session_factory = create_session_factory(engine)
    with session_factory() as session:
        secret = create_api_key(session, actor=Actor("test"), name="admin", role=Role.ADMIN).secret
    app = create_app(
        session_factory=session_factory,
        realm=REALM,
        plan_source=StoredPlanSource(session_factory, realm=REALM),
        registrations=FakeRegistrations(),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        assert (await client.get("/units", headers=bearer(secret))).status_code == 200
        # The database goes away under the running app.
        if backend == "sqlite":
            engine.dispose()
            shutil.rmtree(directory)
        else:
            drop_postgres_database(name)
        response = await client.get("/units", headers=bearer(secret))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
