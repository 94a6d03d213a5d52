"""Driver for a real pjsua2 softphone running in a subprocess.

Covers: starting a phone on UDP or TCP (display name, outbound proxy, STUN/ICE off by
default), REGISTER with digest authentication and un-REGISTER (final status codes),
outgoing and incoming calls (180, answer with any code, hang-up, CANCEL), call states
and the final SIP status of a call, the caller's display name exactly as received
(UTF-8 Chinese names included), RTP packet counters in both directions and
auto-answer. Not covered: video, SRTP, TLS, transfer, hold, presence, messaging.

Each :class:`Phone` owns one ``_pjsua_agent.py`` process (pjsua2 allows one
``Endpoint`` per process), spoken to with JSON lines. All calls are synchronous and
take a timeout; every failure raises :class:`PhoneError` with the agent's stderr
tail. Usage::

    with Phone.start(transport="udp", display_name="夏邑县政府办公室") as alice, \\
         Phone.start(user="bob") as bob:
        call = alice.call(bob.contact_uri)
        incoming = bob.wait_incoming(5)
        incoming.answer()
        call.wait_state("CONFIRMED", 5)
        call.hangup()
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

AGENT = Path(__file__).with_name("_pjsua_agent.py")

#: Invite session states in the order a call normally passes through them.
CALL_STATES = ("NULL", "CALLING", "INCOMING", "EARLY", "CONNECTING", "CONFIRMED", "DISCONNECTED")

#: G.711 first, as on the county networks; G.722 for wideband phones.
DEFAULT_CODECS = ("PCMU/8000", "PCMA/8000", "G722/16000")

_STDERR_TAIL_LINES = 60


class PhoneError(RuntimeError):
    """A request to the agent failed, timed out, or the agent died."""


@dataclass(frozen=True)
class RtpStats:
    """RTP counters of a call's audio stream, from ``Call.getStreamStat``."""

    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_loss: int = 0
    codec: str = ""
    remote_rtp: str = ""

    @property
    def flows_both_ways(self) -> bool:
        return self.rx_packets > 0 and self.tx_packets > 0


