"""Cut a TCP/TLS byte stream into SIP messages by Content-Length (RFC 3261 §18.3).

Theory of operation: bytes are appended to one bounded buffer. A frame is complete once
the empty line after the header block has arrived and then Content-Length more octets;
the framer reads only Content-Length from the header block (unfolding lines and
accepting the compact form ``l``) and leaves everything else to
:func:`~voip_core.sip.parser.parse_message`, which is called on the frame with
``stream=True``. The search for the empty line resumes where the previous one stopped,
so a peer trickling a huge header block costs linear, not quadratic, time.

A :class:`ParseError` from the framer means the stream cannot be re-synchronised
(RFC 4475 §3.1.2.3, §3.3.9): the adapter closes the connection.

RFC sections covered: RFC 3261 §7.5 (CRLFs before a message), §18.3 (framing with a
mandatory Content-Length on streams), RFC 5626 §3.5.1 (CRLF keep-alives).
Left out: WebSocket framing (RFC 7118 puts one message per WebSocket frame).
"""

from __future__ import annotations

import re
from typing import Final

from voip_core.sip._syntax import excerpt
from voip_core.sip.exceptions import ParseError

__all__ = ["MAX_MESSAGE_SIZE", "StreamFramer"]

#: Largest message accepted on any transport. UDP cannot carry more than 65,507 bytes of
#: payload (IPv4), and RFC 3261 §18.1.1 expects larger requests to move to TCP; we apply
#: the same bound to stream framing so one peer cannot make us buffer without limit.
MAX_MESSAGE_SIZE: Final = 65_535

_FOLD_RE: Final = re.compile(rb"[ \t]*\r\n[ \t]+")
_CONTENT_LENGTH_NAMES: Final = frozenset({b"content-length", b"l"})


class StreamFramer:
    """Cut a TCP/TLS byte stream into messages by Content-Length (RFC 3261 §18.3).

    Feed bytes with :meth:`feed`; take complete frames with :meth:`next_frame` until it
    returns ``None``. Keep-alive CRLFs between messages are skipped; each double-CRLF
    ping (RFC 5626 §3.5.1) increments :attr:`pings` so the adapter can answer with a
    CRLF pong.
    """

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self._max = max_message_size
        self._scanned = 0
        """Offset up to which the buffer holds no ``\\r\\n\\r\\n`` (minus 3 bytes)."""
        self.pings = 0
        """Double-CRLF keep-alives seen so far."""

    def feed(self, data: bytes) -> None:
        """Append received bytes; raises ``ParseError`` when the buffer limit is passed.

        The buffer holds at most two maximal messages, enough for one being cut while
        the next arrives, as long as the adapter drains :meth:`next_frame` after each
        feed.
        """
        self._buffer += data
        if len(self._buffer) > self._max * 2:
            raise ParseError(f"stream buffer exceeds {self._max * 2} bytes", status_code=513)

    def next_frame(self) -> bytes | None:
        """The next complete message, or ``None`` until more bytes arrive."""
        buffer = self._buffer
        if buffer.startswith(b"\r\n") and not self._skip_keepalives():
            return None
        end = buffer.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            self._scanned = len(buffer)
            if len(buffer) > self._max:
                raise ParseError(f"header block exceeds {self._max} bytes", status_code=513)
            return None
        length = _stream_content_length(bytes(buffer[:end]))
        total = end + 4 + length
        if total > self._max:
            raise ParseError(f"message of {total} bytes exceeds {self._max}", status_code=513)
        if len(buffer) < total:
            self._scanned = end
            return None
        frame = bytes(buffer[:total])
        del buffer[:total]
        self._scanned = 0
        return frame

    def _skip_keepalives(self) -> bool:
        """Drop CRLFs before a message; ``False`` while a ping may still be arriving."""
        buffer = self._buffer
        skipped = 0
        complete = True
        while buffer.startswith(b"\r\n", skipped):
            if buffer.startswith(b"\r\n\r\n", skipped):
                self.pings += 1
                skipped += 4
            elif b"\r\n\r\n".startswith(buffer[skipped:]):
                complete = False  # "\r\n" or "\r\n\r": maybe the first half of a ping
                break
            else:
                skipped += 2
        if skipped:
            del buffer[:skipped]
            self._scanned = 0
        return complete

    def take_partial(self) -> bytes:
        """Remove and return whatever is buffered of an incomplete message.

        For the adapter's stalled-stream timeout: a peer that stops sending in the middle
        of a message will not complete it, and the bytes are all there is to answer
        (RFC 3261 §18.3 lets the connection be closed when framing is lost).
        """
        partial = bytes(self._buffer)
        self._buffer.clear()
        self._scanned = 0
        return partial

    @property
    def in_message(self) -> bool:
        """Whether bytes of a message (not just keep-alive CRLFs) wait for the rest."""
        return bool(self._buffer.strip(b"\r\n"))

    @property
    def buffered(self) -> int:
        """Bytes waiting for the rest of their message."""
        return len(self._buffer)


def _stream_content_length(head: bytes) -> int:
    """The one Content-Length of a header block (RFC 3261 §18.3: mandatory on streams)."""
    values: list[bytes] = []
    for line in _FOLD_RE.sub(b" ", head).split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.rstrip(b" \t").lower() in _CONTENT_LENGTH_NAMES:
            values.append(value.strip(b" \t"))
    if not values:
        raise ParseError("missing Content-Length on a stream transport")
    if len(values) > 1:
        raise ParseError("more than one Content-Length header")
    text = values[0]
    if not text.isdigit() or len(text.lstrip(b"0")) > 10:
        shown = excerpt(text.decode("ascii", "backslashreplace"))
        raise ParseError(f"malformed Content-Length {shown}")
    return int(text)
