"""Driver for a real baresip (Debian package ``baresip``, 1.0) user agent, headless.

Covers: starting baresip with a generated configuration directory (``baresip -f``):
SIP on 127.0.0.1 over UDP or TCP, G.711 only, a 440 Hz sine (``ausine``) as audio
source and the ``aubridge`` null device as player, no STUN/ICE/UI modules; one
account, either unregistered (direct calls by IP) or registering with digest
credentials through an outbound proxy; control over the ``ctrl_tcp`` module
(netstring-framed JSON commands: ``dial``, ``accept``, ``hangup``, ``reginfo``, any
other menu command) and its events (``REGISTER_OK``, ``REGISTER_FAIL``,
``CALL_INCOMING``, ``CALL_RINGING``, ``CALL_ESTABLISHED``, ``CALL_CLOSED``...).
RTP counters of each ended call come from baresip's own ``rtp_stats`` report in
its output (:meth:`Baresip.wait_rtp_report`). Not covered: video, SRTP, several
accounts.

Usage::

    with Baresip.start(user="carol", display_name="城关镇") as carol:
        carol.dial("sip:bob@127.0.0.1:5062")
        carol.wait_event("CALL_ESTABLISHED", 5)
        carol.hangup()
        carol.wait_event("CALL_CLOSED", 5)
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.sipp_driver import free_port, port_bound

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
MODULE_PATH = Path("/usr/lib/baresip/modules")

_TAIL_LINES = 80


class BaresipError(RuntimeError):
    """baresip failed to start, a command failed or timed out, or it died."""


@dataclass(frozen=True)
class BaresipEvent:
    """One ``ctrl_tcp`` event: ``type`` (``CALL_ESTABLISHED``...) and the raw JSON."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def peer_uri(self) -> str:
        return str(self.data.get("peeruri", ""))

    @property
    def param(self) -> str:
        return str(self.data.get("param", ""))


@dataclass(frozen=True)
class BaresipRtp:
    """The RTP summary baresip prints when a call ends (``rtp_stats yes``)."""

    tx_packets: int
    rx_packets: int
    tx_lost: int = 0
    rx_lost: int = 0

    @property
    def flows_both_ways(self) -> bool:
        return self.tx_packets > 0 and self.rx_packets > 0


def _netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


