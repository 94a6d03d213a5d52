"""A proxy over a real transaction layer, with phones played as message scripts.

Like the transaction ``TransactionPair`` (``tests/voip_core/transaction/harness.py``) and
h11's ``ConnectionPair``: no sockets, no sleeps. :class:`ProxyHarness` feeds what a phone
sends to :meth:`TransactionLayer.receive`, pumps every layer event into
:meth:`Proxy.handle_event`, and returns what both engines queued for the wire. Every
message crosses the "wire" as bytes and is parsed again, so what the proxy builds must
serialise and parse like a real message. Time moves only with :meth:`ProxyHarness.advance`,
which fires the layer's and the proxy's timers in deadline order, as the node's single
``call_at`` would.

The ports are fakes whose answers the test chooses: :class:`FakeLocation` holds the
contacts per AOR and GRUU, :class:`PlanRouter` routes with a small compiled numbering
plan (or :class:`ScriptedRouter` returns one fixed decision), :class:`FakeAuthenticator`
accepts any request carrying Proxy-Authorization, and :class:`FakeRegistrar` answers
every REGISTER with 200.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import datetime

from dialplan.engine import CallerContext, NumberingPlan, RouteDecision, compile_plan, route
from dialplan.model import (
    ClassOfServiceRow,
    DestinationKind,
    DialRuleRow,
    ExtensionRow,
    NumberBlockRow,
    PlanRows,
    TrunkRow,
    UnitKind,
    UnitRow,
)
from voip_core.proxy.config import ListenAddress, ProxyConfig
from voip_core.proxy.core import Proxy
from voip_core.proxy.nodes import NodeHops
from voip_core.proxy.ports import Authenticated, Challenge, ContactTarget
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri, parse_uri
from voip_core.transaction import Event, Outbound, TimerConfig, TransactionLayer, new_branch

DOMAIN = "county.gov.cn"
PROXY_HOST = "10.0.0.1"
#: The caller, extension 8000, on UDP.
CALLER = Peer("udp", "192.168.1.20", 5060)
#: Three registered phones of extension 8001: two on UDP, one on a TCP connection.
PHONE_A = Peer("udp", "192.168.1.31", 5060)
PHONE_B = Peer("udp", "192.168.1.32", 5062)
PHONE_C = Peer("tcp", "192.168.1.33", 41000, 7)
#: The carrier trunk of the plan.
TRUNK = Peer("tcp", "10.20.0.1", 5070)
#: Epoch seconds at ``now == 0``.
WALL_START = 1_750_000_000.0
#: Longer than every transaction timer and Timer C: after it, nothing may be left.
QUIET = 400.0

NAMES = {CALLER: "caller", PHONE_A: "a", PHONE_B: "b", PHONE_C: "c", TRUNK: "trunk"}

CHALLENGE = Challenge(
    status_code=407,
    headers=(("Proxy-Authenticate", f'Digest realm="{DOMAIN}", nonce="n0nce", algorithm=MD5'),),
)
CREDENTIALS = (
    f'Digest username="8000", realm="{DOMAIN}", nonce="n0nce", uri="sip:8001@{DOMAIN}", '
    'response="0123456789abcdef0123456789abcdef"'
)


def make_config(**overrides: object) -> ProxyConfig:
    """The proxy's configuration: one UDP and one TCP listener on 10.0.0.1:5060."""
    values: dict[str, object] = {
        "domain": DOMAIN,
        "listen": (
            ListenAddress("udp", PROXY_HOST, 5060),
            ListenAddress("tcp", PROXY_HOST, 5060),
        ),
        "aliases": frozenset({PROXY_HOST}),
    }
    values.update(overrides)
    return ProxyConfig(**values)  # type: ignore[arg-type]  # keyword values checked at runtime


def trusting(network: str) -> ProxyConfig:
    """The configuration with ``network`` trusted (no challenge)."""
    return make_config(trusted_networks=(ipaddress.ip_network(network),))


