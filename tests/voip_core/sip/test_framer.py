"""Cutting TCP/TLS streams into messages: ``voip_core/sip/framer.py``.

Covered: RFC 3261 §18.3 framing by Content-Length (long and compact form, folded,
anywhere in the header block, leading zeros), bodies split across reads, several
messages in one read, §7.5 CRLFs between messages, RFC 5626 §3.5.1 double-CRLF pings
(also when split across reads), the bounds on buffer, header block and message size,
and unrecoverable framing errors (missing, duplicated or malformed Content-Length).
Left out: WebSocket framing (RFC 7118), which needs none of this.
"""

from __future__ import annotations

import pytest

from voip_core.sip.exceptions import ParseError
from voip_core.sip.framer import MAX_MESSAGE_SIZE, StreamFramer
from voip_core.sip.parser import StreamFramer as ReExported


def message(body: bytes = b"", *, length_line: str | None = None, tag: str = "1") -> bytes:
    length = length_line if length_line is not None else f"Content-Length: {len(body)}"
    return (
        f"OPTIONS sip:u@h SIP/2.0\r\n{length}\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK{tag}\r\n\r\n"
    ).encode() + body


def drain(framer: StreamFramer) -> list[bytes]:
    frames = []
    while (frame := framer.next_frame()) is not None:
        frames.append(frame)
    return frames


def test_parser_reexports_the_framer() -> None:
    assert ReExported is StreamFramer


def test_one_read_with_two_messages() -> None:
    framer = StreamFramer()
    first, second = message(b"hello", tag="1"), message(b"", tag="2")
    framer.feed(first + second)
    assert drain(framer) == [first, second]
    assert framer.buffered == 0


def test_byte_by_byte() -> None:
    framer = StreamFramer()
    data = message(b"body\r\n\r\nwith empty lines")
    frames = []
    for index in range(len(data)):
        framer.feed(data[index : index + 1])
        frames.extend(drain(framer))
    assert frames == [data]


@pytest.mark.parametrize(
    "line",
    ["l: 4", "CONTENT-LENGTH:4", "Content-Length :  0004  ", "Content-Length:\r\n 4"],
)
def test_content_length_spellings(line: str) -> None:
    framer = StreamFramer()
    data = message(b"abcd", length_line=line)
    framer.feed(data + b"next")
    assert drain(framer) == [data]
    assert framer.buffered == 4


def test_keepalives_between_messages() -> None:
    framer = StreamFramer()
    framer.feed(b"\r\n\r\n\r\n\r\n")
    assert drain(framer) == []
    assert framer.pings == 2
    framer.feed(b"\r\n")  # a lone CRLF (a pong) before a message
    framer.feed(message())
    assert drain(framer) == [message()]
    assert framer.pings == 2


def test_ping_split_across_reads() -> None:
    framer = StreamFramer()
    framer.feed(b"\r\n")
    assert framer.next_frame() is None
    framer.feed(b"\r")
    assert framer.next_frame() is None
    assert framer.pings == 0
    framer.feed(b"\n")
    assert framer.next_frame() is None
    assert (framer.pings, framer.buffered) == (1, 0)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            b"OPTIONS sip:u@h SIP/2.0\r\nVia: x\r\n\r\n",
            "missing Content-Length on a stream transport",
        ),
        (message(length_line="Content-Length: 1\r\nl: 1"), "more than one Content-Length header"),
        (message(length_line="Content-Length: -999"), "malformed Content-Length '-999'"),
        (
            message(length_line="Content-Length: 12345678901"),
            "malformed Content-Length '12345678901'",
        ),
        (message(length_line="Content-Length: ٣"), r"malformed Content-Length '\\xd9\\xa3'"),
    ],
)
def test_unrecoverable_framing(data: bytes, error: str) -> None:
    framer = StreamFramer()
    framer.feed(data)
    with pytest.raises(ParseError) as caught:
        framer.next_frame()
    assert str(caught.value) == error


def test_limits() -> None:
    framer = StreamFramer(max_message_size=100)
    framer.feed(b"INVITE " + b"x" * 100)
    with pytest.raises(ParseError, match="^header block exceeds 100 bytes$") as caught:
        framer.next_frame()
    assert caught.value.status_code == 513

    big = StreamFramer(max_message_size=100)
    big.feed(message(length_line="Content-Length: 500"))
    with pytest.raises(ParseError, match=r"^message of \d+ bytes exceeds 100$"):
        big.next_frame()

    flood = StreamFramer(max_message_size=100)
    with pytest.raises(ParseError, match="^stream buffer exceeds 200 bytes$"):
        flood.feed(b"x" * 201)
    assert StreamFramer()._max == MAX_MESSAGE_SIZE


def test_incremental_search_finds_an_end_split_across_reads() -> None:
    framer = StreamFramer()
    data = message(b"xy")
    cut = data.index(b"\r\n\r\n") + 2
    framer.feed(data[:cut])
    assert framer.next_frame() is None
    framer.feed(data[cut:-1])
    assert framer.next_frame() is None
    framer.feed(data[-1:])
    assert framer.next_frame() == data


def test_take_partial_empties_the_buffer() -> None:
    framer = StreamFramer()
    data = message(b"abcd")
    framer.feed(data[:-2])
    assert framer.next_frame() is None
    assert framer.take_partial() == data[:-2]
    assert framer.buffered == 0
    framer.feed(data)
    assert framer.next_frame() == data
