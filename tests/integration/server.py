"""The real Ronghe server (``ronghe serve``) as a subprocess, for integration tests.

Covers: creating the first admin API key with ``ronghe apikey create`` on a fresh
SQLite database, starting ``ronghe serve`` on free loopback ports (SIP UDP+TCP on
one port, admin API), waiting for its ``READY`` line, an ``httpx.Client`` with the
admin Bearer key, provisioning extensions through the admin API (a unit, a class of
service allowing everything and number blocks are created on demand), and stopping
it with SIGTERM while checking that it exited 0 and logged no traceback.

Used through the ``ronghe_server`` / ``ronghe_server_factory`` fixtures of
``conftest.py``; a missing or broken server makes those fixtures fail, never skip.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from bench.sipp_driver import free_port

REPO = Path(__file__).resolve().parents[2]
API_PREFIX = "/api/v1"
DOMAIN = "ronghe.test"

_TAIL_LINES = 400
#: What ``ronghe serve`` logs on SIGUSR1, before its counters.
_STATS_MARK = " ronghe: stats "


def extension_password(number: str) -> str:
    """The SIP password the tests give extension ``number``."""
    return f"Ronghe-{number}-pw"


class ServerError(RuntimeError):
    """The server could not be started, provisioned or stopped cleanly."""


def ronghe_command() -> list[str]:
    """The ``ronghe`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("ronghe")
    if script.exists():
        return [str(script)]
    found = shutil.which("ronghe")
    if found:
        return [found]
    raise ServerError(
        f"the `ronghe` command is not installed next to {sys.executable}; run "
        "`.venv/bin/pip install -e . --no-deps -q` in the repository"
    )


def create_admin_key(database_url: str, workdir: Path, timeout: float = 60.0) -> str:
    """Run ``ronghe apikey create --role admin`` and return the printed key."""
    cmd = ronghe_command() + ["apikey", "create", "--role", "admin"]
    cmd += ["--name", "integration tests", "--database-url", database_url]
    try:
        done = subprocess.run(
            cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerError(f"{' '.join(cmd)}: {exc}") from exc
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise ServerError(
            f"{' '.join(cmd)} exited {done.returncode}\n--- stdout ---\n{done.stdout}"
            f"\n--- stderr ---\n{done.stderr}"
        )
    # "API key #1 'integration tests', role admin; shown once:" then the key alone.
    return lines[-1]


@dataclass
class RongheServer:
    """A running ``ronghe serve``: where it listens and an admin API client."""

    proc: subprocess.Popen[str]
    workdir: Path
    database_url: str
    admin_key: str
    domain: str
    sip_host: str = "127.0.0.1"
    sip_port: int = 0
    api_url: str = ""
    ready_line: str = ""
    #: The options given to ``ronghe serve`` besides the harness's own.
    extra_args: list[str] = field(default_factory=list)
    client: httpx.Client = field(init=False)
    _stdout: collections.deque[str] = field(init=False)
    _stderr: collections.deque[str] = field(init=False)
    _cond: threading.Condition = field(init=False)
    _ids: dict[str, int] = field(init=False)
    _blocks: list[tuple[str, str]] = field(init=False)
    _drains: list[threading.Thread] = field(init=False)
    _stats_lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self._stdout = collections.deque(maxlen=_TAIL_LINES)
        self._stderr = collections.deque(maxlen=_TAIL_LINES)
        self._cond = threading.Condition()
        self._ids = {}
        self._blocks = []
        self._stats_lines = []
        self.traceback_seen = False
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._drains = [
            threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
            for stream, sink in ((self.proc.stdout, self._stdout), (self.proc.stderr, self._stderr))
        ]
        for thread in self._drains:
            thread.start()

    # -- addresses --------------------------------------------------------------------

    @property
    def sip_address(self) -> str:
        """``host:port`` of the SIP listener (UDP and TCP)."""
        return f"{self.sip_host}:{self.sip_port}"

    @property
    def registrar_uri(self) -> str:
        return f"sip:{self.sip_host}:{self.sip_port}"

    def aor(self, number: str) -> str:
        return f"sip:{number}@{self.domain}"

    # -- output -------------------------------------------------------------------------

    def _drain(self, stream: IO[str], sink: collections.deque[str]) -> None:
        for line in stream:
            with self._cond:
                sink.append(line.rstrip("\n"))
                if _STATS_MARK in line and sink is self._stderr:
                    self._stats_lines.append(line.rstrip("\n"))
                if line.startswith("Traceback (most recent call last)"):
                    self.traceback_seen = True
                self._cond.notify_all()

    @property
    def stdout_tail(self) -> str:
        with self._cond:
            return "\n".join(self._stdout)

    @property
    def log_tail(self) -> str:
        """The server's stderr (its log), last lines."""
        with self._cond:
            return "\n".join(self._stderr)

    def stats(self, timeout: float = 5.0) -> dict[str, int]:
        """Ask the server for its counters (SIGUSR1) and return the numbers of the
        ``stats transactions=N contexts=M registrations=K`` line it logs."""
        with self._cond:
            seen = len(self._stats_lines)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._stats_lines) == seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServerError(f"no stats line within {timeout}s\n" + self.describe())
                self._cond.wait(min(left, 0.2))
            fields = self._stats_lines[-1].split(_STATS_MARK, 1)[1].split()
        return {name: int(value) for name, value in (f.split("=", 1) for f in fields)}

    def describe(self) -> str:
        code = self.proc.poll()
        state = "running" if code is None else f"exit code {code}"
        return (
            f"ronghe serve ({state}) {self.ready_line}\n--- stdout ---\n{self.stdout_tail}"
            f"\n--- log (stderr) ---\n{self.log_tail}"
        )

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._stdout:
                    if line.startswith("READY"):
                        self.ready_line = line
                        self._parse_ready(line)
                        return
                if self.proc.poll() is not None:
                    raise ServerError("ronghe serve exited before READY\n" + self.describe())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServerError(f"no READY line within {timeout}s\n" + self.describe())
                self._cond.wait(min(left, 0.2))

    def _parse_ready(self, line: str) -> None:
        # READY sip=udp:127.0.0.1:5060,tcp:127.0.0.1:5060 api=http://127.0.0.1:8000
        fields = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
        for listener in fields.get("sip", "").split(","):
            kind, _, address = listener.partition(":")
            if kind == "udp" and address:
                host, _, port = address.rpartition(":")
                self.sip_host, self.sip_port = host.strip("[]"), int(port)
        self.api_url = fields.get("api", "")

    # -- admin API ----------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the admin API (``path`` under ``/api/v1``); raise on any error status."""
        response = self.client.request(method, API_PREFIX + path, **kwargs)
        if response.status_code >= 400:
            raise ServerError(
                f"{method} {API_PREFIX}{path} -> {response.status_code}: {response.text}"
            )
        return response.json() if response.content else None

    def wait_plan_loaded(self, timeout: float = 10.0) -> None:
        """Wait until the proxy runs the numbering plan last stored through the API."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.api("GET", "/health")
            if health.get("plan_version") == health.get("stored_plan_version"):
                return
            if time.monotonic() > deadline:
                raise ServerError(f"plan not reloaded within {timeout}s: {health}")
            time.sleep(0.05)

    def ensure_unit(self, code: str = "it", name: str = "集成测试县", kind: str = "county") -> int:
        key = f"unit:{code}"
        if key not in self._ids:
            unit = self.api("POST", "/units", json={"name": name, "code": code, "kind": kind})
            self._ids[key] = int(unit["id"])
        return self._ids[key]

    def ensure_class_of_service(self, name: str = "it-all") -> int:
        key = f"cos:{name}"
        if key not in self._ids:
            allowed = [
                "extension",
                "short_number",
                "emergency",
                "external_local",
                "external_national",
                "external_international",
                "conference",
                "reject",
            ]
            cos = self.api("POST", "/classes-of-service", json={"name": name, "allowed": allowed})
            self._ids[key] = int(cos["id"])
        return self._ids[key]

    def ensure_block(self, number: str, unit_id: int) -> None:
        """A block of the unit holding ``number``: the hundred it lies in (``8200`` to
        ``8299`` for ``8203``), or the number alone when it is shorter than 4 digits."""
        if any(len(f) == len(number) and f <= number <= last for f, last in self._blocks):
            return
        first, last = (
            (number, number) if len(number) < 4 else (number[:-2] + "00", number[:-2] + "99")
        )
        self.api("POST", "/blocks", json={"unit_id": unit_id, "first": first, "last": last})
        self._blocks.append((first, last))

    def create_extension(
        self,
        number: str,
        display_name: str,
        password: str,
        unit_id: int | None = None,
        class_of_service_id: int | None = None,
        wait: bool = True,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create extension ``number`` with this SIP password through the admin API
        (unit, class of service and number block created as needed) and, unless
        ``wait`` is false, wait until the proxy has loaded it. Returns the API's
        reply (``{"extension": {...}, "password": ...}``)."""
        unit_id = unit_id or self.ensure_unit()
        class_of_service_id = class_of_service_id or self.ensure_class_of_service()
        self.ensure_block(number, unit_id)
        body = {
            "number": number,
            "display_name": display_name,
            "unit_id": unit_id,
            "class_of_service_id": class_of_service_id,
            "password": password,
            **fields,
        }
        created: dict[str, Any] = self.api("POST", "/extensions", json=body)
        if wait:
            self.wait_plan_loaded()
        return created

    def ensure_extension(
        self, number: str, display_name: str = "", password: str = "", wait: bool = True
    ) -> str:
        """Create extension ``number`` unless this helper already did; return its SIP
        password (``password``, or ``extension_password(number)``). ``wait`` as for
        :meth:`create_extension`."""
        password = password or extension_password(number)
        key = f"extension:{number}"
        if key not in self._ids:
            created = self.create_extension(
                number, display_name or f"分机{number}", password, wait=wait
            )
            self._ids[key] = int(created["extension"]["id"])
        return password

    # -- life cycle -----------------------------------------------------------------------

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait (SIGKILL after ``timeout``); return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ServerError(
                f"ronghe serve ignored SIGTERM for {timeout}s and was killed\n" + self.describe()
            ) from None
        finally:
            self.release()
        return code

    def release(self) -> None:
        """Close the API client and, once the process is gone, its pipes (after the
        drain threads have read the last lines)."""
        self.client.close()
        if self.proc.poll() is None:
            return
        for thread in self._drains:
            thread.join(2.0)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def start_server(
    workdir: Path,
    extra_args: list[str] | None = None,
    domain: str = DOMAIN,
    timeout: float = 60.0,
    *,
    restart_of: RongheServer | None = None,
    database_url: str | None = None,
) -> RongheServer:
    """Create an admin key and start ``ronghe serve`` on a fresh SQLite database in
    ``workdir``; return once it printed ``READY``.

    With ``restart_of`` (a server already stopped), start again on its directory,
    database, secret, ports and admin key, with its options (``extra_args`` and
    ``domain`` are ignored).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = database_url or f"sqlite:///{workdir / 'ronghe.db'}"
    if restart_of is not None:
        if restart_of.proc.poll() is None:
            raise ServerError("restart_of must be stopped first")
        workdir, database_url = restart_of.workdir, restart_of.database_url
        extra_args, domain = restart_of.extra_args, restart_of.domain
        admin_key = restart_of.admin_key
        sip_port = restart_of.sip_port
        api_port = httpx.URL(restart_of.api_url).port or 0
    else:
        admin_key = create_admin_key(database_url, workdir, timeout)
        sip_port = free_port()
        api_port = free_port(kind="tcp")
    cmd = ronghe_command() + ["serve"]
    cmd += ["--sip-host", "127.0.0.1", "--sip-port", str(sip_port)]
    cmd += ["--api-host", "127.0.0.1", "--api-port", str(api_port)]
    cmd += ["--database-url", database_url, "--domain", domain, "--no-demo"]
    cmd += ["--log-level", "info", "--secret-file", str(workdir / "ronghe.secret")]
    cmd += list(extra_args or [])
    if "--rate-limit" not in cmd:
        # SIPp's load scenarios send hundreds of requests a second from 127.0.0.1, as
        # only a trunk or an SBC would in service (exempt there as a trunk gateway or a
        # trusted network); tests of the request-rate limit give --rate-limit.
        cmd += ["--rate-limit", "0"]
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
        )
    except OSError as exc:
        raise ServerError(f"cannot run {' '.join(cmd)}: {exc}") from exc
    server = RongheServer(proc, workdir, database_url, admin_key, domain)
    server.extra_args = list(extra_args or [])
    server.client = httpx.Client(
        base_url=f"http://127.0.0.1:{api_port}",
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=10.0,
    )
    try:
        server.wait_ready(timeout)
        if server.api_url:
            server.client.base_url = httpx.URL(server.api_url)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        server.release()
        raise
    return server
