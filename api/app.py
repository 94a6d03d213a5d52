"""The admin REST API application factory.

``create_app`` takes everything the app needs as arguments and keeps it on
``app.state`` (see :class:`api.deps.AppContext`): no globals, no environment reads.
The composition root builds the session factory, the plan source and the
registration source, then serves the app with uvicorn beside the SIP server.
"""

from __future__ import annotations

from typing import Final

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.deps import AppContext
from api.errors import install_error_handlers
from api.ports import PlanSource, RegistrationSource, SecurityBlockSource, StatsSource
from api.routers import ROUTERS, security, stats

__all__ = ["API_PREFIX", "create_app"]

#: Every route lives under this prefix.
API_PREFIX: Final = "/api/v1"

_DESCRIPTION: Final = """\
Administration of the Ronghe (融合) converged communications platform: the county
numbering plan (units, sites, number blocks, extensions, short numbers, classes of
service, trunks, dial rules), CSV import/export, a route test, live registrations and
calls, API keys and the audit log.

Authenticate with `Authorization: Bearer <API key>`. Roles: **viewer** reads,
**operator** also edits the numbering plan, **admin** also manages trunks and keys.
Every write is checked by the plan compiler before it is committed and is audited.
Updates and deletes honour `If-Match` with the object's ETag (its `version`).
Times are UTC (ISO 8601); `*_local` fields repeat them in Asia/Shanghai time.
"""


def create_app(
    *,
    session_factory: sessionmaker[Session],
    realm: str,
    plan_source: PlanSource,
    registrations: RegistrationSource,
    security_blocks: SecurityBlockSource | None = None,
    stats_source: StatsSource | None = None,
    metrics_token: str | None = None,
) -> FastAPI:
    """Build the API for one database, SIP realm, live plan and registrar.

    The database must already be migrated (:func:`dialplan.storage.migrate.upgrade_to_head`).
    """
    app = FastAPI(
        title="Ronghe admin API",
        version="1",
        description=_DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.context = AppContext(
        session_factory=session_factory,
        realm=realm,
        plan_source=plan_source,
        registrations=registrations,
        security_blocks=security_blocks,
        stats=stats_source,
        metrics_token=metrics_token,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(security.router, prefix=API_PREFIX)
    if stats_source is not None:
        # Counters exist only where a SIP stack runs beside the API.
        app.include_router(stats.router, prefix=API_PREFIX)
        app.include_router(stats.metrics_router)
    return app
