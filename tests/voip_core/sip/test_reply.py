"""Replies to malformed requests: ``voip_core/sip/reply.py``.

Covered: RFC 3261 §8.2.6.2 (Via, From, To, Call-ID, CSeq copied verbatim and in order,
To tag added: given or derived the same for every retransmission), §17.1.1.3 (no reply
to ACK), §18.3 and RFC 4475 §3.1.2 (no reply without a usable Via, or to a response),
the status code from the error (400, 501, 513), and the one-line reason phrase
(standard phrase plus what was wrong, control characters removed, at most 120
characters).
Left out: where the reply is sent (the adapter uses the source address).
"""

from __future__ import annotations

import pytest

from voip_core.sip.exceptions import ParseError
from voip_core.sip.headers import Header
from voip_core.sip.parser import parse_message
from voip_core.sip.reply import MAX_REASON_LENGTH, make_error_response, reason_for

REQUEST = (
    "INVITE sip:8002@xiayi.gov.cn SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
    "From: <sip:8001@xiayi.gov.cn>;tag=f\r\n"
    "To: <sip:8002@xiayi.gov.cn>\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Length: 0\r\n\r\n"
)


def error_of(text: str) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_message(text.encode())
    return caught.value


def test_reply_copies_the_identifying_headers() -> None:
    error = error_of(REQUEST.replace("CSeq: 1 INVITE", "CSeq: 1x INVITE"))
    reply = make_error_response(error)
    assert reply is not None
    assert reply.status_code == 400
    assert reply.reason == "Bad Request (malformed CSeq '1x INVITE')"
    assert [h.key for h in reply.headers] == ["via", "via", "from", "to", "call-id", "cseq"]
    assert reply.header("cseq") == "1x INVITE"  # verbatim, even though it is the fault
    tag = reply.to().tag
    assert tag is not None
    again = make_error_response(error_of(REQUEST.replace("CSeq: 1 INVITE", "CSeq: 1x INVITE")))
    assert again is not None
    assert again.to().tag == tag  # same request, same tag
    assert bytes(reply).startswith(b"SIP/2.0 400 Bad Request (malformed CSeq '1x INVITE')\r\n")


def test_given_to_tag_and_existing_tag() -> None:
    error = error_of(REQUEST.replace("Max-Forwards: 70", "Max-Forwards: 300"))
    reply = make_error_response(error, to_tag="abc")
    assert reply is not None
    assert reply.to().tag == "abc"
    tagged = error_of(
        REQUEST.replace("<sip:8002@xiayi.gov.cn>\r\n", "<sip:8002@xiayi.gov.cn>;tag=t\r\n").replace(
            "Max-Forwards: 70", "Max-Forwards: 300"
        )
    )
    reply = make_error_response(tagged, to_tag="abc")
    assert reply is not None
    assert reply.to().tag == "t"


def test_malformed_to_is_copied_as_received() -> None:
    error = error_of(REQUEST.replace("To: <sip:8002@xiayi.gov.cn>", "To: <sip:8002@xiayi.gov.cn"))
    reply = make_error_response(error)
    assert reply is not None
    assert reply.header("to") == "<sip:8002@xiayi.gov.cn"


def test_status_code_comes_from_the_error() -> None:
    mismatch = error_of(REQUEST.replace("INVITE sip", "NEWMETHOD sip"))
    reply = make_error_response(mismatch)
    assert reply is not None
    assert (reply.status_code, reply.reason) == (
        501,
        "Not Implemented (CSeq method INVITE does not match request method NEWMETHOD)",
    )
    odd = ParseError("odd", status_code=200)
    odd.raw_headers = (
        Header("via", "Via", "SIP/2.0/UDP h"),
        Header("from", "From", "<sip:a@h>;tag=1"),
        Header("to", "To", "<sip:b@h>"),
        Header("call-id", "Call-ID", "c1"),
        Header("cseq", "CSeq", "1 OPTIONS"),
    )
    odd.is_request = True
    reply = make_error_response(odd)
    assert reply is not None
    assert reply.status_code == 400


def test_a_request_without_from_to_call_id_or_cseq_gets_no_reply() -> None:
    bare = ParseError("missing From header")
    bare.raw_headers = (Header("via", "Via", "SIP/2.0/UDP h;branch=z9hG4bK1"),)
    bare.is_request = True
    assert make_error_response(bare) is None


def test_a_via_with_broken_parameters_is_still_usable() -> None:
    error = error_of(REQUEST.replace(";branch=z9hG4bK2", ";;,;,,"))
    reply = make_error_response(error)
    assert reply is not None
    assert reply.header_lines("via")[0] == "SIP/2.0/UDP 10.0.0.2;;,;,,"


@pytest.mark.parametrize(
    "text",
    [
        "".join(line for line in REQUEST.splitlines(keepends=True) if "Via" not in line).replace(
            "Max-Forwards: 70", "Max-Forwards: 300"
        ),
        REQUEST.replace("SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2", "garbage").replace(
            "CSeq: 1", "CSeq: x"
        ),
        REQUEST.replace("INVITE sip", "ACK sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace("Max-Forwards: 70", "Max-Forwards: 300"),
        REQUEST.replace("INVITE sip:8002@xiayi.gov.cn SIP/2.0", "SIP/2.0 999 Odd"),
    ],
    ids=["no-via", "unusable-via", "ack", "response"],
)
def test_no_reply_when_none_can_be_formed(text: str) -> None:
    assert make_error_response(error_of(text)) is None


def test_reason_phrase_is_one_short_clean_line() -> None:
    assert reason_for(400, "") == "Bad Request"
    assert reason_for(400, "a\r\nb\x00c\x7fd\udcff") == "Bad Request (a b c d)"
    long = reason_for(400, "x" * 500)
    assert len(long) == MAX_REASON_LENGTH
    assert long.endswith("...)")
    assert reason_for(603, "会议室 已满") == "Decline (会议室 已满)"
    error = error_of(REQUEST.replace("Call-ID: c1", "Call-ID: " + "a b" * 100))
    reply = make_error_response(error)
    assert reply is not None
    assert len(reply.reason) <= MAX_REASON_LENGTH
    assert "\r" not in bytes(reply).split(b"\r\n")[0].decode()
