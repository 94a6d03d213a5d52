"""Machinery shared by the four state machines: transaction records, timers, the table
interpreter, and the queues the layer drains.

Theory of operation
-------------------

A transaction is a small slotted record (:class:`Transaction`). Its behaviour lives in its
machine module as a table mapping ``(state, input)`` to ``(action, next_state)``;
:func:`run_transition` looks the pair up, runs the action (a module-level function, so no
closure is allocated per transaction), then sets the next state. A pair missing from the
table raises :class:`TransactionError`: for inputs that come from the network every live
state has an entry (possibly one that only absorbs the message), so a missing pair can
only be reached through a TU call, which makes it a misuse of the API.

Timers live in one binary heap ordered by ``(deadline, sequence)`` for the whole layer, as
asyncio keeps its scheduled handles, so ``next_timer()`` is the heap top. A transaction
holds at most three armed timers, one per slot: *retransmit* (A, E, G), *timeout*
(B, F, H) and *wait* (D, I, J, K, L, M). Cancelling or re-arming a slot marks the old
heap entry dead (lazy deletion); dead entries are skipped when they reach the top, and the
heap is rebuilt without them once they make up more than half of it, which bounds memory
at twice the live timers. A wait timer of zero (D, I, J, K on reliable transports) is not
put on the heap: the transition runs right after the one that armed it.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Mapping
from typing import ClassVar, Final, TypeAlias, TypeVar

from voip_core.sip.exceptions import TransactionError
from voip_core.sip.message import Request, Response
from voip_core.sip.peer import Peer
from voip_core.transaction.events import Event, Outbound, TransactionTerminated
from voip_core.transaction.keys import ClientKey, ServerKey
from voip_core.transaction.states import TransactionInput, TransactionState
from voip_core.transaction.timers import TimerConfig, TransportTimers

#: Dead heap entries tolerated before compaction is considered; below this a rebuild
#: costs more than the memory it saves.
_COMPACT_MINIMUM: Final = 1024

_TERMINATED: Final = TransactionState.TERMINATED

PeerIndexKey: TypeAlias = tuple[str, str, int]


class Timer:
    """One heap entry's payload; ``transaction`` is cleared when the timer is cancelled."""

    __slots__ = ("input", "transaction")

    def __init__(self, transaction: Transaction, timer_input: TransactionInput) -> None:
        self.transaction: Transaction | None = transaction
        self.input = timer_input


class Transaction:
    """State common to client and server transactions."""

    __slots__ = (
        "fire_now",
        "interval",
        "peer",
        "request",
        "retransmit_timer",
        "state",
        "timeout_timer",
        "timers",
        "wait_timer",
    )

    KIND: ClassVar[str] = "base"
    key: ClientKey | ServerKey

    def __init__(
        self, request: Request, peer: Peer, state: TransactionState, timers: TransportTimers
    ) -> None:
        self.request = request
        #: Client: where the request goes. Server: where the request came from.
        self.peer = peer
        self.state = state
        self.timers = timers
        #: Current retransmission interval of Timer A, E or G.
        self.interval = 0.0
        self.retransmit_timer: Timer | None = None
        self.timeout_timer: Timer | None = None
        self.wait_timer: Timer | None = None
        #: A zero-length wait timer that fires as soon as the current transition ends.
        self.fire_now: TransactionInput | None = None

    def handle(
        self, core: Core, event: TransactionInput, message: Request | Response | None, now: float
    ) -> None:
        """Feed one input through this transaction's table."""
        raise NotImplementedError

    def describe(self) -> str:
        """Short text naming the transaction in error messages."""
        key = self.key
        if isinstance(key, ServerKey) and key.is_legacy:
            return f"{self.KIND} transaction (RFC 2543 {key.method} from {key.sent_by})"
        return f"{self.KIND} transaction {key.branch}"


class ClientTransaction(Transaction):
    """A client transaction: ``peer`` is the destination."""

    __slots__ = ("key",)

    key: ClientKey

    def __init__(
        self,
        key: ClientKey,
        request: Request,
        peer: Peer,
        state: TransactionState,
        timers: TransportTimers,
    ) -> None:
        super().__init__(request, peer, state, timers)
        self.key = key


class ServerTransaction(Transaction):
    """A server transaction: ``peer`` is the request's source."""

    __slots__ = ("aliases", "key", "last_response")

    key: ServerKey

    def __init__(
        self,
        key: ServerKey,
        request: Request,
        peer: Peer,
        state: TransactionState,
        timers: TransportTimers,
    ) -> None:
        super().__init__(request, peer, state, timers)
        self.key = key
        #: The response resent when the request is retransmitted.
        self.last_response: Response | None = None
        #: Extra keys the transaction is registered under (RFC 2543 ACK matching).
        self.aliases: tuple[ServerKey, ...] = ()


