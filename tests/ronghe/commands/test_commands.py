"""``ronghe plan import|export`` and ``ronghe apikey create|list|revoke``, run through
their own argparse parsers on a fresh SQLite file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dialplan.storage.database import create_database_engine, create_session_factory
from dialplan.storage.services.api_keys import authenticate
from dialplan.storage.services.plan_state import current_plan_version
from ronghe.commands import apikey, plan


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ronghe")
    subparsers = parser.add_subparsers(dest="command", required=True)
    plan.add_parser(subparsers)
    apikey.add_parser(subparsers)
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ronghe.db'}"


UNITS = "code,name,kind,parent_code\ncounty,示范县,county,\ncgz,城关镇,township,county\n"


def test_apikey_create_prints_the_secret_once_and_it_authenticates(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(["apikey", "create", "--role", "admin", "--name", "县网管", "--database-url", url]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "API key #1 '县网管', role admin; shown once:"
    secret = out[1]
    session_factory = create_session_factory(create_database_engine(url))
    with session_factory() as session:
        key = authenticate(session, secret=secret)
    assert key is not None
    assert key.role.value == "admin"

    assert run(["apikey", "list", "--database-url", url]) == 0
    listing = capsys.readouterr().out
    assert secret not in listing
    assert "县网管" in listing
    assert run(["apikey", "revoke", "1", "--database-url", url]) == 1
    assert "is the last active admin key" in capsys.readouterr().err


def test_plan_import_guesses_the_kind_and_tolerates_a_bom(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(b"\xef\xbb\xbf" + UNITS.encode())
    assert run(["plan", "import", str(path), "--database-url", url]) == 0
    assert capsys.readouterr().out == "imported units: 2 created, 0 updated, 0 unchanged\n"
    session_factory = create_session_factory(create_database_engine(url))
    assert current_plan_version(session_factory) == 1

    assert run(["plan", "export", "--kind", "units", "--database-url", url]) == 0
    exported = capsys.readouterr().out
    assert exported.lstrip("\ufeff").splitlines() == UNITS.splitlines()


def test_plan_import_lists_every_bad_row_and_writes_nothing(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "units.csv"
    path.write_text(UNITS + "bad code,某局,department,county\nmtz,马头镇,village,county\n")
    assert run(["plan", "import", str(path), "--database-url", url]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}:4: code: 'bad code' must be 1-32 ASCII letters, digits, '-', '_' or '.'",
        f"{path}:5: kind: 'village' is not one of county, township, department, sub_unit",
        "nothing imported: 2 problem(s)",
    ]
    session_factory = create_session_factory(create_database_engine(url))
    assert current_plan_version(session_factory) == 0


def test_plan_import_of_an_unknown_file_kind_asks_for_kind(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    assert run(["plan", "import", str(path), "--database-url", url]) == 2
    assert "use --kind" in capsys.readouterr().err
