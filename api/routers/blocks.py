"""``/blocks``: number blocks; no two blocks of any units overlap."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Response, status

from api.deps import (
    ContextDep,
    IfMatchDep,
    OperatorKey,
    PageDep,
    SessionDep,
    ViewerKey,
    actor_of,
    expected_version,
    notify_plan_changed,
)
from api.routers._common import (
    ERROR_RESPONSES,
    IdPath,
    IdQuery,
    PrefixQuery,
    after_write,
    changes_of,
    page_of,
    with_etag,
)
from api.schemas import BlockCreate, BlockPublic, BlocksPublic, BlockUpdate
from dialplan.storage.services import blocks
from dialplan.storage.services.blocks import BlockChanges, BlockFilter, NewBlock

__all__ = ["router"]

router = APIRouter(prefix="/blocks", tags=["number blocks"], responses=ERROR_RESPONSES)


@router.get("")
def list_blocks(
    session: SessionDep,
    key: ViewerKey,
    page: PageDep,
    unit_id: IdQuery = None,
    number_prefix: PrefixQuery = None,
) -> BlocksPublic:
    """List blocks in number order, filtered by unit and leading digits."""
    filters = BlockFilter(unit_id=unit_id, number_prefix=number_prefix)
    result = blocks.list_blocks(session, filters=filters, skip=page.skip, limit=page.limit)
    return page_of(BlocksPublic, BlockPublic, result)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_block(
    body: BlockCreate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    response: Response,
) -> BlockPublic:
    """Create a block; 409 names the block it would overlap."""
    record = blocks.create_block(
        session, actor=actor_of(key), realm=context.realm, new=NewBlock(**body.model_dump())
    )
    return after_write(context, response, BlockPublic, record)


@router.get("/{block_id}")
def get_block(
    block_id: IdPath, session: SessionDep, key: ViewerKey, response: Response
) -> BlockPublic:
    """Return one block."""
    record = blocks.get_block(session, block_id=block_id)
    return with_etag(response, BlockPublic, record)


@router.patch("/{block_id}")
def update_block(
    block_id: IdPath,
    body: BlockUpdate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
    response: Response,
) -> BlockPublic:
    """Move or resize a block; every extension in it must stay inside some block."""
    record = blocks.update_block(
        session,
        actor=actor_of(key),
        realm=context.realm,
        block_id=block_id,
        changes=cast(BlockChanges, changes_of(body)),
        expected_version=expected_version(if_match, body.version),
    )
    return after_write(context, response, BlockPublic, record)


@router.delete("/{block_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_block(
    block_id: IdPath,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
) -> None:
    """Delete a block no extension needs."""
    blocks.delete_block(
        session,
        actor=actor_of(key),
        realm=context.realm,
        block_id=block_id,
        expected_version=if_match,
    )
    notify_plan_changed(context)
