"""The one place domain errors become HTTP responses.

====================================  ======  ===========================================
error                                 status  body
====================================  ======  ===========================================
NotFound                              404     ``{"detail": message}``
Conflict                              409     ``{"detail": message}`` naming the object
PreconditionFailed                    412     ``{"detail", "current_version"}`` + ETag
ValidationFailed                      422     ``{"detail": [{"loc", "msg", "type"}]}``
PlanRejected                          422     one ``detail`` item per compiler problem
ImportRejected                        422     one ``detail`` item per bad CSV row
database unreachable                  503     ``{"detail": message}`` + Retry-After
====================================  ======  ===========================================

422 bodies keep FastAPI's request-validation shape, so clients parse one format.
"""

from __future__ import annotations

import logging
from typing import Final

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sqlalchemy_errors
from sqlalchemy.orm.exc import StaleDataError

from dialplan.storage.exceptions import (
    Conflict,
    ImportRejected,
    NotFound,
    PlanRejected,
    PreconditionFailed,
    ValidationFailed,
)

__all__ = ["RETRY_AFTER_SECONDS", "install_error_handlers"]

logger = logging.getLogger(__name__)

#: What a 503 tells clients to wait before retrying: long enough for PostgreSQL to
#: fail over or a SQLite writer to finish, short enough for an operator at the console.
RETRY_AFTER_SECONDS: Final = 5

_UNAVAILABLE: Final = (
    sqlalchemy_errors.OperationalError,
    sqlalchemy_errors.InterfaceError,
    sqlalchemy_errors.DisconnectionError,
    sqlalchemy_errors.TimeoutError,
)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers of this module on ``app``."""
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(StaleDataError, _stale)
    app.add_exception_handler(PreconditionFailed, _precondition_failed)
    app.add_exception_handler(ValidationFailed, _validation_failed)
    app.add_exception_handler(PlanRejected, _plan_rejected)
    app.add_exception_handler(ImportRejected, _import_rejected)
    for error_class in _UNAVAILABLE:
        app.add_exception_handler(error_class, _database_unavailable)
    app.add_exception_handler(sqlalchemy_errors.DataError, _data_error)
    app.add_exception_handler(sqlalchemy_errors.DBAPIError, _database_error)


async def _not_found(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotFound)
    return JSONResponse({"detail": error.message}, status.HTTP_404_NOT_FOUND)


async def _conflict(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Conflict)
    return JSONResponse({"detail": error.message}, status.HTTP_409_CONFLICT)


async def _stale(request: Request, error: Exception) -> JSONResponse:
    # Only reachable if a row changed between our read and our UPDATE outside the
    # plan lock; the client should reload and retry, as for a stale If-Match.
    return JSONResponse(
        {"detail": "the object was changed concurrently; reload it and retry"},
        status.HTTP_409_CONFLICT,
    )


async def _precondition_failed(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PreconditionFailed)
    return JSONResponse(
        {"detail": error.message, "current_version": error.current_version},
        status.HTTP_412_PRECONDITION_FAILED,
        headers={"ETag": f'"{error.current_version}"'},
    )


async def _validation_failed(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ValidationFailed)
    detail = [{"loc": ["body", error.field], "msg": error.reason, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _plan_rejected(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PlanRejected)
    detail = [
        {
            "loc": ["body"],
            "msg": problem.message,
            "type": f"plan.{problem.kind}",
            "ctx": {"object_kind": problem.object_kind, "object_id": problem.object_id},
        }
        for problem in error.problems
    ]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _import_rejected(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ImportRejected)
    detail = [
        {
            "loc": ["body", "line", row.line] if row.line is not None else ["body"],
            "msg": row.message,
            "type": "import.row",
            "line": row.line,
        }
        for row in error.errors
    ]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", error)
    return JSONResponse(
        {"detail": "the database is unavailable; retry later"},
        status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _data_error(request: Request, error: Exception) -> JSONResponse:
    # A value the service checks let through but the database refused (such as a NUL
    # byte in PostgreSQL text): the request, not the server, is at fault.
    assert isinstance(error, sqlalchemy_errors.DataError)
    logger.warning("database refused a value: %s", error.orig)
    detail = [
        {"loc": ["body"], "msg": "a value was refused by the database", "type": "value_error"}
    ]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, sqlalchemy_errors.DBAPIError)
    if error.connection_invalidated:
        return await _database_unavailable(request, error)
    logger.error("database error", exc_info=error)
    return JSONResponse(
        {"detail": "internal database error"}, status.HTTP_500_INTERNAL_SERVER_ERROR
    )
