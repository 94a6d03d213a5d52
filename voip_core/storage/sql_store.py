"""Bindings in SQL (SQLite or PostgreSQL), written in batches.

Theory of operation: :meth:`SqlBindingStore.replace_many` makes a whole set of AORs
match the given bindings in one transaction, in chunks of ``batch_size`` AORs: one
SELECT of the AORs' existing (id, aor, contact_uri), one DELETE of the rows no longer
wanted, and one multi-row ``INSERT ... ON CONFLICT (aor, contact_uri) DO UPDATE`` of
the rest, so a refresh updates its row in place instead of deleting and re-inserting
it. Dialects without ``ON CONFLICT`` fall back to delete-and-insert.

Times are stored as UTC datetimes with microsecond precision; a binding read back has
its ``expires_at`` and ``registered_at`` rounded to the microsecond, and its source
without a connection id (see :mod:`voip_core.storage.models`).

The store owns its unit of work: each method runs in its own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Engine, Table, delete, false, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from voip_core.registrar.binding import Binding
from voip_core.sip.peer import Peer
from voip_core.storage.models import RegistrationBinding

__all__ = ["DEFAULT_BATCH_SIZE", "SqlBindingStore", "binding_from_row", "binding_to_row"]

logger = logging.getLogger(__name__)

#: AORs written per statement group; keeps IN lists and multi-row INSERTs well below
#: PostgreSQL's 65,535 bind parameters (16 columns x 10 contacts x 500 AORs = 80,000
#: would not fit, so multi-row INSERTs are further cut by SQLAlchemy's insertmanyvalues).
DEFAULT_BATCH_SIZE: Final = 500
#: Rows fetched per round trip when iterating over every binding.
_PAGE_SIZE: Final = 2000

# The declarative class types its table as a FromClause; it is a Table.
_TABLE: Final = cast(Table, RegistrationBinding.__table__)
_COLUMNS: Final = _TABLE.c
_UPDATED_ON_CONFLICT: Final = tuple(
    column.name for column in _TABLE.columns if column.name not in {"id", "aor", "contact_uri"}
)


def _to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _to_epoch(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def binding_to_row(binding: Binding) -> dict[str, Any]:
    """The column values of ``binding``."""
    return {
        "aor": binding.aor,
        "contact_uri": binding.contact,
        "expires_at": _to_datetime(binding.expires_at),
        "registered_at": _to_datetime(binding.registered_at),
        "call_id": binding.call_id,
        "cseq": binding.cseq,
        "q": binding.q,
        "source_transport": binding.source.transport,
        "source_host": binding.source.host,
        "source_port": binding.source.port,
        "user_agent": binding.user_agent,
        "instance_id": binding.instance_id,
        "reg_id": binding.reg_id,
        "path": list(binding.path),
        "temp_gruu": binding.temp_gruu,
    }


def binding_from_row(row: Row[Any]) -> Binding:
    """The binding a row stores."""
    values = row._mapping
    return Binding(
        aor=values["aor"],
        contact=values["contact_uri"],
        expires_at=_to_epoch(values["expires_at"]),
        call_id=values["call_id"],
        cseq=values["cseq"],
        source=Peer(values["source_transport"], values["source_host"], values["source_port"]),
        registered_at=_to_epoch(values["registered_at"]),
        q=values["q"],
        user_agent=values["user_agent"],
        instance_id=values["instance_id"],
        reg_id=values["reg_id"],
        path=tuple(values["path"] or ()),
        temp_gruu=values["temp_gruu"],
    )


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlBindingStore:
    """Bindings in the ``registration_binding`` table (implements ``BindingStore``)."""

    def __init__(self, engine: Engine, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size} must be at least 1")
        self._engine = engine
        self._batch_size = batch_size

    @property
    def engine(self) -> Engine:
        """The engine the store writes through."""
        return self._engine

    def get(self, aor: str) -> tuple[Binding, ...]:
        """The AOR's bindings, empty when it has none."""
        statement = select(_TABLE).where(_COLUMNS.aor == aor).order_by(_COLUMNS.id)
        with self._engine.connect() as connection:
            return tuple(binding_from_row(row) for row in connection.execute(statement))

    def by_gruu(self, aor: str, instance_id: str) -> tuple[Binding, ...]:
        """The AOR's bindings with ``+sip.instance`` ``instance_id``."""
        statement = (
            select(_TABLE)
            .where(_COLUMNS.aor == aor, _COLUMNS.instance_id == instance_id)
            .order_by(_COLUMNS.id)
        )
        with self._engine.connect() as connection:
            return tuple(binding_from_row(row) for row in connection.execute(statement))

    def replace(self, aor: str, bindings: Sequence[Binding]) -> None:
        """Make ``bindings`` the AOR's complete set (empty removes the AOR)."""
        self.replace_many({aor: bindings})

    def replace_many(self, changes: Mapping[str, Sequence[Binding]]) -> None:
        """Make each AOR's bindings match ``changes[aor]``, all in one transaction."""
        for aor, bindings in changes.items():
            for binding in bindings:
                if binding.aor != aor:
                    raise ValueError(f"binding of {binding.aor!r} given for {aor!r}")
        aors = sorted(changes)  # a fixed order: concurrent writers lock rows alike
        with self._engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                # SQLite WAL: a transaction that reads, then writes after another connection
                # committed (the admin API saving the plan), fails at once with
                # SQLITE_BUSY_SNAPSHOT; busy_timeout does not apply. Writing first takes
                # the write lock up front, waiting for it under busy_timeout instead.
                connection.execute(delete(_TABLE).where(false()))
            for chunk in _chunks(aors, self._batch_size):
                self._write_chunk(connection, {aor: changes[aor] for aor in chunk})

    def _write_chunk(
        self, connection: Connection, changes: Mapping[str, Sequence[Binding]]
    ) -> None:
        wanted: dict[tuple[str, str], dict[str, Any]] = {}
        for bindings in changes.values():
            for binding in bindings:
                wanted[(binding.aor, binding.contact)] = binding_to_row(binding)
        existing = connection.execute(
            select(_COLUMNS.id, _COLUMNS.aor, _COLUMNS.contact_uri).where(
                _COLUMNS.aor.in_(list(changes))
            )
        )
        stale = [row.id for row in existing if (row.aor, row.contact_uri) not in wanted]
        if stale:
            connection.execute(delete(_TABLE).where(_COLUMNS.id.in_(stale)))
        if wanted:
            self._upsert(connection, list(wanted.values()))

    @staticmethod
    def _upsert(connection: Connection, rows: list[dict[str, Any]]) -> None:
        dialect = connection.dialect.name
        if dialect in ("postgresql", "sqlite"):
            module: Any = postgresql if dialect == "postgresql" else sqlite
            statement = module.insert(_TABLE)
            statement = statement.on_conflict_do_update(
                index_elements=[_COLUMNS.aor, _COLUMNS.contact_uri],
                set_={name: statement.excluded[name] for name in _UPDATED_ON_CONFLICT},
            )
            connection.execute(statement, rows)
            return
        for row in rows:  # pragma: no cover - only PostgreSQL and SQLite are deployed
            connection.execute(
                delete(_TABLE).where(
                    _COLUMNS.aor == row["aor"], _COLUMNS.contact_uri == row["contact_uri"]
                )
            )
        connection.execute(insert(_TABLE), rows)  # pragma: no cover

    def purge_expired(self, now: float) -> int:
        """Delete bindings with ``expires_at <= now``; return how many were deleted."""
        with self._engine.begin() as connection:
            result = connection.execute(
                delete(_TABLE).where(_COLUMNS.expires_at <= _to_datetime(now))
            )
            return int(result.rowcount)

    def all_bindings(self) -> Iterator[Binding]:
        """Every stored binding, fetched page by page (no transaction held in between)."""
        return self._pages(None)

    def unexpired(self, now: float) -> Iterator[Binding]:
        """Every binding with ``expires_at > now``, page by page."""
        return self._pages(now)

    def _pages(self, now: float | None) -> Iterator[Binding]:
        last_id = 0
        while True:
            statement = select(_TABLE).where(_COLUMNS.id > last_id)
            if now is not None:
                statement = statement.where(_COLUMNS.expires_at > _to_datetime(now))
            statement = statement.order_by(_COLUMNS.id).limit(_PAGE_SIZE)
            with self._engine.connect() as connection:
                rows = list(connection.execute(statement))
            for row in rows:
                yield binding_from_row(row)
            if len(rows) < _PAGE_SIZE:
                return
            last_id = rows[-1].id

    def count(self) -> int:
        """Number of stored bindings."""
        with self._engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(_TABLE)).scalar_one())

    def aors(self) -> list[str]:
        """Every AOR with at least one stored binding."""
        with self._engine.connect() as connection:
            return list(connection.execute(select(_COLUMNS.aor).distinct()).scalars())
