"""The location service: which contacts an AOR has and where requests for them go.

Covers RFC 3261 §16.5 (unexpired contacts, highest q first) and the §16.6 step 7 next
hop: the REGISTER's flow for NATed UDP phones, TCP connections, RFC 5626 outbound
flows and RFC 3327 Paths; the registered contact itself for a UDP contact on the
REGISTER's own host (third-party registration, §10.2). Not covered: GRUUs
(``tests/voip_core/registrar``).
"""

from __future__ import annotations

import pytest

from voip_core.proxy.location import StoreLocation
from voip_core.registrar import Binding, MemoryBindingStore
from voip_core.sip.peer import Peer

AOR = "sip:8301@county.gov.cn"
NOW = 1_700_000_000.0


def binding(contact: str, source: Peer, **fields: object) -> Binding:
    return Binding(
        aor=AOR,
        contact=contact,
        expires_at=NOW + 300,
        call_id="reg-1",
        cseq=1,
        source=source,
        registered_at=NOW,
        **fields,  # type: ignore[arg-type]  # the optional Binding fields
    )


def lookup(*bindings: Binding) -> list[Peer]:
    store = MemoryBindingStore()
    store.replace(AOR, list(bindings))
    return [
        target.destination for target in StoreLocation(store, gruu_secret=b"k").lookup(AOR, NOW)
    ]


def test_a_udp_contact_on_the_registering_host_is_reached_as_registered() -> None:
    # Found by the integration tests: SIPp's uas on 127.0.0.1:5099, registered by a
    # client on 127.0.0.1:40000, never got the INVITE: it went to the client.
    source = Peer("udp", "127.0.0.1", 40000)
    assert lookup(binding("sip:8301@127.0.0.1:5099", source)) == [Peer("udp", "127.0.0.1", 5099)]


def test_a_contact_on_the_registering_host_keeps_its_transport() -> None:
    source = Peer("udp", "10.1.2.3", 40000)
    contact = "sip:8301@10.1.2.3:5070;transport=tcp"
    assert lookup(binding(contact, source)) == [Peer("tcp", "10.1.2.3", 5070)]


def test_a_natted_phone_is_reached_through_the_registers_flow() -> None:
    source = Peer("udp", "203.0.113.7", 31044)
    assert lookup(binding("sip:8301@192.168.1.20:5060", source)) == [source]


@pytest.mark.parametrize(
    ("source", "fields"),
    [
        (Peer("tcp", "10.1.2.3", 51000, connection_id=4), {}),
        (Peer("udp", "10.1.2.3", 40000), {"reg_id": 1, "instance_id": "urn:uuid:1"}),
        (Peer("udp", "10.1.2.3", 40000), {"path": ("<sip:edge.county.gov.cn;lr>",)}),
    ],
    ids=["tcp-connection", "outbound-flow", "path"],
)
def test_flows_connections_and_paths_are_used_as_they_are(
    source: Peer, fields: dict[str, object]
) -> None:
    assert lookup(binding("sip:8301@10.1.2.3:5060", source, **fields)) == [source]


def test_contacts_come_highest_q_first_and_expired_ones_are_left_out() -> None:
    source = Peer("udp", "10.1.2.3", 40000)
    low = binding("sip:8301@10.1.2.3:5061", source, q=0.1)
    high = binding("sip:8301@10.1.2.3:5062", source, q=0.9)
    gone = Binding(
        aor=AOR,
        contact="sip:8301@10.1.2.3:5063",
        expires_at=NOW - 1,
        call_id="reg-2",
        cseq=1,
        source=source,
        registered_at=NOW - 400,
    )
    assert [p.port for p in lookup(low, gone, high)] == [5062, 5061]
