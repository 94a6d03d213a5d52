"""Which worker process owns a SIP message: one hash of raw bytes, before any parsing.

Theory of operation
-------------------
Several worker processes share the SIP sockets (``ronghe serve --workers N``). The
kernel hands a datagram or a TCP connection to whichever worker reads first, but the
state a message belongs to lives in one worker only: the transactions of a call and the
registrations of an address-of-record. So the worker that reads a message computes its
*owner* from a few header bytes and, when that is another worker, passes the message on
unparsed (see :mod:`voip_core.cluster.mesh`):

* a REGISTER (and a response whose CSeq method is REGISTER) belongs to the hash of the
  user part of its To URI, so every change to one address-of-record is made by one
  worker, in order, and the digest nonce a worker issued in its 401 is checked by the
  same worker (RFC 3261 §10.2: the To header field names the address-of-record);
* every other message belongs to the hash of its Call-ID, which is what a transaction,
  its CANCEL, the ACK and every in-dialog request share (RFC 3261 §17.1.3, §9.1, §12).

A message in which the key cannot be found is handled where it arrived: it is malformed,
and the parser there answers 400 or drops it. The scan is deliberately tolerant and
cheap (two regular-expression searches over the header block, about a microsecond); it
only has to be deterministic, so that retransmissions of one message reach one worker.

Connection ids are global across workers: the id of a connection accepted or opened by
worker ``w`` of ``n`` is ``k * n + w`` (:class:`ConnectionIds`), so any worker knows
which worker can write to a flow stored in a binding or a Record-Route.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import Final
from urllib.parse import unquote_to_bytes

__all__ = ["ConnectionIds", "connection_owner", "message_owner", "shard_key"]

#: Header block considered; a key past it is not looked for (RFC 3261 messages put the
#: headers first, and SIP messages over UDP stay below 64 KiB).
_MAX_SCAN: Final = 65_536

_CALL_ID_RE: Final = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
_CSEQ_METHOD_RE: Final = re.compile(rb"^cseq[ \t]*:[ \t]*\d+[ \t]+([!-~]+)", re.I | re.M)
_TO_RE: Final = re.compile(rb"^(?:to|t)[ \t]*:([^\r\n]*)", re.I | re.M)
_USER_RE: Final = re.compile(rb"(?:sips?|tel):([^@;>?\s]+)", re.I)


def _header_block(data: bytes) -> bytes:
    # The first blank line ends the headers, whether lines end in CRLF or in LF alone.
    ends = [
        end
        for end in (data.find(b"\r\n\r\n", 0, _MAX_SCAN), data.find(b"\n\n", 0, _MAX_SCAN))
        if end >= 0
    ]
    return data[: min(ends)] if ends else data[:_MAX_SCAN]


def shard_key(data: bytes) -> bytes | None:
    """The bytes that decide a message's owner, or ``None`` when they cannot be found."""
    headers = _header_block(data)
    if headers.startswith(b"SIP/"):
        cseq = _CSEQ_METHOD_RE.search(headers)
        register = cseq is not None and cseq.group(1).upper() == b"REGISTER"
    else:
        register = headers[:9].upper() == b"REGISTER "
    if register:
        to = _TO_RE.search(headers)
        if to is None:
            return None
        value = to.group(1)
        # name-addr: the URI is in angle brackets (a quoted display name may say "sip:").
        opening = value.rfind(b"<")
        uri = value[opening + 1 :] if opening >= 0 else value
        user = _USER_RE.search(uri)
        if user is None:
            return b"to:" + value.strip()
        # %-escapes name the same user as the characters they stand for (RFC 3261 §19.1.4).
        return b"to:" + (
            unquote_to_bytes(user.group(1)) if b"%" in user.group(1) else user.group(1)
        )
    call_id = _CALL_ID_RE.search(headers)
    if call_id is None:
        return None
    value = call_id.group(1).strip()
    return b"call-id:" + value if value else None


def message_owner(data: bytes, workers: int) -> int | None:
    """The index of the worker that owns ``data`` among ``workers``, ``None`` if unknown."""
    key = shard_key(data)
    if key is None:
        return None
    return zlib.crc32(key) % workers


def connection_owner(connection_id: int, workers: int) -> int:
    """The worker that holds the connection with the global id ``connection_id``."""
    return connection_id % workers


class ConnectionIds:
    """Global connection ids for worker ``index`` of ``workers``: ``k * workers + index``."""

    def __init__(self, index: int = 0, workers: int = 1) -> None:
        if not 0 <= index < workers:
            raise ValueError(f"worker index {index} outside 0..{workers - 1}")
        self._index = index
        self._workers = workers
        self._next = 1

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        value = self._next * self._workers + self._index
        self._next += 1
        return value
