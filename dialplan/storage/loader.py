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
    DestinationKind,
    DialRuleRow,
    ExtensionRow,
    NumberBlockRow,
    PlanRows,
    ShortNumberRow,
    SiteRow,
    TrunkRow,
    UnitRow,
)
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
        UnitRow(id=u.id, parent_id=u.parent_id, name=u.name, code=u.code, kind=u.kind)
        for u in session.scalars(select(OrganisationUnit).order_by(OrganisationUnit.id))
    )
    sites = tuple(
        SiteRow(
            id=s.id,
            unit_id=s.unit_id,
            name=s.name,
            priority=s.priority,
            bandwidth_class=s.bandwidth_class,
        )
        for s in session.scalars(select(Site).order_by(Site.id))
    )
    blocks = tuple(
        NumberBlockRow(id=b.id, unit_id=b.unit_id, first=b.first, last=b.last)
        for b in session.scalars(select(NumberBlock).order_by(NumberBlock.first))
    )
    classes = tuple(
        ClassOfServiceRow(
            id=c.id, name=c.name, allowed=frozenset(DestinationKind(k) for k in c.allowed)
        )
        for c in session.scalars(select(ClassOfService).order_by(ClassOfService.id))
    )
    extensions = tuple(
        ExtensionRow(
            id=e.id,
            number=e.number,
            display_name=e.display_name,
            unit_id=e.unit_id,
            site_id=e.site_id,
            class_of_service_id=e.class_of_service_id,
            enabled=e.enabled,
            ha1_md5=e.ha1_md5,
            ha1_sha256=e.ha1_sha256,
            forward_unconditional=e.forward_unconditional,
            forward_busy=e.forward_busy,
            forward_no_answer=e.forward_no_answer,
            no_answer_seconds=e.no_answer_seconds,
        )
        for e in session.scalars(select(Extension).order_by(Extension.number))
    )
    short_numbers = tuple(
        ShortNumberRow(
            id=n.id,
            short_code=n.short_code,
            mobile_e164=n.mobile_e164,
            person_name=n.person_name,
            unit_id=n.unit_id,
            desk_extension=n.desk_extension,
        )
        for n in session.scalars(select(ShortNumber).order_by(ShortNumber.short_code))
    )
    trunks = tuple(
        TrunkRow(
            id=t.id, name=t.name, enabled=t.enabled, host=t.host, port=t.port, transport=t.transport
        )
        for t in session.scalars(select(Trunk).order_by(Trunk.id))
    )
    rules = tuple(
        DialRuleRow(
            id=r.id,
            priority=r.priority,
            pattern=r.pattern,
            min_length=r.min_length,
            max_length=r.max_length,
            destination=r.destination,
            trunk_id=r.trunk_id,
            strip=r.strip,
            prepend=r.prepend,
            description=r.description,
        )
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
