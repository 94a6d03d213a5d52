"""The frames between worker processes: ``voip_core/cluster/wire.py``.

Covered: the frame head (4-byte length counting the kind, 1-byte kind) and the kind
numbers; a stream cut into frames whatever the reads (byte by byte, several frames in
one read, a frame split over reads, an empty payload, the largest frame); the errors
that close a channel (length 0, length above ``MAX_FRAME``, unknown kind) and the
sender's own limit; the peer head (every transport, IPv4 and IPv6 hosts, ports 0 and
65535, no connection id and real ones, the stream flag) and its malformed forms; the
``BINDINGS`` payload (field order, every optional field: q, User-Agent in Chinese,
``+sip.instance``, ``reg-id``, Path, temporary GRUU, connection id; removals;
non-UTF-8 text kept by surrogateescape) and every malformed shape, each with its exact
message; the JSON codec.

Left out: frames larger than ``MAX_FRAME`` in memory on the sending side (refused
before they are built) and the ``SO_PEERCRED`` check, which belong to the channel tests.
"""

from __future__ import annotations

import dataclasses
import struct

import pytest

from tests.voip_core.storage.binding_samples import AOR, NOW, full_binding, make_binding
from voip_core.cluster.wire import (
    MAX_FRAME,
    FrameKind,
    FrameReader,
    decode_bindings,
    decode_json,
    decode_peer_message,
    encode_bindings,
    encode_frame,
    encode_json,
    encode_peer_message,
)
from voip_core.registrar.binding import Binding
from voip_core.sip.exceptions import LocalProtocolError, RemoteProtocolError
from voip_core.sip.peer import Peer

PEER_HEAD = struct.Struct("!BBHqB")


def remote_error(payload: bytes) -> str:
    """The message of the ``RemoteProtocolError`` that decoding ``payload`` raises."""
    with pytest.raises(RemoteProtocolError) as caught:
        decode_bindings(payload)
    return str(caught.value)


# -- frames -------------------------------------------------------------------------------


def test_frame_kinds_have_fixed_numbers() -> None:
    assert {kind.name: int(kind) for kind in FrameKind} == {
        "HELLO": 1,
        "FORWARD": 2,
        "SEND": 3,
        "FLOW_ERROR": 4,
        "BINDINGS": 5,
        "CALL": 6,
        "REPLY": 7,
        "SNAPSHOT": 8,
    }


def test_frame_is_length_kind_payload() -> None:
    assert encode_frame(FrameKind.HELLO, b"\x02") == b"\x00\x00\x00\x02\x01\x02"
    assert encode_frame(FrameKind.SNAPSHOT, b"") == b"\x00\x00\x00\x01\x08"
    assert encode_frame(FrameKind.FORWARD, b"x" * 300) == b"\x00\x00\x01\x2d\x02" + b"x" * 300


def test_sender_refuses_a_frame_above_the_limit() -> None:
    assert MAX_FRAME == 4 * 1024 * 1024
    assert len(encode_frame(FrameKind.BINDINGS, bytes(MAX_FRAME - 1))) == MAX_FRAME + 4
    with pytest.raises(LocalProtocolError) as caught:
        encode_frame(FrameKind.BINDINGS, bytes(MAX_FRAME))
    assert str(caught.value) == "frame of 4194305 bytes exceeds 4194304"


def test_reader_returns_one_frame() -> None:
    reader = FrameReader()
    assert reader.feed(encode_frame(FrameKind.FORWARD, b"INVITE")) == [
        (FrameKind.FORWARD, b"INVITE")
    ]
    assert reader.feed(b"") == []


def test_reader_fed_byte_by_byte() -> None:
    stream = encode_frame(FrameKind.HELLO, b"\x01") + encode_frame(FrameKind.SEND, b"BYE")
    reader = FrameReader()
    results = [reader.feed(stream[i : i + 1]) for i in range(len(stream))]
    # Complete after the 6th byte (4 + 1 + 1) and after the last.
    assert [i for i, frames in enumerate(results) if frames] == [5, len(stream) - 1]
    assert results[5] == [(FrameKind.HELLO, b"\x01")]
    assert results[-1] == [(FrameKind.SEND, b"BYE")]


