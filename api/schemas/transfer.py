"""Schemas of CSV import results."""

from __future__ import annotations

from pydantic import BaseModel

from dialplan.storage.csv_io import CsvKind

__all__ = ["ImportCredential", "ImportReportPublic", "RowErrorPublic"]


class RowErrorPublic(BaseModel):
    """A bad CSV row: its line (header = line 1) and the reason."""

    line: int | None
    message: str


class ImportCredential(BaseModel):
    """A password generated for an imported extension, shown once."""

    number: str
    password: str


class ImportReportPublic(BaseModel):
    """What an import did, or (dry run) would do and which rows are bad."""

    kind: CsvKind
    dry_run: bool
    ok: bool
    created: int
    updated: int
    unchanged: int
    errors: list[RowErrorPublic]
    credentials: list[ImportCredential]
