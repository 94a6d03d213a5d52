"""Run SIPp (Debian package ``sip-tester``, ``/usr/bin/sipp``) and read its results.

Covers: SIPp's built-in scenarios (``uac``, ``uas``, ... through ``-sn``) and XML
scenario files (``-sf``), UDP or TCP, call count/rate/concurrency (``-m``, ``-r``,
``-rp``, ``-l``), call length (``-d``), injection files (``-inf``, with a helper for
per-user digest credentials), ``-key`` keywords, a global timeout, and the final
statistics: SIPp's ``-trace_stat`` CSV (last row) and ``-trace_counts`` CSV, parsed
into a :class:`SippResult`. SIPp always runs in the foreground (never ``-bg``) with
``-nostdin``, bound to an explicit local address and ports; its screen output goes
to a file in the work directory and is only kept for error messages.

Shared by the integration tests (``tests/integration/sipp.py``) and the benchmarks
in ``bench/``; it imports nothing from the project. Usage::

    uas = Sipp.start("uas", local_port=free_port(), calls=10)
    result = run_sipp("uac", f"127.0.0.1:{uas.local_port}", local_port=free_port(),
                      calls=10, rate=20)
    assert result.successful_calls == 10 and result.failed_calls == 0
    uas.wait().check()
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SIPP = os.environ.get("SIPP", shutil.which("sipp") or "/usr/bin/sipp")

#: Scenarios compiled into SIPp, selected with ``-sn``.
BUILTIN_SCENARIOS = frozenset(
    {
        "uac",
        "uas",
        "regexp",
        "branchc",
        "branchs",
        "uac_pcap",
        "3pcc-A",
        "3pcc-B",
        "3pcc-C-A",
        "3pcc-C-B",
    }  # fmt: skip
)

#: ``transport`` names accepted besides SIPp's own ``-t`` modes (u1, un, t1, tn, ...).
TRANSPORT_MODES = {"udp": "u1", "tcp": "t1", "udp-multi": "un", "tcp-multi": "tn"}

#: SIPp's documented exit codes.
EXIT_CODES = {
    0: "all calls were successful",
    1: "at least one call failed",
    97: "exit on internal command (calls may have been processed)",
    99: "normal exit without calls processed",
    253: "fatal error while binding a socket (-3)",
    254: "fatal error binding a socket (-2)",
    255: "fatal error (-1)",
}

_issued_ports: set[int] = set()
_port_lock = threading.Lock()


def free_port(host: str = "127.0.0.1", kind: str = "both") -> int:
    """A port on ``host`` that is free for UDP and/or TCP (``kind``: udp, tcp, both).

    The port is probed by binding, then released; ports handed out before by this
    process are never handed out again, so concurrent peers of one test never clash.
    """
    if kind not in ("udp", "tcp", "both"):
        raise ValueError(f"kind must be udp, tcp or both, not {kind!r}")
    for _ in range(200):
        first = socket.SOCK_STREAM if kind in ("tcp", "both") else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, first) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if kind == "both":
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind((host, port))
            except OSError:
                continue
        with _port_lock:
            if port in _issued_ports:
                continue
            _issued_ports.add(port)
        return port
    raise RuntimeError(f"no free {kind} port found on {host}")


def port_bound(ip: str, port: int, kind: socket.SocketKind = socket.SOCK_DGRAM) -> bool:
    """Whether some process listens on ``ip:port`` (TCP) or has bound it (UDP).

    Reads ``/proc/net/{tcp,udp}`` so that the check never races the owner's own
    bind; elsewhere it falls back to trying to bind the port.
    """
    table = Path("/proc/net/tcp" if kind == socket.SOCK_STREAM else "/proc/net/udp")
    if not table.exists():
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((ip, port))
            except OSError:
                return True
            return False
    wanted_ip = socket.inet_aton(ip)[::-1].hex().upper()
    wanted = {f"{wanted_ip}:{port:04X}", f"00000000:{port:04X}"}
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[1] not in wanted:
            continue
        if kind != socket.SOCK_STREAM or fields[3] == "0A":  # TCP: LISTEN only
            return True
    return False


class SippError(RuntimeError):
    """SIPp could not be run, did not finish in time, or its results are missing."""


def elapsed_seconds(value: str) -> float:
    """SIPp's ``HH:MM:SS`` or ``HH:MM:SS:microseconds`` as seconds."""
    parts = value.strip().split(":")
    if len(parts) < 3 or not all(p.isdigit() for p in parts):
        return 0.0
    seconds = int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2])
    return seconds + (int(parts[3]) / 1_000_000 if len(parts) > 3 else 0.0)


