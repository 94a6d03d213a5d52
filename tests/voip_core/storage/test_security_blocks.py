"""Alembic revision 0003_security_block and :class:`SqlBlockStore`, on SQLite and PostgreSQL.

Covered: the migrated table matches the model (autogenerate finds nothing); a block
written is read back equal while active, not once ended or lifted; lifting twice or an
unknown id finds nothing; purge removes rows ended before the cut-off; downgrade to
0002 removes the table and upgrade restores it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from dialplan.storage.migrate import downgrade_to, upgrade_to_head
from voip_core.guard import Block
from voip_core.storage import SqlBlockStore
from voip_core.storage.models import metadata

NOW = 1_800_000_000.0
BLOCK = Block("00000000000000a1", "127.0.0.2", "8001", "auth-failures", NOW, NOW + 300, 5)
RATE = Block("00000000000000a2", "2001:db8::7", None, "rate-limit", NOW + 1, NOW + 61, 101)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blocks.db'}"
        return
    make: Callable[[], str] = request.getfixturevalue("fresh_postgres_database")
    yield make()


def test_migration_matches_the_model_and_the_store_works(database: str) -> None:
    upgrade_to_head(database)
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = [
                diff
                for diff in compare_metadata(context, metadata)
                if "security_block" in repr(diff)
            ]
        assert differences == []
        store = SqlBlockStore(engine)
        store.add(BLOCK)
        store.add(RATE)
        assert store.active(NOW + 2) == [BLOCK, RATE]
        assert store.active(NOW + 61) == [BLOCK]
        assert store.lift(BLOCK.id, NOW + 62) == BLOCK
        assert store.lift(BLOCK.id, NOW + 63) is None
        assert store.lift("ffff", NOW + 63) is None
        assert store.active(NOW + 62) == []
        assert store.purge(NOW + 62) == 1
        assert store.purge(NOW + 63) == 1
    finally:
        engine.dispose()
    downgrade_to(database, "0002_registration_binding")
    engine = create_engine(database)
    try:
        assert "security_block" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    upgrade_to_head(database)
