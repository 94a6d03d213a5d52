"""CSV import and export of units, extensions and short numbers.

Theory of operation: an import is one plan write (see ``services/_unit_of_work.py``).
Every row is applied inside its own SAVEPOINT with the same validation as the REST
API; a bad row is rolled back to its savepoint, its line number and reason are
recorded, and the next row is tried, so one pass reports *every* bad row. If any row
failed, or the plan compiler refuses the result, the whole transaction rolls back and
:class:`ImportRejected` lists the reasons: the import is all-or-nothing. A dry run does
the same and always rolls back.

Rows are upserts keyed by ``code`` (units), ``number`` (extensions) or ``short_code``
(short numbers). Files are UTF-8; a leading byte-order mark, which Excel writes, is
accepted on import and written on export so Excel shows Chinese names correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from dialplan.storage import _csv_rows
from dialplan.storage.exceptions import (
    Conflict,
    ImportRejected,
    NotFound,
    PlanRejected,
    RowError,
    ValidationFailed,
)
from dialplan.storage.models import ClassOfService, Extension, OrganisationUnit, ShortNumber, Site
from dialplan.storage.records import Actor
from dialplan.storage.services._unit_of_work import PlanWrite, plan_write

__all__ = [
    "COLUMNS",
    "MAX_IMPORT_ROWS",
    "CsvKind",
    "ImportReport",
    "detect_kind",
    "export_csv",
    "import_csv",
]

#: Bound on rows per import: a county plan has a few thousand; more is a mistake.
MAX_IMPORT_ROWS: Final = 20_000
_BOM: Final = "\ufeff"


class CsvKind(StrEnum):
    """What a CSV file holds."""

    UNITS = "units"
    EXTENSIONS = "extensions"
    SHORT_NUMBERS = "short-numbers"


#: Columns of each kind, in export order; the first is the upsert key.
COLUMNS: Final[dict[CsvKind, tuple[str, ...]]] = {
    CsvKind.UNITS: ("code", "name", "kind", "parent_code"),
    CsvKind.EXTENSIONS: (
        "number",
        "display_name",
        "unit_code",
        "class_of_service",
        "site",
        "enabled",
        "forward_unconditional",
        "forward_busy",
        "forward_no_answer",
        "no_answer_seconds",
        "password",
    ),
    CsvKind.SHORT_NUMBERS: (
        "short_code",
        "mobile_e164",
        "person_name",
        "unit_code",
        "desk_extension",
    ),
}
#: Columns an import file must have; the others default.
_REQUIRED: Final[dict[CsvKind, tuple[str, ...]]] = {
    CsvKind.UNITS: ("code", "name", "kind"),
    CsvKind.EXTENSIONS: ("number", "display_name", "unit_code", "class_of_service"),
    CsvKind.SHORT_NUMBERS: ("short_code", "mobile_e164", "person_name", "unit_code"),
}


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of an import or dry run."""

    kind: CsvKind
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: tuple[RowError, ...] = ()
    """Every bad row; an import with errors wrote nothing."""
    credentials: tuple[tuple[str, str], ...] = ()
    """``(number, password)`` of extensions created without a password, shown once.
    Empty after a dry run: nothing was created."""


def detect_kind(data: bytes) -> CsvKind | None:
    """Guess the kind of a CSV file from its header, for the command line."""
    try:
        header = next(csv.reader(io.StringIO(_decode(data))), [])
    except ImportRejected:
        return None
    names = {name.strip() for name in header}
    for kind, required in _REQUIRED.items():
        if set(required) <= names:
            return kind
    return None


def import_csv(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    kind: CsvKind,
    data: bytes,
    dry_run: bool = False,
) -> ImportReport:
    """Import ``data``; raise :class:`ImportRejected` (nothing written) if any row is bad.

    With ``dry_run`` nothing is ever written and bad rows are returned in the report.
    """
    tally = _csv_rows.Tally()
    try:
        records = _parse(data, kind)
        apply_row = _APPLIERS[kind]
        with plan_write(session, actor=actor, realm=realm, commit=not dry_run) as write:
            for line, row in records:
                _apply_in_savepoint(write, realm, line, row, apply_row, tally)
            if tally.errors:
                raise ImportRejected(tuple(tally.errors))
    except PlanRejected as rejected:
        errors = tuple(
            RowError(tally.lines.get((p.object_kind, p.object_id or 0)), p.message)
            for p in rejected.problems
        )
        if not dry_run:
            raise ImportRejected(errors) from rejected
        return ImportReport(kind=kind, dry_run=True, errors=errors)
    except ImportRejected as rejected:
        if not dry_run:
            raise
        return ImportReport(kind=kind, dry_run=True, errors=rejected.errors)
    return ImportReport(
        kind=kind,
        dry_run=dry_run,
        created=tally.created,
        updated=tally.updated,
        unchanged=tally.unchanged,
        credentials=() if dry_run else tuple(tally.credentials),
    )


