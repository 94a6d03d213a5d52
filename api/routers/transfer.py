"""``/import/{kind}`` and ``/export/{kind}``: CSV files of units, extensions, short numbers.

Import bodies are raw ``text/csv`` (UTF-8, a byte-order mark is fine). A dry run
answers 200 with every bad row; a real import with a bad row answers 422 with every
bad row and writes nothing.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from api.deps import ContextDep, OperatorKey, SessionDep, ViewerKey, actor_of, notify_plan_changed
from api.routers._common import ERROR_RESPONSES, no_store
from api.schemas.transfer import ImportCredential, ImportReportPublic, RowErrorPublic
from dialplan.storage.csv_io import CsvKind, export_csv, import_csv

__all__ = ["MAX_CSV_BYTES", "router"]

router = APIRouter(tags=["import and export"], responses=ERROR_RESPONSES)

#: Largest CSV body accepted: 20 000 extension rows fit in well under 8 MiB.
MAX_CSV_BYTES: Final = 8 * 1024 * 1024

_CSV_BODY: Final = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "number,display_name,unit_code,class_of_service\n8203,张三,cgz,local\n",
            }
        },
    }
}


async def _csv_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CSV_BYTES:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE, f"CSV body over {MAX_CSV_BYTES} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/import/{kind}", openapi_extra=_CSV_BODY)
def import_file(
    kind: CsvKind,
    data: Annotated[bytes, Depends(_csv_body)],
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    response: Response,
    dry_run: Annotated[bool, Query(description="Check every row, write nothing")] = False,
) -> ImportReportPublic:
    """Import a CSV file all-or-nothing; rows are upserts by code, number or short code."""
    report = import_csv(
        session, actor=actor_of(key), realm=context.realm, kind=kind, data=data, dry_run=dry_run
    )
    if not dry_run:
        notify_plan_changed(context)
    no_store(response)
    return ImportReportPublic(
        kind=report.kind,
        dry_run=report.dry_run,
        ok=not report.errors,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        errors=[RowErrorPublic(line=e.line, message=e.message) for e in report.errors],
        credentials=[ImportCredential(number=n, password=p) for n, p in report.credentials],
    )


@router.get(
    "/export/{kind}",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export_file(kind: CsvKind, session: SessionDep, key: ViewerKey) -> Response:
    """Export as UTF-8 CSV with a byte-order mark (so Excel shows Chinese names)."""
    return Response(
        content=export_csv(session, kind=kind),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind.value}.csv"'},
    )
