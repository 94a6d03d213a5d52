"""One router per entity, mounted under ``/api/v1`` by :func:`api.app.create_app`."""

from __future__ import annotations

from fastapi import APIRouter

from api.routers import (
    api_keys,
    audit_log,
    blocks,
    classes_of_service,
    dial_rules,
    extensions,
    health,
    live,
    route_test,
    short_numbers,
    sites,
    transfer,
    trunks,
    units,
)

__all__ = ["ROUTERS"]

#: Every router, in the order the OpenAPI document lists them.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    units.router,
    sites.router,
    blocks.router,
    classes_of_service.router,
    extensions.router,
    short_numbers.router,
    trunks.router,
    dial_rules.router,
    route_test.router,
    live.router,
    transfer.router,
    api_keys.router,
    audit_log.router,
)
