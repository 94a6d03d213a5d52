"""Sample bindings for the store tests."""

from __future__ import annotations

from typing import Any

from voip_core.registrar import Binding
from voip_core.sip.peer import Peer

NOW = 1_800_000_000.0
AOR = "sip:8001@xiayi.gov.cn"
INSTANCE = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"


def make_binding(
    aor: str = AOR, contact: str = "sip:8001@10.1.2.3:5060", **changes: Any
) -> Binding:
    """A binding registered at NOW for an hour, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "aor": aor,
        "contact": contact,
        "expires_at": NOW + 3600,
        "call_id": "reg-1@10.1.2.3",
        "cseq": 7,
        "source": Peer("udp", "10.1.2.3", 5060),
        "registered_at": NOW,
    }
    fields.update(changes)
    return Binding(**fields)


def full_binding(aor: str = AOR) -> Binding:
    """A binding with every optional field set, non-ASCII and IPv6 included."""
    return make_binding(
        aor,
        "sip:8001@[2001:db8::7]:5061;transport=tls",
        q=0.75,
        user_agent="融合软电话 1.0",
        instance_id=INSTANCE,
        reg_id=2,
        path=("<sip:edge1.xiayi.gov.cn;lr;ob>", '"边缘" <sip:edge2.xiayi.gov.cn;lr>'),
        temp_gruu="sip:tgruu.abcdef234567@xiayi.gov.cn;gr",
        source=Peer("tls", "2001:db8::7", 50111),
        expires_at=NOW + 1800.5,
        registered_at=NOW - 100.25,
    )
