"""Which worker owns a message, from raw bytes: ``voip_core/cluster/sharding.py``.

Covered: every request but REGISTER, and every response whose CSeq method is not
REGISTER, keyed by Call-ID (RFC 3261 §17.1.3, §9.1, §12: what a transaction, its
CANCEL and ACK and a dialog share), long and compact (``i:``) forms, any case, spaces
before the colon; REGISTER and responses with CSeq REGISTER keyed by the user part of
the To URI (RFC 3261 §10.2), long and compact (``t:``) forms, with a display name, a
tag, ``sips:`` and ``tel:``; a REGISTER's retransmission and its authenticated retry
(new CSeq, Authorization) land on the same worker, and so do its 401 and 200; no key
(no Call-ID, empty Call-ID, REGISTER without To) gives ``None``; LF-only line endings;
keys found only in the header block, never in the body or past the scanned 64 KiB;
headers that merely look alike (``Call-Info``, ``In-Reply-To``, ``Timestamp``); the
hash itself (CRC-32 modulo the number of workers) and its spread; global connection ids
``k * workers + index``.

Left out: folded (multi-line) Call-ID and To headers (RFC 3261 §7.3.1 allows them, no
phone we know sends them; such a message is keyed by the first line only).
"""

from __future__ import annotations

import zlib
from collections import Counter
from itertools import islice

import pytest

from voip_core.cluster import sharding
from voip_core.cluster.sharding import (
    ConnectionIds,
    connection_owner,
    message_owner,
    shard_key,
)

CALL_ID = "a84b4c76e66710@pc33.atlanta.com"
DOMAIN = "xiayi.gov.cn"


def invite(
    *,
    call_id_line: str | None = f"Call-ID: {CALL_ID}",
    body: bytes = b"",
    newline: bytes = b"\r\n",
    extra: tuple[str, ...] = (),
) -> bytes:
    """An INVITE with the given Call-ID header line (``None``: no Call-ID)."""
    lines = [
        f"INVITE sip:8002@{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK776asdhds",
        "Max-Forwards: 70",
        f"To: <sip:8002@{DOMAIN}>",
        f"From: <sip:8001@{DOMAIN}>;tag=1928301774",
        *extra,
    ]
    if call_id_line is not None:
        lines.append(call_id_line)
    lines += ["CSeq: 314159 INVITE", f"Content-Length: {len(body)}"]
    head = newline.join(line.encode() for line in lines)
    return head + newline + newline + body


def register(
    *,
    to_line: str | None = f"To: <sip:8001@{DOMAIN}>",
    cseq: int = 1,
    call_id: str = "reg-1@10.1.2.3",
    authorization: str | None = None,
    newline: bytes = b"\r\n",
    extra: tuple[str, ...] = (),
) -> bytes:
    """A REGISTER for 8001 with the given To header line (``None``: no To)."""
    lines = [
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        f"Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK-reg{cseq}",
        "Max-Forwards: 70",
        f"From: <sip:8001@{DOMAIN}>;tag=from1",
        *extra,
    ]
    if to_line is not None:
        lines.append(to_line)
    lines += [f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER"]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    lines += ["Contact: <sip:8001@10.1.2.3:5060>", "Content-Length: 0"]
    return newline.join(line.encode() for line in lines) + newline + newline


def response(status: str, cseq_line: str, *, to_line: str, call_id: str = CALL_ID) -> bytes:
    lines = [
        f"SIP/2.0 {status}",
        "Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK776asdhds",
        to_line,
        f"From: <sip:8001@{DOMAIN}>;tag=from1",
        f"Call-ID: {call_id}",
        cseq_line,
        "Content-Length: 0",
    ]
    return "\r\n".join(lines).encode() + b"\r\n\r\n"


# -- Call-ID ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        f"Call-ID: {CALL_ID}",
        f"call-id: {CALL_ID}",
        f"CALL-ID: {CALL_ID}",
        f"Call-Id:{CALL_ID}",
        f"Call-ID \t: \t{CALL_ID}   ",
        f"i: {CALL_ID}",
        f"I:{CALL_ID}",
        f"i : {CALL_ID}",
    ],
)
def test_call_id_spellings_give_one_key(line: str) -> None:
    assert shard_key(invite(call_id_line=line)) == f"call-id:{CALL_ID}".encode()