def test_reader_returns_several_frames_of_one_read_in_order() -> None:
    frames = [
        (FrameKind.HELLO, b"\x00"),
        (FrameKind.FORWARD, b"first"),
        (FrameKind.FLOW_ERROR, b""),
        (FrameKind.FORWARD, b"second"),
        (FrameKind.REPLY, b'{"id":1,"result":2}'),
    ]
    stream = b"".join(encode_frame(kind, payload) for kind, payload in frames)
    assert FrameReader().feed(stream) == frames


def test_reader_keeps_a_partial_frame_for_the_next_read() -> None:
    first = encode_frame(FrameKind.FORWARD, b"one")
    second = encode_frame(FrameKind.FORWARD, b"two" * 100)
    reader = FrameReader()
    assert reader.feed(first + second[:2]) == [(FrameKind.FORWARD, b"one")]
    assert reader.feed(second[2:10]) == []
    assert reader.feed(second[10:] + first) == [
        (FrameKind.FORWARD, b"two" * 100),
        (FrameKind.FORWARD, b"one"),
    ]


def test_reader_accepts_the_largest_frame() -> None:
    payload = bytes(MAX_FRAME - 1)
    assert FrameReader().feed(encode_frame(FrameKind.SNAPSHOT, payload)) == [
        (FrameKind.SNAPSHOT, payload)
    ]


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"\x00\x00\x00\x00\x02", "frame length 0 outside 1..4194304"),
        (b"\x00\x40\x00\x01\x02", "frame length 4194305 outside 1..4194304"),
        (b"\xff\xff\xff\xff\x02", "frame length 4294967295 outside 1..4194304"),
    ],
)
def test_reader_refuses_a_length_outside_the_limit_once_the_head_is_read(
    head: bytes, message: str
) -> None:
    reader = FrameReader()
    assert reader.feed(head[:4]) == []  # the head is not complete yet
    with pytest.raises(RemoteProtocolError) as caught:
        reader.feed(head[4:])
    assert str(caught.value) == message


@pytest.mark.parametrize("kind", [0, 9, 255])
def test_reader_refuses_an_unknown_kind(kind: int) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        FrameReader().feed(encode_frame(FrameKind.HELLO, b"") + struct.pack("!IB", 2, kind) + b"x")
    assert str(caught.value) == f"unknown frame kind {kind}"


# -- peers --------------------------------------------------------------------------------


def test_peer_head_layout() -> None:
    payload = encode_peer_message(Peer("tcp", "10.0.0.1", 5060, 7), b"data", stream=True)
    assert payload == (
        b"\x01\x01\x13\xc4" + (7).to_bytes(8, "big") + b"\x08" + b"10.0.0.1" + b"data"
    )
    no_connection = encode_peer_message(Peer("udp", "10.0.0.1", 5060))
    assert no_connection == b"\x00\x00\x13\xc4" + b"\xff" * 8 + b"\x0810.0.0.1"


@pytest.mark.parametrize(
    "peer",
    [
        Peer("udp", "10.1.2.3", 5060),
        Peer("tcp", "10.1.2.3", 50111, 12),
        Peer("tcp", "2001:db8::7", 5060, None),
        Peer("tls", "2001:db8:85a3::8a2e:370:7334", 65535, 2**62),
        Peer("ws", "::1", 0, 0),
        Peer("wss", "fe80::1", 443, 5),
        Peer("sctp", "192.0.2.1", 5060, 3),
    ],
    ids=str,
)
@pytest.mark.parametrize("stream", [False, True])
def test_peer_message_round_trips(peer: Peer, stream: bool) -> None:
    data = b"SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n\x00\xff"
    assert decode_peer_message(encode_peer_message(peer, data, stream=stream)) == (
        peer,
        stream,
        data,
    )


