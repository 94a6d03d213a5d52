"""Plan writes: field rules, named conflicts, stale versions, the compiler at save
time, the audit log and the plan version. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dialplan.credentials import derive_ha1
from dialplan.model import DestinationKind, UnitKind
from dialplan.storage.demo import seed_demo_plan
from dialplan.storage.exceptions import (
    Conflict,
    NotFound,
    PlanRejected,
    PreconditionFailed,
    ValidationFailed,
)
from dialplan.storage.loader import load_plan_rows
from dialplan.storage.records import Actor, Role, UnitRecord
from dialplan.storage.services import (
    api_keys,
    audit,
    blocks,
    dial_rules,
    extensions,
    short_numbers,
    units,
)
from dialplan.storage.services.audit import AuditFilter
from dialplan.storage.services.blocks import NewBlock
from dialplan.storage.services.dial_rules import NewDialRule
from dialplan.storage.services.extensions import ExtensionFilter, NewExtension
from dialplan.storage.services.plan_state import current_plan_version
from dialplan.storage.services.short_numbers import NewShortNumber
from dialplan.storage.services.units import UnitFilter

REALM = "county.gov.example"
ACTOR = Actor(name="test-operator", api_key_id=None)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Session:
    seed_demo_plan(session_factory, realm=REALM)
    return session_factory()


def unit(session: Session, code: str) -> UnitRecord:
    page = units.list_units(session, filters=UnitFilter(code_prefix=code))
    return next(item for item in page.items if item.code == code)


def new_extension(session: Session, number: str, unit_code: str, **fields: object) -> NewExtension:
    return NewExtension(
        number=number,
        display_name=str(fields.pop("display_name", "测试用户")),
        unit_id=unit(session, unit_code).id,
        class_of_service_id=1,
        **fields,  # type: ignore[arg-type]  # test helper passes through optional fields
    )


def test_duplicate_number_names_the_extension_using_it(session: Session) -> None:
    with pytest.raises(Conflict) as caught:
        extensions.create_extension(
            session, actor=ACTOR, realm=REALM, new=new_extension(session, "8001", "xwb")
        )
    assert caught.value.message == "number 8001 is already used by extension 8001 (张伟)"


def test_number_of_a_short_code_is_taken(session: Session) -> None:
    with pytest.raises(Conflict) as caught:
        short_numbers.create_short_number(
            session,
            actor=ACTOR,
            realm=REALM,
            new=NewShortNumber(
                short_code="8002",
                mobile_e164="+8613800000009",
                person_name="某人",
                unit_id=unit(session, "xwb").id,
            ),
        )
    assert caught.value.message == "number 8002 is already used by extension 8002 (李娜)"


def test_overlapping_block_names_the_block_and_its_unit(session: Session) -> None:
    with pytest.raises(Conflict) as caught:
        blocks.create_block(
            session,
            actor=ACTOR,
            realm=REALM,
            new=NewBlock(unit_id=unit(session, "jyj").id, first="8230", last="8260"),
        )
    assert caught.value.message == "block 8230-8260 overlaps block 8200-8239 of unit 城关镇"


def test_blocks_of_other_lengths_do_not_overlap(session: Session) -> None:
    record = blocks.create_block(
        session,
        actor=ACTOR,
        realm=REALM,
        new=NewBlock(unit_id=unit(session, "jyj").id, first="823", last="826"),
    )
    assert (record.first, record.last) == ("823", "826")


def test_extension_in_another_units_block_is_refused(session: Session) -> None:
    with pytest.raises(Conflict) as caught:
        extensions.create_extension(
            session, actor=ACTOR, realm=REALM, new=new_extension(session, "8250", "cgz")
        )
    assert caught.value.message == (
        "number 8250 belongs to block 8240-8279 of unit 马头镇, not to unit 城关镇"
    )


def test_extension_outside_every_block_is_refused(session: Session) -> None:
    with pytest.raises(Conflict) as caught:
        extensions.create_extension(
            session, actor=ACTOR, realm=REALM, new=new_extension(session, "8500", "cgz")
        )
    assert caught.value.message == (
        "number 8500 is outside the number blocks of unit 城关镇 (8200-8239)"
    )


def test_sub_unit_needs_a_block_of_its_own(session: Session) -> None:
    child = units.create_unit(
        session,
        actor=ACTOR,
        realm=REALM,
        new=units.NewUnit(
            name="城关镇党政办",
            code="cgz-dzb",
            kind=UnitKind.SUB_UNIT,
            parent_id=unit(session, "cgz").id,
        ),
    )
    new = NewExtension(
        number="8230", display_name="党政办", unit_id=child.id, class_of_service_id=1
    )
    with pytest.raises(Conflict) as caught:
        extensions.create_extension(session, actor=ACTOR, realm=REALM, new=new)
    assert caught.value.message == (
        "number 8230 belongs to block 8200-8239 of unit 城关镇, not to unit 城关镇党政办"
    )


def test_shrinking_a_block_may_not_strand_an_extension(session: Session) -> None:
    block = blocks.list_blocks(session, filters=blocks.BlockFilter(number_prefix="82")).items[0]
    with pytest.raises(Conflict) as caught:
        blocks.update_block(
            session, actor=ACTOR, realm=REALM, block_id=block.id, changes={"last": "8200"}
        )
    assert caught.value.message == (
        "extension 8201 (陈静) would be outside the number blocks of unit 城关镇"
    )


def test_unit_with_children_cannot_be_deleted(session: Session) -> None:
    with pytest.raises(Conflict) as caught:
        units.delete_unit(session, actor=ACTOR, realm=REALM, unit_id=unit(session, "county").id)
    assert caught.value.message == "unit 示范县 still has sub-unit 县委办公室"


def test_desk_extension_cannot_be_deleted(session: Session) -> None:
    with pytest.raises(Conflict) as caught:
        extensions.delete_extension(session, actor=ACTOR, realm=REALM, number="8001")
    assert caught.value.message == (
        "extension 8001 (张伟) is the desk extension of short number 60001 (张伟)"
    )


def test_field_rules_name_the_field(session: Session) -> None:
    with pytest.raises(ValidationFailed) as caught:
        extensions.create_extension(
            session,
            actor=ACTOR,
            realm=REALM,
            new=new_extension(session, "8203", "cgz", no_answer_seconds=2),
        )
    assert (caught.value.field, caught.value.reason) == (
        "no_answer_seconds",
        "2 is not between 5 and 300",
    )
    with pytest.raises(ValidationFailed) as caught:
        extensions.create_extension(
            session, actor=ACTOR, realm=REALM, new=new_extension(session, "119", "cgz")
        )
    assert caught.value.message == "number: 119 is reserved for emergency calls"


def test_stale_version_is_refused(session: Session) -> None:
    current = extensions.get_extension(session, number="8201")
    updated = extensions.update_extension(
        session,
        actor=ACTOR,
        realm=REALM,
        number="8201",
        changes={"display_name": "陈静（值班）"},
        expected_version=current.version,
    )
    assert updated.version == current.version + 1
    with pytest.raises(PreconditionFailed) as caught:
        extensions.update_extension(
            session,
            actor=ACTOR,
            realm=REALM,
            number="8201",
            changes={"display_name": "陈静"},
            expected_version=current.version,
        )
    assert caught.value.message == (
        f"extension 8201 has version {updated.version}, not {current.version}; reload it and retry"
    )
    assert caught.value.current_version == updated.version


def test_invalid_pattern_is_rejected_at_save_time_with_the_compilers_reason(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    version = current_plan_version(session_factory)
    with pytest.raises(PlanRejected) as caught:
        dial_rules.create_dial_rule(
            session,
            actor=ACTOR,
            realm=REALM,
            new=NewDialRule(
                priority=60,
                pattern="9[5-",
                min_length=3,
                max_length=12,
                destination=DestinationKind.EXTERNAL_LOCAL,
                trunk_id=1,
            ),
        )
    [problem] = caught.value.problems
    assert problem.object_kind == "dial_rule"
    assert problem.message.endswith("pattern '9[5-': '[' is never closed at position 2")
    assert current_plan_version(session_factory) == version
    assert dial_rules.list_dial_rules(session).count == 7


def test_write_bumps_plan_version_and_is_audited_before_and_after(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    version = current_plan_version(session_factory)
    extensions.update_extension(
        session, actor=ACTOR, realm=REALM, number="8341", changes={"enabled": False}
    )
    assert current_plan_version(session_factory) == version + 1
    [entry] = audit.list_audit_log(
        session, filters=AuditFilter(object_kind="extension", object_id="8341", action="update")
    ).items
    assert entry.api_key_name == "test-operator"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["enabled"], entry.after["enabled"]) == (True, False)
    assert entry.after["version"] == entry.before["version"] + 1  # type: ignore[operator]
    assert "ha1_md5" not in entry.after
    assert "ha1_sha256" not in entry.after
    assert entry.at.tzinfo is UTC


def test_failed_write_changes_nothing(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    version = current_plan_version(session_factory)
    entries = audit.list_audit_log(session).count
    with pytest.raises(Conflict):
        extensions.create_extension(
            session, actor=ACTOR, realm=REALM, new=new_extension(session, "8001", "xwb")
        )
    assert current_plan_version(session_factory) == version
    assert audit.list_audit_log(session).count == entries


def test_password_is_stored_only_as_ha1(session: Session) -> None:
    created = extensions.create_extension(
        session,
        actor=ACTOR,
        realm=REALM,
        new=new_extension(session, "8203", "cgz", password="城关-8203-secret"),
    )
    assert created.generated_password is None
    with session.begin():
        row = next(e for e in load_plan_rows(session, REALM).extensions if e.number == "8203")
    assert row.ha1_md5 == derive_ha1("MD5", "8203", REALM, "城关-8203-secret")
    assert row.ha1_sha256 == derive_ha1("SHA-256", "8203", REALM, "城关-8203-secret")


def test_password_reset_generates_and_bumps_version(session: Session) -> None:
    before = extensions.get_extension(session, number="8202")
    reset = extensions.reset_extension_password(session, actor=ACTOR, realm=REALM, number="8202")
    assert reset.generated_password is not None
    assert len(reset.generated_password) == 16
    assert reset.extension.version == before.version + 1


def test_listing_filters_by_unit_prefix_and_name(session: Session) -> None:
    page = extensions.list_extensions(
        session, filters=ExtensionFilter(unit_id=unit(session, "zfb").id, number_prefix="81")
    )
    assert [e.number for e in page.items] == ["8101", "8102", "8188"]
    page = extensions.list_extensions(session, filters=ExtensionFilter(name_contains="值班"))
    assert [e.number for e in page.items] == ["8188", "8202"]
    page = extensions.list_extensions(session, skip=2, limit=3)
    assert page.count == 10
    assert [e.number for e in page.items] == ["8101", "8102", "8188"]
    assert page.items[0].created_at.tzinfo is UTC


def test_missing_object_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="extension 8999 not found"):
        extensions.get_extension(session, number="8999")


def test_api_keys_are_stored_hashed_and_the_last_admin_stays(session: Session) -> None:
    created = api_keys.create_api_key(session, actor=ACTOR, name="网管", role=Role.ADMIN)
    assert created.secret.startswith("rh_")
    assert created.key.prefix == created.secret[:11]
    assert api_keys.authenticate(session, secret=created.secret) == created.key
    assert api_keys.authenticate(session, secret=created.secret + "x") is None
    with pytest.raises(Conflict, match="is the last active admin key"):
        api_keys.revoke_api_key(session, actor=ACTOR, key_id=created.key.id)
    viewer = api_keys.create_api_key(session, actor=ACTOR, name="值班员", role=Role.VIEWER)
    revoked = api_keys.revoke_api_key(session, actor=ACTOR, key_id=viewer.key.id)
    assert revoked.revoked_at is not None
    assert api_keys.authenticate(session, secret=viewer.secret) is None


def test_concurrent_writers_are_serialised(session_factory: sessionmaker[Session]) -> None:
    seed_demo_plan(session_factory, realm=REALM)
    version = current_plan_version(session_factory)
    barrier = threading.Barrier(4)

    def create(number: str) -> str:
        barrier.wait()
        with session_factory() as session:
            try:
                extensions.create_extension(
                    session,
                    actor=ACTOR,
                    realm=REALM,
                    new=NewExtension(
                        number=number, display_name="并发", unit_id=4, class_of_service_id=1
                    ),
                )
            except Conflict as conflict:
                return conflict.message
        return "created"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(create, ["8210", "8210", "8211", "8211"]))
    assert outcomes == [
        "created",
        "created",
        "number 8210 is already used by extension 8210 (并发)",
        "number 8211 is already used by extension 8211 (并发)",
    ]
    assert current_plan_version(session_factory) == version + 2
