"""A pjsua2 softphone agent: one pjsua2 ``Endpoint`` in its own process.

:mod:`tests.integration.phone` starts this file as a subprocess and drives it through
JSON lines: one request per line on stdin, one response or event per line on stdout.
A crash of pjsua therefore kills this process only, never pytest, and several phones
can run at once (pjsua2 allows a single ``Endpoint`` per process).

Wire protocol (UTF-8, one JSON object per line):

- request  ``{"id": 7, "cmd": "call", "args": {"uri": "sip:bob@127.0.0.1:5062"}}``
- response ``{"id": 7, "ok": true, "result": {...}}`` or
  ``{"id": 7, "ok": false, "error": "..."}``
- event    ``{"event": "call_state", ...}``; events: ``reg_state``, ``incoming_call``,
  ``call_state``, ``media_state``.

The original stdout is kept for the protocol only; file descriptor 1 is pointed at
stderr before pjsua starts so that pjsua's own console log can never corrupt it.

pjsua runs with ``threadCnt=0`` and ``mainThreadOnly``: the main loop below polls
``libHandleEvents`` and stdin in turn. Audio uses the null sound device; a 440 Hz
tone generator feeds every active call, and voice activity detection is off, so RTP
flows continuously in both directions while a call is up.

This file is not a test module and imports nothing from the project.
"""

from __future__ import annotations

import json
import os
import re
import select
import sys
import time
import traceback
from typing import Any, TextIO

import pjsua2 as pj

STATE_NAMES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}

_FROM_RE = re.compile(r"^(?:From|f)[ \t]*:[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)
_VIA_RE = re.compile(r"^(?:Via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*(\w+)", re.I | re.M)
_QUOTED_RE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"')
_TOKEN_NAME_RE = re.compile(r"^\s*([^<\"]*?)\s*<")


def display_name_of(name_addr: str) -> str:
    """The display name of a SIP name-addr (quoted or token form), or ``""``."""
    m = _QUOTED_RE.match(name_addr)
    if m:
        return re.sub(r"\\(.)", r"\1", m.group(1))
    m = _TOKEN_NAME_RE.match(name_addr)
    return m.group(1) if m else ""


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, pj.Error):
        return f"pjsua2 error: {exc.info()}"
    return f"{type(exc).__name__}: {exc}"


class AgentAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, agent: Agent, name: str) -> None:
        super().__init__()
        self.agent = agent
        self.name = name

    def onRegState(self, prm: Any) -> None:  # noqa: N802 (pjsua2 callback name)
        self.agent.emit(
            "reg_state",
            account=self.name,
            code=int(prm.code),
            reason=str(prm.reason),
            expiration=int(prm.expiration),
        )

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        call = AgentCall(self.agent, self, prm.callId)
        whole = str(prm.rdata.wholeMsg)
        raw_from = ""
        m = _FROM_RE.search(whole)
        if m:
            raw_from = m.group(1).strip()
        via = _VIA_RE.search(whole)
        info = call.getInfo()
        key = self.agent.add_call(call)
        self.agent.emit(
            "incoming_call",
            call=key,
            account=self.name,
            remote_uri=str(info.remoteUri),
            remote_contact=str(info.remoteContact),
            local_uri=str(info.localUri),
            from_header=raw_from,
            display_name=display_name_of(raw_from or str(info.remoteUri)),
            call_id=str(info.callIdString),
            source=str(prm.rdata.srcAddress),
            via_transport=via.group(1).upper() if via else "",
        )
        auto = self.agent.auto_answer
        if auto is not None:
            try:
                if auto.get("ringing"):
                    call.answer_code(180)
                call.answer_code(int(auto["code"]))
            except pj.Error as exc:
                self.agent.log(f"auto-answer failed: {_error_text(exc)}")