def test_call_id_value_is_kept_verbatim_apart_from_surrounding_whitespace() -> None:
    # RFC 3261 §8.1.1.4: Call-IDs compare case-sensitively, so the case is kept.
    assert shard_key(invite(call_id_line="Call-ID: AbC-12@Host")) == b"call-id:AbC-12@Host"


def test_message_owner_is_crc32_of_the_key_modulo_workers() -> None:
    key = f"call-id:{CALL_ID}".encode()
    assert zlib.crc32(key) == 2998346218
    assert [message_owner(invite(), workers) for workers in (1, 2, 3, 4, 5)] == [
        0,
        2998346218 % 2,
        2998346218 % 3,
        2998346218 % 4,
        2998346218 % 5,
    ]


def test_every_request_of_a_call_has_the_owner_of_its_invite() -> None:
    ack = invite().replace(b"INVITE sip:", b"ACK sip:", 1).replace(b"314159 INVITE", b"314159 ACK")
    cancel = invite().replace(b"INVITE sip:", b"CANCEL sip:", 1)
    cancel = cancel.replace(b"314159 INVITE", b"314159 CANCEL")
    bye = invite().replace(b"INVITE sip:", b"BYE sip:", 1).replace(b"314159 INVITE", b"314160 BYE")
    ringing = response("180 Ringing", "CSeq: 314159 INVITE", to_line="To: <sip:8002@h>;tag=9")
    for workers in (2, 3, 4, 7):
        owner = message_owner(invite(), workers)
        assert [message_owner(m, workers) for m in (ack, cancel, bye, ringing)] == [owner] * 4


def test_response_to_an_invite_is_keyed_by_call_id_not_to() -> None:
    ok = response("200 OK", "CSeq: 314159 INVITE", to_line=f"To: <sip:8001@{DOMAIN}>;tag=a")
    assert shard_key(ok) == f"call-id:{CALL_ID}".encode()


def test_lf_only_line_endings_give_the_crlf_key() -> None:
    assert shard_key(invite(newline=b"\n")) == f"call-id:{CALL_ID}".encode()
    assert shard_key(register(newline=b"\n")) == b"to:8001"
    assert shard_key(invite(call_id_line=None, newline=b"\n")) is None


@pytest.mark.parametrize(
    "line",
    [None, "Call-ID:", "Call-ID:    ", "i: \t"],
    ids=["missing", "empty", "blank", "compact-blank"],
)
def test_message_without_a_call_id_has_no_owner(line: str | None) -> None:
    data = invite(call_id_line=line)
    assert shard_key(data) is None
    assert message_owner(data, 4) is None


def test_lookalike_headers_are_not_taken_for_call_id() -> None:
    data = invite(
        call_id_line=None,
        extra=("Call-Info: <http://xiayi.gov.cn/a.png>;purpose=icon", "In-Reply-To: old@host"),
    )
    assert shard_key(data) is None


def test_call_id_in_the_body_is_not_used() -> None:
    body = b"Call-ID: smuggled@body\r\ni: smuggled@body\r\n"
    assert shard_key(invite(call_id_line=None, body=body)) is None
    assert shard_key(invite(body=body)) == f"call-id:{CALL_ID}".encode()
    assert shard_key(invite(call_id_line=None, body=body.replace(b"\r", b""), newline=b"\n")) is (
        None
    )


def test_call_id_in_the_body_of_an_lf_only_message_is_not_used() -> None:
    body = b"Call-ID: smuggled@body\r\n\r\n"
    assert shard_key(invite(call_id_line=None, body=body, newline=b"\n")) is None


