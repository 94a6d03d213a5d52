"""The live numbering plan, compiled from the database and swapped atomically.

:class:`StoredPlanSource` satisfies the admin API's ``PlanSource`` port and is what
the SIP process routes with. ``reload_now`` builds the new plan beside the live one
and swaps one reference; if the build fails the old plan stays (STYLE.md §3, like
Kamailio ``dialplan/dp_db.c``). ``reload_if_changed`` is the cheap poll: it reads
``plan_state.version`` and reloads only when it moved, so a write made by another
process (the CLI importing a CSV) reaches the proxy within one poll interval.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from dialplan.engine import NumberingPlan, compile_plan
from dialplan.storage.services.plan_state import current_plan_version, read_plan

__all__ = ["StoredPlanSource"]

logger = logging.getLogger(__name__)


class StoredPlanSource:
    """The compiled plan of one database, reloaded on demand or when its version moves."""

    def __init__(self, session_factory: sessionmaker[Session], *, realm: str) -> None:
        self._session_factory = session_factory
        self._realm = realm
        self._plan: NumberingPlan | None = None
        self._reload_lock = threading.Lock()
        #: When the live plan was last built, seconds since the epoch (``None``: never).
        self.loaded_at: float | None = None
        #: Reloads that failed (the plan did not compile, the database did not answer).
        self.reload_failures = 0

    def current(self) -> NumberingPlan:
        """Return the live plan, loading it on first use."""
        plan = self._plan
        if plan is None:
            self.reload_now()
            plan = self._plan
            assert plan is not None
        return plan

    def reload_now(self) -> None:
        """Compile the stored plan and make it live; on error keep the old one and raise."""
        with self._reload_lock:
            try:
                plan = compile_plan(read_plan(self._session_factory, realm=self._realm))
            except Exception:
                self.reload_failures += 1
                raise
            previous = self._plan
            self._plan = plan
            self.loaded_at = time.time()
        if previous is None or previous.version != plan.version:
            logger.info("numbering plan version %d is live", plan.version)

    def reload_if_changed(self) -> bool:
        """Reload if ``plan_state.version`` differs from the live plan's; return whether."""
        plan = self._plan
        if plan is not None and current_plan_version(self._session_factory) == plan.version:
            return False
        self.reload_now()
        return True
