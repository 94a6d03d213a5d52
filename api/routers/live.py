"""``/registrations``, ``/calls``: read-only views of the SIP side, through the ports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ContextDep, PageDep, ViewerKey
from api.routers._common import ERROR_RESPONSES
from api.schemas import CallPublic, CallsPublic, RegistrationPublic, RegistrationsPublic

__all__ = ["router"]

router = APIRouter(tags=["live"], responses=ERROR_RESPONSES)


@router.get("/registrations")
def list_registrations(
    context: ContextDep,
    key: ViewerKey,
    page: PageDep,
    extension: Annotated[str | None, Query(pattern=r"^[0-9]{2,16}$")] = None,
) -> RegistrationsPublic:
    """List the registered contacts, of one extension if given."""
    views = context.registrations.registrations(extension)
    return RegistrationsPublic(
        data=[
            RegistrationPublic.from_view(view) for view in views[page.skip : page.skip + page.limit]
        ],
        count=len(views),
    )


@router.get("/calls")
def list_calls(context: ContextDep, key: ViewerKey, page: PageDep) -> CallsPublic:
    """List the calls in progress."""
    calls = context.registrations.active_calls()
    return CallsPublic(
        data=[CallPublic.from_view(call) for call in calls[page.skip : page.skip + page.limit]],
        count=len(calls),
    )