# -- the numbering plan ---------------------------------------------------------------------


def _extension(
    id_: int, number: str, name: str, service: int, enabled: bool = True
) -> ExtensionRow:
    return ExtensionRow(id_, number, name, 1, None, service, enabled, "0" * 32, "0" * 64)


def plan_rows() -> PlanRows:
    """8000-8099 extensions, a carrier trunk for 0-prefixed national numbers, a reject rule
    for 90-prefixed premium numbers and 79XX conference rooms."""
    kinds = DestinationKind
    return PlanRows(
        realm=DOMAIN,
        units=(UnitRow(1, None, "平安县", "county", UnitKind.COUNTY),),
        blocks=(NumberBlockRow(1, 1, "8000", "8099"),),
        classes_of_service=(
            ClassOfServiceRow(1, "全功能", frozenset(kinds) - {kinds.REJECT}),
            ClassOfServiceRow(2, "内线", frozenset({kinds.EXTENSION})),
        ),
        extensions=(
            _extension(1, "8000", "县委办公室", 1),
            _extension(2, "8001", "值班室", 1),
            _extension(3, "8002", "档案室", 1),
            _extension(4, "8003", "旧分机", 1, enabled=False),
            _extension(5, "8004", "大厅", 2),
        ),
        trunks=(TrunkRow(1, "carrier", host="10.20.0.1", port=5070, transport="tcp"),),
        rules=(
            DialRuleRow(1, 10, "90.", 3, 16, kinds.REJECT, description="声讯台"),
            DialRuleRow(2, 20, "79XX", 4, 4, kinds.CONFERENCE, description="会议室"),
            DialRuleRow(3, 30, "0[1-9]X.", 10, 13, kinds.EXTERNAL_NATIONAL, trunk_id=1, strip=1),
        ),
    )


class PlanRouter:
    """The Router port over a compiled plan; records the callers it was asked about."""

    def __init__(self, plan: NumberingPlan | None = None) -> None:
        self.plan = plan or compile_plan(plan_rows())
        self.calls: list[tuple[str, CallerContext]] = []

    def route(self, dialed: str, caller: CallerContext, at: datetime) -> RouteDecision:
        self.calls.append((dialed, caller))
        return route(self.plan, dialed, caller, at)


class ScriptedRouter:
    """A Router port that always decides ``decision``."""

    def __init__(self, decision: RouteDecision) -> None:
        self.decision = decision
        self.calls: list[tuple[str, CallerContext]] = []

    def route(self, dialed: str, caller: CallerContext, at: datetime) -> RouteDecision:
        self.calls.append((dialed, caller))
        return self.decision


# -- the other ports ------------------------------------------------------------------------


class FakeLocation:
    """Contacts per AOR, and per GRUU (``None`` for URIs that are no GRUU of ours)."""

    def __init__(self) -> None:
        self.contacts: dict[str, list[ContactTarget]] = {}
        self.gruus: dict[str, list[ContactTarget]] = {}

    def register(self, aor: str, *phones: Peer) -> None:
        """Bind each phone's contact (its own address) to ``aor``."""
        self.contacts[aor] = [contact_of(phone) for phone in phones]

    def lookup(self, aor: str, now: float) -> Sequence[ContactTarget]:
        return self.contacts.get(aor, [])

    def lookup_gruu(self, uri: SipUri, now: float) -> Sequence[ContactTarget] | None:
        return self.gruus.get(uri.param("gr") or "")


def contact_of(phone: Peer) -> ContactTarget:
    """The registered contact of ``phone``, reached over the flow it registered on."""
    transport = "" if phone.transport == "udp" else f";transport={phone.transport}"
    uri = parse_uri(f"sip:8001@{phone.host}:{phone.port}{transport}")
    return ContactTarget(uri=uri, destination=phone)


