"""Micro-benchmark of the SIP message layer: parse, proxy accessors and serialise.

Usage::

    .venv/bin/python bench/bench_parser.py [--repeat N] [--number N]

For a typical INVITE (about 650 bytes with SDP), a 200 OK answering it and a REGISTER it
prints the median, over ``--repeat`` runs of ``--number`` iterations each, of the cost
in microseconds per message of:

- ``parse``: :func:`parse_message` alone;
- ``parse+proxy``: the parse plus what a stateful proxy reads from every message (top
  Via, CSeq, Call-ID, To/From tags, Max-Forwards and Route);
- ``serialise``: ``bytes(message)`` of an already parsed message.

Each operation is measured twice. ``new`` feeds a different message every time: the
tags, branches and Call-ID are fresh, as in a stream of new calls, so the parsers'
value caches (``voip_core/sip/_memo.py``) only help with what really repeats between
calls (Request-URI, CSeq, Contact, the callee's To). ``same`` parses the same bytes
over and over, as with retransmissions and the requests and responses of one dialog,
where every header value has been seen before.

The proxy budget is 15,000 messages/s on one core, so ``parse+proxy`` must stay well
under 20 µs per message.

Times are CPU time of this process (``time.process_time``), not wall-clock time, so that
other work on a shared machine disturbs the figures less; ``--wall`` switches to
``time.perf_counter``. ``--min`` also prints the fastest run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voip_core.sip.message import Request, Response  # noqa: E402
from voip_core.sip.parser import parse_message  # noqa: E402

SDP = (
    b"v=0\r\n"
    b"o=8001 3456 3456 IN IP4 10.12.3.41\r\n"
    b"s=-\r\n"
    b"c=IN IP4 10.12.3.41\r\n"
    b"t=0 0\r\n"
    b"m=audio 40000 RTP/AVP 8 0 101\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=sendrecv\r\n"
)

INVITE = (
    b"INVITE sip:8002@xiayi.gov.cn SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.12.3.41:5060;branch=z9hG4bK-524287-1---3e1f0b6a;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"Contact: <sip:8001@10.12.3.41:5060>\r\n"
    b'To: "Office" <sip:8002@xiayi.gov.cn>\r\n'
    b'From: "Reception" <sip:8001@xiayi.gov.cn>;tag=4c7a8e2f\r\n'
    b"Call-ID: 9a6b2c4d1e8f7a3b@10.12.3.41\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, UPDATE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)

OK_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 10.12.0.1:5060;branch=z9hG4bK7f3a9c1e.0;received=10.12.0.1\r\n"
    b"Via: SIP/2.0/UDP 10.12.3.41:5060;branch=z9hG4bK-524287-1---3e1f0b6a;rport=5060\r\n"
    b"Record-Route: <sip:10.12.0.1;lr>\r\n"
    b"Contact: <sip:8002@10.12.3.42:5060>\r\n"
    b'To: "Office" <sip:8002@xiayi.gov.cn>;tag=77d1e0a9\r\n'
    b'From: "Reception" <sip:8001@xiayi.gov.cn>;tag=4c7a8e2f\r\n'
    b"Call-ID: 9a6b2c4d1e8f7a3b@10.12.3.41\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, UPDATE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)

REGISTER = (
    b"REGISTER sip:xiayi.gov.cn SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.12.3.41:5060;branch=z9hG4bK-524287-1---9d2e4f1a;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"Contact: <sip:8001@10.12.3.41:5060;rinstance=5c9b2e1f>"
    b';+sip.instance="<urn:uuid:00000000-0000-1000-8000-000b82a1c3d4>"\r\n'
    b"To: <sip:8001@xiayi.gov.cn>\r\n"
    b"From: <sip:8001@xiayi.gov.cn>;tag=a1b2c3d4\r\n"
    b"Call-ID: 5e8f1c2b9a7d@10.12.3.41\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Expires: 3600\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, UPDATE\r\n"
    b"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
    b"Content-Length: 0\r\n\r\n"
)

MESSAGES = {"INVITE": INVITE, "200 OK": OK_200, "REGISTER": REGISTER}

#: Identifiers that differ from one call (or transaction) to the next.
_VARYING = (
    b"3e1f0b6a",
    b"4c7a8e2f",
    b"9a6b2c4d1e8f7a3b",
    b"7f3a9c1e",
    b"77d1e0a9",
    b"9d2e4f1a",
    b"a1b2c3d4",
    b"5e8f1c2b9a7d",
)


def fresh_copies(data: bytes, count: int) -> list[bytes]:
    """``count`` variants of ``data`` with new tags, branches and Call-ID, same length."""
    copies = []
    for serial in range(count):
        variant = data
        for position, identifier in enumerate(_VARYING):
            digits = f"{serial * len(_VARYING) + position:x}".rjust(len(identifier), "0")
            variant = variant.replace(identifier, digits.encode()[-len(identifier) :])
        copies.append(variant)
    return copies


def proxy_reads(message: Request | Response) -> None:
    """What a stateful proxy reads from every message it handles."""
    message.top_via()
    message.cseq()
    _ = message.call_id
    _ = message.to().tag
    _ = message.from_().tag
    message.header("max-forwards")
    message.routes()


def measure(
    function: Callable[[], object], number: int, repeat: int, timer: Callable[[], float]
) -> tuple[float, float]:
    """Median and minimum microseconds per call over ``repeat`` runs of ``number`` calls."""
    runs = timeit.repeat(function, number=number, repeat=repeat, timer=timer)
    return statistics.median(runs) / number * 1e6, min(runs) / number * 1e6


def main() -> None:
    """Print one line per message and operation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=3000)
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    parser.add_argument("--min", action="store_true", help="also print the fastest run")
    args = parser.parse_args()
    timer = time.perf_counter if args.wall else time.process_time
    kind = "wall" if args.wall else "CPU"
    print(f"µs per message ({kind} time, median of {args.repeat} runs of {args.number})")
    columns = ("parse new", "parse same", "+proxy new", "+proxy same", "serialise")
    print(f"{'message':10} {'bytes':>5} " + " ".join(f"{c:>14}" for c in columns))
    for name, data in MESSAGES.items():
        parsed = parse_message(data)
        stream = iter(fresh_copies(data, 2 * args.number * (args.repeat + 1)))

        def parse_new(stream: Iterator[bytes] = stream) -> None:
            parse_message(next(stream))

        def parse_same(data: bytes = data) -> None:
            parse_message(data)

        def read_new(stream: Iterator[bytes] = stream) -> None:
            proxy_reads(parse_message(next(stream)))

        def read_same(data: bytes = data) -> None:
            proxy_reads(parse_message(data))

        def serialise(parsed: Request | Response = parsed) -> None:
            bytes(parsed)

        cells = []
        for function in (parse_new, parse_same, read_new, read_same, serialise):
            median, fastest = measure(function, args.number, args.repeat, timer)
            cells.append(f"{median:7.2f} ({fastest:5.2f})" if args.min else f"{median:14.2f}")
        print(f"{name:10} {len(data):5d} {' '.join(cells)}")


if __name__ == "__main__":
    main()
