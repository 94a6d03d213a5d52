"""Ronghe admin REST API (FastAPI): :func:`create_app` and the ports it needs."""

from __future__ import annotations

from api.app import API_PREFIX, create_app
from api.ports import CallView, PlanSource, RegistrationSource, RegistrationView

__all__ = [
    "API_PREFIX",
    "CallView",
    "PlanSource",
    "RegistrationSource",
    "RegistrationView",
    "create_app",
]
