"""One settings source for every command, and production mode, with the real commands.

Covers: with ``RONGHE_DATABASE_URL`` naming a fresh PostgreSQL database and no option,
``ronghe apikey create`` writes its key there and a server on that database accepts it
over HTTP, and ``ronghe plan export`` reads that database (not a ``./ronghe.db``);
``ronghe serve`` in production (``RONGHE_ENVIRONMENT`` or ``--environment``) exits 2
naming the setting without a secret or with a placeholder one, refuses ``--demo``,
creates no secret file, and with a secret starts on an empty database without the demo
plan or any password; development still seeds the demo plan and prints its passwords.
Not covered: Redis settings (the cluster tests use them).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.sipp_driver import free_port
from tests.dialplan.storage.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
)
from tests.integration.server import (
    API_PREFIX,
    RongheServer,
    ServerError,
    ronghe_command,
    start_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

#: A secret that is not a placeholder.
SECRET = "a-real-deployment-secret-for-tests"


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without any RONGHE_ variable, plus ``variables``."""
    kept = {key: value for key, value in os.environ.items() if not key.startswith("RONGHE_")}
    return {**kept, "PYTHONUNBUFFERED": "1", **variables}


def ronghe(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ronghe_command() + args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def created_key(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()[-1].strip()


@pytest.fixture
def postgres_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped after the test."""
    if not postgres_available():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    name, url = create_postgres_database()
    yield url
    drop_postgres_database(name)


def serve(workdir: Path, env: dict[str, str], args: list[str], admin_key: str) -> RongheServer:
    """Start ``ronghe serve`` on loopback with only ``args`` and ``env`` besides the ports."""
    api_port = free_port(kind="tcp")
    cmd = ronghe_command() + ["serve", "--sip-host", "127.0.0.1", "--sip-port", str(free_port())]
    cmd += ["--api-host", "127.0.0.1", "--api-port", str(api_port), *args]
    proc = subprocess.Popen(
        cmd,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    server = RongheServer(proc, workdir, "", admin_key, "ronghe.local")
    server.client = httpx.Client(
        base_url=f"http://127.0.0.1:{api_port}",
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=10.0,
    )
    try:
        server.wait_ready(60)
    except ServerError:
        server.stop()
        raise
    return server


def stop(server: RongheServer) -> None:
    assert server.stop() == 0, server.describe()
    assert not server.traceback_seen, server.describe()


def test_apikey_and_plan_commands_use_the_database_of_the_environment(
    postgres_database_url: str, tmp_path: Path
) -> None:
    env = environment(RONGHE_DATABASE_URL=postgres_database_url)
    key = created_key(ronghe(["apikey", "create", "--role", "admin"], tmp_path, env))
    assert not (tmp_path / "ronghe.db").exists()

    server = start_server(tmp_path / "server", database_url=postgres_database_url)
    try:
        server.ensure_extension("8201", display_name="城关镇 值班室")
        with httpx.Client(base_url=server.api_url + API_PREFIX) as client:
            listed = client.get("/api-keys", headers={"Authorization": f"Bearer {key}"})
            assert listed.status_code == 200, listed.text
            names = {item["name"] for item in listed.json()["data"]}
            assert names == {"admin (cli)", "integration tests"}
            assert client.get(
                "/api-keys", headers={"Authorization": "Bearer rh_x"}
            ).status_code == (401)

        exported = ronghe(["plan", "export"], tmp_path, env)
        assert exported.returncode == 0, exported.stderr
        rows = exported.stdout.lstrip("\ufeff").splitlines()
        assert len(rows) == 2
        assert rows[1].startswith("8201,城关镇 值班室,")
        assert not (tmp_path / "ronghe.db").exists()
    finally:
        stop(server)


def test_the_command_line_overrides_the_environment(tmp_path: Path) -> None:
    env = environment(RONGHE_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    url = f"sqlite:///{tmp_path / 'chosen.db'}"
    key = created_key(
        ronghe(["apikey", "create", "--role", "viewer", "--database-url", url], tmp_path, env)
    )
    assert key.startswith("rh_")
    assert (tmp_path / "chosen.db").exists()


def test_an_invalid_setting_of_a_command_is_named(tmp_path: Path) -> None:
    done = ronghe(["plan", "export"], tmp_path, environment(RONGHE_ENVIRONMENT="staging"))
    assert done.returncode == 2
    assert done.stderr == (
        "ronghe plan export: environment (RONGHE_ENVIRONMENT): "
        "Input should be 'development' or 'production'\n"
    )


def test_production_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    env = environment(RONGHE_ENVIRONMENT="production")
    done = ronghe(["serve"], tmp_path, env)
    assert done.returncode == 2
    assert done.stderr == (
        "ronghe serve: no deployment secret in production: set RONGHE_SECRET or write one "
        "to the secret file 'ronghe.secret' (RONGHE_SECRET_FILE, --secret-file), which does "
        "not exist; it is generated only in development\n"
    )
    assert not (tmp_path / "ronghe.secret").exists()
    assert not (tmp_path / "ronghe.db").exists()


def test_production_refuses_a_placeholder_secret_and_the_demo_plan(tmp_path: Path) -> None:
    (tmp_path / "ronghe.secret").write_text("changeme\n")
    done = ronghe(["serve", "--environment", "production"], tmp_path, environment())
    assert done.returncode == 2
    assert done.stderr == (
        "ronghe serve: the secret file 'ronghe.secret' (RONGHE_SECRET_FILE, --secret-file) "
        "holds no real secret; production needs one\n"
    )
    env = environment(RONGHE_ENVIRONMENT="production", RONGHE_SECRET="changeme")
    done = ronghe(["serve"], tmp_path, env)
    assert done.returncode == 2
    assert done.stderr == (
        "ronghe serve: RONGHE_SECRET must be set to a real secret in production\n"
    )
    env = environment(RONGHE_ENVIRONMENT="production", RONGHE_SECRET=SECRET)
    done = ronghe(["serve", "--demo"], tmp_path, env)
    assert done.returncode == 2
    assert done.stderr == (
        "ronghe serve: RONGHE_DEMO (--demo) is refused in production: the demo plan prints "
        "its extensions' passwords\n"
    )


def test_production_starts_on_an_empty_database_without_the_demo_plan(tmp_path: Path) -> None:
    env = environment(RONGHE_ENVIRONMENT="production", RONGHE_SECRET=SECRET)
    key = created_key(ronghe(["apikey", "create", "--role", "admin"], tmp_path, env))
    server = serve(tmp_path, env, [], key)
    try:
        assert "Demo numbering plan created" not in server.stdout_tail
        assert "password:" in server.stdout_tail  # "as set through the admin API"
        assert "shown once" not in server.stdout_tail
        assert server.api("GET", "/extensions")["count"] == 0
        assert server.api("GET", "/units")["count"] == 0
    finally:
        stop(server)
    assert not (tmp_path / "ronghe.secret").exists()


def test_development_seeds_the_demo_plan_and_prints_its_passwords(tmp_path: Path) -> None:
    env = environment()
    key = created_key(ronghe(["apikey", "create", "--role", "admin"], tmp_path, env))
    server = serve(tmp_path, env, [], key)
    try:
        assert "Demo numbering plan created; its extensions:" in server.stdout_tail
        assert "These passwords are shown once" in server.stdout_tail
        assert server.api("GET", "/extensions")["count"] > 0
    finally:
        stop(server)
    assert (tmp_path / "ronghe.secret").exists()
