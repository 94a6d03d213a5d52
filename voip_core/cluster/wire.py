"""The frames worker processes exchange over their local channels (pure codecs).

Every frame is ``length (4 bytes, network order) | kind (1 byte) | payload``, where the
length counts the kind and the payload. Kinds:

=================  ==========================================================================
``HELLO``          first frame on a channel: the sender's worker index (1 byte)
``FORWARD``        a received SIP message for its owner: peer, stream flag, the raw bytes
``SEND``           bytes to write on a stream connection the receiver holds: peer, bytes
``FLOW_ERROR``     a flow failed or closed: the peer, so transactions on it end (§17.1.4)
``BINDINGS``       registrations changed: JSON ``[[aor, [binding, ...]], ...]``
``SNAPSHOT``       every registration, in batches shaped like ``BINDINGS``; empty at the end
``CALL``           a request: JSON ``{"id": n, "method": name}``
``REPLY``          its answer: JSON ``{"id": n, "result": value}``
=================  ==========================================================================

The peer is ``transport code | stream flag | port | connection id | host length | host``
in a fixed ``struct`` head, so the hot path (``FORWARD`` and ``SEND``) encodes without
JSON. Bindings keep their source's connection id, which is global across workers
(:class:`~voip_core.cluster.sharding.ConnectionIds`).
"""

from __future__ import annotations

import enum
import json
import struct
import sys
from collections.abc import Sequence
from typing import Final

from voip_core.registrar.binding import Binding
from voip_core.sip.exceptions import LocalProtocolError, RemoteProtocolError
from voip_core.sip.peer import Peer

__all__ = [
    "MAX_FRAME",
    "BindingChange",
    "FrameKind",
    "FrameReader",
    "decode_bindings",
    "decode_json",
    "decode_peer_message",
    "encode_bindings",
    "encode_frame",
    "encode_json",
    "encode_peer_message",
]

#: Largest frame accepted: a SIP message (64 KiB at most) with its head, or a batch of
#: registrations (batches are cut well below this by the sender).
MAX_FRAME: Final = 4 * 1024 * 1024

_HEAD: Final = struct.Struct("!IB")
_PEER: Final = struct.Struct("!BBHqB")
_TRANSPORTS: Final = ("udp", "tcp", "tls", "ws", "wss", "sctp")
_TRANSPORT_CODES: Final = {name: code for code, name in enumerate(_TRANSPORTS)}


class FrameKind(enum.IntEnum):
    """What a frame carries."""

    HELLO = 1
    FORWARD = 2
    SEND = 3
    FLOW_ERROR = 4
    BINDINGS = 5
    CALL = 6
    REPLY = 7
    SNAPSHOT = 8


#: One address-of-record's complete new set of bindings (empty: removed).
BindingChange = tuple[str, Sequence[Binding]]


def encode_frame(kind: FrameKind, payload: bytes) -> bytes:
    """One frame."""
    if len(payload) + 1 > MAX_FRAME:
        raise LocalProtocolError(f"frame of {len(payload) + 1} bytes exceeds {MAX_FRAME}")
    return _HEAD.pack(len(payload) + 1, kind) + payload