def _last_csv_row(path: Path) -> dict[str, str]:
    """The last row of a SIPp ``;``-separated CSV as a dict by column name."""
    with path.open(newline="", encoding="latin-1") as handle:
        rows = [row for row in csv.reader(handle, delimiter=";") if row]
    if len(rows) < 2:
        return {}
    header, last = rows[0], rows[-1]
    return {name: value for name, value in zip(header, last, strict=False) if name}


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


@dataclass
class SippResult:
    """The outcome of one SIPp run."""

    command: list[str]
    exit_code: int
    #: Wall-clock seconds from start to exit.
    duration: float
    successful_calls: int = 0
    failed_calls: int = 0
    retransmissions: int = 0
    outgoing_calls: int = 0
    incoming_calls: int = 0
    #: The cumulative columns of the last ``-trace_stat`` row, by SIPp's names.
    stats: dict[str, str] = field(default_factory=dict)
    #: The last ``-trace_counts`` row: per scenario step counters (``4_200_Recv``...).
    counts: dict[str, str] = field(default_factory=dict)
    #: Unexpected messages and other events (``-trace_err``), tail.
    errors: str = ""
    #: The final screens SIPp printed, tail.
    screen: str = ""
    workdir: Path = Path(".")

    @property
    def elapsed(self) -> float:
        """SIPp's own cumulative elapsed time, in seconds."""
        return elapsed_seconds(self.stats.get("ElapsedTime(C)", ""))

    @property
    def call_rate(self) -> float:
        """SIPp's cumulative call rate (calls per second)."""
        try:
            return float(self.stats.get("CallRate(C)", "0"))
        except ValueError:
            return 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failed_calls == 0

    def describe(self) -> str:
        meaning = EXIT_CODES.get(self.exit_code, "unknown")
        return (
            f"sipp exit {self.exit_code} ({meaning}): {self.successful_calls} successful, "
            f"{self.failed_calls} failed, {self.retransmissions} retransmissions in "
            f"{self.duration:.2f}s\ncommand: {' '.join(self.command)}\n"
            f"--- errors ---\n{self.errors}\n--- screen ---\n{self.screen}"
        )

    def check(self, calls: int | None = None) -> SippResult:
        """Raise :class:`SippError` unless every call succeeded (and, if given, exactly
        ``calls`` of them)."""
        if not self.ok or (calls is not None and self.successful_calls != calls):
            raise SippError(self.describe())
        return self


def users_injection(users: Iterable[tuple[str, str]]) -> str:
    """An ``-inf`` file body for the digest scenarios: one line per call with the
    user, the password and a ready ``[authentication ...]`` keyword (SIPp 3.6 cannot
    nest ``[field]`` keywords inside ``[authentication]``)."""
    lines = ["SEQUENTIAL"]
    for user, password in users:
        for value in (user, password):
            if any(c in value for c in ";[] \r\n"):
                raise ValueError(f"unusable in a SIPp injection file: {value!r}")
        lines.append(f"{user};{password};[authentication username={user} password={password}];")
    return "\n".join(lines) + "\n"


