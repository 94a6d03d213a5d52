"""Alembic revision 0002_registration_binding on SQLite and PostgreSQL.

Covered: upgrade to head creates the table with its indexes and unique constraint;
the migrated table matches the model exactly (Alembic autogenerate finds nothing to
change); downgrade to 0001 removes it and leaves the numbering plan; upgrade again
works; the SQL store runs on the migrated schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from binding_samples import AOR, full_binding
from sqlalchemy import create_engine, inspect

from dialplan.storage.migrate import downgrade_to, upgrade_to_head
from voip_core.storage import SqlBindingStore
from voip_core.storage.models import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    make: Callable[[], str] = request.getfixturevalue("fresh_postgres_database")
    yield make()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    upgrade_to_head(empty_database)
    engine = create_engine(empty_database)
    try:
        inspector = inspect(engine)
        indexes = {
            index["name"]: index["column_names"]
            for index in inspector.get_indexes("registration_binding")
        }
        assert indexes["ix_registration_binding_aor"] == ["aor"]
        assert indexes["ix_registration_binding_expires_at"] == ["expires_at"]
        unique = inspector.get_unique_constraints("registration_binding")
        assert [(c["name"], c["column_names"]) for c in unique] == [
            ("uq_registration_binding_aor_contact_uri", ["aor", "contact_uri"])
        ]
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = [
                diff
                for diff in compare_metadata(context, metadata)
                if "registration_binding" in repr(diff)
            ]
        assert differences == []
        store = SqlBindingStore(engine)
        store.replace(AOR, [full_binding()])
        assert store.get(AOR) == (full_binding(),)
    finally:
        engine.dispose()

    downgrade_to(empty_database, "0001_numbering_plan")
    tables = _tables(empty_database)
    assert "registration_binding" not in tables
    assert "extension" in tables

    upgrade_to_head(empty_database)
    assert "registration_binding" in _tables(empty_database)