class FakeAuthenticator:
    """Accepts a request with Proxy-Authorization as 8000; challenges any other."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        #: Returned for every request instead, when set (a blocked source's 403).
        self.refusal: Challenge | None = None

    def authenticate(
        self, request: Request, *, proxy: bool, now: float, source: str | None = None
    ) -> Authenticated | Challenge:
        self.asked.append(request.method)
        if self.refusal is not None:
            return self.refusal
        if request.has_header("proxy-authorization"):
            return Authenticated("8000")
        return CHALLENGE


class FakeRegistrar:
    """Answers every REGISTER with 200 (or 401 with ``challenge``) and remembers where it
    came from."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, Peer, float]] = []
        self.challenge = False

    def register(self, request: Request, *, source: Peer, now: float) -> Response:
        self.registered.append((str(request.uri), source, now))
        if self.challenge:
            return make_response(
                request, 401, to_tag="reg1", headers=(("WWW-Authenticate", 'Digest nonce="n"'),)
            )
        return make_response(request, 200, to_tag="reg1", headers=(("Expires", "3600"),))


# -- the harness ----------------------------------------------------------------------------


def wire(message: Request | Response) -> Request | Response:
    """Serialise and parse again, as a real network hop would."""
    return parse_message(bytes(message))


def summary(sent: Iterable[Outbound]) -> list[str]:
    """``"INVITE>a"`` for a request to phone A, ``"180>caller"`` for a response."""
    out = []
    for outbound in sent:
        message = outbound.message
        what = message.method if isinstance(message, Request) else str(message.status_code)
        out.append(f"{what}>{NAMES.get(outbound.destination, str(outbound.destination))}")
    return out


class ProxyHarness:
    """A :class:`Proxy` over a real :class:`TransactionLayer`, driven with explicit time."""

    def __init__(
        self,
        *,
        config: ProxyConfig | None = None,
        router: PlanRouter | ScriptedRouter | None = None,
        timers: TimerConfig | None = None,
        node_hops: NodeHops | None = None,
    ) -> None:
        self.layer = TransactionLayer(timers or TimerConfig(), send_trying=False)
        self.location = FakeLocation()
        self.router = router or PlanRouter()
        self.authenticator = FakeAuthenticator()
        self.registrar = FakeRegistrar()
        self.proxy = Proxy(
            config=config or make_config(),
            layer=self.layer,
            location=self.location,
            router=self.router,
            authenticator=self.authenticator,
            registrar=self.registrar,
            flow_secret=b"test flow secret",
            node_hops=node_hops,
        )
        self.now = 0.0
        self.events: list[Event] = []

    @property
    def wall(self) -> float:
        """Epoch seconds now."""
        return WALL_START + self.now

    def deliver(self, message: Request | Response, source: Peer) -> list[Outbound]:
        """``source`` sends ``message`` to the proxy; returns what the proxy sent."""
        self.layer.receive(wire(message), source, self.now)
        return self.pump()

    def pump(self) -> list[Outbound]:
        """Feed every layer event to the proxy; take everything queued for the wire."""
        while (event := self.layer.next_event()) is not None:
            self.events.append(event)
            self.proxy.handle_event(event, self.now, self.wall)
        queued = self.layer.messages_to_send() + self.proxy.messages_to_send()
        return [Outbound(wire(o.message), o.destination, o.key) for o in queued]

    def advance(self, seconds: float) -> list[Outbound]:
        """Let ``seconds`` pass, firing due timers in deadline order; returns what was sent."""
        target = self.now + seconds
        sent: list[Outbound] = []
        while True:
            deadlines = [
                d for d in (self.layer.next_timer(), self.proxy.next_timer()) if d is not None
            ]
            if not deadlines or min(deadlines) > target:
                break
            self.now = max(self.now, min(deadlines))
            self.layer.handle_timer(self.now)
            self.proxy.handle_timer(self.now)
            sent += self.pump()
        self.now = target
        return sent

    def settle(self) -> list[Outbound]:
        """Run every remaining timer; afterwards nothing may be left of any call."""
        sent = self.advance(QUIET)
        assert len(self.layer) == 0
        assert self.proxy.context_count == 0
        assert self.proxy.next_timer() is None
        return sent