class FrameReader:
    """Cuts a byte stream into ``(kind, payload)`` frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[FrameKind, bytes]]:
        """Add received bytes; return the frames now complete, in order.

        Raises ``RemoteProtocolError`` for a frame longer than :data:`MAX_FRAME` or of
        an unknown kind: the channel cannot be resynchronised and must be closed.
        """
        buffer = self._buffer
        buffer += data
        frames: list[tuple[FrameKind, bytes]] = []
        offset = 0
        while len(buffer) - offset >= _HEAD.size:
            length, kind = _HEAD.unpack_from(buffer, offset)
            if not 1 <= length <= MAX_FRAME:
                raise RemoteProtocolError(f"frame length {length} outside 1..{MAX_FRAME}")
            end = offset + 4 + length
            if end > len(buffer):
                break
            try:
                frame_kind = FrameKind(kind)
            except ValueError:
                raise RemoteProtocolError(f"unknown frame kind {kind}") from None
            frames.append((frame_kind, bytes(buffer[offset + _HEAD.size : end])))
            offset = end
        if offset:
            del buffer[:offset]
        return frames


def encode_peer_message(peer: Peer, data: bytes = b"", *, stream: bool = False) -> bytes:
    """A peer, a stream flag and message bytes (``FORWARD``, ``SEND``, ``FLOW_ERROR``)."""
    host = peer.host.encode("ascii")
    connection_id = -1 if peer.connection_id is None else peer.connection_id
    head = _PEER.pack(_TRANSPORT_CODES[peer.transport], stream, peer.port, connection_id, len(host))
    return head + host + data


def decode_peer_message(payload: bytes) -> tuple[Peer, bool, bytes]:
    """Inverse of :func:`encode_peer_message`."""
    if len(payload) < _PEER.size:
        raise RemoteProtocolError(f"peer head of {len(payload)} bytes is truncated")
    code, stream, port, connection_id, host_length = _PEER.unpack_from(payload)
    if code >= len(_TRANSPORTS):
        raise RemoteProtocolError(f"unknown transport code {code}")
    end = _PEER.size + host_length
    if end > len(payload):
        raise RemoteProtocolError("peer host is truncated")
    try:
        host = payload[_PEER.size : end].decode("ascii")
    except UnicodeDecodeError:
        raise RemoteProtocolError("peer host is not ASCII") from None
    peer = Peer(_TRANSPORTS[code], host, port, None if connection_id < 0 else connection_id)
    return peer, bool(stream), payload[end:]


def _binding_fields(binding: Binding) -> list[object]:
    source = binding.source
    return [
        binding.contact,
        binding.expires_at,
        binding.call_id,
        binding.cseq,
        source.transport,
        source.host,
        source.port,
        source.connection_id,
        binding.registered_at,
        binding.q,
        binding.user_agent,
        binding.instance_id,
        binding.reg_id,
        list(binding.path),
        binding.temp_gruu,
    ]


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _number(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list of bindings, got {value!r}")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _optional_integer(value: object) -> int | None:
    return None if value is None else _integer(value)


def _binding_from(aor: str, fields: object) -> Binding:
    if not isinstance(fields, list) or len(fields) != 15:
        raise TypeError(f"expected 15 binding fields, got {fields!r}")
    (contact, expires_at, call_id, cseq, transport, host, port, connection_id, registered_at,
     q, user_agent, instance_id, reg_id, path, temp_gruu) = fields  # fmt: skip
    if not isinstance(path, list):
        raise TypeError(f"expected a Path list, got {path!r}")
    return Binding(
        aor=aor,
        contact=_text(contact),
        expires_at=_number(expires_at),
        call_id=_text(call_id),
        cseq=_integer(cseq),
        # Interned, as the transports intern peer hosts, so that every worker's copy of
        # the registrations holds one string per address and per phone model.
        source=Peer(
            sys.intern(_text(transport)),
            sys.intern(_text(host)),
            _integer(port),
            _optional_integer(connection_id),
        ),
        registered_at=_number(registered_at),
        q=None if q is None else _number(q),
        user_agent=None if user_agent is None else sys.intern(_text(user_agent)),
        instance_id=_optional_text(instance_id),
        reg_id=_optional_integer(reg_id),
        path=tuple(_text(value) for value in path),
        temp_gruu=_optional_text(temp_gruu),
    )


def encode_bindings(changes: Sequence[BindingChange]) -> bytes:
    """Registration changes as a ``BINDINGS`` payload (text kept with surrogateescape)."""
    document = [
        [aor, [_binding_fields(binding) for binding in bindings]] for aor, bindings in changes
    ]
    return encode_json(document)


def decode_bindings(payload: bytes) -> list[BindingChange]:
    """Inverse of :func:`encode_bindings`."""
    document = decode_json(payload)
    if not isinstance(document, list):
        raise RemoteProtocolError("bindings payload is not a list")
    try:
        return [
            (_text(aor), [_binding_from(_text(aor), fields) for fields in _list(bindings)])
            for aor, bindings in document
        ]
    except (TypeError, ValueError) as error:
        raise RemoteProtocolError(f"malformed bindings payload: {error}") from None


def encode_json(value: object) -> bytes:
    """Compact JSON; text that was not UTF-8 on the wire survives (surrogateescape)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogateescape")


def decode_json(payload: bytes) -> object:
    """Inverse of :func:`encode_json`."""
    try:
        return json.loads(payload.decode("utf-8", "surrogateescape"))
    except ValueError as error:
        raise RemoteProtocolError(f"malformed JSON frame: {error}") from None