def export_csv(session: Session, *, kind: CsvKind) -> bytes:
    """Return every row of ``kind`` as UTF-8 CSV with a byte-order mark."""
    buffer = io.StringIO()
    buffer.write(_BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS[kind])
    with session.begin():
        writer.writerows(_EXPORTERS[kind](session))
    return buffer.getvalue().encode()


def _apply_in_savepoint(
    write: PlanWrite,
    realm: str,
    line: int,
    row: dict[str, str],
    apply_row: Callable[[PlanWrite, str, dict[str, str], _csv_rows.Tally, int], None],
    tally: _csv_rows.Tally,
) -> None:
    savepoint = write.session.begin_nested()
    entries = len(write.entries)
    try:
        apply_row(write, realm, row, tally, line)
    except (ValidationFailed, Conflict, NotFound) as error:
        savepoint.rollback()
        del write.entries[entries:]
        tally.errors.append(RowError(line, error.message))
    else:
        savepoint.commit()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportRejected((RowError(line, "the file is not UTF-8 text"),)) from None


def _parse(data: bytes, kind: CsvKind) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    header = [name.strip() for name in next(reader, [])]
    missing = [name for name in _REQUIRED[kind] if name not in header]
    unknown = [name for name in header if name not in COLUMNS[kind]]
    problems = [f"missing column {name}" for name in missing]
    problems += [f"unknown column {name!r}" for name in unknown]
    if problems:
        raise ImportRejected(tuple(RowError(1, problem) for problem in problems))
    parsed: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    for values in _rows(reader):
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            errors.append(RowError(line, f"{len(values)} fields, the header has {len(header)}"))
            continue
        parsed.append((line, dict(zip(header, (value.strip() for value in values), strict=True))))
        if len(parsed) > MAX_IMPORT_ROWS:
            raise ImportRejected((RowError(line, f"more than {MAX_IMPORT_ROWS} rows"),))
    if errors:
        raise ImportRejected(tuple(errors))
    return parsed


def _rows(reader: Iterator[list[str]]) -> Iterator[Sequence[str]]:
    try:
        yield from reader
    except csv.Error as error:
        raise ImportRejected((RowError(None, f"malformed CSV: {error}"),)) from None


def _export_units(session: Session) -> Iterator[list[str]]:
    # Parents before their sub-units (depth first, siblings by code), so the file
    # imports again as it is.
    all_units = list(session.scalars(select(OrganisationUnit).order_by(OrganisationUnit.code)))
    codes = {unit.id: unit.code for unit in all_units}
    children: dict[int | None, list[OrganisationUnit]] = {}
    for unit in all_units:
        children.setdefault(unit.parent_id, []).append(unit)
    stack = list(reversed(children.get(None, [])))
    while stack:
        unit = stack.pop()
        parent = codes.get(unit.parent_id) if unit.parent_id is not None else None
        yield [unit.code, unit.name, unit.kind.value, parent or ""]
        stack.extend(reversed(children.get(unit.id, [])))


def _export_extensions(session: Session) -> Iterator[list[str]]:
    codes = _names(session, OrganisationUnit.id, OrganisationUnit.code)
    classes = _names(session, ClassOfService.id, ClassOfService.name)
    sites = _names(session, Site.id, Site.name)
    for e in session.scalars(select(Extension).order_by(Extension.number)):
        yield [
            e.number,
            e.display_name,
            codes[e.unit_id],
            classes[e.class_of_service_id],
            sites[e.site_id] if e.site_id is not None else "",
            "true" if e.enabled else "false",
            e.forward_unconditional or "",
            e.forward_busy or "",
            e.forward_no_answer or "",
            str(e.no_answer_seconds),
            "",
        ]


def _export_short_numbers(session: Session) -> Iterator[list[str]]:
    codes = _names(session, OrganisationUnit.id, OrganisationUnit.code)
    for n in session.scalars(select(ShortNumber).order_by(ShortNumber.short_code)):
        yield [n.short_code, n.mobile_e164, n.person_name, codes[n.unit_id], n.desk_extension or ""]


def _names(
    session: Session, key: InstrumentedAttribute[int], name: InstrumentedAttribute[str]
) -> dict[int, str]:
    return {row_id: value for row_id, value in session.execute(select(key, name))}


_APPLIERS: Final = {
    CsvKind.UNITS: _csv_rows.apply_unit,
    CsvKind.EXTENSIONS: _csv_rows.apply_extension,
    CsvKind.SHORT_NUMBERS: _csv_rows.apply_short_number,
}
_EXPORTERS: Final[dict[CsvKind, Callable[[Session], Iterator[list[str]]]]] = {
    CsvKind.UNITS: _export_units,
    CsvKind.EXTENSIONS: _export_extensions,
    CsvKind.SHORT_NUMBERS: _export_short_numbers,
}
