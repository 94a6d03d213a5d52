"""Helpers shared by the routers: ETags, secret-bearing responses, changes of a PATCH."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Path, Query, Response
from pydantic import BaseModel

from api.schemas.common import MAX_ID, SearchText

__all__ = [
    "ERROR_RESPONSES",
    "IdPath",
    "IdQuery",
    "NameQuery",
    "PrefixQuery",
    "changes_of",
    "no_store",
    "set_etag",
]

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
NameQuery = Annotated[SearchText | None, Query(description="Substring of the name.")]
PrefixQuery = Annotated[
    str | None, Query(pattern=r"^[0-9]{1,16}$", description="Leading digits of the number.")
]

_DETAIL: Final = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
        }
    }
}
#: Error statuses every authenticated route may answer, for the OpenAPI document.
ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    401: {"description": "Missing, unknown or revoked API key", **_DETAIL},
    403: {"description": "The key's role is too low", **_DETAIL},
    404: {"description": "No such object", **_DETAIL},
    409: {"description": "Conflicts with another object, which is named", **_DETAIL},
    412: {"description": "If-Match or version is stale", **_DETAIL},
    422: {"description": "A field or the resulting plan is invalid", **_DETAIL},
    503: {"description": "The database is unavailable; see Retry-After", **_DETAIL},
}


def set_etag(response: Response, version: int) -> None:
    """Send the object's version as its strong entity tag (RFC 9110 §8.8.3)."""
    response.headers["ETag"] = f'"{version}"'


def no_store(response: Response) -> None:
    """Keep a response that shows a secret out of every cache (RFC 9111 §5.2.2.5)."""
    response.headers["Cache-Control"] = "no-store"


def changes_of(body: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body set, without ``version``."""
    return body.model_dump(exclude_unset=True, exclude={"version"})