@dataclass
class CallHandle:
    """One call of a :class:`Phone`, outgoing or incoming."""

    phone: Phone
    key: int
    direction: str  # "out" or "in"
    remote_uri: str = ""
    #: The caller's display name from the incoming INVITE's From header ("" if none).
    remote_display_name: str = ""
    #: The raw From header value of an incoming INVITE.
    from_header: str = ""
    #: The transport in the top Via of an incoming INVITE ("UDP", "TCP").
    via_transport: str = ""
    #: The peer's Contact (on TCP it carries ``;transport=tcp``).
    remote_contact: str = ""
    call_id: str = ""
    state: str = "NULL"
    states: list[str] = field(default_factory=list)
    #: SIP status code of the last response (the disconnect reason once DISCONNECTED).
    last_status: int = 0
    last_reason: str = ""
    _final_rtp: RtpStats | None = None

    @property
    def disconnected(self) -> bool:
        return self.state == "DISCONNECTED"

    def answer(self, code: int = 200, timeout: float = 5.0) -> CallHandle:
        """Send a final (or, for 1xx codes, provisional) response to an incoming call."""
        self.phone.request("answer", {"call": self.key, "code": code}, timeout)
        return self

    def ringing(self, timeout: float = 5.0) -> CallHandle:
        """Send 180 Ringing."""
        return self.answer(180, timeout)

    def hangup(self, code: int = 0, timeout: float = 5.0) -> CallHandle:
        """BYE if established, CANCEL if outgoing and early, ``code`` (default 603) if
        incoming and unanswered. Returns at once; wait for ``DISCONNECTED`` if needed."""
        if not self.disconnected:
            self.phone.request("hangup", {"call": self.key, "code": code}, timeout)
        return self

    def send_dtmf(self, digits: str, timeout: float = 5.0) -> None:
        self.phone.request("dtmf", {"call": self.key, "digits": digits}, timeout)

    def wait_state(self, state: str, timeout: float = 10.0) -> CallHandle:
        """Wait until the call has reached ``state``.

        Raises :class:`PhoneError` on timeout, or at once if the call ended before
        reaching it (the message gives the final status).
        """
        state = state.upper()
        if state not in CALL_STATES:
            raise ValueError(f"unknown call state {state!r}; one of {CALL_STATES}")

        def reached() -> bool:
            return state in self.states or (self.disconnected and state != "DISCONNECTED")

        self.phone._wait_for(reached, timeout, f"call {self.key} to reach {state}")
        if state not in self.states:
            raise PhoneError(
                f"call {self.key} ended with {self.last_status} {self.last_reason} before "
                f"reaching {state} (states: {self.states})" + self.phone._tail()
            )
        return self

    def rtp_stats(self, timeout: float = 5.0) -> RtpStats:
        """RTP counters now, or the last ones seen before the call ended."""
        if self._final_rtp is not None:
            return self._final_rtp
        result = self.phone.request("rtp_stats", {"call": self.key}, timeout)
        return RtpStats(**result)

    def wait_rtp(self, min_packets: int = 25, timeout: float = 5.0) -> RtpStats:
        """Wait until at least ``min_packets`` went each way (20 ms audio: 50/s)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.rtp_stats()
            if stats.rx_packets >= min_packets and stats.tx_packets >= min_packets:
                return stats
            if time.monotonic() > deadline or self.disconnected:
                raise PhoneError(
                    f"call {self.key}: RTP did not reach {min_packets} packets each way: "
                    f"{stats}" + self.phone._tail()
                )
            time.sleep(0.1)


class Phone:
    """A pjsua2 softphone in its own process. Create it with :meth:`start`."""

    def __init__(self, proc: subprocess.Popen[bytes], name: str) -> None:
        self.name = name
        self._proc = proc
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._responses: dict[int, dict[str, Any]] = {}
        self._dead = False
        self._closing = False
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
        self._calls: dict[int, CallHandle] = {}
        self._incoming: queue.SimpleQueue[CallHandle] = queue.SimpleQueue()
        self._reg_events: list[dict[str, Any]] = []
        self.transport = "udp"
        self.host = "127.0.0.1"
        self.user = "pjsua"
        self.local_port = 0
        #: A SIP URI reaching this phone directly (with ``;transport=tcp`` on TCP).
        self.contact_uri = ""
        #: The outbound proxy route (a SIP URI with ``;lr``), "" if none.
        self.outbound_proxy = ""
        #: The From of the phone's unregistered (direct-call) account.
        self.id_uri = ""
        self.exit_code: int | None = None
        assert proc.stdout is not None
        assert proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._read_stdout, args=(proc.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(proc.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # -- life cycle -------------------------------------------------------------

    @classmethod
    def start(
        cls,
        transport: str = "udp",
        local_port: int = 0,
        display_name: str = "",
        user: str = "pjsua",
        host: str = "127.0.0.1",
        outbound_proxy: str = "",
        stun_servers: list[str] | None = None,
        ice: bool = False,
        rewrite_contact: bool = False,
        log_level: int = 1,
        codecs: tuple[str, ...] = DEFAULT_CODECS,
        timeout: float = 15.0,
    ) -> Phone:
        """Start a phone listening on ``host:local_port`` (0: any free port).

        ``outbound_proxy`` (``"host:port"`` or a SIP URI) is used as a pre-loaded
        route for every request of the phone, on the phone's transport. STUN and ICE
        are off unless ``stun_servers``/``ice`` are given. ``log_level`` 4 or more
        makes pjsua log every SIP message to the agent's stderr. Only ``codecs``
        (pjsua codec ids or their prefixes, in order of preference) are offered; an
        empty tuple keeps pjsua's own list.
        """
        env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(
            [sys.executable, str(AGENT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        phone = cls(proc, name=display_name or user)
        phone.transport = transport
        phone.host = host
        phone.user = user
        phone.outbound_proxy = phone._proxy_uri(outbound_proxy)
        try:
            result = phone.request(
                "start",
                {
                    "transport": transport,
                    "host": host,
                    "local_port": local_port,
                    "user": user,
                    "display_name": display_name,
                    "outbound_proxy": phone.outbound_proxy,
                    "stun_servers": stun_servers or [],
                    "ice": ice,
                    "rewrite_contact": rewrite_contact,
                    "log_level": log_level,
                    "codecs": list(codecs),
                },
                timeout,
            )
        except BaseException:
            phone.close()
            raise
        phone.local_port = int(result["local_port"])
        phone.contact_uri = str(result["contact"])
        phone.id_uri = str(result["id_uri"])
        return phone

    def close(self, timeout: float = 5.0) -> int | None:
        """Hang up every call, stop pjsua and the agent; kill it if it hangs.

        Returns the agent's exit code. Safe to call more than once.
        """
        if self._proc.poll() is None and not self._dead and not self._closing:
            with contextlib.suppress(PhoneError):
                self.request("shutdown", {}, timeout)
        try:
            self.exit_code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self.exit_code = self._proc.wait(timeout)
        for thread in self._threads:  # they end at EOF, now that the agent is gone
            thread.join(2.0)
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return self.exit_code

    def kill(self) -> None:
        """SIGKILL the agent: the phone vanishes without a word (no BYE, no CANCEL
        answer, no un-REGISTER), like a phone losing power."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def begin_close(self) -> None:
        """Ask the agent to shut down without waiting (close several phones at once:
        ``begin_close`` each, then ``close`` each)."""
        if self._proc.poll() is None and not self._dead and not self._closing:
            line = json.dumps({"id": next(self._ids), "cmd": "shutdown", "args": {}}) + "\n"
            stdin = self._proc.stdin
            assert stdin is not None
            try:
                stdin.write(line.encode())
                stdin.flush()
            except OSError:
                return
            self._closing = True

    def __enter__(self) -> Phone:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stderr_tail(self) -> str:
        with self._cond:
            return "\n".join(self._stderr)

    # -- registration -------------------------------------------------------------

    def register(
        self,
        registrar_uri: str,
        username: str,
        password: str,
        domain: str,
        realm: str = "*",
        expires: int = 300,
        user: str = "",
        outbound_proxy: str | None = None,
        timeout: float = 10.0,
    ) -> int:
        """REGISTER ``sip:username@domain`` (or ``user@domain``) at ``registrar_uri``.

        Digest challenges are answered for ``realm`` (``"*"``: any). Returns the final
        status code: 200 when bound, 401/403 when authentication failed, 408/503 when
        the registrar did not answer, ... Later calls go out from this account.
        ``outbound_proxy`` (``host:port`` or URI; ``""``: none) replaces the one given
        to :meth:`start`. On a TCP phone ``;transport=tcp`` is added to the registrar
        and proxy URIs when they name no transport.
        """
        start = self._reg_event_count()
        if outbound_proxy is not None:
            self.outbound_proxy = self._proxy_uri(outbound_proxy)
        self.request(
            "register",
            {
                "registrar_uri": self._on_transport(registrar_uri),
                "username": username,
                "password": password,
                "domain": domain,
                "realm": realm,
                "expires": expires,
                "user": user,
                "outbound_proxy": self.outbound_proxy,
            },
            timeout,
        )
        return int(self._wait_reg_event(start, timeout)["code"])

    def unregister(self, timeout: float = 10.0) -> int:
        """Remove the binding (REGISTER with Expires: 0); returns the status code."""
        start = self._reg_event_count()
        self.request("unregister", {}, timeout)
        return int(self._wait_reg_event(start, timeout)["code"])

    @property
    def reg_events(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._reg_events)

    def _reg_event_count(self) -> int:
        with self._cond:
            return len(self._reg_events)

    def _wait_reg_event(self, start: int, timeout: float) -> dict[str, Any]:
        self._wait_for(lambda: len(self._reg_events) > start, timeout, "a final REGISTER response")
        with self._cond:
            return self._reg_events[start]

    # -- calls ----------------------------------------------------------------------

    def call(
        self, uri: str, headers: dict[str, str] | None = None, timeout: float = 5.0
    ) -> CallHandle:
        """Send an INVITE to ``uri`` with extra ``headers``.

        Without an outbound proxy a TCP phone adds ``;transport=tcp`` to a ``uri``
        naming no transport (a direct call); through a proxy the request-URI is
        sent as given, the proxy route already fixing the transport.
        """
        target = uri if self.outbound_proxy else self._on_transport(uri)
        result = self.request("call", {"uri": target, "headers": headers or {}}, timeout)
        key = int(result["call"])
        with self._cond:
            handle = self._calls.get(key)
            if handle is None:
                handle = CallHandle(self, key, "out", remote_uri=uri)
                self._calls[key] = handle
            return handle

    def wait_incoming(self, timeout: float = 10.0) -> CallHandle:
        """The next incoming call (not yet answered unless auto-answer is on)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._incoming.get(timeout=0.05)
            except queue.Empty:
                pass
            if self._dead:
                raise PhoneError(f"{self.name}: agent died waiting for a call" + self._tail())
            if time.monotonic() > deadline:
                raise PhoneError(f"{self.name}: no incoming call within {timeout}s" + self._tail())

    def set_auto_answer(
        self, code: int | None = 200, ringing: bool = False, timeout: float = 5.0
    ) -> None:
        """Answer every incoming call with ``code`` (after 180 if ``ringing``);
        ``None`` turns auto-answer off. Incoming calls are still queued for
        :meth:`wait_incoming`."""
        self.request("set_auto_answer", {"code": code, "ringing": ringing}, timeout)

    @property
    def calls(self) -> list[CallHandle]:
        with self._cond:
            return list(self._calls.values())

    # -- plumbing -------------------------------------------------------------------

    def _proxy_uri(self, proxy: str) -> str:
        if not proxy:
            return ""
        uri = proxy if proxy.startswith(("sip:", "sips:", "<")) else f"sip:{proxy}"
        uri = uri.strip("<>")
        if ";lr" not in uri:
            uri += ";lr"
        return self._on_transport(uri)

    def _on_transport(self, uri: str) -> str:
        if self.transport == "tcp" and uri.startswith("sip:") and "transport=" not in uri:
            head, sep, tail = uri.partition(">")
            return f"{head};transport=tcp{sep}{tail}"
        return uri

    def _tail(self) -> str:
        code = self._proc.poll()
        status = "" if code is None else f" (agent exit code {code})"
        return f"\n--- {self.name} agent stderr tail{status} ---\n{self.stderr_tail}"

    def _wait_for(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                if self._dead:
                    raise PhoneError(f"{self.name}: agent died waiting for {what}" + self._tail())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PhoneError(
                        f"{self.name}: timed out after {timeout}s waiting for {what}" + self._tail()
                    )
                self._cond.wait(min(left, 0.5))

    def request(self, cmd: str, args: dict[str, Any], timeout: float = 5.0) -> Any:
        """Send one command to the agent and return its result."""
        rid = next(self._ids)
        line = json.dumps({"id": rid, "cmd": cmd, "args": args}, ensure_ascii=False) + "\n"
        if self._dead or self._proc.poll() is not None:
            raise PhoneError(f"{self.name}: agent is not running ({cmd})" + self._tail())
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(line.encode("utf-8"))
            stdin.flush()
        except OSError as exc:
            raise PhoneError(f"{self.name}: cannot send {cmd}: {exc}" + self._tail()) from exc
        self._wait_for(lambda: rid in self._responses, timeout, f"the reply to {cmd}")
        with self._cond:
            response = self._responses.pop(rid)
        if not response.get("ok"):
            raise PhoneError(f"{self.name}: {cmd} failed: {response.get('error')}" + self._tail())
        return response.get("result")

    def _read_stdout(self, stream: IO[bytes]) -> None:
        for raw in stream:
            try:
                msg = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                with self._cond:
                    self._stderr.append(f"[bad agent output] {raw!r}")
                continue
            with self._cond:
                if "event" in msg:
                    self._on_event(msg)
                else:
                    self._responses[msg.get("id")] = msg
                self._cond.notify_all()
        with self._cond:
            self._dead = True
            self._cond.notify_all()

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in stream:
            with self._cond:
                self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    def _on_event(self, msg: dict[str, Any]) -> None:
        # Called with self._cond held.
        event = msg["event"]
        if event == "reg_state":
            self._reg_events.append(msg)
        elif event == "incoming_call":
            handle = CallHandle(
                self,
                int(msg["call"]),
                "in",
                remote_uri=msg.get("remote_uri", ""),
                remote_display_name=msg.get("display_name", ""),
                from_header=msg.get("from_header", ""),
                via_transport=msg.get("via_transport", ""),
                remote_contact=msg.get("remote_contact", ""),
                call_id=msg.get("call_id", ""),
                state="INCOMING",
                states=["INCOMING"],
            )
            self._calls[handle.key] = handle
            self._incoming.put(handle)
        elif event == "call_state":
            key = int(msg["call"])
            known = self._calls.get(key)
            if known is None:  # the event overtook the reply to "call"
                known = CallHandle(self, key, "out", remote_uri=msg.get("remote_uri", ""))
                self._calls[key] = known
            handle = known
            handle.state = msg["state"]
            if msg["state"] not in handle.states:
                handle.states.append(msg["state"])
            handle.last_status = int(msg.get("code") or 0)
            handle.last_reason = msg.get("reason", "")
            handle.call_id = msg.get("call_id") or handle.call_id
            if msg.get("remote_uri"):
                handle.remote_uri = msg["remote_uri"]
            if msg.get("remote_contact"):
                handle.remote_contact = msg["remote_contact"]
            if msg["state"] == "DISCONNECTED":
                handle._final_rtp = RtpStats(**(msg.get("rtp") or {}))