class AgentCall(pj.Call):  # type: ignore[misc]
    def __init__(self, agent: Agent, account: AgentAccount, call_id: int = -1) -> None:
        if call_id == -1:
            super().__init__(account)
        else:
            super().__init__(account, call_id)
        self.agent = agent
        self.key = 0
        self.audio_index = -1
        self.stats: dict[str, Any] = {}
        self.ended = False

    def answer_code(self, code: int) -> None:
        prm = pj.CallOpParam()
        prm.statusCode = code
        self.answer(prm)

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        state = STATE_NAMES.get(info.state, str(info.state))
        if state == "DISCONNECTED":
            self.snapshot_stats()
            self.ended = True
        self.agent.emit(
            "call_state",
            call=self.key,
            state=state,
            code=int(info.lastStatusCode),
            reason=str(info.lastReason),
            remote_uri=str(info.remoteUri),
            remote_contact=str(info.remoteContact),
            call_id=str(info.callIdString),
            rtp=self.stats if state == "DISCONNECTED" else None,
        )
        if state == "DISCONNECTED":
            self.agent.retire(self)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        for media in info.media:
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if media.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            self.audio_index = int(media.index)
            audio = self.getAudioMedia(media.index)
            self.agent.tone.startTransmit(audio)
            audio.startTransmit(self.agent.ep.audDevManager().getPlaybackDevMedia())
            self.agent.emit("media_state", call=self.key, status="active", index=media.index)

    def snapshot_stats(self) -> dict[str, Any]:
        if self.ended or self.audio_index < 0:
            return self.stats
        try:
            stat = self.getStreamStat(self.audio_index)
            info = self.getStreamInfo(self.audio_index)
        except pj.Error:
            return self.stats
        rtcp = stat.rtcp
        self.stats = {
            "rx_packets": int(rtcp.rxStat.pkt),
            "tx_packets": int(rtcp.txStat.pkt),
            "rx_bytes": int(rtcp.rxStat.bytes),
            "tx_bytes": int(rtcp.txStat.bytes),
            "rx_loss": int(rtcp.rxStat.loss),
            "codec": f"{info.codecName}/{info.codecClockRate}",
            "remote_rtp": str(info.remoteRtpAddress),
        }
        return self.stats