class Baresip:
    """A baresip process controlled through ``ctrl_tcp``. Create it with :meth:`start`."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        workdir: Path,
        sip_port: int,
        ctrl_port: int,
        transport: str,
        user: str,
    ) -> None:
        self._proc = proc
        self.workdir = workdir
        self.sip_port = sip_port
        self.ctrl_port = ctrl_port
        self.transport = transport
        self.user = user
        #: A SIP URI reaching this baresip directly.
        self.contact_uri = f"sip:{user}@127.0.0.1:{sip_port}" + (
            ";transport=tcp" if transport == "tcp" else ""
        )
        self._cond = threading.Condition()
        self._output: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._events: list[BaresipEvent] = []
        self._rtp_reports: list[BaresipRtp] = []
        self._report: dict[str, tuple[int, int]] | None = None
        self._responses: dict[str, dict[str, Any]] = {}
        self._tokens = itertools.count(1)
        self._sock: socket.socket | None = None
        self._dead = False
        self.exit_code: int | None = None
        assert proc.stdout is not None
        self._threads = [
            threading.Thread(target=self._read_output, args=(proc.stdout,), daemon=True)
        ]
        self._threads[0].start()

    # -- life cycle -------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        user: str = "baresip",
        domain: str = "127.0.0.1",
        display_name: str = "",
        transport: str = "udp",
        sip_port: int | None = None,
        password: str | None = None,
        outbound_proxy: str | None = None,
        regint: int = 0,
        answermode: str = "manual",
        tone_hz: int = 440,
        workdir: Path | None = None,
        sip_trace: bool = False,
        timeout: float = 10.0,
    ) -> Baresip:
        """Start baresip with one account ``sip:user@domain``.

        ``regint`` > 0 makes it REGISTER every ``regint`` seconds (with
        ``password``), to ``outbound_proxy`` (``host:port`` or a SIP URI) if given,
        else to ``domain``. ``answermode``: ``manual``, ``early`` or ``auto``.
        ``sip_trace`` logs every SIP message to the output tail.
        """
        if transport not in ("udp", "tcp"):
            raise ValueError(f"transport must be 'udp' or 'tcp', not {transport!r}")
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="baresip-"))
        workdir.mkdir(parents=True, exist_ok=True)
        sip_port = sip_port or free_port()
        ctrl_port = free_port(kind="tcp")
        rtp_low = 20000 + (sip_port % 2000) * 20
        (workdir / "config").write_text(
            _config(sip_port, ctrl_port, tone_hz, rtp_low), encoding="utf-8"
        )
        # The account is added over ctrl_tcp once connected (``uanew``), so that
        # the events of its first REGISTER are not lost.
        (workdir / "accounts").write_text("", encoding="utf-8")
        (workdir / "contacts").write_text("", encoding="utf-8")
        cmd = [BARESIP, "-f", str(workdir)] + (["-s"] if sip_trace else [])
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            raise BaresipError(f"cannot run {BARESIP}: {exc}") from exc
        agent = cls(proc, workdir, sip_port, ctrl_port, transport, user)
        account = _account_line(
            user, domain, display_name, transport, password, outbound_proxy, regint, answermode
        )
        try:
            agent._connect(timeout)
            agent.command("uanew", account, timeout)
        except BaseException:
            agent.close()
            raise
        return agent

    def _connect(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not port_bound("127.0.0.1", self.ctrl_port, socket.SOCK_STREAM):
            if self._proc.poll() is not None:
                raise BaresipError(
                    f"baresip exited {self._proc.returncode} at start" + self._tail()
                )
            if time.monotonic() > deadline:
                raise BaresipError(
                    f"baresip ctrl_tcp not listening after {timeout}s" + self._tail()
                )
            time.sleep(0.02)
        self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=timeout)
        self._sock.settimeout(None)
        reader = threading.Thread(target=self._read_ctrl, args=(self._sock,), daemon=True)
        self._threads.append(reader)
        reader.start()

    def close(self, timeout: float = 2.0) -> int | None:
        """Quit baresip (``quit`` command, then SIGTERM, then SIGKILL, ``timeout`` s
        apart); returns its exit code. A registered baresip un-REGISTERs on quit and
        waits for the answer, hence the escalation when the registrar is gone."""
        if self._proc.poll() is None and self._sock is not None and not self._dead:
            with contextlib.suppress(BaresipError, OSError):
                self._send("quit", "", None)
        try:
            self.exit_code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.terminate()
            try:
                self.exit_code = self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self.exit_code = self._proc.wait()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:  # they end at EOF, now that baresip is gone
            thread.join(2.0)
        if self._sock is not None:
            self._sock.close()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        return self.exit_code

    def __enter__(self) -> Baresip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def output_tail(self) -> str:
        with self._cond:
            return "\n".join(self._output)

    # -- commands ---------------------------------------------------------------------

    def command(self, cmd: str, params: str = "", timeout: float = 5.0) -> str:
        """Run a baresip (menu) command; return its response text. Raises
        :class:`BaresipError` if baresip reports failure or does not answer."""
        token = self._send(cmd, params, None)
        deadline = time.monotonic() + timeout
        with self._cond:
            while token not in self._responses:
                if self._dead:
                    raise BaresipError(f"baresip died during {cmd}" + self._tail())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BaresipError(f"no reply to {cmd} within {timeout}s" + self._tail())
                self._cond.wait(min(left, 0.5))
            response = self._responses.pop(token)
        if not response.get("ok", False):
            raise BaresipError(f"{cmd} {params} failed: {response.get('data')}" + self._tail())
        return str(response.get("data", ""))

    def dial(self, uri: str, timeout: float = 5.0) -> str:
        """Call ``uri``. baresip itself appends the account's ``;transport=``, so an
        identical one in ``uri`` is dropped."""
        return self.command("dial", uri.replace(f";transport={self.transport}", ""), timeout)

    def accept(self, timeout: float = 5.0) -> str:
        return self.command("accept", "", timeout)

    def hangup(self, timeout: float = 5.0) -> str:
        return self.command("hangup", "", timeout)

    def reginfo(self, timeout: float = 5.0) -> str:
        return self.command("reginfo", "", timeout)

    # -- events -----------------------------------------------------------------------

    @property
    def event_count(self) -> int:
        """How many events arrived so far (for ``wait_event(since=...)``)."""
        with self._cond:
            return len(self._events)

    @property
    def events(self) -> list[BaresipEvent]:
        with self._cond:
            return list(self._events)

    def wait_registration(self, timeout: float = 10.0, since: int = 0) -> int:
        """The status code of the next REGISTER outcome (``REGISTER_OK`` or
        ``REGISTER_FAIL``): 200, 403, ... (0 when baresip gives no code, e.g. on
        a transport error)."""
        event = self.wait_event(("REGISTER_OK", "REGISTER_FAIL"), timeout, since)
        code = event.param.split(" ", 1)[0]
        return int(code) if code.isdigit() else 0

    def wait_event(
        self,
        event_type: str | tuple[str, ...],
        timeout: float = 10.0,
        since: int = 0,
        where: Callable[[BaresipEvent], bool] | None = None,
    ) -> BaresipEvent:
        """The first event of ``event_type`` (or of any of several types), among
        events number ``since`` on, matching ``where``; waits up to ``timeout`` s."""
        wanted = (event_type,) if isinstance(event_type, str) else event_type
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self._events[since:]:
                    if event.type in wanted and (where is None or where(event)):
                        return event
                if self._dead:
                    raise BaresipError(f"baresip died waiting for {event_type}" + self._tail())
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [e.type for e in self._events[since:]]
                    raise BaresipError(
                        f"no {event_type} within {timeout}s (events: {seen})" + self._tail()
                    )
                self._cond.wait(min(left, 0.5))

    @property
    def rtp_reports(self) -> list[BaresipRtp]:
        """RTP summaries of the calls ended so far, oldest first."""
        with self._cond:
            return list(self._rtp_reports)

    def wait_rtp_report(self, since: int = 0, timeout: float = 5.0) -> BaresipRtp:
        """The first RTP summary after the first ``since`` ones (printed when a call
        ends)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._rtp_reports) <= since:
                if self._dead:
                    raise BaresipError("baresip died waiting for an RTP report" + self._tail())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BaresipError(f"no RTP report within {timeout}s" + self._tail())
                self._cond.wait(min(left, 0.5))
            return self._rtp_reports[since]

    # -- plumbing ---------------------------------------------------------------------

    def _tail(self) -> str:
        code = self._proc.poll()
        status = "" if code is None else f" (exit code {code})"
        return f"\n--- baresip output tail{status} ---\n{self.output_tail}"

    def _send(self, cmd: str, params: str, token: str | None) -> str:
        token = token or f"t{next(self._tokens)}"
        payload = json.dumps({"command": cmd, "params": params, "token": token}).encode("utf-8")
        if self._sock is None:
            raise BaresipError("not connected")
        try:
            self._sock.sendall(_netstring(payload))
        except OSError as exc:
            raise BaresipError(f"cannot send {cmd}: {exc}" + self._tail()) from exc
        return token

    def _read_ctrl(self, sock: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while True:
                colon = buffer.find(b":")
                if colon < 0:
                    break
                size = int(buffer[:colon])
                if len(buffer) < colon + 1 + size + 1:
                    break
                payload = buffer[colon + 1 : colon + 1 + size]
                buffer = buffer[colon + 2 + size :]
                self._on_message(payload)
        with self._cond:
            self._dead = True
            self._cond.notify_all()

    def _on_message(self, payload: bytes) -> None:
        try:
            msg = json.loads(payload.decode("utf-8", "replace"))
        except json.JSONDecodeError:
            with self._cond:
                self._output.append(f"[bad ctrl_tcp message] {payload!r}")
            return
        with self._cond:
            if msg.get("event"):
                self._events.append(BaresipEvent(str(msg.get("type", "")), msg))
            elif msg.get("response"):
                self._responses[str(msg.get("token"))] = msg
            self._cond.notify_all()

    def _read_output(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            with self._cond:
                self._output.append(line)
                self._parse_report_line(line)
                self._cond.notify_all()

    def _parse_report_line(self, line: str) -> None:
        # audio           Transmit:     Receive:
        # packets:             27           26
        # ...
        # lost:                 0            0
        words = line.split()
        if words[:3] == ["audio", "Transmit:", "Receive:"]:
            self._report = {}
            return
        if self._report is None or len(words) != 3 or not words[0].endswith(":"):
            return
        try:
            self._report[words[0][:-1]] = (int(words[1]), int(words[2]))
        except ValueError:
            return
        if words[0] == "lost:":
            packets = self._report.get("packets", (0, 0))
            lost = self._report["lost"]
            self._rtp_reports.append(BaresipRtp(packets[0], packets[1], lost[0], lost[1]))
            self._report = None


def _config(sip_port: int, ctrl_port: int, tone_hz: int, rtp_low: int) -> str:
    return f"""\
# generated by tests/integration/baresip.py
poll_method		epoll
sip_listen		127.0.0.1:{sip_port}
call_local_timeout	120
call_max_calls		4
audio_player		aubridge,nil
audio_source		ausine,{tone_hz}
audio_alert		aubridge,nil
audio_level		no
ausrc_srate		48000
ausrc_channels		2
ausrc_format		s16
auplay_format		s16
auenc_format		s16
audec_format		s16
audio_buffer		20-160
rtp_ports		{rtp_low}-{rtp_low + 19}
rtcp_mux		no
jitter_buffer_delay	5-10
rtp_stats		yes
net_interface		127.0.0.1
module_path		{MODULE_PATH}
module			g711.so
module			ausine.so
module			aubridge.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:{ctrl_port}
"""


def _account_line(
    user: str,
    domain: str,
    display_name: str,
    transport: str,
    password: str | None,
    outbound_proxy: str | None,
    regint: int,
    answermode: str,
) -> str:
    name = ""
    if display_name:
        escaped = display_name.replace("\\", "\\\\").replace('"', '\\"')
        name = f'"{escaped}" '
    line = f"{name}<sip:{user}@{domain};transport={transport}>"
    line += f";answermode={answermode};regint={regint}"
    if password is not None:
        line += f";auth_user={user};auth_pass={password}"
    if outbound_proxy:
        uri = outbound_proxy if outbound_proxy.startswith("sip:") else f"sip:{outbound_proxy}"
        if "transport=" not in uri:
            uri += f";transport={transport}"
        line += f';outbound="{uri}"'
    line += ";audio_codecs=PCMU/8000/1,PCMA/8000/1;medianat=;mwi=no;pubint=0"
    return line