TransactionT = TypeVar("TransactionT", bound=Transaction)

#: An action: what a transition does besides changing the state.
Action: TypeAlias = Callable[["Core", TransactionT, Request | Response | None, float], None]

#: A machine's table: (state, input) -> (action or None for "nothing to do", next state).
Table: TypeAlias = Mapping[
    tuple[TransactionState, TransactionInput], tuple[Action[TransactionT] | None, TransactionState]
]


def run_transition(
    core: Core,
    transaction: TransactionT,
    table: Table[TransactionT],
    event: TransactionInput,
    message: Request | Response | None,
    now: float,
) -> None:
    """Apply ``event`` to ``transaction`` according to ``table``."""
    state = transaction.state
    try:
        action, next_state = table[state, event]
    except KeyError:
        raise TransactionError(
            f"{transaction.describe()} has no transition for {event.name} in {state.name}"
        ) from None
    if action is not None:
        action(core, transaction, message, now)
    transaction.state = next_state
    if next_state is _TERMINATED:
        core.destroy(transaction)
    elif transaction.fire_now is not None:
        pending = transaction.fire_now
        transaction.fire_now = None
        run_transition(core, transaction, table, pending, None, now)


def _keep_lines_only(transaction: Transaction) -> None:
    """Let the values parsed from a lingering transaction's messages go.

    It lingers only to absorb retransmissions (32 s on UDP for Timers J, L and M), and a
    resend needs only the lines; anything asked for later is parsed again. Under load
    most live transactions are lingering ones.
    """
    request = transaction.request
    transaction.request = request.with_headers(request.headers)
    if isinstance(transaction, ServerTransaction):
        response = transaction.last_response
        if response is not None:
            transaction.last_response = response.with_headers(response.headers)


def peer_index_key(peer: Peer) -> PeerIndexKey:
    """Transactions are indexed by transport address, whatever the connection."""
    return (peer.transport, peer.host, peer.port)


