"""``/security/blocks``: the sources the SIP guard refuses; list and lift them (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.deps import AdminKey, ContextDep
from api.routers._common import ERROR_RESPONSES
from api.schemas.security import SecurityBlockPublic, SecurityBlocksPublic
from dialplan.storage.exceptions import NotFound

__all__ = ["router"]

router = APIRouter(prefix="/security", tags=["security"], responses=ERROR_RESPONSES)

BlockIdPath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


@router.get("/blocks")
def list_security_blocks(context: ContextDep, key: AdminKey) -> SecurityBlocksPublic:
    """List the blocks in force in every SIP process, oldest first."""
    source = context.security_blocks
    views = [] if source is None else source.active_blocks()
    return SecurityBlocksPublic(
        data=[SecurityBlockPublic.from_view(view) for view in views], count=len(views)
    )


@router.delete("/blocks/{block_id}", status_code=status.HTTP_200_OK)
def lift_security_block(
    block_id: BlockIdPath, context: ContextDep, key: AdminKey
) -> SecurityBlockPublic:
    """Lift a block: every SIP process serves the source again within a second."""
    source = context.security_blocks
    view = None if source is None else source.lift(block_id)
    if view is None:
        raise NotFound(f"security block {block_id} not found")
    return SecurityBlockPublic.from_view(view)
