"""``/api-keys``: create, list and revoke API keys (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.deps import AdminKey, CurrentKey, PageDep, SessionDep, actor_of
from api.routers._common import ERROR_RESPONSES, IdPath, no_store
from api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ApiKeysPublic
from dialplan.storage.services import api_keys

__all__ = ["router"]

router = APIRouter(prefix="/api-keys", tags=["api keys"], responses=ERROR_RESPONSES)


@router.get("")
def list_api_keys(
    session: SessionDep,
    key: AdminKey,
    page: PageDep,
    include_revoked: Annotated[bool, Query()] = False,
) -> ApiKeysPublic:
    """List keys, newest first; revoked keys only when asked."""
    result = api_keys.list_api_keys(
        session, include_revoked=include_revoked, skip=page.skip, limit=page.limit
    )
    return ApiKeysPublic(
        data=[ApiKeyPublic.model_validate(item) for item in result.items], count=result.count
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_api_key(
    body: ApiKeyCreate, session: SessionDep, key: AdminKey, response: Response
) -> ApiKeyCreated:
    """Create a key; its secret is in this response only."""
    created = api_keys.create_api_key(session, actor=actor_of(key), name=body.name, role=body.role)
    no_store(response)
    return ApiKeyCreated(key=ApiKeyPublic.model_validate(created.key), secret=created.secret)


@router.get("/current")
def current_api_key(key: CurrentKey) -> ApiKeyPublic:
    """Return the key this request was made with (any role)."""
    return ApiKeyPublic.model_validate(key)


@router.delete("/{key_id}")
def revoke_api_key(key_id: IdPath, session: SessionDep, key: AdminKey) -> ApiKeyPublic:
    """Revoke a key at once; the last active admin key cannot be revoked."""
    record = api_keys.revoke_api_key(session, actor=actor_of(key), key_id=key_id)
    return ApiKeyPublic.model_validate(record)
