"""Shared builders for proxy unit tests."""

from __future__ import annotations

import pytest

from voip_core.proxy.config import ListenAddress, ProxyConfig
from voip_core.sip.message import Request
from voip_core.sip.parser import parse_message


@pytest.fixture
def config() -> ProxyConfig:
    return ProxyConfig(
        domain="county.gov.cn",
        listen=(ListenAddress("udp", "10.0.0.1", 5060), ListenAddress("tcp", "10.0.0.1", 5060)),
        aliases=frozenset({"10.0.0.1"}),
    )


def build_request(
    method: str = "INVITE",
    uri: str = "sip:8001@county.gov.cn",
    *,
    extra: str = "",
    to_tag: str | None = None,
    via: str = "SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKabc;rport",
    max_forwards: str | None = "70",
) -> Request:
    to = "<sip:8001@county.gov.cn>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: {via}",
        'From: "县委办公室" <sip:8000@county.gov.cn>;tag=from1',
        f"To: {to}",
        "Call-ID: call-1@192.168.1.20",
        f"CSeq: 1 {method}",
    ]
    if max_forwards is not None:
        lines.append(f"Max-Forwards: {max_forwards}")
    if extra:
        lines.extend(extra.strip().split("\n"))
    data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message