def test_call_id_past_the_scanned_header_block_is_not_used() -> None:
    padding = "X-Padding: " + "p" * sharding._MAX_SCAN
    assert shard_key(invite(extra=(padding,))) is None
    assert shard_key(invite(extra=("X-Padding: " + "p" * 60_000,))) == (
        f"call-id:{CALL_ID}".encode()
    )


def test_method_that_only_starts_with_register_is_keyed_by_call_id() -> None:
    data = invite().replace(b"INVITE sip:", b"REGISTERED sip:", 1)
    assert shard_key(data) == f"call-id:{CALL_ID}".encode()


# -- REGISTER -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (f"To: <sip:8001@{DOMAIN}>", b"to:8001"),
        (f"to: <sip:8001@{DOMAIN}>", b"to:8001"),
        (f"TO:<sip:8001@{DOMAIN}>", b"to:8001"),
        (f"t: <sip:8001@{DOMAIN}>", b"to:8001"),
        (f"T : <sip:8001@{DOMAIN}>", b"to:8001"),
        (f"To: sip:8001@{DOMAIN}", b"to:8001"),
        (f'To: "Zhang Wei" <sip:8001@{DOMAIN}>', b"to:8001"),
        (f"To: <sips:8001@{DOMAIN}:5061;transport=tls>", b"to:8001"),
        (f"To: <SIP:8001@{DOMAIN}>", b"to:8001"),
        (f"To: <sip:8001@{DOMAIN}>;tag=4fa3", b"to:8001"),
        ("To: <tel:+86-10-5555-8001>", b"to:+86-10-5555-8001"),
        (f"To: <sip:{DOMAIN}>", b"to:xiayi.gov.cn"),
        ("To:   <urn:service:sos>  ", b"to:<urn:service:sos>"),
    ],
)
def test_register_is_keyed_by_the_to_user(line: str, key: bytes) -> None:
    assert shard_key(register(to_line=line)) == key


def test_register_key_ignores_call_id_and_host() -> None:
    other_phone = register(call_id="another-device@10.9.9.9", to_line="To: <sip:8001@other.cn>")
    assert shard_key(other_phone) == shard_key(register()) == b"to:8001"


def test_register_retransmission_and_authenticated_retry_share_the_owner() -> None:
    first = register(cseq=1)
    retransmission = register(cseq=1)
    retry = register(
        cseq=2,
        authorization=(
            f'Digest username="8001", realm="{DOMAIN}", nonce="n0nce", '
            f'uri="sip:{DOMAIN}", response="6629fae49393a05397450978507c4ef1"'
        ),
    )
    challenge = response(
        "401 Unauthorized",
        "CSeq: 1 REGISTER",
        to_line=f"To: <sip:8001@{DOMAIN}>;tag=reg401",
        call_id="reg-1@10.1.2.3",
    )
    ok = response(
        "200 OK",
        "cseq: 2 register",
        to_line=f"t: <sip:8001@{DOMAIN}>;tag=reg200",
        call_id="reg-1@10.1.2.3",
    )
    for workers in (2, 3, 4, 8):
        owner = zlib.crc32(b"to:8001") % workers
        owners = [message_owner(m, workers) for m in (first, retransmission, retry, challenge, ok)]
        assert owners == [owner] * 5


def test_responses_whose_cseq_is_register_are_keyed_by_to() -> None:
    ok = response("200 OK", "CSeq: 7 REGISTER", to_line=f"To: <sip:8001@{DOMAIN}>;tag=x")
    assert shard_key(ok) == b"to:8001"
    lower = response("200 OK", "CSeq:7\tregister", to_line=f"To: <sip:8001@{DOMAIN}>;tag=x")
    assert shard_key(lower) == b"to:8001"