class Sipp:
    """A SIPp process running in the foreground of a work directory."""

    def __init__(
        self,
        command: list[str],
        workdir: Path,
        local_port: int,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.command = command
        self.workdir = workdir
        self.local_port = local_port
        self.timeout = timeout
        self._stdout = (workdir / "sipp.out").open("wb")
        self._started = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                command,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=self._stdout,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
            )
        except OSError as exc:
            self._stdout.close()
            raise SippError(f"cannot run {command[0]}: {exc}") from exc

    @classmethod
    def start(
        cls,
        scenario: str | Path,
        remote: str | None = None,
        *,
        local_port: int | None = None,
        local_ip: str = "127.0.0.1",
        media_port: int | None = None,
        transport: str = "udp",
        calls: int | None = None,
        rate: float | None = None,
        rate_period_ms: int | None = None,
        limit: int | None = None,
        call_length_ms: int | None = None,
        service: str | None = None,
        keys: Mapping[str, str] | None = None,
        injection: str | None = None,
        recv_timeout_ms: int | None = None,
        timeout: float = 30.0,
        stat_interval: float = 1.0,
        workdir: Path | None = None,
        extra_args: Sequence[str] = (),
        wait_listening: float | None = None,
    ) -> Sipp:
        """Start SIPp; return at once (see :meth:`wait`).

        ``scenario``: a built-in name (``"uac"``, ``"uas"``...) or an XML file.
        ``remote``: ``host:port`` to send to (UAC side). ``transport``: ``udp``,
        ``tcp``, ``udp-multi``, ``tcp-multi`` or a SIPp ``-t`` mode. ``calls``
        (``-m``): stop after that many calls; ``rate`` (``-r``) per
        ``rate_period_ms`` (``-rp``); ``limit`` (``-l``): concurrent calls.
        ``injection``: the body of an ``-inf`` file (see :func:`users_injection`).
        ``timeout``: SIPp's global ``-timeout`` (then it fails), also the default of
        :meth:`wait`. Local and media ports are allocated if not given.
        ``wait_listening``: seconds to wait until SIPp has bound its local port
        before returning; default 5 when there is no ``remote`` (a UAS), so that
        a peer started right after never connects too early (TCP fails at once).
        """
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="sipp-"))
        workdir.mkdir(parents=True, exist_ok=True)
        if local_port is None:
            local_port = free_port(local_ip)
        if media_port is None:
            media_port = free_port(local_ip, "udp")
        name = str(scenario)
        if name in BUILTIN_SCENARIOS:
            cmd = [SIPP, "-sn", name]
        else:
            path = Path(scenario)
            if not path.is_file():
                raise SippError(f"no SIPp scenario {name!r} (not built in, no such file)")
            cmd = [SIPP, "-sf", str(path.resolve())]
        if remote:
            cmd.append(remote)
        mode = TRANSPORT_MODES.get(transport, transport)
        cmd += ["-t", mode, "-i", local_ip, "-p", str(local_port)]
        cmd += ["-mi", local_ip, "-mp", str(media_port), "-nostdin"]
        cmd += ["-timeout", f"{max(1, round(timeout))}s", "-timeout_error"]
        cmd += ["-trace_stat", "-stf", str(workdir / "stat.csv")]
        cmd += ["-fd", f"{max(1, round(stat_interval))}s", "-trace_counts"]
        cmd += ["-trace_err", "-error_file", str(workdir / "errors.log")]
        if calls is not None:
            cmd += ["-m", str(calls)]
        if rate is not None:
            cmd += ["-r", f"{rate:g}"]
        if rate_period_ms is not None:
            cmd += ["-rp", str(rate_period_ms)]
        if limit is not None:
            cmd += ["-l", str(limit)]
        if call_length_ms is not None:
            cmd += ["-d", str(call_length_ms)]
        if service is not None:
            cmd += ["-s", service]
        if recv_timeout_ms is not None:
            cmd += ["-recv_timeout", str(recv_timeout_ms)]
        for key, value in (keys or {}).items():
            cmd += ["-key", key, value]
        if injection is not None:
            inf = workdir / "injection.csv"
            inf.write_text(injection, encoding="utf-8")
            cmd += ["-inf", str(inf)]
        cmd += list(extra_args)
        sipp = cls(cmd, workdir, local_port, timeout)
        if wait_listening is None and not remote:
            wait_listening = 5.0
        if wait_listening:
            kind = socket.SOCK_STREAM if mode.startswith("t") else socket.SOCK_DGRAM
            sipp._wait_bound(local_ip, kind, wait_listening)
        return sipp

    def _wait_bound(self, ip: str, kind: socket.SocketKind, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not port_bound(ip, self.local_port, kind):
            if self.proc.poll() is not None:
                raise SippError(
                    f"sipp exited {self.proc.returncode} at start\ncommand: "
                    f"{' '.join(self.command)}\n--- output ---\n"
                    f"{_tail(self.workdir / 'sipp.out')}"
                )
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise SippError(f"sipp did not bind {ip}:{self.local_port} in {timeout}s")
            time.sleep(0.02)

    @property
    def address(self) -> str:
        """``ip:port`` SIPp listens on (for the other side's ``remote``)."""
        ip = self.command[self.command.index("-i") + 1]
        return f"{ip}:{self.local_port}"

    @property
    def uri(self) -> str:
        """``sip:ip:port`` of SIPp (with ``;transport=tcp`` in a TCP mode)."""
        mode = self.command[self.command.index("-t") + 1]
        return f"sip:{self.address}" + (";transport=tcp" if mode.startswith("t") else "")

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 3.0) -> SippResult:
        """SIGTERM (SIPp writes its final statistics), SIGKILL after ``grace`` s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(grace, kill=True)

    def wait(self, timeout: float | None = None, kill: bool = True) -> SippResult:
        """Wait for SIPp to exit (default: its global timeout plus 10 s) and parse
        its statistics. On timeout SIPp is killed (if ``kill``) and
        :class:`SippError` is raised."""
        limit = self.timeout + 10.0 if timeout is None else timeout
        try:
            code = self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            if not kill:
                raise SippError(f"sipp still running after {limit}s") from None
            self.proc.kill()
            self.proc.wait()
            self._stdout.close()
            raise SippError(
                f"sipp did not finish within {limit}s and was killed\n"
                f"command: {' '.join(self.command)}\n--- screen ---\n"
                f"{_tail(self.workdir / 'sipp.out')}"
            ) from None
        finally:
            duration = time.monotonic() - self._started
        self._stdout.close()
        return self._result(code, duration)

    def _result(self, code: int, duration: float) -> SippResult:
        stat_path = self.workdir / "stat.csv"
        stats = _last_csv_row(stat_path) if stat_path.exists() else {}
        counts: dict[str, str] = {}
        for path in self.workdir.glob("*_counts.csv"):
            counts = _last_csv_row(path)
        if not stats and code not in (0, 1):
            raise SippError(
                f"sipp exited {code} ({EXIT_CODES.get(code, 'unknown')}) without statistics\n"
                f"command: {' '.join(self.command)}\n--- output ---\n"
                f"{_tail(self.workdir / 'sipp.out')}"
            )

        def number(name: str) -> int:
            try:
                return int(stats.get(name, "0") or 0)
            except ValueError:
                return 0

        return SippResult(
            command=self.command,
            exit_code=code,
            duration=duration,
            successful_calls=number("SuccessfulCall(C)"),
            failed_calls=number("FailedCall(C)"),
            retransmissions=number("Retransmissions(C)"),
            outgoing_calls=number("OutgoingCall(C)"),
            incoming_calls=number("IncomingCall(C)"),
            stats=stats,
            counts=counts,
            errors=_tail(self.workdir / "errors.log"),
            screen=_tail(self.workdir / "sipp.out"),
            workdir=self.workdir,
        )

    def __enter__(self) -> Sipp:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running():
            with contextlib.suppress(SippError):
                self.stop()
        self._stdout.close()  # also when SIPp ended on its own and nobody waited


def run_sipp(scenario: str | Path, remote: str | None = None, **options: object) -> SippResult:
    """:meth:`Sipp.start` then :meth:`Sipp.wait`; options as for :meth:`Sipp.start`."""
    sipp = Sipp.start(scenario, remote, **options)  # type: ignore[arg-type]
    return sipp.wait()