class Agent:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.ep: Any = None
        self.tone: Any = None
        self.transport_id = -1
        self.transport = "udp"
        self.local_port = 0
        self.settings: dict[str, Any] = {}
        self.local_account: AgentAccount | None = None
        self.reg_account: AgentAccount | None = None
        self.calls: dict[int, AgentCall] = {}
        self.retired: list[AgentCall] = []
        self.final_stats: dict[int, dict[str, Any]] = {}
        self.next_key = 1
        self.auto_answer: dict[str, Any] | None = None
        self.done = False
        self.last_tick = 0.0

    # -- output -----------------------------------------------------------------

    def send(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()

    def emit(self, event: str, **fields: Any) -> None:
        self.send({"event": event, **fields})

    def log(self, text: str) -> None:
        sys.stderr.write(f"[agent] {text}\n")
        sys.stderr.flush()

    # -- call bookkeeping -----------------------------------------------------

    def add_call(self, call: AgentCall) -> int:
        key = self.next_key
        self.next_key += 1
        call.key = key
        self.calls[key] = call
        return key

    def retire(self, call: AgentCall) -> None:
        # The Call object must outlive the callback that reported DISCONNECTED; it is
        # dropped from the main loop later.
        self.retired.append(call)

    def call_of(self, key: int) -> AgentCall:
        try:
            return self.calls[key]
        except KeyError:
            raise ValueError(f"no call {key}") from None

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last_tick < 0.2:
            return
        self.last_tick = now
        for call in list(self.calls.values()):
            if not call.ended:
                call.snapshot_stats()
        # Calls that ended are released here, outside the callback that ended them.
        for call in self.retired:
            self.final_stats[call.key] = call.stats
            self.calls.pop(call.key, None)
        self.retired.clear()

    # -- configuration ----------------------------------------------------------

    def _nat_off(self, cfg: Any) -> None:
        nat = cfg.natConfig
        nat.iceEnabled = bool(self.settings.get("ice", False))
        if not self.settings.get("stun_servers"):
            nat.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
            nat.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        nat.contactRewriteUse = 1 if self.settings.get("rewrite_contact", False) else 0
        nat.viaRewriteUse = 1 if self.settings.get("rewrite_contact", False) else 0
        nat.sdpNatRewriteUse = 0

    def _account_config(
        self,
        id_uri: str,
        registrar_uri: str = "",
        username: str = "",
        password: str = "",
        realm: str = "*",
        expires: int = 300,
        proxy: str = "",
    ) -> Any:
        cfg = pj.AccountConfig()
        cfg.idUri = id_uri
        cfg.sipConfig.transportId = self.transport_id
        if proxy:
            cfg.sipConfig.proxies.append(proxy)
        if username:
            cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", realm, username, 0, password))
        if registrar_uri:
            cfg.regConfig.registrarUri = registrar_uri
            cfg.regConfig.timeoutSec = expires
            cfg.regConfig.registerOnAdd = True
            cfg.regConfig.retryIntervalSec = 0
            cfg.regConfig.firstRetryIntervalSec = 0
            cfg.regConfig.dropCallsOnFail = False
            cfg.regConfig.unregWaitMsec = 2000
        cfg.mediaConfig.transportConfig.port = 0
        cfg.mediaConfig.transportConfig.boundAddress = self.settings["host"]
        self._nat_off(cfg)
        return cfg

    def current_account(self) -> AgentAccount:
        acc = self.reg_account or self.local_account
        if acc is None:
            raise RuntimeError("phone not started")
        return acc

    # -- commands ---------------------------------------------------------------

    def cmd_start(
        self,
        transport: str = "udp",
        host: str = "127.0.0.1",
        local_port: int = 0,
        user: str = "pjsua",
        display_name: str = "",
        outbound_proxy: str = "",
        stun_servers: list[str] | None = None,
        ice: bool = False,
        rewrite_contact: bool = False,
        log_level: int = 1,
        user_agent: str = "Ronghe-it-pjsua2",
        tone_hz: int = 440,
        codecs: list[str] | None = None,
    ) -> dict[str, Any]:
        if self.ep is not None:
            raise RuntimeError("already started")
        if transport not in ("udp", "tcp"):
            raise ValueError(f"transport must be 'udp' or 'tcp', not {transport!r}")
        self.transport = transport
        self.settings = {
            "host": host,
            "user": user,
            "display_name": display_name,
            "outbound_proxy": outbound_proxy,
            "stun_servers": stun_servers or [],
            "ice": ice,
            "rewrite_contact": rewrite_contact,
        }
        ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 32
        cfg.uaConfig.userAgent = user_agent
        for server in stun_servers or []:
            cfg.uaConfig.stunServer.append(server)
        cfg.logConfig.level = log_level
        cfg.logConfig.consoleLevel = log_level
        cfg.logConfig.msgLogging = 1 if log_level >= 4 else 0
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.sndClockRate = 8000
        ep.libInit(cfg)
        ep.audDevManager().setNullDev()
        tcfg = pj.TransportConfig()
        tcfg.port = local_port
        tcfg.boundAddress = host
        kind = pj.PJSIP_TRANSPORT_UDP if transport == "udp" else pj.PJSIP_TRANSPORT_TCP
        self.transport_id = ep.transportCreate(kind, tcfg)
        ep.libStart()
        self.ep = ep
        info = ep.transportGetInfo(self.transport_id)
        self.local_port = int(str(info.localName).rsplit(":", 1)[1])

        tone = pj.ToneGenerator()
        tone.createToneGenerator()
        desc = pj.ToneDesc()
        desc.freq1 = tone_hz
        desc.freq2 = 0
        desc.on_msec = 1000
        desc.off_msec = 0
        desc.volume = 0
        tones = pj.ToneDescVector()
        tones.append(desc)
        tone.play(tones, True)
        self.tone = tone

        self._set_codecs(codecs)
        acc = AgentAccount(self, "local")
        local_cfg = self._account_config(
            self.id_uri(user, f"{host}:{self.local_port}"), proxy=outbound_proxy
        )
        acc.create(local_cfg, True)
        self.local_account = acc
        return {
            "id_uri": str(local_cfg.idUri),
            "local_port": self.local_port,
            "local_name": str(info.localName),
            "contact": self.contact_uri(user),
        }

    def _set_codecs(self, codecs: list[str] | None) -> None:
        """Offer only ``codecs`` (pjsua ids such as ``PCMU/8000``), in that order."""
        if not codecs:
            return
        wanted = [c.lower() for c in codecs]
        known = [str(c.codecId) for c in self.ep.codecEnum2()]
        for codec_id in known:
            prefix = [w for w in wanted if codec_id.lower().startswith(w)]
            priority = 255 - wanted.index(prefix[0]) if prefix else 0
            self.ep.codecSetPriority(codec_id, priority)
        if not any(any(k.lower().startswith(w) for w in wanted) for k in known):
            raise ValueError(f"none of {codecs} is known to pjsua; it has {known}")

    def id_uri(self, user: str, domain: str) -> str:
        name = self.settings["display_name"]
        uri = f"sip:{user}@{domain}"
        if name:
            escaped = name.replace("\\", "\\\\").replace('"', '\\"')
            return f'"{escaped}" <{uri}>'
        return f"<{uri}>"

    def contact_uri(self, user: str) -> str:
        uri = f"sip:{user}@{self.settings['host']}:{self.local_port}"
        if self.transport == "tcp":
            uri += ";transport=tcp"
        return uri

    def cmd_register(
        self,
        registrar_uri: str,
        username: str,
        password: str,
        domain: str,
        realm: str = "*",
        expires: int = 300,
        user: str = "",
        outbound_proxy: str | None = None,
    ) -> dict[str, Any]:
        self._drop_reg_account()
        proxy = self.settings["outbound_proxy"] if outbound_proxy is None else outbound_proxy
        cfg = self._account_config(
            self.id_uri(user or username, domain),
            registrar_uri=registrar_uri,
            username=username,
            password=password,
            realm=realm,
            expires=expires,
            proxy=proxy,
        )
        acc = AgentAccount(self, "reg")
        self.reg_account = acc
        acc.create(cfg, True)
        return {"id_uri": cfg.idUri}

    def cmd_unregister(self) -> dict[str, Any]:
        if self.reg_account is None:
            raise RuntimeError("not registered")
        self.reg_account.setRegistration(False)
        return {}

    def _drop_reg_account(self) -> None:
        if self.reg_account is not None:
            acc = self.reg_account
            self.reg_account = None
            acc.shutdown()
            if self.local_account is not None:
                self.local_account.setDefault()

    def cmd_call(self, uri: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        call = AgentCall(self, self.current_account())
        key = self.add_call(call)
        prm = pj.CallOpParam(True)
        for name, value in (headers or {}).items():
            header = pj.SipHeader()
            header.hName = name
            header.hValue = value
            prm.txOption.headers.append(header)
        try:
            call.makeCall(uri, prm)
        except BaseException:
            self.calls.pop(key, None)
            raise
        return {"call": key}

    def cmd_answer(self, call: int, code: int = 200) -> dict[str, Any]:
        self.call_of(call).answer_code(code)
        return {}

    def cmd_hangup(self, call: int, code: int = 0) -> dict[str, Any]:
        prm = pj.CallOpParam()
        prm.statusCode = code
        self.call_of(call).hangup(prm)
        return {}

    def cmd_dtmf(self, call: int, digits: str) -> dict[str, Any]:
        self.call_of(call).dialDtmf(digits)
        return {}

    def cmd_rtp_stats(self, call: int) -> dict[str, Any]:
        if call in self.final_stats:
            return dict(self.final_stats[call])
        return dict(self.call_of(call).snapshot_stats())

    def cmd_set_auto_answer(self, code: int | None = 200, ringing: bool = False) -> dict[str, Any]:
        self.auto_answer = None if code is None else {"code": code, "ringing": ringing}
        return {}

    def cmd_shutdown(self) -> dict[str, Any]:
        if self.ep is not None:
            self.ep.hangupAllCalls()
            deadline = time.monotonic() + 0.1
            while time.monotonic() < deadline:
                self.ep.libHandleEvents(20)
        self.done = True
        return {}

    # -- main loop --------------------------------------------------------------

    def handle_line(self, line: str) -> None:
        try:
            request = json.loads(line)
        except json.JSONDecodeError as exc:
            self.send({"id": None, "ok": False, "error": f"bad JSON: {exc}"})
            return
        rid = request.get("id")
        handler = getattr(self, "cmd_" + str(request.get("cmd")), None)
        if handler is None:
            self.send({"id": rid, "ok": False, "error": f"unknown command {request.get('cmd')!r}"})
            return
        try:
            result = handler(**request.get("args", {}))
        except Exception as exc:  # reported to the controller, never fatal
            self.log(traceback.format_exc())
            self.send({"id": rid, "ok": False, "error": _error_text(exc)})
            return
        self.send({"id": rid, "ok": True, "result": result})

    def run(self) -> None:
        buffer = b""
        stdin_fd = sys.stdin.fileno()
        while not self.done:
            if self.ep is not None:
                self.ep.libHandleEvents(10)
                self.tick()
            readable, _, _ = select.select([stdin_fd], [], [], 0 if self.ep else 0.05)
            if not readable:
                continue
            chunk = os.read(stdin_fd, 65536)
            if not chunk:  # controller went away
                self.log("stdin closed, shutting down")
                self.cmd_shutdown()
                break
            buffer += chunk
            while b"\n" in buffer and not self.done:
                raw, buffer = buffer.split(b"\n", 1)
                if raw.strip():
                    self.handle_line(raw.decode("utf-8"))

    def destroy(self) -> None:
        if self.ep is None:
            return
        self.calls.clear()
        self.retired.clear()
        self._drop_reg_account()
        if self.local_account is not None:
            self.local_account.shutdown()
        self.tone = None
        self.ep.libDestroy()


def main() -> None:
    # Keep the real stdout for the protocol; everything else written to fd 1 (pjsua's
    # console log, stray prints) goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    agent = Agent(out)
    try:
        agent.run()
        agent.destroy()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(70)
    agent.emit("exit")
    out.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: SWIG destructors racing pjsua's own are not our test.
    os._exit(0)


if __name__ == "__main__":
    main()
