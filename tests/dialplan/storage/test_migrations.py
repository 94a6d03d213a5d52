"""The Alembic history builds exactly the schema the models describe, both ways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from dialplan.storage.base import Base
from dialplan.storage.database import create_database_engine
from dialplan.storage.migrate import alembic_config, downgrade_to, upgrade_to_head
from tests.dialplan.storage.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
)

PLAN_TABLES = {table.name for table in Base.metadata.sorted_tables}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not postgres_available():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    name, url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(name)


def _tables(url: str) -> set[str]:
    engine = create_database_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_first_revision_is_0001_numbering_plan() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    base = scripts.get_revision("0001_numbering_plan")
    assert base is not None
    assert base.down_revision is None
    assert list(scripts.get_bases()) == ["0001_numbering_plan"]


def test_models_and_migrations_agree(database_url: str) -> None:
    # `alembic check`: autogenerate against env.py's target_metadata finds no change.
    command.check(alembic_config(database_url))


def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    upgrade_to_head(empty_url)
    assert _tables(empty_url) >= PLAN_TABLES

    downgrade_to(empty_url, "base")
    assert _tables(empty_url) <= {"alembic_version"}

    upgrade_to_head(empty_url)
    assert _tables(empty_url) >= PLAN_TABLES
    command.check(alembic_config(empty_url))


def test_upgrade_to_head_is_idempotent(empty_url: str) -> None:
    upgrade_to_head(empty_url)
    upgrade_to_head(empty_url)
    assert _tables(empty_url) >= PLAN_TABLES
