"""RFC 3261 §16.3 request validation (and the §8.2.2 checks for requests to ourselves).

Theory of operation: :func:`validate_request` applies steps 1-5 to every request the
proxy receives, in the RFC's order, and either raises the error that becomes the reply
(505, 416, 483, 482, 420) or says what the request may do next
(:class:`Validation`). Step 1 (reasonable syntax) was the parser's. Step 6 (credentials
in Proxy-Authorization) is :meth:`~voip_core.proxy.request_handler.RequestHandler`'s
``_authorize`` step, after route pre-processing (§16.4): an in-dialog request routed
through us and a CANCEL need none, and only then is it known which one a request is.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from voip_core.proxy.config import ProxyConfig
from voip_core.proxy.forwarding import check_loop
from voip_core.sip.exceptions import RemoteProtocolError
from voip_core.sip.message import Request
from voip_core.sip.uri import AbsoluteUri

__all__ = ["SUPPORTED_SCHEMES", "BadExtension", "Validation", "check_require", "validate_request"]

#: Request-URI schemes we route (§16.3 step 2): SIP, SIPS and TEL numbers.
SUPPORTED_SCHEMES: Final = frozenset({"sip", "sips", "tel"})


class Validation(Enum):
    """What a request that passed §16.3 may do."""

    PROCEED = "proceed"
    """Go on to route pre-processing (§16.4) and beyond."""
    ANSWER_OPTIONS = "answer-options"
    """An out-of-dialog OPTIONS at Max-Forwards 0: the proxy answers it as a UAS (step 3)."""


def validate_request(request: Request, config: ProxyConfig) -> Validation:
    """Apply §16.3 steps 1-5 to ``request`` as received; raise with the reply code."""
    if request.version != "SIP/2.0":
        # §8.2 / §21.5.25: we speak only SIP/2.0.
        raise RemoteProtocolError(
            f"SIP version {request.version} not supported",
            status_code=505,
            reason="Version Not Supported",
        )
    # Step 2: the Request-URI scheme.
    if isinstance(request.uri, AbsoluteUri) or request.uri.scheme not in SUPPORTED_SCHEMES:
        raise RemoteProtocolError(
            f"Request-URI scheme {request.uri.scheme!r} not supported",
            status_code=416,
            reason="Unsupported URI Scheme",
        )
    # Step 3: Max-Forwards, read as a number (``00`` is 0). A request at 0 must not be
    # forwarded; an OPTIONS may be answered by us as its final recipient (§11). One inside
    # a dialog probes the far end, which we are not: it gets 483 like any other.
    answer_options = False
    if request.max_forwards() == 0:
        if request.method != "OPTIONS" or request.to().tag is not None:
            raise RemoteProtocolError(
                "Max-Forwards reached 0", status_code=483, reason="Too Many Hops"
            )
        answer_options = True
    # Step 4: loop detection, over the request as received (§16.6 step 8 hashes the same).
    check_loop(request, config)
    # Step 5: Proxy-Require.
    unsupported = [
        tag
        for tag in request.header_values("proxy-require")
        if tag.lower() not in config.proxy_supported
    ]
    if unsupported:
        raise BadExtension(unsupported)
    return Validation.ANSWER_OPTIONS if answer_options else Validation.PROCEED


def check_require(request: Request, *, supported: frozenset[str]) -> None:
    """§8.2.2.3: a request we answer as UAS must not require extensions we lack (420)."""
    unsupported = [tag for tag in request.header_values("require") if tag.lower() not in supported]
    if unsupported:
        raise BadExtension(unsupported)


class BadExtension(RemoteProtocolError):
    """420 Bad Extension; ``unsupported`` goes into the Unsupported header."""

    def __init__(self, unsupported: list[str]) -> None:
        super().__init__(
            f"unsupported extension {', '.join(unsupported)}",
            status_code=420,
            reason="Bad Extension",
        )
        self.unsupported = tuple(unsupported)