def test_response_without_cseq_is_keyed_by_call_id() -> None:
    data = response("200 OK", "X-No-CSeq: 1", to_line=f"To: <sip:8001@{DOMAIN}>")
    assert shard_key(data) == f"call-id:{CALL_ID}".encode()


def test_register_without_to_has_no_owner() -> None:
    data = register(to_line=None)
    assert shard_key(data) is None
    assert message_owner(data, 3) is None
    no_to = response("200 OK", "CSeq: 7 REGISTER", to_line="X-Nothing: here")
    assert shard_key(no_to) is None


def test_lookalike_headers_are_not_taken_for_to() -> None:
    data = register(to_line=None, extra=("Timestamp: 54", "Tag-Like: <sip:9999@h>"))
    assert shard_key(data) is None
    first = register(extra=("Timestamp: 54",))
    assert shard_key(first) == b"to:8001"


def test_to_in_the_body_of_a_register_is_not_used() -> None:
    data = register(to_line=None) + b"To: <sip:9999@smuggled>\r\n"
    assert shard_key(data) is None


def test_register_display_name_that_looks_like_a_uri_is_ignored() -> None:
    assert shard_key(register(to_line=f'To: "sip:bob" <sip:8001@{DOMAIN}>')) == b"to:8001"


# -- spread -------------------------------------------------------------------------------


def test_call_ids_spread_over_the_workers() -> None:
    owners = Counter(
        message_owner(invite(call_id_line=f"Call-ID: {n}-8f3c@10.1.2.3"), 4) for n in range(2000)
    )
    assert set(owners) == {0, 1, 2, 3}
    assert all(400 <= owners[worker] <= 600 for worker in range(4)), owners


def test_one_worker_owns_everything_keyed() -> None:
    assert message_owner(invite(), 1) == 0
    assert message_owner(register(), 1) == 0
    assert message_owner(invite(call_id_line=None), 1) is None


# -- connection ids -----------------------------------------------------------------------


def test_connection_ids_are_k_times_workers_plus_index() -> None:
    assert list(islice(ConnectionIds(1, 3), 4)) == [4, 7, 10, 13]
    assert list(islice(ConnectionIds(0, 3), 3)) == [3, 6, 9]
    assert list(islice(ConnectionIds(2, 3), 3)) == [5, 8, 11]


def test_single_worker_connection_ids_count_from_one() -> None:
    assert list(islice(ConnectionIds(), 4)) == [1, 2, 3, 4]


def test_connection_ids_iterate_themselves() -> None:
    ids = ConnectionIds(1, 2)
    assert iter(ids) is ids
    assert next(ids) == 3
    assert next(ids) == 5


def test_connection_owner_is_the_issuing_worker() -> None:
    for index in range(5):
        ids = ConnectionIds(index, 5)
        assert {connection_owner(next(ids), 5) for _ in range(20)} == {index}
    assert connection_owner(7, 3) == 1
    assert connection_owner(7, 1) == 0


@pytest.mark.parametrize(
    ("index", "workers", "message"),
    [
        (3, 3, "worker index 3 outside 0..2"),
        (-1, 2, "worker index -1 outside 0..1"),
        (0, 0, "worker index 0 outside 0..-1"),
    ],
)
def test_connection_ids_refuse_an_index_outside_the_workers(
    index: int, workers: int, message: str
) -> None:
    with pytest.raises(ValueError, match="outside") as caught:
        ConnectionIds(index, workers)
    assert str(caught.value) == message


def test_escaped_and_plain_user_of_one_aor_have_one_owner() -> None:
    plain = b"REGISTER sip:h SIP/2.0\r\nTo: <sip:8001@h>\r\nCall-ID: a\r\n\r\n"
    escaped = b"REGISTER sip:h SIP/2.0\r\nTo: <sip:%38001@h>\r\nCall-ID: b\r\n\r\n"
    assert shard_key(plain) == shard_key(escaped) == b"to:8001"
