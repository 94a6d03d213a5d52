"""The systems under test of ``bench_proxy.py``, run as child processes on loopback.

* :class:`Ronghe`: ``ronghe serve`` on a fresh SQLite database, provisioned with
  extensions by ``ronghe plan import`` (the unit, class of service and number block
  first, through the admin API), trusting 127.0.0.0/8 for calls (SIPp's built-in style
  UAC cannot answer a 407) while REGISTER is always challenged (401).
* :class:`Kamailio`: the Debian package's ``kamailio`` with ``bench/kamailio/kamailio.cfg``
  (tm, rr, usrloc in memory, registrar, digest REGISTER against the same passwords).
* :class:`Meter`: CPU time (``/proc/<pid>/stat`` utime+stime) and memory (``VmRSS``, and
  PSS summed over a process tree) of a system under test, sampled while a step runs.
* :func:`register_contact`: a digest-authenticated REGISTER over UDP, to bind SIPp's UAS
  as the contact of the called user on either proxy.

Every process is started in its own session and stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.sipp_driver import free_port, port_bound
from voip_core.sip.digest import build_authorization, select_challenge
from voip_core.sip.exceptions import ParseError
from voip_core.sip.message import Response
from voip_core.sip.parser import parse_message

REPO = Path(__file__).resolve().parents[1]
KAMAILIO_CFG = REPO / "bench" / "kamailio" / "kamailio.cfg"
KAMAILIO = os.environ.get("KAMAILIO", "/usr/sbin/kamailio")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: ``ronghe plan import`` takes at most this many rows per file (``MAX_IMPORT_ROWS``).
IMPORT_CHUNK = 20_000

#: ``ronghe serve`` with the root logger at WARNING but the ``ronghe`` logger at INFO,
#: so that start-up and the SIGUSR1 ``stats`` line are visible and nothing in the SIP
#: core logs per message. ``run()``'s own ``basicConfig`` is then a no-op.
_SERVE = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.WARNING,"
    " format='%(asctime)s %(levelname)s %(name)s: %(message)s')\n"
    "logging.getLogger('ronghe').setLevel(logging.INFO)\n"
    "from ronghe.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
_STATS_MARK = " ronghe: stats "


def password_of(user: str) -> str:
    """The SIP password every benchmark user gets (Kamailio's config derives the same)."""
    return f"bench-{user}-pw"


class PlatformError(RuntimeError):
    """A system under test could not be started, provisioned or stopped."""


# -- /proc ----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU seconds used so far by ``pids``."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLOCK_TICKS


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux ``/proc/<pid>/task/*/children``)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def status_kib(pid: int, name: str = "VmRSS") -> int:
    """A ``/proc/<pid>/status`` memory field in KiB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pids: Sequence[int]) -> int:
    """Proportional set size summed over ``pids``: shared memory counted once."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


@dataclass
class Usage:
    """What a system under test used during one measured interval."""

    #: CPU seconds per wall second, in percent (100 = one core busy).
    cpu_percent: float
    #: Largest resident set seen, MiB (RSS for one process, PSS summed for a tree).
    memory_mib: float


class Meter:
    """Samples a process tree's memory every 0.2 s between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: Callable[[], list[int]], single_process: bool) -> None:
        self._pids = pids
        self._single = single_process
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = 0
        self._cpu0 = 0.0
        self._t0 = 0.0

    def memory_kib(self) -> int:
        pids = self._pids()
        return status_kib(pids[0]) if self._single else pss_kib(pids)

    def start(self) -> None:
        self._stop.clear()
        self._peak = self.memory_kib()
        self._cpu0 = cpu_seconds(self._pids())
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self._peak = max(self._peak, self.memory_kib())

    def stop(self) -> Usage:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        cpu = cpu_seconds(self._pids()) - self._cpu0
        self._peak = max(self._peak, self.memory_kib())
        return Usage(cpu_percent=100.0 * cpu / elapsed, memory_mib=self._peak / 1024)


# -- SIP --------------------------------------------------------------------------------


def _final_response(sock: socket.socket, call_id: str, cseq: int, timeout: float) -> Response:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65535)
        except TimeoutError:
            break
        with contextlib.suppress(ParseError):
            message = parse_message(data)
            if (
                isinstance(message, Response)
                and message.status_code >= 200
                and (message.call_id, message.cseq().number) == (call_id, cseq)
            ):
                return message
    raise PlatformError(f"no final response to REGISTER {call_id} within {timeout}s")


def register_contact(
    address: tuple[str, int],
    domain: str,
    user: str,
    contact: str,
    *,
    expires: int = 3600,
    timeout: float = 3.0,
) -> int:
    """REGISTER ``contact`` for ``sip:user@domain`` at ``address``, answering one digest
    challenge with :func:`password_of`; return the final status code."""
    call_id = f"{secrets.token_hex(8)}@bench"
    tag = secrets.token_hex(4)
    uri = f"sip:{domain}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        local = f"127.0.0.1:{sock.getsockname()[1]}"

        def send(cseq: int, extra: str) -> Response:
            lines = [
                f"REGISTER {uri} SIP/2.0",
                f"Via: SIP/2.0/UDP {local};branch=z9hG4bK{secrets.token_hex(8)};rport",
                "Max-Forwards: 70",
                f"From: <sip:{user}@{domain}>;tag={tag}",
                f"To: <sip:{user}@{domain}>",
                f"Call-ID: {call_id}",
                f"CSeq: {cseq} REGISTER",
                f"Contact: <{contact}>",
                f"Expires: {expires}",
                *([extra] if extra else []),
                "Content-Length: 0",
                "",
                "",
            ]
            sock.sendto("\r\n".join(lines).encode(), address)
            return _final_response(sock, call_id, cseq, timeout)

        response = send(1, "")
        if response.status_code not in (401, 407):
            return response.status_code
        name = "WWW-Authenticate" if response.status_code == 401 else "Proxy-Authenticate"
        challenge = select_challenge(response.header_lines(name))
        answer = "Authorization" if response.status_code == 401 else "Proxy-Authorization"
        value = build_authorization(
            challenge,
            method="REGISTER",
            uri=uri,
            username=user,
            password=password_of(user),
            cnonce=secrets.token_hex(8),
        )
        return send(2, f"{answer}: {value}").status_code


# -- Ronghe -----------------------------------------------------------------------------


def _ronghe_python() -> str:
    return sys.executable


@dataclass
class Ronghe:
    """``ronghe serve`` on a fresh SQLite database in ``workdir``."""

    workdir: Path
    domain: str = "bench.test"
    max_transactions: int = 400_000
    extra_args: Sequence[str] = ()
    #: ``ronghe serve --workers``: SIP worker processes.
    workers: int = 1
    proc: subprocess.Popen[str] | None = None
    sip_port: int = 0
    api_port: int = 0
    admin_key: str = ""
    log: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.workdir / 'ronghe.db'}"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.sip_port)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> list[int]:
        """The server and its worker processes."""
        return [self.pid, *child_pids(self.pid)]

    def meter(self) -> Meter:
        # One process: its RSS. Workers: their PSS summed, shared pages counted once.
        return Meter(self.pids, single_process=self.workers == 1)

    def _ronghe(self, *args: str, timeout: float = 600.0) -> str:
        cmd = [_ronghe_python(), "-m", "ronghe.cli", *args]
        done = subprocess.run(
            cmd, cwd=self.workdir, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise PlatformError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr}")
        return done.stdout

    def start(self, timeout: float = 60.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.admin_key:
            out = self._ronghe(
                "apikey", "create", "--role", "admin", "--name", "bench",
                "--database-url", self.database_url,
            )  # fmt: skip
            self.admin_key = out.strip().splitlines()[-1].strip()
            self.sip_port = free_port()
            self.api_port = free_port(kind="tcp")
        cmd = [_ronghe_python(), "-c", _SERVE, "serve"]
        cmd += ["--sip-host", "127.0.0.1", "--sip-port", str(self.sip_port)]
        cmd += ["--api-host", "127.0.0.1", "--api-port", str(self.api_port)]
        cmd += ["--database-url", self.database_url, "--domain", self.domain, "--no-demo"]
        cmd += ["--log-level", "warning", "--secret-file", str(self.workdir / "secret")]
        cmd += ["--trusted-network", "127.0.0.0/8", "--max-expires", "7200"]
        cmd += ["--max-transactions", str(self.max_transactions), "--workers", str(self.workers)]
        cmd += self.extra_args
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(line.startswith("READY") for line in self.log):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise PlatformError("ronghe serve did not start:\n" + self.tail())
                self._cond.wait(0.2)

    def _drain(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.log.append(line.rstrip("\n"))
                del self.log[:-2000]
                self._cond.notify_all()

    def tail(self, lines: int = 40) -> str:
        with self._cond:
            return "\n".join(self.log[-lines:])

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"http://127.0.0.1:{self.api_port}/api/v1{path}",
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=60.0,
            **kwargs,
        )
        if response.status_code >= 400:
            raise PlatformError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def provision(self, users: Sequence[str]) -> float:
        """Create ``users`` (numbers of one length) with :func:`password_of` passwords by
        CSV import; wait until the proxy routes with them. Returns the seconds it took."""
        started = time.monotonic()
        county = {"name": "基准县", "code": "bench", "kind": "county"}
        unit = self.api("POST", "/units", json=county)
        allowed = ["extension", "short_number", "emergency", "external_local", "conference"]
        self.api("POST", "/classes-of-service", json={"name": "bench-all", "allowed": allowed})
        first, last = min(users), max(users)
        self.api("POST", "/blocks", json={"unit_id": unit["id"], "first": first, "last": last})
        columns = ["number", "display_name", "unit_code", "class_of_service", "password"]
        for start in range(0, len(users), IMPORT_CHUNK):
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(columns)
            for user in users[start : start + IMPORT_CHUNK]:
                writer.writerow([user, f"分机{user}", "bench", "bench-all", password_of(user)])
            path = self.workdir / f"extensions-{start}.csv"
            path.write_text(buffer.getvalue(), encoding="utf-8")
            self._ronghe(
                "plan", "import", str(path), "--kind", "extensions",
                "--domain", self.domain, "--database-url", self.database_url,
            )  # fmt: skip
        deadline = time.monotonic() + 300
        while True:
            health = self.api("GET", "/health")
            if health["plan_version"] == health["stored_plan_version"]:
                if self.workers > 1:
                    # The health answer is worker 0's; the other workers poll the plan
                    # every 0.5 s and then compile it (about 0.1 s per 10,000 extensions
                    # here). Their first REGISTERs were challenged again until then.
                    time.sleep(2.0 + len(users) / 5000)
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise PlatformError(f"plan not loaded: {health}")
            time.sleep(0.2)

    def stats(self, timeout: float = 5.0) -> dict[str, int] | None:
        """The ``stats transactions=N ...`` counters (SIGUSR1), or ``None`` when this
        version of ``ronghe serve`` has no such signal handler (SIGUSR1 would kill it)."""
        source = (REPO / "ronghe" / "serve.py").read_text(encoding="utf-8")
        if "SIGUSR1" not in source or self.proc is None:
            return None
        with self._cond:
            seen = sum(_STATS_MARK in line for line in self.log)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                lines = [line for line in self.log if _STATS_MARK in line]
                if len(lines) > seen:
                    fields = lines[-1].split(_STATS_MARK, 1)[1].split()
                    return {k: int(v) for k, v in (f.split("=", 1) for f in fields)}
                if time.monotonic() > deadline:
                    return None
                self._cond.wait(0.2)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# -- Kamailio ---------------------------------------------------------------------------


@dataclass
class Kamailio:
    """Kamailio with ``bench/kamailio/kamailio.cfg`` on a loopback UDP port."""

    workdir: Path
    domain: str = "bench.test"
    #: UDP worker processes (``bench_proxy.py --kamailio-children``). Two share the
    #: socket, so a call's 180 and 200, or its ACK and BYE, may be forwarded in parallel
    #: and overtake each other; the benchmark's scenarios (``uac_dialog.xml``,
    #: ``uas_any_order.xml``) take them in either order. One is the default: on the
    #: 2-core machines measured, two children held the same REGISTER rate (6,000/s,
    #: SIPp's own limit) and fewer calls (1,000/s, against 1,500/s with one): beside
    #: two SIPp processes they answered INVITEs late enough for SIPp to retransmit them.
    children: int = 1
    shared_mib: int = 1024
    private_mib: int = 32
    proc: subprocess.Popen[bytes] | None = None
    sip_port: int = 0

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.sip_port)

    def meter(self) -> Meter:
        assert self.proc is not None
        pid = self.proc.pid
        return Meter(lambda: process_tree(pid), single_process=False)

    @staticmethod
    def available() -> bool:
        return Path(KAMAILIO).exists() and KAMAILIO_CFG.exists()

    def start(self, timeout: float = 20.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sip_port = free_port(kind="udp")
        cmd = [KAMAILIO, "-DD", "-E", "-f", str(KAMAILIO_CFG)]
        cmd += ["-l", f"udp:127.0.0.1:{self.sip_port}", "-A", f'DOMAIN="{self.domain}"']
        cmd += ["-n", str(self.children), "-m", str(self.shared_mib), "-M", str(self.private_mib)]
        cmd += ["-P", str(self.workdir / "kamailio.pid"), "-Y", str(self.workdir)]
        if os.geteuid() == 0:
            cmd += ["-u", "root", "-g", "root"]
        log = (self.workdir / "kamailio.log").open("wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not port_bound("127.0.0.1", self.sip_port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = (self.workdir / "kamailio.log").read_text(errors="replace")[-3000:]
                raise PlatformError(f"kamailio did not start: {' '.join(cmd)}\n{text}")
            time.sleep(0.1)
        time.sleep(0.5)  # the workers fork after the bind

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def temporary_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
