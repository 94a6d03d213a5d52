"""The demo county plan: seeded once into an empty database, routable at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from dialplan.credentials import derive_ha1
from dialplan.engine import CallerContext, ExternalRoute, LocalExtension, Reject, route
from dialplan.storage.demo import seed_demo_plan
from dialplan.storage.plan_source import StoredPlanSource
from dialplan.storage.services.plan_state import current_plan_version

REALM = "demo.gov.example"
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def test_seed_fills_an_empty_database_once(session_factory: sessionmaker[Session]) -> None:
    credentials = seed_demo_plan(session_factory, realm=REALM)
    assert [c.number for c in credentials] == [
        "8001", "8002", "8101", "8102", "8188", "8201", "8202", "8241", "8301", "8341",
    ]  # fmt: skip
    assert len({c.password for c in credentials}) == len(credentials)
    version = current_plan_version(session_factory)
    assert version == 1
    assert seed_demo_plan(session_factory, realm=REALM) == []
    assert current_plan_version(session_factory) == version


def test_demo_plan_routes_and_accepts_its_credentials(
    session_factory: sessionmaker[Session],
) -> None:
    credentials = seed_demo_plan(session_factory, realm=REALM)
    plan = StoredPlanSource(session_factory, realm=REALM).current()
    first = credentials[0]
    extension = plan.extension(first.number)
    assert extension is not None
    assert extension.ha1_md5 == derive_ha1("MD5", first.number, REALM, first.password)

    local = route(plan, "8101", CallerContext("8201"), NOW)
    assert isinstance(local, LocalExtension)
    assert local.explanation.matched == "extension 8101 (县政府办公室 王芳)"
    mobile = route(plan, "60001", CallerContext("8201"), NOW)
    assert isinstance(mobile, ExternalRoute)
    assert mobile.number == "+8613800000001"
    emergency = route(plan, "110", CallerContext("8341"), NOW)
    assert isinstance(emergency, ExternalRoute)
    assert emergency.trunk.name == "carrier-placeholder"
    barred = route(plan, "913800000000", CallerContext("8341"), NOW)
    assert isinstance(barred, Reject)
    assert barred.status_code == 403


def test_plan_source_reloads_when_the_stored_version_moves(
    session_factory: sessionmaker[Session],
) -> None:
    source = StoredPlanSource(session_factory, realm=REALM)
    assert source.current().version == 0
    assert source.reload_if_changed() is False
    seed_demo_plan(session_factory, realm=REALM)
    assert source.reload_if_changed() is True
    assert source.current().version == 1
    assert source.current().extension("8001") is not None
