"""A small, realistic county numbering plan for first start and for demonstrations.

示范县: the county committee and government offices (8000-8199), two townships
(城关镇 8200-8239, 马头镇 8240-8279), the public security and education bureaus, an
emergency command centre (a priority site, allowed video), four classes of service,
staff short numbers 6xxxx that ring mobiles, a placeholder carrier trunk on the
reserved ``.invalid`` domain and dial rules for emergency and outside calls (outside
line prefix 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeVar

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from dialplan.model import DestinationKind, UnitKind
from dialplan.storage import repositories
from dialplan.storage.base import Base
from dialplan.storage.models import (
    ClassOfService,
    DialRule,
    NumberBlock,
    OrganisationUnit,
    Site,
    Trunk,
)
from dialplan.storage.records import Actor
from dialplan.storage.services._unit_of_work import PlanWrite, plan_write, snapshot
from dialplan.storage.services.extensions import NewExtension, add_extension
from dialplan.storage.services.short_numbers import NewShortNumber, add_short_number

__all__ = ["DEMO_ACTOR", "DemoCredential", "seed_demo_plan"]

#: Audit-log author of the demo rows.
DEMO_ACTOR: Final = Actor(name="demo-seed")

_M = TypeVar("_M", bound=Base)
_D = DestinationKind
# (code, name, kind, parent code, blocks)
_UNITS: Final = (
    ("county", "示范县", UnitKind.COUNTY, None, ()),
    ("xwb", "县委办公室", UnitKind.DEPARTMENT, "county", (("8000", "8099"),)),
    ("zfb", "县政府办公室", UnitKind.DEPARTMENT, "county", (("8100", "8199"),)),
    ("cgz", "城关镇", UnitKind.TOWNSHIP, "county", (("8200", "8239"),)),
    ("mtz", "马头镇", UnitKind.TOWNSHIP, "county", (("8240", "8279"),)),
    ("gaj", "县公安局", UnitKind.DEPARTMENT, "county", (("8300", "8339"),)),
    ("jyj", "县教育局", UnitKind.DEPARTMENT, "county", (("8340", "8379"),)),
)
# (unit code, name, priority, bandwidth class)
_SITES: Final = (
    ("zfb", "县政府大院", False, "standard"),
    ("zfb", "应急指挥中心", True, "video"),
)
_CLASSES: Final = {
    "internal-only": {_D.EXTENSION, _D.CONFERENCE},
    "local": {_D.EXTENSION, _D.CONFERENCE, _D.SHORT_NUMBER, _D.EXTERNAL_LOCAL},
    "national": {
        _D.EXTENSION,
        _D.CONFERENCE,
        _D.SHORT_NUMBER,
        _D.EXTERNAL_LOCAL,
        _D.EXTERNAL_NATIONAL,
    },
    "unrestricted": set(DestinationKind) - {_D.REJECT},
}
# (number, name, unit code, class of service, site name)
_EXTENSIONS: Final = (
    ("8001", "张伟", "xwb", "national", None),
    ("8002", "李娜", "xwb", "local", None),
    ("8101", "王芳", "zfb", "unrestricted", "县政府大院"),
    ("8102", "刘洋", "zfb", "local", "县政府大院"),
    ("8188", "应急值班室", "zfb", "national", "应急指挥中心"),
    ("8201", "陈静", "cgz", "local", None),
    ("8202", "城关镇值班室", "cgz", "internal-only", None),
    ("8241", "杨磊", "mtz", "local", None),
    ("8301", "赵强", "gaj", "national", "应急指挥中心"),
    ("8341", "孙丽", "jyj", "internal-only", None),
)
# (short code, mobile, person, unit code, desk extension)
_SHORT_NUMBERS: Final = (
    ("60001", "+8613800000001", "张伟", "xwb", "8001"),
    ("60002", "+8613800000002", "王芳", "zfb", "8101"),
    ("60003", "+8613900000003", "陈静", "cgz", "8201"),
)
_TRUNK_NAME: Final = "carrier-placeholder"
# (priority, pattern, min, max, destination, strip, prepend, description)
_RULES: Final = (
    (10, "11[09]", 3, 3, _D.EMERGENCY, 0, "", "匪警 110 / 火警 119"),
    (11, "12[02]", 3, 3, _D.EMERGENCY, 0, "", "急救 120 / 交通事故 122"),
    (20, "6XXXX", 5, 5, _D.SHORT_NUMBER, 0, "", "员工短号 → 手机"),
    (30, "9NXXXXXXX", 9, 9, _D.EXTERNAL_LOCAL, 1, "", "9 + 本地固话"),
    (31, "91[3-9]XXXXXXXXX", 12, 12, _D.EXTERNAL_LOCAL, 1, "", "9 + 手机"),
    (40, "90[1-9]X.", 11, 13, _D.EXTERNAL_NATIONAL, 1, "", "9 + 国内长途"),
    (50, "900.", 8, 20, _D.EXTERNAL_INTERNATIONAL, 3, "+", "9 + 国际"),
)


@dataclass(frozen=True, slots=True)
class DemoCredential:
    """A demo extension and its generated SIP password, to print once at first start."""

    number: str
    display_name: str
    password: str


def seed_demo_plan(session_factory: sessionmaker[Session], *, realm: str) -> list[DemoCredential]:
    """Fill an empty database with the demo plan; return the extensions' passwords.

    A no-op returning ``[]`` when any unit, class of service, trunk or dial rule exists.
    """
    with session_factory() as session:
        with session.begin():
            if not _plan_is_empty(session):
                return []
        try:
            with plan_write(session, actor=DEMO_ACTOR, realm=realm) as write:
                if not _plan_is_empty(session):
                    raise _AlreadySeeded
                return _seed(write, realm)
        except _AlreadySeeded:
            # Another process seeded between the check and the write lock.
            return []


class _AlreadySeeded(Exception):
    """Abort the seeding transaction without bumping the plan version."""


def _plan_is_empty(session: Session) -> bool:
    for model in (OrganisationUnit, ClassOfService, Trunk, DialRule):
        if session.scalar(select(func.count()).select_from(model)):
            return False
    return True


def _seed(write: PlanWrite, realm: str) -> list[DemoCredential]:
    units: dict[str, OrganisationUnit] = {}
    for code, name, kind, parent, blocks in _UNITS:
        parent_id = units[parent].id if parent else None
        unit = _add(write, OrganisationUnit(code=code, name=name, kind=kind, parent_id=parent_id))
        units[code] = unit
        for first, last in blocks:
            _add(write, NumberBlock(unit_id=unit.id, first=first, last=last))
    sites = {
        name: _add(write, Site(unit_id=units[code].id, name=name, priority=p, bandwidth_class=bw))
        for code, name, p, bw in _SITES
    }
    classes = {
        name: _add(write, ClassOfService(name=name, allowed=sorted(k.value for k in kinds)))
        for name, kinds in _CLASSES.items()
    }
    trunk = _add(write, Trunk(name=_TRUNK_NAME, host="sip.carrier.invalid", port=5060))
    for priority, pattern, low, high, destination, strip, prepend, description in _RULES:
        _add(
            write,
            DialRule(
                priority=priority,
                pattern=pattern,
                min_length=low,
                max_length=high,
                destination=destination,
                trunk_id=trunk.id,
                strip=strip,
                prepend=prepend,
                description=description,
            ),
        )
    credentials = []
    for number, name, code, cos, site in _EXTENSIONS:
        new = NewExtension(
            number=number,
            display_name=name,
            unit_id=units[code].id,
            class_of_service_id=classes[cos].id,
            site_id=sites[site].id if site else None,
        )
        _, password = add_extension(write, realm=realm, new=new)
        assert password is not None  # no password given, so one was generated
        credentials.append(DemoCredential(number=number, display_name=name, password=password))
    for short_code, mobile, person, code, desk in _SHORT_NUMBERS:
        add_short_number(
            write,
            NewShortNumber(
                short_code=short_code,
                mobile_e164=mobile,
                person_name=person,
                unit_id=units[code].id,
                desk_extension=desk,
            ),
        )
    return credentials


def _add(write: PlanWrite, obj: _M) -> _M:
    repositories.add(write.session, obj)
    identity = inspect(obj).identity
    object_id = str(identity[0]) if identity else ""
    write.record("create", obj.__tablename__, object_id, before=None, after=snapshot(obj))
    return obj
