"""Transaction keys: how messages are matched to transactions (RFC 3261 §17.1.3, §17.2.3).

A client transaction is found by the branch of the top Via of a response and the method of
its CSeq (§17.1.3); the method tells a CANCEL, which reuses the INVITE's branch (§9.1),
from the INVITE it cancels.

A server transaction is found by the branch and sent-by of the request's top Via and the
request method, with ACK counted as INVITE so that it reaches the INVITE transaction it
acknowledges (§17.2.3). A CANCEL keeps its own method and therefore never matches the
INVITE; :func:`voip_core.transaction.TransactionLayer.find_invite_server` applies the
§9.2 rule that looks the INVITE up on purpose.

Requests from RFC 2543 elements carry no ``z9hG4bK`` branch. For them the ``branch`` field
of the key holds a *legacy token* built from the fields §17.2.3 compares instead: the
Request-URI, the To tag, the From tag, the Call-ID, the CSeq number and the whole top Via
(the method is the key's own field). A legacy token cannot equal a real branch because it
never starts with the magic cookie.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final, NamedTuple

from voip_core.sip.message import Request
from voip_core.sip.uri import serialize_uri
from voip_core.sip.via import MAGIC_COOKIE, Via, serialize_via

__all__ = ["BRANCH_RANDOM_BYTES", "ClientKey", "ServerKey", "new_branch"]

#: Random bytes in a branch made by :func:`new_branch`: 96 bits keep collisions among the
#: few hundred thousand live transactions of a busy proxy out of reach (§8.1.1.7 asks for
#: branches unique across space and time).
BRANCH_RANDOM_BYTES: Final = 12

# Separates the fields of a legacy token; cannot occur in parsed header text.
_LEGACY_SEPARATOR: Final = "\x00"


class ClientKey(NamedTuple):
    """Identifies a client transaction (§17.1.3)."""

    branch: str
    """Branch of the top Via the TU put on the request."""
    method: str
    """Method of the request (``INVITE``, ``CANCEL``, ``BYE``...)."""


class ServerKey(NamedTuple):
    """Identifies a server transaction (§17.2.3)."""

    branch: str
    """Top Via branch, or a legacy token for RFC 2543 requests (see the module docstring)."""
    sent_by: str
    """Top Via sent-by, host lower-cased, ``host[:port]``."""
    method: str
    """Request method; an ACK is looked up under ``INVITE``."""

    @property
    def is_legacy(self) -> bool:
        """Whether the key was built with the RFC 2543 fallback rules."""
        return not self.branch.startswith(MAGIC_COOKIE)


def new_branch(randbytes: Callable[[int], bytes] = os.urandom) -> str:
    """A fresh RFC 3261 branch: the magic cookie and 96 random bits in hex (§8.1.1.7).

    ``randbytes`` is the random source; tests pass a seeded one.
    """
    return MAGIC_COOKIE + randbytes(BRANCH_RANDOM_BYTES).hex()


def legacy_token(request: Request, via: Via, to_tag: str | None) -> str:
    """The RFC 2543 matching fields of ``request`` as one string (§17.2.3).

    ``to_tag`` is passed separately because an ACK is matched against the To tag of the
    response the server transaction sent, not the one of the INVITE.
    """
    cseq = request.cseq()
    return _LEGACY_SEPARATOR.join(
        (
            serialize_uri(request.uri),
            to_tag or "",
            request.from_().tag or "",
            request.call_id,
            str(cseq.number),
            serialize_via(via),
        )
    )


def server_key(request: Request, via: Via, method: str) -> ServerKey:
    """The key under which ``request`` is looked up, for transaction method ``method``."""
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        return ServerKey(branch, via.sent_by, method)
    return ServerKey(legacy_token(request, via, request.to().tag), via.sent_by, method)
