"""CSV import/export: BOM-tolerant, every bad row reported by line, all-or-nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dialplan.storage.csv_io import CsvKind, detect_kind, export_csv, import_csv
from dialplan.storage.database import create_database_engine, create_session_factory
from dialplan.storage.demo import seed_demo_plan
from dialplan.storage.exceptions import ImportRejected, RowError
from dialplan.storage.records import Actor
from dialplan.storage.services import audit, extensions, units
from dialplan.storage.services.plan_state import current_plan_version

REALM = "county.gov.example"
ACTOR = Actor(name="csv-test")
BOM = "\ufeff"

EXTENSIONS_HEADER = "number,display_name,unit_code,class_of_service,site,enabled\n"
GOOD_AND_BAD = (
    EXTENSIONS_HEADER
    + "8203,周杰,cgz,local,,true\n"  # line 2: good
    + "8001,重复号码,xwb,local,,true\n"  # line 3: 8001 exists, different display name is fine
    + "8204,吴敏,cgz,no-such-class,,true\n"  # line 4: bad class of service
    + "8250,郑爽,cgz,local,,true\n"  # line 5: in 马头镇's block
    + "8205,王五,cgz,local,,maybe\n"  # line 6: bad boolean
    + "8206,冯刚,cgz,local,应急指挥中心,yes\n"  # line 7: good
)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Session:
    seed_demo_plan(session_factory, realm=REALM)
    return session_factory()


def test_dry_run_lists_every_bad_row_with_its_line(session: Session) -> None:
    report = import_csv(
        session,
        actor=ACTOR,
        realm=REALM,
        kind=CsvKind.EXTENSIONS,
        data=GOOD_AND_BAD.encode(),
        dry_run=True,
    )
    assert report.errors == (
        RowError(4, "class_of_service: class of service no-such-class does not exist"),
        RowError(5, "number 8250 belongs to block 8240-8279 of unit 马头镇, not to unit 城关镇"),
        RowError(6, "enabled: 'maybe' is not true or false"),
    )
    assert report.credentials == ()


def test_import_with_one_bad_row_changes_nothing(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    version = current_plan_version(session_factory)
    entries = audit.list_audit_log(session).count
    with pytest.raises(ImportRejected) as caught:
        import_csv(
            session, actor=ACTOR, realm=REALM, kind=CsvKind.EXTENSIONS, data=GOOD_AND_BAD.encode()
        )
    assert [error.line for error in caught.value.errors] == [4, 5, 6]
    assert current_plan_version(session_factory) == version
    assert audit.list_audit_log(session).count == entries
    assert (
        extensions.list_extensions(
            session, filters=extensions.ExtensionFilter(number_prefix="820")
        ).count
        == 2
    )  # 8201 and 8202 from the demo only
    assert extensions.get_extension(session, number="8001").display_name == "张伟"


def test_good_file_with_bom_imports_and_reports_generated_passwords(session: Session) -> None:
    text = (
        BOM
        + EXTENSIONS_HEADER.replace("\n", ",password\n")
        + "8203,周杰,cgz,local,,true,\n"
        + "8204,吴敏,cgz,internal-only,,false,Zhou-8204-pass\n"
        + "8001,张伟（县委）,xwb,national,,true,\n"
        + "8002,李娜,xwb,local,,true,\n"
    )
    report = import_csv(
        session, actor=ACTOR, realm=REALM, kind=CsvKind.EXTENSIONS, data=text.encode()
    )
    assert (report.created, report.updated, report.unchanged) == (2, 1, 1)
    assert [number for number, _ in report.credentials] == ["8203"]
    assert extensions.get_extension(session, number="8204").enabled is False
    assert extensions.get_extension(session, number="8001").display_name == "张伟（县委）"


def test_units_import_in_tree_order_and_compiler_problems_map_to_lines(session: Session) -> None:
    text = "code,name,kind,parent_code\nwq,文旅局,department,county\nwq-bgs,办公室,sub_unit,wq\n"
    report = import_csv(session, actor=ACTOR, realm=REALM, kind=CsvKind.UNITS, data=text.encode())
    assert report.created == 2
    child = units.list_units(session, filters=units.UnitFilter(code_prefix="wq-")).items[0]
    parent = units.list_units(session, filters=units.UnitFilter(code_prefix="wq")).items[0]
    assert child.parent_id == parent.id


def test_missing_columns_and_non_utf8_are_reported(session: Session) -> None:
    with pytest.raises(ImportRejected) as caught:
        import_csv(
            session, actor=ACTOR, realm=REALM, kind=CsvKind.SHORT_NUMBERS, data=b"short_code,x\n"
        )
    assert caught.value.errors == (
        RowError(1, "missing column mobile_e164"),
        RowError(1, "missing column person_name"),
        RowError(1, "missing column unit_code"),
        RowError(1, "unknown column 'x'"),
    )
    data = "code,name,kind\ncgz,城关镇,township\n".encode("gbk")
    with pytest.raises(ImportRejected) as caught:
        import_csv(session, actor=ACTOR, realm=REALM, kind=CsvKind.UNITS, data=data)
    assert caught.value.errors == (RowError(2, "the file is not UTF-8 text"),)


def test_short_numbers_import_validates_each_field(session: Session) -> None:
    text = (
        "short_code,mobile_e164,person_name,unit_code,desk_extension\n"
        "60004,+8613800000004,李四,gaj,8301\n"
        "60005,13800000005,赵六,gaj,\n"
        "60006,+8613800000006,钱七,nowhere,\n"
        "60007,+8613800000007,孙八,gaj,8999\n"
    )
    report = import_csv(
        session,
        actor=ACTOR,
        realm=REALM,
        kind=CsvKind.SHORT_NUMBERS,
        data=text.encode(),
        dry_run=True,
    )
    assert report.errors == (
        RowError(3, "mobile_e164: '13800000005' is not an E.164 number such as +8613800000001"),
        RowError(4, "unit_code: unit nowhere does not exist"),
        RowError(5, "desk_extension: extension 8999 does not exist"),
    )


def test_export_round_trips_through_import(session: Session) -> None:
    for kind in CsvKind:
        data = export_csv(session, kind=kind)
        assert data.startswith(BOM.encode())
        assert detect_kind(data) is kind
        report = import_csv(session, actor=ACTOR, realm=REALM, kind=kind, data=data, dry_run=True)
        assert report.errors == ()
        assert report.created == 0
        assert report.updated == 0
    lines = export_csv(session, kind=CsvKind.EXTENSIONS).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("number,display_name,unit_code,class_of_service,site")
    assert lines[5] == "8188,应急值班室,zfb,national,应急指挥中心,true,,,,20,"


def test_exported_units_import_into_an_empty_database(
    session: Session, sqlite_template: Path, tmp_path: Path
) -> None:
    data = export_csv(session, kind=CsvKind.UNITS)
    empty = tmp_path / "empty.db"
    shutil.copyfile(sqlite_template, empty)
    engine = create_database_engine(f"sqlite:///{empty}")
    try:
        with create_session_factory(engine)() as other:
            report = import_csv(other, actor=ACTOR, realm=REALM, kind=CsvKind.UNITS, data=data)
            assert report.created == 7
            assert export_csv(other, kind=CsvKind.UNITS) == data
    finally:
        engine.dispose()
