"""Numbering-plan storage: SQLAlchemy models, migrations helper, services (I/O).

Nothing here is imported by the pure engine; storage hands the engine ``PlanRows``.
"""