def test_peer_without_message_round_trips() -> None:
    peer = Peer("tcp", "2001:db8::7", 5060, 9)
    assert decode_peer_message(encode_peer_message(peer)) == (peer, False, b"")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "peer head of 0 bytes is truncated"),
        (PEER_HEAD.pack(0, 0, 5060, -1, 0)[:-1], "peer head of 12 bytes is truncated"),
        (PEER_HEAD.pack(6, 0, 5060, -1, 0), "unknown transport code 6"),
        (PEER_HEAD.pack(255, 0, 5060, -1, 0), "unknown transport code 255"),
        (PEER_HEAD.pack(1, 0, 5060, 3, 9) + b"10.0.0.1", "peer host is truncated"),
    ],
    ids=["empty", "short-head", "transport-6", "transport-255", "short-host"],
)
def test_malformed_peer_head_is_a_remote_error(payload: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        decode_peer_message(payload)
    assert str(caught.value) == message


def test_non_ascii_peer_host_is_a_remote_error() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        decode_peer_message(PEER_HEAD.pack(0, 0, 5060, -1, 2) + "é".encode())
    assert str(caught.value).startswith("peer host ")


# -- bindings -----------------------------------------------------------------------------


def flow_binding(aor: str = AOR) -> Binding:
    """Every optional field set, Chinese User-Agent and Path, on a TLS connection."""
    binding = full_binding(aor)
    return dataclasses.replace(binding, source=dataclasses.replace(binding.source, connection_id=7))


def test_bindings_payload_lists_the_fields_in_order() -> None:
    payload = encode_bindings([(AOR, [make_binding()])])
    assert payload == (
        b'[["sip:8001@xiayi.gov.cn",[["sip:8001@10.1.2.3:5060",1800003600.0,"reg-1@10.1.2.3",'
        b'7,"udp","10.1.2.3",5060,null,1800000000.0,null,null,null,null,[],null]]]]'
    )


def test_bindings_round_trip_with_every_field() -> None:
    binding = flow_binding()
    assert binding.user_agent == "融合软电话 1.0"
    assert binding.source.connection_id == 7
    second = make_binding(contact="sip:8001@10.1.2.4:5060", q=0.0, reg_id=1, cseq=2**40)
    changes = [
        (AOR, (binding, second)),
        ("sip:8002@xiayi.gov.cn", ()),
        ("sip:8003@xiayi.gov.cn", [make_binding("sip:8003@xiayi.gov.cn", expires_at=NOW + 60)]),
    ]
    payload = encode_bindings(changes)
    assert "融合软电话 1.0".encode() in payload  # UTF-8, not \u escapes
    assert '"边缘" <sip:edge2.xiayi.gov.cn;lr>'.replace('"', '\\"').encode() in payload
    assert decode_bindings(payload) == [
        (AOR, [binding, second]),
        ("sip:8002@xiayi.gov.cn", []),
        ("sip:8003@xiayi.gov.cn", [make_binding("sip:8003@xiayi.gov.cn", expires_at=NOW + 60)]),
    ]


def test_decoded_bindings_share_one_string_per_address_and_phone_model() -> None:
    agent = "Yealink SIP-T46U 108.86.0.20"
    bindings = [
        make_binding(contact=f"sip:8001@10.1.2.3:{5060 + n}", user_agent=agent) for n in range(3)
    ]
    [(_, decoded)] = decode_bindings(encode_bindings([(AOR, bindings)]))
    assert decoded == bindings
    assert len({id(binding.source.host) for binding in decoded}) == 1
    assert len({id(binding.source.transport) for binding in decoded}) == 1
    assert len({id(binding.user_agent) for binding in decoded}) == 1


def test_bindings_keep_text_that_was_not_utf8_on_the_wire() -> None:
    raw_agent = b"Phone \xff\xfe 2.0".decode("utf-8", "surrogateescape")
    binding = make_binding(user_agent=raw_agent, call_id="c\udc80@h")
    payload = encode_bindings([(AOR, [binding])])
    assert b"Phone \xff\xfe 2.0" in payload
    assert decode_bindings(payload) == [(AOR, [binding])]


def test_no_changes_encode_to_an_empty_list() -> None:
    assert encode_bindings([]) == b"[]"
    assert decode_bindings(b"[]") == []


def fields(**changes: object) -> list[object]:
    """The 15 fields of a binding as JSON values, with ``changes`` by position name."""
    names = [
        "contact",
        "expires_at",
        "call_id",
        "cseq",
        "transport",
        "host",
        "port",
        "connection_id",
        "registered_at",
        "q",
        "user_agent",
        "instance_id",
        "reg_id",
        "path",
        "temp_gruu",
    ]
    values: dict[str, object] = {
        "contact": "sip:8001@10.1.2.3",
        "expires_at": NOW + 3600,
        "call_id": "c",
        "cseq": 1,
        "transport": "udp",
        "host": "10.1.2.3",
        "port": 5060,
        "connection_id": None,
        "registered_at": NOW,
        "q": None,
        "user_agent": None,
        "instance_id": None,
        "reg_id": None,
        "path": [],
        "temp_gruu": None,
    }
    values.update(changes)
    return [values[name] for name in names]


def test_integral_times_and_q_decode_as_floats() -> None:
    payload = encode_json([[AOR, [fields(expires_at=1_800_003_600, q=1, registered_at=0)]]])
    [(aor, [binding])] = decode_bindings(payload)
    assert (aor, binding.expires_at, binding.q, binding.registered_at) == (
        AOR,
        1_800_003_600.0,
        1.0,
        0.0,
    )
    assert type(binding.expires_at) is float
    assert type(binding.q) is float


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "malformed JSON frame: Expecting value: line 1 column 1 (char 0)"),
        (b"[", "malformed JSON frame: Expecting value: line 1 column 2 (char 1)"),
        (b'{"a": 1}', "bindings payload is not a list"),
        (b"null", "bindings payload is not a list"),
        (b"[1]", "malformed bindings payload: cannot unpack non-iterable int object"),
        (
            b'[["sip:a@b"]]',
            "malformed bindings payload: not enough values to unpack (expected 2, got 1)",
        ),
        (
            b'[["sip:a@b", [], 1]]',
            "malformed bindings payload: too many values to unpack (expected 2)",
        ),
        (b'[["sip:a@b", 5]]', "malformed bindings payload: expected a list of bindings, got 5"),
        (b"[[5, []]]", "malformed bindings payload: expected text, got 5"),
        (
            b'[["sip:a@b", [5]]]',
            "malformed bindings payload: expected 15 binding fields, got 5",
        ),
        (
            b'[["sip:a@b", [[1, 2]]]]',
            "malformed bindings payload: expected 15 binding fields, got [1, 2]",
        ),
    ],
    ids=[
        "empty",
        "truncated",
        "object",
        "null",
        "not-a-pair",
        "one-element",
        "three-elements",
        "bindings-not-a-list",
        "aor-not-text",
        "binding-not-a-list",
        "two-fields",
    ],
)
def test_malformed_bindings_payload_is_a_remote_error(payload: bytes, message: str) -> None:
    assert remote_error(payload) == message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"contact": 5}, "expected text, got 5"),
        ({"expires_at": "soon"}, "expected a number, got 'soon'"),
        ({"expires_at": True}, "expected a number, got True"),
        ({"call_id": None}, "expected text, got None"),
        ({"cseq": 1.5}, "expected an integer, got 1.5"),
        ({"cseq": False}, "expected an integer, got False"),
        ({"transport": ["udp"]}, "expected text, got ['udp']"),
        ({"port": "5060"}, "expected an integer, got '5060'"),
        ({"connection_id": "7"}, "expected an integer, got '7'"),
        ({"registered_at": None}, "expected a number, got None"),
        ({"q": "0.5"}, "expected a number, got '0.5'"),
        ({"user_agent": 1}, "expected text, got 1"),
        ({"instance_id": {}}, "expected text, got {}"),
        ({"reg_id": 1.0}, "expected an integer, got 1.0"),
        ({"path": "<sip:edge>"}, "expected a Path list, got '<sip:edge>'"),
        ({"path": ["<sip:edge>", 2]}, "expected text, got 2"),
        ({"temp_gruu": 3}, "expected text, got 3"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_malformed_binding_field_is_a_remote_error(change: dict[str, object], message: str) -> None:
    payload = encode_json([[AOR, [fields(**change)]]])
    assert remote_error(payload) == f"malformed bindings payload: {message}"


@pytest.mark.parametrize("bindings", [b"{}", b'""'])
def test_bindings_that_are_not_a_list_are_a_remote_error(bindings: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_bindings(b'[["sip:8001@xiayi.gov.cn", ' + bindings + b"]]")


# -- JSON ---------------------------------------------------------------------------------


def test_json_is_compact_utf8() -> None:
    assert encode_json({"id": 1, "result": ["融合", None]}) == (
        '{"id":1,"result":["融合",null]}'.encode()
    )
    assert decode_json(b'{"id":1,"result":["\xe8\x9e\x8d\xe5\x90\x88",null]}') == {
        "id": 1,
        "result": ["融合", None],
    }


def test_malformed_json_is_a_remote_error() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        decode_json(b'{"id": 1')
    assert str(caught.value) == (
        "malformed JSON frame: Expecting ',' delimiter: line 1 column 9 (char 8)"
    )
