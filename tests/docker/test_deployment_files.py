"""The deployment files in ``docker/`` agree with the repository they deploy.

No container engine runs in CI, so nothing here builds an image or starts a container.
Covers what can rot silently instead: ``compose.yaml`` parses and names PostgreSQL 15,
Redis 7, a one-shot migration with the README's command and Ronghe in production mode
with its URLs and secret from the env file; the example env file's URLs point at the
compose services; the Dockerfile's base image, the files its commands use, the ports it
exposes and the console script it runs exist; the build leaves out a host's virtual
environment and secrets. Not covered: that the image builds and the stack starts.
"""

from __future__ import annotations

import json
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def project() -> dict[str, Any]:
    loaded = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    table: dict[str, Any] = loaded["project"]
    return table


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text("utf-8"))
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def example_env() -> dict[str, str]:
    lines = (DOCKER / "ronghe.env.example").read_text("utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (DOCKER / "Dockerfile").read_text("utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    assert not pending, f"Dockerfile ends inside a continued line: {pending!r}"
    return instructions


def arguments_of(keyword: str) -> list[str]:
    return [arguments for name, arguments in dockerfile() if name == keyword]


def test_compose_runs_ronghe_migrations_postgresql_15_and_redis_7() -> None:
    found = services()
    assert sorted(found) == ["migrate", "postgres", "redis", "ronghe"]
    assert found["postgres"]["image"].startswith("postgres:15")
    assert found["redis"]["image"].startswith("redis:7")
    assert found["ronghe"]["command"] == ["ronghe", "serve"]


def test_compose_builds_both_ronghe_services_from_this_dockerfile() -> None:
    for name in ("migrate", "ronghe"):
        build = services()[name]["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == ROOT, f"{name} builds from {context}"
        assert (context / build["dockerfile"]).is_file(), build["dockerfile"]
        assert services()[name]["image"] == "ronghe"


def test_compose_runs_ronghe_in_production_with_settings_from_the_env_file() -> None:
    for name in ("migrate", "ronghe"):
        service = services()[name]
        assert service["environment"]["RONGHE_ENVIRONMENT"] == "production"
        assert service["env_file"] == "ronghe.env"
    assert {"RONGHE_DATABASE_URL", "RONGHE_REDIS_URL", "RONGHE_SECRET"} <= set(example_env())


def test_example_env_file_points_at_the_compose_services() -> None:
    env = example_env()
    database = urlsplit(env["RONGHE_DATABASE_URL"])
    assert database.scheme == "postgresql+psycopg"
    assert database.hostname == "postgres"
    assert database.username == services()["postgres"]["environment"]["POSTGRES_USER"]
    assert database.password == env["POSTGRES_PASSWORD"]
    assert database.path == "/" + services()["postgres"]["environment"]["POSTGRES_DB"]
    assert urlsplit(env["RONGHE_REDIS_URL"]).hostname == "redis"


def test_compose_migrates_with_the_readme_command_before_serving() -> None:
    migrate = services()["migrate"]
    command = migrate["command"]
    readme = (ROOT / "README.md").read_text("utf-8")
    assert ".venv/bin/" + shlex.join(command) in readme
    assert (ROOT / command[command.index("-c") + 1]).is_file()
    assert any(dependency.startswith("alembic") for dependency in project()["dependencies"])
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services()["ronghe"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }


def test_compose_publishes_sip_and_keeps_the_api_on_the_host_loopback() -> None:
    assert services()["ronghe"]["ports"] == [
        "5060:5060/udp",
        "5060:5060/tcp",
        "127.0.0.1:8000:8000/tcp",
    ]


def test_dockerfile_installs_with_bootstrap_on_debian_12_python_3_11() -> None:
    assert arguments_of("FROM") == ["python:3.11-slim-bookworm"]
    (run,) = arguments_of("RUN")
    scripts = [word for word in shlex.split(run) if word.endswith(".sh")]
    assert scripts == ["scripts/bootstrap.sh"]
    assert all((ROOT / script).is_file() for script in scripts)


def test_dockerfile_serves_with_the_console_script_bootstrap_installs() -> None:
    (workdir,) = arguments_of("WORKDIR")
    (environment,) = arguments_of("ENV")
    assert f"PATH={workdir}/.venv/bin:$PATH" in environment.split()
    command = json.loads(arguments_of("CMD")[0])
    assert command == ["ronghe", "serve"]
    assert project()["scripts"]["ronghe"] == "ronghe.cli:main"


def test_dockerfile_exposes_sip_over_udp_and_tcp_and_the_api() -> None:
    assert arguments_of("EXPOSE") == ["5060/udp 5060/tcp 8000/tcp"]


def test_docker_build_leaves_out_the_hosts_virtualenv_and_secrets() -> None:
    ignored = (DOCKER / "Dockerfile.dockerignore").read_text("utf-8").splitlines()
    # A copied .venv would carry bootstrap.sh's stamp and skip the install in the image.
    assert {".venv", ".git", "ronghe.secret", "docker/ronghe.env"} <= set(ignored)
