"""Numbering-plan services: keyword-only functions that own the unit of work.

Each write runs in one transaction that validates the fields, detects conflicts and
names the conflicting object, compiles the would-be plan with the engine's
``compile_plan``, writes the audit log and bumps ``plan_state.version``; see
``_unit_of_work.py``. Services return frozen records, never ORM objects.
"""

__all__: list[str] = []
