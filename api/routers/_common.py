"""Helpers shared by the routers: ETags, secret-bearing responses, changes of a PATCH,
and the standard answers of the CRUD routes (a page, one object, a committed write)."""

from __future__ import annotations

from typing import Annotated, Any, Final, Protocol, TypeVar

from fastapi import Path, Query, Response
from pydantic import BaseModel

from api.deps import AppContext, notify_plan_changed
from api.schemas.common import MAX_ID, SearchText
from dialplan.storage.records import Page

__all__ = [
    "ERROR_RESPONSES",
    "IdPath",
    "IdQuery",
    "NameQuery",
    "PrefixQuery",
    "Versioned",
    "after_write",
    "changes_of",
    "no_store",
    "page_of",
    "set_etag",
    "with_etag",
]

PublicT = TypeVar("PublicT", bound=BaseModel)
PageT = TypeVar("PageT", bound=BaseModel)
RecordT = TypeVar("RecordT")

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


class Versioned(Protocol):
    """A record with an optimistic-locking version, sent as its ETag."""

    @property
    def version(self) -> int: ...


def page_of(page_schema: type[PageT], item_schema: type[BaseModel], page: Page[RecordT]) -> PageT:
    """A service's page of records as a ``XsPublic {data, count}`` schema."""
    return page_schema(
        data=[item_schema.model_validate(item) for item in page.items], count=page.count
    )


def with_etag(response: Response, schema: type[PublicT], record: Versioned) -> PublicT:
    """One record as its public schema, its version sent as the ETag."""
    set_etag(response, record.version)
    return schema.model_validate(record)


def after_write(
    context: AppContext, response: Response, schema: type[PublicT], record: Versioned
) -> PublicT:
    """The answer to a committed create or update: reload the live plan, then
    :func:`with_etag`."""
    notify_plan_changed(context)
    return with_etag(response, schema, record)
