"""RFC 3261 §16.3 request validation.

Covers: step 2 (416 for unknown schemes), step 3 (483 at Max-Forwards 0 however it is
written, an out-of-dialog OPTIONS answered by us instead, one inside a dialog 483),
step 5 (420 with the unsupported Proxy-Require tags), §8.2.2.3 Require for our own UAS
role, and 505 for other SIP versions. Leaves out: step 4 loop detection (test_forwarding,
test_core) and step 6 credentials (the proxy's ``_authorize``, test_core).
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.voip_core.proxy.conftest import build_request
from voip_core.proxy.config import ListenAddress, ProxyConfig
from voip_core.proxy.validation import BadExtension, Validation, check_require, validate_request
from voip_core.sip.exceptions import RemoteProtocolError
from voip_core.sip.uri import AbsoluteUri

CONFIG = ProxyConfig(domain="county.gov.cn", listen=(ListenAddress("udp", "10.0.0.1", 5060),))


def test_valid_request_passes() -> None:
    assert validate_request(build_request(), CONFIG) is Validation.PROCEED


def test_unknown_scheme_is_416() -> None:
    request = dataclasses.replace(build_request(), uri=AbsoluteUri("isbn", "2983792873"))
    with pytest.raises(RemoteProtocolError) as caught:
        validate_request(request, CONFIG)
    assert caught.value.status_code == 416
    assert str(caught.value) == "Request-URI scheme 'isbn' not supported"


@pytest.mark.parametrize("max_forwards", ["0", "00", "000"])
def test_max_forwards_zero_is_483(max_forwards: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        validate_request(build_request(max_forwards=max_forwards), CONFIG)
    assert caught.value.status_code == 483
    assert caught.value.reason == "Too Many Hops"
    assert str(caught.value) == "Max-Forwards reached 0"


@pytest.mark.parametrize("max_forwards", ["0", "00"])
def test_options_with_max_forwards_zero_is_answered_not_refused(max_forwards: str) -> None:
    request = build_request("OPTIONS", max_forwards=max_forwards)
    assert validate_request(request, CONFIG) is Validation.ANSWER_OPTIONS


def test_in_dialog_options_with_max_forwards_zero_is_483() -> None:
    request = build_request("OPTIONS", max_forwards="00", to_tag="callee")
    with pytest.raises(RemoteProtocolError) as caught:
        validate_request(request, CONFIG)
    assert caught.value.status_code == 483


@pytest.mark.parametrize("max_forwards", ["01", "1", None])
def test_max_forwards_above_zero_or_absent_proceeds(max_forwards: str | None) -> None:
    request = build_request("OPTIONS", max_forwards=max_forwards)
    assert validate_request(request, CONFIG) is Validation.PROCEED


def test_unsupported_proxy_require_is_420_listing_tags() -> None:
    request = build_request(extra="Proxy-Require: foo, Bar")
    config = dataclasses.replace(CONFIG, proxy_supported=frozenset({"bar"}))
    with pytest.raises(BadExtension) as caught:
        validate_request(request, config)
    assert caught.value.status_code == 420
    assert caught.value.unsupported == ("foo",)


def test_require_checked_for_uas_role() -> None:
    request = build_request("OPTIONS", extra="Require: gruu, nothingSupportsThis")
    with pytest.raises(BadExtension) as caught:
        check_require(request, supported=frozenset({"gruu"}))
    assert str(caught.value) == "unsupported extension nothingSupportsThis"


def test_other_sip_version_is_505() -> None:
    request = dataclasses.replace(build_request(), version="SIP/7.0")
    with pytest.raises(RemoteProtocolError) as caught:
        validate_request(request, CONFIG)
    assert caught.value.status_code == 505
