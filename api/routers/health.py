"""``/health``: unauthenticated; 200 when the API reaches the database, else 503."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ContextDep
from api.schemas import Health
from dialplan.storage.services.plan_state import current_plan_version

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
def health(context: ContextDep) -> Health:
    """Report the plan version in use and the one stored; equal once the proxy reloaded."""
    stored = current_plan_version(context.session_factory)
    return Health(
        status="ok",
        plan_version=context.plan_source.current().version,
        stored_plan_version=stored,
    )
