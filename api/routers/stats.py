"""``/stats`` (JSON, viewer role) and ``/metrics`` (Prometheus text): the SIP side's counters.

Both await the counters of every worker process through the :class:`api.ports.StatsSource`
port, so a scrape runs on the event loop as one more awaited task and never blocks SIP
handling. ``/metrics`` is served outside the ``/api/v1`` prefix, where Prometheus looks;
with ``--metrics-token`` it needs ``Authorization: Bearer <token>``, otherwise anyone who
reaches the API listener (127.0.0.1 by default) may read it.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import ContextDep, ViewerKey
from api.metrics import CONTENT_TYPE, render_metrics
from api.ports import StatsSource
from api.routers._common import ERROR_RESPONSES
from api.schemas.stats import StatsPublic

__all__ = ["metrics_router", "router"]

router = APIRouter(tags=["live"], responses=ERROR_RESPONSES)
metrics_router = APIRouter(tags=["live"])

_metrics_bearer = HTTPBearer(auto_error=False, description="The `--metrics-token`")


def _source(context: ContextDep) -> StatsSource:
    if context.stats is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "no SIP stack runs beside this API"
        )
    return context.stats


SourceDep = Annotated[StatsSource, Depends(_source)]


@router.get("/stats")
async def get_stats(source: SourceDep, key: ViewerKey) -> StatsPublic:
    """The counters of every SIP worker process, summed (the numbers of ``/metrics``)."""
    return StatsPublic.from_view(await source.stats())


@metrics_router.get("/metrics", response_class=Response)
async def get_metrics(
    context: ContextDep,
    source: SourceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_metrics_bearer)],
) -> Response:
    """Prometheus text exposition of the same counters."""
    token = context.metrics_token
    if token is not None and (
        credentials is None
        or not hmac.compare_digest(credentials.credentials.encode(), token.encode())
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "metrics need Authorization: Bearer <the --metrics-token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(render_metrics(await source.stats()), media_type=CONTENT_TYPE)
