"""The response side of the stateful proxy: RFC 3261 §16.7 response contexts and Timer C.

Theory of operation: forwarding a request (§16.6) opens one :class:`ResponseContext`,
keyed by its server transaction, with one :class:`Branch` per client transaction.
:class:`ResponseContexts` finds the context of every client transaction's response and
applies §16.7:

- a provisional response is never forwarded after a final one, 100 Trying never at all
  (step 5); any other re-arms Timer C of an INVITE (step 2);
- a 2xx is forwarded at once, through the server transaction while it takes one
  (RFC 6026), else statelessly; to an INVITE, every 2xx is forwarded and cancels the
  other pending branches (steps 5 and 10, §16.10);
- other final responses wait until every branch has completed; then the best one
  (:func:`choose_best_response`, step 6) goes upstream, a 503 turned into 500 and the
  challenges of every 401/407 merged (step 7). A 6xx to an INVITE cancels the pending
  branches at once.

Timer C (§16.8) cancels a pending branch that heard a provisional response and ends one
that did not with a synthesized 408; a branch's timeout or transport error ends it with a
synthesized 408 or 503. The timers are one heap of (deadline, sequence, server key); an
entry whose context is gone or re-armed is skipped when it comes up. A context whose
server transaction terminates keeps its pending branches until they end, so that a late
2xx is still forwarded (statelessly). The call records of the admin view follow the
contexts: ringing when an INVITE is forked to a callee, confirmed on its first 2xx,
dropped when the call fails or ends with a BYE.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from voip_core.proxy.config import ProxyConfig
from voip_core.proxy.forwarding import Target
from voip_core.proxy.outcomes import CallOutcomes
from voip_core.proxy.responses import choose_best_response, derived_to_tag
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.transaction import ClientKey, ServerKey, TransactionLayer, TransactionState

__all__ = ["Branch", "CallRecord", "ResponseContext", "ResponseContexts"]

#: Server INVITE states in which the transaction itself sends a 2xx (RFC 6026).
_TAKES_2XX = frozenset(
    {TransactionState.PROCEEDING, TransactionState.ACCEPTED, TransactionState.TRYING}
)
#: Bound on live call records kept for the admin view; older ones are evicted first.
_MAX_CALL_RECORDS = 200_000


@dataclass(slots=True)
class CallRecord:
    """An established or ringing call, for the live view of calls."""

    call_id: str
    caller: str
    callee: str
    state: str
    started_at: float
    callee_flow: Peer | None = None
    """Where the answering branch went: ACKs of UAs that ignore Record-Route follow it."""


@dataclass(slots=True)
class Branch:
    """One target of a response context and the client transaction forwarding to it."""

    key: ClientKey
    target: Target
    provisional: bool = False
    final: Response | None = None


@dataclass(slots=True)
class ResponseContext:
    """RFC 3261 §16.7 response context of one forwarded request."""

    server_key: ServerKey
    request: Request
    source: Peer
    caller: str
    callee: str
    branches: dict[ClientKey, Branch] = field(default_factory=dict)
    responses: list[Response] = field(default_factory=list)
    final_sent: bool = False
    timer_c: float | None = None

    @property
    def is_invite(self) -> bool:
        """Whether the forwarded request is an INVITE (Timer C, cancelling, call records)."""
        return self.request.method == "INVITE"

    def pending(self) -> list[Branch]:
        """The branches without a final response yet."""
        return [branch for branch in self.branches.values() if branch.final is None]


class ResponseContexts:
    """The live response contexts of one proxy, by server and by client key, with Timer C.

    ``calls`` is the proxy's table of call records, shared with the request side.
    """

    def __init__(
        self, *, config: ProxyConfig, layer: TransactionLayer, calls: dict[str, CallRecord]
    ) -> None:
        self._config = config
        self._layer = layer
        self._calls = calls
        self._contexts: dict[ServerKey, ResponseContext] = {}
        self._by_client: dict[ClientKey, ResponseContext] = {}
        self._timers: list[tuple[float, int, ServerKey]] = []
        self._timer_seq = 0
        #: How the calls (initial INVITEs forwarded to a callee) ended.
        self.call_outcomes = CallOutcomes()

    def __len__(self) -> int:
        """Live response contexts (forwarded requests awaiting completion)."""
        return len(self._contexts)

    def open(
        self, key: ServerKey, request: Request, source: Peer, *, caller: str, callee: str
    ) -> ResponseContext:
        """Start the context of ``request`` (as forwarded upstream) received on ``key``."""
        context = ResponseContext(
            server_key=key, request=request, source=source, caller=caller, callee=callee
        )
        self._contexts[key] = context
        return context

    def add_branch(self, context: ResponseContext, key: ClientKey, target: Target) -> None:
        """Add the client transaction ``key`` that forwards the request to ``target``."""
        context.branches[key] = Branch(key, target)
        self._by_client[key] = context

    def get(self, key: ServerKey) -> ResponseContext | None:
        """The context of the server transaction ``key``, if it is still open."""
        return self._contexts.get(key)

    # -- Timer C ----------------------------------------------------------------------

    def arm_timer_c(self, context: ResponseContext, now: float) -> None:
        """(Re)start Timer C of ``context`` (§16.6 step 11, §16.7 step 2)."""
        deadline = now + self._config.timer_c
        context.timer_c = deadline
        self._timer_seq += 1
        heapq.heappush(self._timers, (deadline, self._timer_seq, context.server_key))

    def next_timer(self) -> float | None:
        """Earliest Timer C deadline."""
        while self._timers:
            deadline, _, key = self._timers[0]
            context = self._contexts.get(key)
            if context is not None and context.timer_c == deadline:
                return deadline
            heapq.heappop(self._timers)
        return None

    def handle_timer(self, now: float) -> None:
        """Fire expired Timer C instances (§16.8)."""
        while self._timers and self._timers[0][0] <= now:
            deadline, _, key = heapq.heappop(self._timers)
            context = self._contexts.get(key)
            if context is None or context.timer_c != deadline:
                continue
            context.timer_c = None
            for branch in context.pending():
                if branch.provisional:
                    self._layer.cancel_client(branch.key, now)
                else:
                    self._branch_final(
                        context, branch, self._synthesize(context, 408, "Request Timeout"), now
                    )

    # -- responses --------------------------------------------------------------------

    def on_response(self, key: ClientKey, response: Response, now: float, wall: float) -> None:
        """Apply §16.7 to a response received on the client transaction ``key``."""
        context = self._by_client.get(key)
        if context is None:
            return  # response to a CANCEL we sent, or to a finished context
        branch = context.branches[key]
        upstream = response.pop_first_value("via")
        code = response.status_code
        if code < 200:
            # §16.8: Timer C cancels a branch that heard any provisional, 100 included.
            branch.provisional = True
            if code == 100:
                return  # §16.7 step 5: 100 Trying is not forwarded
            if context.is_invite:
                self.arm_timer_c(context, now)  # §16.7 step 2
            if not context.final_sent:
                self._layer.send_response(context.server_key, upstream, now)
            return
        if 200 <= code < 300:
            branch.final = upstream
            if context.is_invite or not context.final_sent:
                # §16.7 step 5: after the final response only a 2xx to INVITE goes on.
                self._send_2xx(context, upstream, now)
            first = not context.final_sent
            context.final_sent = True
            if context.is_invite:
                # §16.7 step 10: a 2xx ends the search; cancel the others.
                for other in context.pending():
                    self._layer.cancel_client(other.key, now)
                if first and context.callee:
                    self.track_call(context, "confirmed", wall, branch.target.destination)
                    self.call_outcomes.count(code)
            elif context.request.method == "BYE":
                self._calls.pop(context.request.call_id, None)
            self._maybe_finish(context)
            return
        if code == 430 and branch.target.unreachable is not None:
            # RFC 5626 §11: 430 Flow Failed is meant for proxies, not for the caller.
            upstream = self._synthesize(context, *branch.target.unreachable)
        self._branch_final(context, branch, upstream, now)

    def _send_2xx(self, context: ResponseContext, response: Response, now: float) -> None:
        """Forward a 2xx upstream (§16.7 step 5: every 2xx, even after another final).

        The server transaction takes it while it is Proceeding or Accepted (RFC 6026); a
        2xx that follows a non-2xx final, or outlives the transaction, goes statelessly to
        where the request came from.
        """
        key = context.server_key
        if key in self._layer and self._layer.server_state(key) in _TAKES_2XX:
            self._layer.send_response(key, response, now)
        else:
            self._layer.send_stateless(response, context.source)

    def _branch_final(
        self, context: ResponseContext, branch: Branch, upstream: Response, now: float
    ) -> None:
        branch.final = upstream
        context.responses.append(upstream)
        if upstream.status_code >= 600 and context.is_invite:
            for other in context.pending():
                self._layer.cancel_client(other.key, now)
        if not context.pending() and not context.final_sent:
            best = choose_best_response(context.responses) or self._synthesize(
                context, 408, "Request Timeout"
            )
            if best.status_code == 503:
                # §16.7 step 6: a 503 from downstream must not make the caller think we are down.
                best = self._synthesize(
                    context, 500, "Server Internal Error (downstream unavailable)"
                )
            if best.status_code in (401, 407):
                best = _merge_challenges(best, context.responses)
            context.final_sent = True
            self._layer.send_response(context.server_key, best, now)
            if context.callee:
                self._calls.pop(context.request.call_id, None)
                if context.is_invite:
                    self.call_outcomes.count(best.status_code)
        self._maybe_finish(context)

    def on_branch_failure(
        self, key: ClientKey | ServerKey, code: int, reason: str, now: float, wall: float
    ) -> None:
        """End the branch of ``key`` (timed out or unreachable) with a synthesized final."""
        context = self._by_client.get(key)  # type: ignore[arg-type]  # server keys never match
        if context is None:
            return
        branch = context.branches[key]  # type: ignore[index]
        if branch.final is None:
            if code == 503 and branch.target.unreachable is not None:
                code, reason = branch.target.unreachable  # §16.9's 503 would become 500
            self._branch_final(context, branch, self._synthesize(context, code, reason), now)

    def on_terminated(self, key: ClientKey | ServerKey, now: float) -> None:
        """Forget the transaction ``key``: a branch, or the server side of a context."""
        context = self._by_client.pop(key, None)  # type: ignore[arg-type]
        if context is not None:
            context.branches.pop(key, None)  # type: ignore[arg-type]
            self._maybe_finish(context)
        server_context = self._contexts.pop(key, None)  # type: ignore[arg-type]
        if server_context is not None:
            # Nothing more can go through the server transaction (Timer L, or the caller's
            # flow failed while ringing). Its pending branches are cancelled; the context
            # stays with them in _by_client until they end, so that a late 2xx is still
            # forwarded, statelessly (§16.7 step 5).
            if not server_context.final_sent and server_context.callee:
                self._calls.pop(server_context.request.call_id, None)
                if server_context.is_invite:
                    self.call_outcomes.count(None)
            server_context.final_sent = True
            server_context.timer_c = None
            if server_context.is_invite:
                for branch in server_context.pending():
                    self._layer.cancel_client(branch.key, now)

    def _maybe_finish(self, context: ResponseContext) -> None:
        if context.final_sent and not context.pending():
            context.timer_c = None

    # -- helpers ----------------------------------------------------------------------

    def _synthesize(self, context: ResponseContext, code: int, reason: str) -> Response:
        return make_response(
            context.request,
            code,
            reason,
            to_tag=derived_to_tag(context.request.call_id),
            headers=(("Server", self._config.user_agent),),
        )

    # -- call records -----------------------------------------------------------------

    def track_call(
        self, context: ResponseContext, state: str, wall: float, callee_flow: Peer | None = None
    ) -> None:
        """Record the call of ``context`` as ``state``, evicting the oldest when full."""
        call_id = context.request.call_id
        record = self._calls.get(call_id)
        if record is None:
            if len(self._calls) >= _MAX_CALL_RECORDS:
                self._calls.pop(next(iter(self._calls)))
            record = CallRecord(call_id, context.caller, context.callee, state, wall)
            self._calls[call_id] = record
        record.state = state
        if callee_flow is not None:
            record.callee_flow = callee_flow


def _merge_challenges(best: Response, responses: list[Response]) -> Response:
    """§16.7 step 7: collect every WWW-/Proxy-Authenticate of the 401/407 responses."""
    merged = best
    for response in responses:
        if response is best or response.status_code not in (401, 407):
            continue
        for name in ("WWW-Authenticate", "Proxy-Authenticate"):
            for value in response.header_lines(name):
                merged = merged.append(name, value)
    return merged
