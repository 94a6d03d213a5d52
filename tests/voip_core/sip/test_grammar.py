"""Lexical helpers, header names, CSeq, status codes, peers and internals.

Modules: ``grammar.py``, ``headers.py``, ``status.py``, ``peer.py``, ``exceptions.py``,
``_syntax.py``, ``_slots.py``, ``_memo.py``.

Covered: RFC 3261 §25.1 token, quoted-string with quoted-pair, %-escapes decoded once
(invalid sequences kept), generic parameters with LWS around ``;`` and ``=``, list
splitting that respects quotes and ``<>`` (§7.3.1), §7.3.3 compact forms and
case-insensitive names, §20.16 CSeq with the §8.1.1.5 bound, §21 reason phrases, and the
error hierarchy of STYLE.md §7. Left out: nothing specific to these helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from voip_core.sip import _memo as memo_module
from voip_core.sip._memo import MAX_KEY_LENGTH, memoised
from voip_core.sip._slots import member_setter, slot_setters
from voip_core.sip._syntax import excerpt, parse_bounded_int, split_validated_params
from voip_core.sip.exceptions import (
    LocalProtocolError,
    ParseError,
    ProtocolError,
    RemoteProtocolError,
    SipError,
    TransactionError,
)
from voip_core.sip.grammar import (
    find_quote_end,
    format_params,
    has_param,
    is_token,
    param_value,
    parse_params,
    quote_string,
    remove_param,
    set_param,
    split_header_list,
    split_outside_quotes,
    unescape_percent,
    unquote_string,
)
from voip_core.sip.headers import CSeq, header_key, parse_cseq, serialize_cseq
from voip_core.sip.peer import Peer
from voip_core.sip.status import StatusCode, reason_phrase


def test_tokens() -> None:
    assert is_token("!interesting-Method0123456789_*+`.%indeed'~")
    assert not is_token("")
    assert not is_token("a b")
    assert not is_token("a@b")


def test_percent_decoding_happens_once_and_keeps_invalid_sequences() -> None:
    assert unescape_percent("plain") == "plain"
    assert unescape_percent("%25%34%31") == "%41"
    assert unescape_percent("null-%00-%E5%A4%8F") == "null-\x00-夏"
    assert unescape_percent("%zz%4") == "%zz%4"
    assert unescape_percent("%ff").encode("utf-8", "surrogateescape") == b"\xff"


def test_quoted_strings() -> None:
    assert quote_string("plain") == '"plain"'
    assert quote_string('a"b\\c') == '"a\\"b\\\\c"'
    assert unquote_string('"a\\"b\\\\c"') == 'a"b\\c'
    assert unquote_string('"BEL:\\\x07"') == "BEL:\x07"
    with pytest.raises(LocalProtocolError, match="^CR or LF in quoted string 'a\\\\nb'$"):
        quote_string("a\nb")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "quoted string expected, got 'abc'"),
        ('"', "quoted string expected, got '\"'"),
        ('"a"b"', 'unescaped quote inside quoted string \'"a"b"\''),
        ('"a\\"b"c"', 'unescaped quote inside quoted string \'"a\\\\"b"c"\''),
        ('"a\\"', "dangling backslash in quoted string '\"a\\\\\"'"),
    ],
)
def test_malformed_quoted_strings(text: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        unquote_string(text)
    assert str(caught.value) == message


def test_find_quote_end() -> None:
    assert find_quote_end('x"a\\"b"y', 1) == 7
    with pytest.raises(ParseError, match="^unterminated quoted string in '\"abc'$"):
        find_quote_end('"abc', 0)


def test_split_header_list() -> None:
    assert split_header_list("a") == ["a"]
    assert split_header_list("  ") == []
    assert split_header_list('"Bell, A" <sip:a@h>, <sip:b@h;x=1,2>, c') == [
        '"Bell, A" <sip:a@h>',
        "<sip:b@h;x=1,2>",
        "c",
    ]
    with pytest.raises(ParseError, match="^empty element in header list 'a,,b'$"):
        split_header_list("a,,b")


def test_split_outside_quotes() -> None:
    assert split_outside_quotes("a;b", ";") == ["a", "b"]
    assert split_outside_quotes('a="x;y";b=[::1;z]', ";") == ['a="x;y"', "b=[::1;z]"]


def test_parameters() -> None:
    assert parse_params("", what="x") == ()
    assert parse_params("a=1;b;C=[::1]", what="x") == (("a", "1"), ("b", None), ("C", "[::1]"))
    assert parse_params('q="x;y";r=1', what="x") == (("q", '"x;y"'), ("r", "1"))
    assert parse_params(' a = 1 ;b = "\\"x" ', what="x") == (("a", "1"), ("b", '"\\"x"'))
    params = (("Tag", "1"), ("lr", None))
    assert param_value(params, "tag") == "1"
    assert param_value(params, "lr") == ""
    assert param_value(params, "x") is None
    assert has_param(params, "LR")
    assert not has_param(params, "x")
    assert set_param(params, "TAG", "2") == (("Tag", "2"), ("lr", None))
    assert set_param((("a", "1"), ("A", "2")), "a", "3") == (("a", "3"),)
    assert set_param(params, "new", None) == (*params, ("new", None))
    assert remove_param(params, "TAG") == (("lr", None),)
    assert format_params(params) == ";Tag=1;lr"
    assert split_validated_params("") == ()
    assert split_validated_params(';a="x;y";b') == (("a", '"x;y"'), ("b", None))


def test_excerpt_and_bounded_int() -> None:
    assert excerpt("abc") == "'abc'"
    assert excerpt("a" * 70, 5) == "'aaaaa'..."
    assert parse_bounded_int("0007", 1) == 7
    assert parse_bounded_int("000", 1) == 0
    assert parse_bounded_int("12", 1) is None
    assert parse_bounded_int("１", 5) is None
    assert parse_bounded_int("", 5) is None


def test_header_keys() -> None:
    assert header_key("v") == "via"
    assert header_key("VIA") == "via"
    assert header_key("Call-ID") == "call-id"
    assert header_key("X-Custom-Header") == "x-custom-header"
    assert header_key("L") == "content-length"


def test_cseq() -> None:
    assert parse_cseq(" 0009\tINVITE ") == CSeq(9, "INVITE")
    assert parse_cseq("2147483647 BYE") == CSeq(2147483647, "BYE")
    assert str(CSeq(4711, "INVITE")) == serialize_cseq(CSeq(4711, "INVITE")) == "4711 INVITE"
    for value, message in [
        ("x INVITE", "malformed CSeq 'x INVITE'"),
        ("1", "malformed CSeq '1'"),
        ("1 IN VITE", "malformed CSeq '1 IN VITE'"),
        ("2147483648 ACK", "CSeq number '2147483648' exceeds 2**31-1"),
        ("00000000001 ACK", None),
    ]:
        if message is None:
            assert parse_cseq(value) == CSeq(1, "ACK")
            continue
        with pytest.raises(ParseError) as caught:
            parse_cseq(value)
        assert str(caught.value) == message


def test_status_codes() -> None:
    assert int(StatusCode.BUSY_HERE) == 486
    assert StatusCode.BUSY_HERE.phrase == "Busy Here"
    assert reason_phrase(404) == "Not Found"
    assert reason_phrase(499) == "Client Error"
    assert reason_phrase(999) == "Unknown"


def test_peer() -> None:
    peer = Peer("tcp", "2001:db8::1", 5060, connection_id=7)
    assert peer.reliable
    assert peer.host_port == "[2001:db8::1]:5060"
    assert str(peer) == "tcp:[2001:db8::1]:5060"
    assert not Peer("udp", "10.0.0.1", 5060).reliable
    assert Peer("udp", "10.0.0.1", 5060).host_port == "10.0.0.1:5060"


def test_error_hierarchy_and_reply_hints() -> None:
    assert issubclass(ParseError, RemoteProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(ProtocolError, SipError)
    assert issubclass(TransactionError, SipError)
    error = ParseError("bad thing", status_code=420, reason="Bad Extension")
    assert (error.status_code, error.reason, str(error)) == (420, "Bad Extension", "bad thing")
    default = ParseError("oops")
    assert (default.status_code, default.reason, default.raw_headers) == (400, "oops", ())
    assert (default.is_request, default.method) == (False, None)


@dataclass(frozen=True, slots=True)
class _Pair:
    first: int
    second: str


class _Plain:
    x = 1


def test_slot_setters_check_the_fields() -> None:
    set_first, set_second = slot_setters(_Pair, ("first", "second"))
    pair = object.__new__(_Pair)
    set_first(pair, 1)
    set_second(pair, "b")
    assert pair == _Pair(1, "b")
    assert hash(pair) == hash(_Pair(1, "b"))
    with pytest.raises(TypeError, match="_Pair fields are"):
        slot_setters(_Pair, ("second", "first"))
    with pytest.raises(TypeError, match=r"^_Plain\.x is not a slot$"):
        member_setter(_Plain, "x")


def test_memoised_parsers_empty_their_cache_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo_module, "MAX_ENTRIES", 2)
    calls: list[str] = []

    @memoised
    def parse(text: str) -> str:
        calls.append(text)
        return text

    for text in ("a", "b", "c", "a"):
        parse(text)
    assert calls == ["a", "b", "c", "a"]  # "a" was dropped when "c" arrived
    parse("c")
    assert calls == ["a", "b", "c", "a"]


def test_memoised_parsers_skip_long_texts() -> None:
    calls: list[str] = []

    @memoised
    def parse(text: str) -> str:
        """Doc."""
        calls.append(text)
        return text.upper()

    assert parse("a") == parse("a") == "A"
    long = "b" * (MAX_KEY_LENGTH + 1)
    assert parse(long) == parse(long)
    assert calls == ["a", long, long]
    assert parse.__doc__ == "Doc."
