"""Target determination (RFC 3261 §16.5): where a request goes, decided without side effects.

Theory of operation: :func:`determine_targets` looks at a request after route
pre-processing (§16.4) and the caller it was admitted as, and returns a decision: the
:class:`Targets` to forward to, or the :class:`Reply` the proxy answers with itself. It
reads the location service and the numbering plan through their ports and changes
nothing, so the same request at the same time always gets the same decision.

:class:`Targets` holds an ordered tuple of target sets. The targets of one set are tried
in parallel (§16.6, one client transaction each); the sets are meant to be tried in
sequence: when every branch of a set has failed, the next set, until a 2xx or 6xx ends
the search or the sets run out (§16.7 step 6 then picks the best of everything heard).
That is where serial forking plugs in, such as a carrier route over several gateways,
one set per gateway. Today every decision yields a single set, and the request side
refuses more (500, naming the count) rather than drop the later sets silently: the
response context (:mod:`voip_core.proxy.context`) must first learn to start the next set
when one is exhausted.

The order of the cases follows §16.5 and §16.4: a request inside a dialog routed through
us follows its route set (our removed Route's flow token, the next Route, or the
Request-URI); a preloaded Route that is not ours is followed; a GRUU reaches its own
contact (RFC 5627); anything else goes through the numbering plan: a local extension's
registered contacts, a trunk, or the plan's rejection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import assert_never

from dialplan.engine import CallerContext, ConferenceRoom, ExternalRoute, LocalExtension, Reject
from voip_core.proxy.config import ProxyConfig
from voip_core.proxy.forwarding import Target
from voip_core.proxy.nodes import FLOW_FAILED
from voip_core.proxy.ports import ContactTarget, Location, Router
from voip_core.proxy.routing import RouteResult, is_local_uri, peer_for_uri
from voip_core.sip.uri import SipUri, TelUri

__all__ = ["Reply", "TargetSet", "Targets", "determine_targets", "follows_dialog_route"]

#: Targets tried in parallel (§16.6).
TargetSet = tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class Targets:
    """§16.5: where to forward: target sets tried in sequence, each one's in parallel."""

    sets: tuple[TargetSet, ...]
    """At least one set; no set is empty."""
    callee: str = ""
    """The extension or number called, for the call records (empty inside a dialog)."""
    in_dialog: bool = False
    """The request follows a dialog's route set: no Record-Route (§16.6 step 4)."""

    def __post_init__(self) -> None:
        if not self.sets or not all(self.sets):
            raise ValueError(f"Targets needs non-empty target sets, not {self.sets!r}")


@dataclass(frozen=True, slots=True)
class Reply:
    """The proxy answers the request itself with this status."""

    status_code: int
    reason: str | None
    """``None`` for the standard phrase of ``status_code``."""
    headers: tuple[tuple[str, str], ...] = ()
    stateless: bool = False
    """Answer without keeping a transaction (§8.2.7, §16.6): challenges and refusals of
    unauthenticated requests, which anyone can send from any address."""


def follows_dialog_route(routed: RouteResult) -> bool:
    """Whether the request is inside a dialog (To tag) and was routed through us (§16.4)."""
    return routed.removed > 0 and routed.request.to().tag is not None


def determine_targets(
    routed: RouteResult,
    *,
    caller: CallerContext,
    config: ProxyConfig,
    location: Location,
    router: Router,
    wall: float,
) -> Targets | Reply:
    """RFC 3261 §16.5 for ``routed`` (the request after §16.4), sent by ``caller``."""
    request = routed.request
    uri = request.uri
    if routed.node_flow is not None:
        # Another node of the cluster routed the call to a flow we hold, through our node
        # hop (voip_core.proxy.nodes): straight there; 430 if it is gone (RFC 5626 §5.3).
        return _one(Target(uri, routed.node_flow, unreachable=FLOW_FAILED))
    if follows_dialog_route(routed):
        if routed.flow is not None:
            return _one(Target(uri, routed.flow), in_dialog=True)
        if request.header("route"):
            return _one(Target(uri, peer_for_uri(request.routes()[0].sip_uri)), in_dialog=True)
        if isinstance(uri, SipUri):
            return _one(Target(uri, peer_for_uri(uri)), in_dialog=True)
        return Reply(416, "Unsupported URI Scheme")
    if request.to().tag is not None and not is_local_uri(uri, config):
        return Reply(481, "Call/Transaction Does Not Exist")
    if request.header("route"):
        # A preloaded route that is not ours (§16.4): follow it for known callers.
        return _one(Target(uri, peer_for_uri(request.routes()[0].sip_uri)))
    if isinstance(uri, SipUri) and uri.param("gr") is not None:
        contacts = location.lookup_gruu(uri, wall)
        if contacts is not None:
            if not contacts:
                return Reply(480, "Temporarily Unavailable (GRUU not registered)")
            return _one(_contact_target(contacts[0]))
    return _targets_by_plan(
        uri, caller=caller, config=config, location=location, router=router, wall=wall
    )


def _targets_by_plan(
    uri: object,
    *,
    caller: CallerContext,
    config: ProxyConfig,
    location: Location,
    router: Router,
    wall: float,
) -> Targets | Reply:
    if isinstance(uri, TelUri):
        dialed = uri.number
    elif isinstance(uri, SipUri) and uri.user:
        dialed = uri.user_unescaped or ""
    else:
        return Reply(404, "Not Found (no user in Request-URI)")
    decision = router.route(dialed, caller, datetime.fromtimestamp(wall, UTC))
    match decision:
        case LocalExtension(extension=extension):
            aor = f"sip:{extension.number}@{config.domain.lower()}"
            contacts = location.lookup(aor, wall)
            if not contacts:
                return Reply(
                    480, f"Temporarily Unavailable (extension {extension.number} not registered)"
                )
            return Targets(
                sets=(tuple(_contact_target(contact) for contact in contacts),),
                callee=extension.number,
            )
        case ExternalRoute(trunk=trunk, number=number):
            target_uri = SipUri(scheme="sip", user=number, host=trunk.host, port=trunk.port)
            destination = peer_for_uri(target_uri, default_transport=trunk.transport)
            return Targets(sets=((Target(target_uri, destination),),), callee=number)
        case ConferenceRoom(room=room):
            return Reply(480, f"Temporarily Unavailable (conference room {room} is not in service)")
        case Reject(status_code=status_code, reason=reason):
            return Reply(status_code, reason)
        case _:
            assert_never(decision)


def _one(target: Target, *, in_dialog: bool = False) -> Targets:
    return Targets(sets=((target,),), in_dialog=in_dialog)


def _contact_target(contact: ContactTarget) -> Target:
    return Target(contact.uri, contact.destination, contact.path, contact.unreachable)
