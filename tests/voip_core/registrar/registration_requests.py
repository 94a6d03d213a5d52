"""Builders of REGISTER requests for the registrar tests (no sockets, explicit values)."""

from __future__ import annotations

from collections.abc import Sequence

from voip_core.sip.message import Request
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer

DOMAIN = "xiayi.gov.cn"
AOR = f"sip:8001@{DOMAIN}"
PHONE = Peer("udp", "10.1.2.3", 5060)
NOW = 1_800_000_000.0
INSTANCE = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
GRUU_SECRET = b"0123456789abcdef0123456789abcdef"


def register(
    *contacts: str,
    call_id: str = "reg-call-1@10.1.2.3",
    cseq: int = 1,
    expires: int | None = None,
    to: str = f"<sip:8001@{DOMAIN}>",
    extra: Sequence[tuple[str, str]] = (),
    vias: int = 1,
) -> Request:
    """A REGISTER for 8001 with the given Contact header values."""
    lines = [f"REGISTER sip:{DOMAIN} SIP/2.0"]
    for index in range(vias):
        lines.append(f"Via: SIP/2.0/UDP 10.1.2.{3 + index}:5060;branch=z9hG4bK-reg{cseq}-{index}")
    lines += [
        "Max-Forwards: 70",
        f"From: <sip:8001@{DOMAIN}>;tag=from1",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
    ]
    lines += [f"Contact: {contact}" for contact in contacts]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    lines += [f"{name}: {value}" for name, value in extra]
    data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message
