"""The benchmark's SIPp scenarios take a call's messages in the order a multi-worker proxy
may pass them on.

Covers: ``bench/scenarios/uas_any_order.xml`` completing a call whose BYE arrives before
its ACK, and the usual order; ``bench/scenarios/uac_dialog.xml`` completing a call
whose 180 arrives after its 200 (before or after the BYE is sent), and the usual order.
A plain UDP socket plays the proxy and the other party, so the order is exact. Not
covered: the rates of ``bench/bench_proxy.py``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bench.bench_proxy import UAC_CALL, UAS
from tests.integration.sipp import Sipp

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _header(message: bytes, name: str) -> str:
    for line in message.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name} in {message!r}")


class _Peer:
    """A UDP socket on loopback that reads and writes raw SIP."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port: int = self.sock.getsockname()[1]

    def send(self, text: str, to: tuple[str, int]) -> None:
        self.sock.sendto(text.replace("\n", "\r\n").encode(), to)

    def receive(self, start: bytes) -> tuple[bytes, tuple[str, int]]:
        """The next message starting with ``start`` (others, such as 100, are skipped)."""
        while True:
            data, source = self.sock.recvfrom(65_536)
            if data.startswith(start):
                return data, source

    def close(self) -> None:
        self.sock.close()


def _request(method: str, uri: str, port: int, call_id: str, cseq: int, to_tag: str) -> str:
    to = f"<sip:callee@127.0.0.1>{';tag=' + to_tag if to_tag else ''}"
    body = "" if method != "INVITE" else "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\n"
    return (
        f"{method} {uri} SIP/2.0\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{method}-{call_id}\n"
        f"From: <sip:caller@127.0.0.1>;tag=caller-{call_id}\nTo: {to}\n"
        f"Call-ID: {call_id}\nCSeq: {cseq} {method}\nMax-Forwards: 70\n"
        f"Contact: <sip:caller@127.0.0.1:{port}>\n"
        + ("Content-Type: application/sdp\n" if body else "")
        + f"Content-Length: {len(body.replace(chr(10), chr(13) + chr(10)))}\n\n{body}"
    )


@pytest.mark.parametrize("bye_first", [True, False], ids=["bye-before-ack", "ack-then-bye"])
def test_bench_uas_completes_a_call_whatever_the_order_of_ack_and_bye(
    tmp_path: Path, bye_first: bool
) -> None:
    peer = _Peer()
    try:
        with Sipp.start(UAS, calls=1, timeout=20, workdir=tmp_path) as uas:
            target = ("127.0.0.1", uas.local_port)
            uri = f"sip:callee@127.0.0.1:{uas.local_port}"
            peer.send(_request("INVITE", uri, peer.port, "order-1", 1, ""), target)
            ok, _ = peer.receive(b"SIP/2.0 200")
            to_tag = _header(ok, "to").rpartition("tag=")[2]
            ack = _request("ACK", uri, peer.port, "order-1", 1, to_tag)
            bye = _request("BYE", uri, peer.port, "order-1", 2, to_tag)
            for message in [bye, ack] if bye_first else [ack, bye]:
                peer.send(message, target)
            answer, _ = peer.receive(b"SIP/2.0 ")
            assert answer.startswith(b"SIP/2.0 200"), answer
            assert _header(answer, "cseq") == "2 BYE"
            result = uas.wait(15)
    finally:
        peer.close()
    assert (result.successful_calls, result.failed_calls) == (1, 0), result.describe()


@pytest.mark.parametrize("late_180_after", ["200", "bye", None], ids=["200", "bye", "in-order"])
def test_bench_uac_completes_a_call_whose_180_comes_after_its_200(
    tmp_path: Path, late_180_after: str | None
) -> None:
    callee = _Peer()
    try:
        with Sipp.start(
            UAC_CALL,
            f"127.0.0.1:{callee.port}",
            service="callee",
            calls=1,
            timeout=20,
            recv_timeout_ms=5000,
            workdir=tmp_path,
        ) as uac:
            invite, caller = callee.receive(b"INVITE ")
            to = _header(invite, "to") + ";tag=callee-1"
            contact = f"Contact: <sip:callee@127.0.0.1:{callee.port}>\n"

            def answer(request: bytes, status: str, copied: tuple[str, ...]) -> None:
                head = request.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
                lines = "\n".join(line for line in head if line.lower().startswith(copied))
                callee.send(
                    f"SIP/2.0 {status}\n{lines}\nTo: {to}\n{contact}Content-Length: 0\n\n",
                    caller,
                )

            invite_headers = ("via:", "from:", "call-id:", "cseq:")
            if late_180_after is None:
                answer(invite, "180 Ringing", invite_headers)
            answer(invite, "200 OK", invite_headers)
            if late_180_after == "200":
                answer(invite, "180 Ringing", invite_headers)
            callee.receive(b"ACK ")
            bye, _ = callee.receive(b"BYE ")
            if late_180_after == "bye":
                answer(invite, "180 Ringing", invite_headers)
            answer(bye, "200 OK", ("via:", "from:", "call-id:", "cseq:"))
            result = uac.wait(15)
    finally:
        callee.close()
    assert (result.successful_calls, result.failed_calls) == (1, 0), result.describe()