class Core:
    """Registries, timer heap and output queues of one transaction layer."""

    __slots__ = (
        "by_peer",
        "cancelled",
        "clients",
        "config",
        "events",
        "heap",
        "outbox",
        "reliable",
        "sequence",
        "source",
        "server_count",
        "servers",
        "unreliable",
    )

    def __init__(self, config: TimerConfig) -> None:
        self.config = config
        self.unreliable = config.for_transport(reliable=False)
        self.reliable = config.for_transport(reliable=True)
        self.clients: dict[ClientKey, ClientTransaction] = {}
        #: Server transactions by key, plus RFC 2543 ACK aliases.
        self.servers: dict[ServerKey, ServerTransaction] = {}
        self.server_count = 0
        #: Live transactions by transport address, as insertion-ordered sets.
        self.by_peer: dict[PeerIndexKey, dict[Transaction, None]] = {}
        self.outbox: list[Outbound] = []
        self.events: deque[Event] = deque()
        self.heap: list[tuple[float, int, Timer]] = []
        self.sequence = 0
        self.cancelled = 0
        #: Where the message being handled by ``receive()`` came from, for actions that
        #: pass it up (an ACK in Accepted may arrive from another address than its INVITE).
        self.source: Peer | None = None

    # -- output ---------------------------------------------------------------------

    def send(self, message: Request | Response, destination: Peer) -> None:
        """Queue a message that belongs to no transaction."""
        self.outbox.append(Outbound(message, destination))

    def transmit(self, transaction: Transaction, message: Request | Response) -> None:
        """Queue a message of ``transaction`` for its peer."""
        self.outbox.append(Outbound(message, transaction.peer, transaction.key))

    def emit(self, event: Event) -> None:
        """Queue an event for the TU."""
        self.events.append(event)

    def timers_for(self, peer: Peer) -> TransportTimers:
        """Timer values for the transport of ``peer``."""
        return self.reliable if peer.reliable else self.unreliable

    # -- registries -----------------------------------------------------------------

    def _index(self, transaction: Transaction) -> None:
        index_key = peer_index_key(transaction.peer)
        members = self.by_peer.get(index_key)
        if members is None:
            self.by_peer[index_key] = {transaction: None}
        else:
            members[transaction] = None

    def add_client(self, transaction: ClientTransaction) -> None:
        """Register a new client transaction (its key must be free)."""
        self.clients[transaction.key] = transaction
        self._index(transaction)

    def add_server(self, transaction: ServerTransaction) -> None:
        """Register a new server transaction (its key must be free)."""
        self.servers[transaction.key] = transaction
        self.server_count += 1
        self._index(transaction)

    def add_server_alias(self, transaction: ServerTransaction, alias: ServerKey) -> None:
        """Also find ``transaction`` under ``alias`` (RFC 2543 ACK matching, §17.2.3)."""
        if alias != transaction.key and alias not in self.servers:
            self.servers[alias] = transaction
            transaction.aliases = (*transaction.aliases, alias)

    def destroy(self, transaction: Transaction) -> None:
        """Forget a terminated transaction, cancel its timers and tell the TU."""
        self._drop(transaction.retransmit_timer)
        self._drop(transaction.timeout_timer)
        self._drop(transaction.wait_timer)
        transaction.retransmit_timer = transaction.timeout_timer = transaction.wait_timer = None
        transaction.fire_now = None
        if isinstance(transaction, ClientTransaction):
            del self.clients[transaction.key]
        elif isinstance(transaction, ServerTransaction):
            del self.servers[transaction.key]
            for alias in transaction.aliases:
                del self.servers[alias]
            self.server_count -= 1
        index_key = peer_index_key(transaction.peer)
        members = self.by_peer[index_key]
        del members[transaction]
        if not members:
            del self.by_peer[index_key]
        self.events.append(TransactionTerminated(transaction.key))

    # -- timers ---------------------------------------------------------------------

    def _push(
        self, transaction: Transaction, timer_input: TransactionInput, deadline: float
    ) -> Timer:
        timer = Timer(transaction, timer_input)
        self.sequence += 1
        heapq.heappush(self.heap, (deadline, self.sequence, timer))
        return timer

    def _drop(self, timer: Timer | None) -> None:
        if timer is not None:
            timer.transaction = None
            self.cancelled += 1
            if self.cancelled > _COMPACT_MINIMUM and 2 * self.cancelled > len(self.heap):
                self.heap = [entry for entry in self.heap if entry[2].transaction is not None]
                heapq.heapify(self.heap)
                self.cancelled = 0

    def arm_retransmit(
        self, transaction: Transaction, timer_input: TransactionInput, delay: float, now: float
    ) -> None:
        """(Re)arm the retransmit slot (Timer A, E or G) and remember the interval."""
        self._drop(transaction.retransmit_timer)
        transaction.interval = delay
        transaction.retransmit_timer = self._push(transaction, timer_input, now + delay)

    def arm_timeout(
        self, transaction: Transaction, timer_input: TransactionInput, delay: float, now: float
    ) -> None:
        """(Re)arm the timeout slot (Timer B, F or H)."""
        self._drop(transaction.timeout_timer)
        transaction.timeout_timer = self._push(transaction, timer_input, now + delay)

    def arm_wait(
        self, transaction: Transaction, timer_input: TransactionInput, delay: float, now: float
    ) -> None:
        """Arm the wait slot (Timer D, I, J, K, L or M); zero fires after this transition.

        A transaction that waits only absorbs retransmissions from then on, so it keeps
        just the lines of its messages (see :func:`_keep_lines_only`).
        """
        self._drop(transaction.wait_timer)
        transaction.wait_timer = None
        if delay <= 0:
            transaction.fire_now = timer_input
            return
        transaction.wait_timer = self._push(transaction, timer_input, now + delay)
        _keep_lines_only(transaction)

    def cancel_retransmit(self, transaction: Transaction) -> None:
        """Stop Timer A, E or G."""
        self._drop(transaction.retransmit_timer)
        transaction.retransmit_timer = None

    def cancel_timeout(self, transaction: Transaction) -> None:
        """Stop Timer B, F or H."""
        self._drop(transaction.timeout_timer)
        transaction.timeout_timer = None

    def next_deadline(self) -> float | None:
        """Earliest live deadline, discarding dead entries on the way."""
        heap = self.heap
        while heap:
            timer = heap[0][2]
            if timer.transaction is not None:
                return heap[0][0]
            heapq.heappop(heap)
            self.cancelled -= 1
        return None

    def fire_due(self, now: float) -> None:
        """Run every timer whose deadline is at or before ``now``, earliest first."""
        # self.heap is re-read on every turn: a handler may compact it into a new list.
        while self.heap and self.heap[0][0] <= now:
            timer = heapq.heappop(self.heap)[2]
            transaction = timer.transaction
            if transaction is None:
                self.cancelled -= 1
                continue
            timer.transaction = None
            if transaction.retransmit_timer is timer:
                transaction.retransmit_timer = None
            elif transaction.timeout_timer is timer:
                transaction.timeout_timer = None
            else:
                transaction.wait_timer = None
            transaction.handle(self, timer.input, None, now)
