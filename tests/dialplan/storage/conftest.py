"""Fixtures of the storage tests: a migrated database of each backend."""

from __future__ import annotations

from tests.dialplan.storage.databases import (
    database_url,
    engine,
    postgres_url,
    session_factory,
    sqlite_template,
)

__all__ = ["database_url", "engine", "postgres_url", "session_factory", "sqlite_template"]