# -- what the phones send -------------------------------------------------------------------


def invite(
    uri: str = f"sip:8001@{DOMAIN}",
    *,
    branch: str | None = None,
    call_id: str = "call-1@192.168.1.20",
    credentials: bool = True,
    max_forwards: int | str | None = 70,
    extra: Iterable[str] = (),
    method: str = "INVITE",
    source: Peer = CALLER,
    from_user: str = "8000",
) -> Request:
    """What the caller sends to start a call."""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{source.transport.upper()} {source.host_port}"
        f";branch={branch or new_branch()};rport",
        f'From: "县委办公室" <sip:{from_user}@{DOMAIN}>;tag=caller-tag',
        f"To: <{uri}>",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        f"Contact: <sip:{from_user}@{source.host_port}>",
        *([f"Max-Forwards: {max_forwards}"] if max_forwards is not None else []),
        *([f"Proxy-Authorization: {CREDENTIALS}"] if credentials else []),
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, Request)
    return message


def answer(
    request: Request | Response,
    status_code: int,
    *,
    to_tag: str = "callee-tag",
    contact: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> Response:
    """What a phone answers to ``request``; a 2xx echoes Record-Route (§12.1.1)."""
    assert isinstance(request, Request)
    headers = list(extra)
    if 200 <= status_code < 300 and request.method == "INVITE":
        headers += [("Record-Route", value) for value in request.header_lines("record-route")]
        headers.append(("Contact", contact or f"<{request.uri}>"))
    return make_response(request, status_code, to_tag=to_tag, headers=headers)


def cancel_for(request: Request) -> Request:
    """The CANCEL the caller sends for ``request`` (§9.1: same branch, one Via)."""
    return _hop_by_hop(request, "CANCEL", request.header("to"))


def ack_for(request: Request, response: Response) -> Request:
    """The caller's ACK for a non-2xx final ``response`` (§17.1.1.3: same branch)."""
    return _hop_by_hop(request, "ACK", response.header("to"))


def _hop_by_hop(request: Request, method: str, to: str | None) -> Request:
    lines = [
        f"{method} {request.uri} SIP/2.0",
        f"Via: {request.header_lines('via')[0]}",
        f"From: {request.header('from')}",
        f"To: {to}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.cseq().number} {method}",
        "Max-Forwards: 70",
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, Request)
    return message


def in_dialog(
    method: str,
    response: Response,
    *,
    sender: Peer,
    uri: str,
    routes: Sequence[str],
    cseq: int,
    from_caller: bool,
    max_forwards: int | str | None = 70,
) -> Request:
    """A request inside the dialog ``response`` established, along ``routes``.

    The caller sends with its From tag and the callee's To tag; the callee swaps them.
    """
    local, remote = (response.header("from"), response.header("to"))
    if not from_caller:
        local, remote = remote, local
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{sender.transport.upper()} {sender.host_port};branch={new_branch()}",
        *(f"Route: {value}" for value in routes),
        f"From: {local}",
        f"To: {remote}",
        f"Call-ID: {response.call_id}",
        f"CSeq: {cseq} {method}",
        *([f"Max-Forwards: {max_forwards}"] if max_forwards is not None else []),
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, Request)
    return message


def request_to(sent: Sequence[Outbound], phone: Peer, method: str) -> Request:
    """The one ``method`` request that went to ``phone``."""
    found = [
        o.message
        for o in sent
        if o.destination == phone and isinstance(o.message, Request) and o.message.method == method
    ]
    assert len(found) == 1, summary(sent)
    return found[0]


def response_to(sent: Sequence[Outbound], phone: Peer, status_code: int) -> Response:
    """The one response with ``status_code`` that went to ``phone``."""
    found = [
        o.message
        for o in sent
        if o.destination == phone
        and isinstance(o.message, Response)
        and o.message.status_code == status_code
    ]
    assert len(found) == 1, summary(sent)
    return found[0]
