"""Numbering-plan storage (I/O): SQLAlchemy models, migrations, services, CSV, demo plan.

The composition root needs only these names; the services themselves live in
``dialplan.storage.services.<entity>``. Nothing here is imported by the pure engine:
storage hands the engine ``PlanRows`` (:func:`load_plan_rows`).
"""

from __future__ import annotations

from dialplan.storage.database import (
    DEFAULT_DATABASE_URL,
    create_database_engine,
    create_session_factory,
)
from dialplan.storage.demo import DemoCredential, seed_demo_plan
from dialplan.storage.loader import load_plan_rows, read_plan_version
from dialplan.storage.migrate import upgrade_to_head
from dialplan.storage.plan_source import StoredPlanSource
from dialplan.storage.records import Actor, Role
from dialplan.storage.services.plan_state import current_plan_version, read_plan

__all__ = [
    "DEFAULT_DATABASE_URL",
    "Actor",
    "DemoCredential",
    "Role",
    "StoredPlanSource",
    "create_database_engine",
    "create_session_factory",
    "current_plan_version",
    "load_plan_rows",
    "read_plan",
    "read_plan_version",
    "seed_demo_plan",
    "upgrade_to_head",
]
