"""Fixtures of the API tests: the app over the demo plan, API keys of each role, and an
async HTTP client speaking to the app in-process (httpx ``ASGITransport``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api import CallView, RegistrationView, create_app
from dialplan.storage.demo import DemoCredential, seed_demo_plan
from dialplan.storage.plan_source import StoredPlanSource
from dialplan.storage.records import Actor, Role
from dialplan.storage.services.api_keys import create_api_key
from tests.dialplan.storage.databases import (
    database_url,
    engine,
    postgres_url,
    session_factory,
    sqlite_template,
)

__all__ = [
    "database_url",
    "engine",
    "postgres_url",
    "session_factory",
    "sqlite_template",
]

REALM = "county.gov.example"
BASE_URL = "http://ronghe.test/api/v1"


class FakeRegistrations:
    """A registrar with two bindings and one call, as the SIP side would report them."""

    def __init__(self) -> None:
        self.bindings = [
            RegistrationView(
                extension="8001",
                contact="sip:8001@192.0.2.10:5062;transport=udp",
                transport="udp",
                source="192.0.2.10:5062",
                user_agent="Yealink SIP-T46U 108.86.0.45",
                expires_at=datetime(2026, 1, 5, 1, 30, tzinfo=UTC),
                q=1.0,
            ),
            RegistrationView(
                extension="8101",
                contact="sip:8101@192.0.2.11:5060;transport=tcp",
                transport="tcp",
                source="192.0.2.11:50321",
                user_agent="",
                expires_at=datetime(2026, 1, 5, 2, 0, tzinfo=UTC),
                q=0.5,
            ),
        ]
        self.calls = [
            CallView(
                call_id="a84b4c76e66710@pc33.county.gov.example",
                caller="8001",
                callee="8101",
                state="answered",
                started_at=datetime(2026, 1, 5, 1, 0, tzinfo=UTC),
            )
        ]

    def registrations(self, extension: str | None = None) -> Sequence[RegistrationView]:
        return [b for b in self.bindings if extension is None or b.extension == extension]

    def active_calls(self) -> Sequence[CallView]:
        return list(self.calls)


@dataclass(frozen=True)
class Keys:
    """Bearer headers of one key per role."""

    admin: dict[str, str]
    operator: dict[str, str]
    viewer: dict[str, str]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def demo_credentials(session_factory: sessionmaker[Session]) -> list[DemoCredential]:
    return seed_demo_plan(session_factory, realm=REALM)


@pytest.fixture
def plan_source(
    session_factory: sessionmaker[Session], demo_credentials: list[DemoCredential]
) -> StoredPlanSource:
    return StoredPlanSource(session_factory, realm=REALM)


@pytest.fixture
def keys(session_factory: sessionmaker[Session]) -> Keys:
    actor = Actor(name="fixture")
    secrets = {}
    for role in Role:
        with session_factory() as session:
            name = {"admin": "县网管中心", "operator": "城关镇话务员", "viewer": "值班查看"}[
                role.value
            ]
            secrets[role] = create_api_key(session, actor=actor, name=name, role=role).secret
    return Keys(
        admin=bearer(secrets[Role.ADMIN]),
        operator=bearer(secrets[Role.OPERATOR]),
        viewer=bearer(secrets[Role.VIEWER]),
    )


@pytest.fixture
def app(session_factory: sessionmaker[Session], plan_source: StoredPlanSource) -> FastAPI:
    return create_app(
        session_factory=session_factory,
        realm=REALM,
        plan_source=plan_source,
        registrations=FakeRegistrations(),
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client
