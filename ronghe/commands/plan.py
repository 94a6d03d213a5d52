"""``ronghe plan import|export``: the numbering plan as CSV files.

Import is all-or-nothing: every bad row is printed with its line number and nothing
is written. A running server picks the change up by polling ``plan_state``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Final

from dialplan.storage.csv_io import CsvKind, detect_kind, export_csv, import_csv
from dialplan.storage.exceptions import ImportRejected, RowError
from ronghe.commands._database import CLI_ACTOR, open_database
from ronghe.commands._settings import add_common_options, command_settings

__all__ = ["add_parser"]

_KINDS: Final = [kind.value for kind in CsvKind]


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register ``ronghe plan import`` and ``ronghe plan export``."""
    plan = subparsers.add_parser("plan", help="import or export the numbering plan as CSV")
    commands = plan.add_subparsers(dest="plan_command", required=True)

    importer = commands.add_parser(
        "import",
        help="import units, extensions or short numbers from a CSV file",
        description=(
            "Import a UTF-8 CSV file (a byte-order mark is fine). Rows are created or "
            "updated by code, number or short code. If any row is bad nothing is written "
            "and every bad row is listed with its line number."
        ),
    )
    importer.add_argument("file", type=Path, help="the CSV file")
    importer.add_argument("--kind", choices=_KINDS, help="what the file holds (default: guessed)")
    importer.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    # The domain is the digest realm: the HA1 of every imported password depends on it.
    add_common_options(importer, domain=True)
    importer.set_defaults(handler=_run_import)

    exporter = commands.add_parser("export", help="write a CSV file to standard output")
    exporter.add_argument("--kind", choices=_KINDS, default=CsvKind.EXTENSIONS.value)
    add_common_options(exporter)
    exporter.set_defaults(handler=_run_export)


def _run_import(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as error:
        print(f"ronghe plan import: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 2
    kind = CsvKind(args.kind) if args.kind else detect_kind(data)
    if kind is None:
        print(
            f"ronghe plan import: cannot tell what {path} holds from its header; "
            f"use --kind {{{','.join(_KINDS)}}}",
            file=sys.stderr,
        )
        return 2
    settings = command_settings(args, "plan import")
    if settings is None:
        return 2
    session_factory = open_database(settings.database_url)
    with session_factory() as session:
        try:
            report = import_csv(
                session,
                actor=CLI_ACTOR,
                realm=settings.domain,
                kind=kind,
                data=data,
                dry_run=args.dry_run,
            )
        except ImportRejected as rejected:
            _print_errors(path, rejected.errors)
            print(f"nothing imported: {len(rejected.errors)} problem(s)", file=sys.stderr)
            return 1
    if report.errors:
        _print_errors(path, report.errors)
        print(f"dry run: {len(report.errors)} problem(s)", file=sys.stderr)
        return 1
    verb = "would import" if report.dry_run else "imported"
    print(
        f"{verb} {kind.value}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )
    if report.credentials:
        print("generated SIP passwords (shown once):")
        for number, password in report.credentials:
            print(f"  {number}  {password}")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    settings = command_settings(args, "plan export")
    if settings is None:
        return 2
    session_factory = open_database(settings.database_url)
    with session_factory() as session:
        data = export_csv(session, kind=CsvKind(args.kind))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


def _print_errors(path: Path, errors: tuple[RowError, ...]) -> None:
    for error in errors:
        where = f"{path}:{error.line}" if error.line is not None else f"{path}"
        print(f"{where}: {error.message}", file=sys.stderr)
