"""Read the whole numbering plan from storage as the engine's ``PlanRows``.

Call :func:`load_plan_rows` inside one transaction so the rows form one consistent
snapshot: the write services call it after flushing their changes (to compile the
would-be plan before committing), the plan source calls it to (re)load the live plan.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.model import (
    ClassOfServiceRow,
    DialRuleRow,
    ExtensionRow,
    NumberBlockRow,
    PlanRows,
    ShortNumberRow,
    SiteRow,
    TrunkRow,
    UnitRow,
)
from dialplan.storage._fields import copy_fields, destination_kinds
from dialplan.storage.models import (
    ClassOfService,
    DialRule,
    Extension,
    NumberBlock,
    OrganisationUnit,
    PlanState,
    ShortNumber,
    Site,
    Trunk,
)

__all__ = ["load_plan_rows", "read_plan_version"]


def read_plan_version(session: Session) -> int:
    """Return ``plan_state.version``; 0 before the first write."""
    version = session.scalar(select(PlanState.version).where(PlanState.id == 1))
    return version or 0


def load_plan_rows(session: Session, realm: str) -> PlanRows:
    """Return every plan table as frozen rows, ordered by key, for ``compile_plan``."""
    units = tuple(
        copy_fields(UnitRow, u)
        for u in session.scalars(select(OrganisationUnit).order_by(OrganisationUnit.id))
    )
    sites = tuple(copy_fields(SiteRow, s) for s in session.scalars(select(Site).order_by(Site.id)))
    blocks = tuple(
        copy_fields(NumberBlockRow, b)
        for b in session.scalars(select(NumberBlock).order_by(NumberBlock.first))
    )
    classes = tuple(
        copy_fields(ClassOfServiceRow, c, allowed=destination_kinds(c.allowed))
        for c in session.scalars(select(ClassOfService).order_by(ClassOfService.id))
    )
    extensions = tuple(
        copy_fields(ExtensionRow, e)
        for e in session.scalars(select(Extension).order_by(Extension.number))
    )
    short_numbers = tuple(
        copy_fields(ShortNumberRow, n)
        for n in session.scalars(select(ShortNumber).order_by(ShortNumber.short_code))
    )
    trunks = tuple(
        copy_fields(TrunkRow, t) for t in session.scalars(select(Trunk).order_by(Trunk.id))
    )
    rules = tuple(
        copy_fields(DialRuleRow, r)
        for r in session.scalars(select(DialRule).order_by(DialRule.priority))
    )
    return PlanRows(
        realm=realm,
        units=units,
        sites=sites,
        blocks=blocks,
        classes_of_service=classes,
        extensions=extensions,
        short_numbers=short_numbers,
        trunks=trunks,
        rules=rules,
        version=read_plan_version(session),
    )
