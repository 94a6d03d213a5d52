"""The sans-IO SIP message layer: URIs, addresses, headers, messages, parser, SDP.

Everything here is pure: it takes bytes and values and returns values, never doing I/O
(style guide §2). The names below are the public API; modules whose names start with an
underscore are internal. ``digest`` (RFC 7616 authentication) is imported from its
own package.
"""

from __future__ import annotations

from voip_core.sip.address import (
    NameAddress,
    check_name_addr,
    parse_name_addr,
    serialize_name_addr,
)
from voip_core.sip.exceptions import (
    LocalProtocolError,
    ParseError,
    ProtocolError,
    RemoteProtocolError,
    SipError,
    TransactionError,
)
from voip_core.sip.framer import (
    MAX_MESSAGE_SIZE,
    StreamFramer,
)
from voip_core.sip.grammar import (
    TOKEN_RE,
    Params,
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
from voip_core.sip.headers import (
    CANONICAL_NAMES,
    COMPACT_FORMS,
    KNOWN_HEADER_KEYS,
    LIST_HEADERS,
    MAX_CSEQ,
    SINGLE_HEADERS,
    CSeq,
    Header,
    header_key,
    make_header,
    parse_cseq,
    serialize_cseq,
)
from voip_core.sip.host import (
    build_host_port,
    check_ipv6,
    format_host,
    parse_host_port,
)
from voip_core.sip.message import (
    SIP_VERSION,
    Message,
    Request,
    Response,
    format_via,
    make_response,
)
from voip_core.sip.parser import (
    MAX_HEADERS,
    REGISTERED_METHODS,
    parse_message,
)
from voip_core.sip.peer import (
    RELIABLE_TRANSPORTS,
    Peer,
)
from voip_core.sip.reply import (
    MAX_REASON_LENGTH,
    make_error_response,
    reason_for,
)
from voip_core.sip.sdp import (
    Connection,
    MediaDescription,
    Origin,
    SdpLine,
    SessionDescription,
    parse_connection,
    parse_origin,
    parse_sdp,
    serialize_sdp,
)
from voip_core.sip.status import (
    StatusCode,
    reason_phrase,
)
from voip_core.sip.uri import (
    AbsoluteUri,
    SipUri,
    TelUri,
    Uri,
    parse_uri,
    serialize_uri,
    uri_equal,
)
from voip_core.sip.via import (
    MAGIC_COOKIE,
    Via,
    parse_via,
    serialize_via,
)

__all__ = [
    "AbsoluteUri",
    "CANONICAL_NAMES",
    "COMPACT_FORMS",
    "CSeq",
    "Connection",
    "Header",
    "KNOWN_HEADER_KEYS",
    "LIST_HEADERS",
    "LocalProtocolError",
    "MAGIC_COOKIE",
    "MAX_CSEQ",
    "MAX_HEADERS",
    "MAX_MESSAGE_SIZE",
    "MAX_REASON_LENGTH",
    "MediaDescription",
    "Message",
    "NameAddress",
    "Origin",
    "Params",
    "ParseError",
    "Peer",
    "ProtocolError",
    "REGISTERED_METHODS",
    "RELIABLE_TRANSPORTS",
    "RemoteProtocolError",
    "Request",
    "Response",
    "SINGLE_HEADERS",
    "SIP_VERSION",
    "SdpLine",
    "SessionDescription",
    "SipError",
    "SipUri",
    "StatusCode",
    "StreamFramer",
    "TOKEN_RE",
    "TelUri",
    "TransactionError",
    "Uri",
    "Via",
    "build_host_port",
    "check_ipv6",
    "check_name_addr",
    "find_quote_end",
    "format_host",
    "format_params",
    "format_via",
    "has_param",
    "header_key",
    "is_token",
    "make_error_response",
    "make_header",
    "make_response",
    "param_value",
    "parse_connection",
    "parse_cseq",
    "parse_host_port",
    "parse_message",
    "parse_name_addr",
    "parse_origin",
    "parse_params",
    "parse_sdp",
    "parse_uri",
    "parse_via",
    "quote_string",
    "reason_for",
    "reason_phrase",
    "remove_param",
    "serialize_cseq",
    "serialize_name_addr",
    "serialize_sdp",
    "serialize_uri",
    "serialize_via",
    "set_param",
    "split_header_list",
    "split_outside_quotes",
    "unescape_percent",
    "unquote_string",
    "uri_equal",
]
