"""A plain-socket SIP client over UDP, for what no softphone sends on request.

Covers: sending any bytes to the server (broken messages included), out-of-dialog
requests built from a few fields (OPTIONS keep-alives), reading the responses that
come back parsed by the project's parser, and a digest-authenticated REGISTER that
binds an arbitrary Contact to an extension (so that SIPp's built-in ``uas``, which
never registers, can be reached through the proxy). Not covered: TCP, dialogs,
retransmissions (loopback loses nothing).

Usage::

    with RawSip(server.sip_host, server.sip_port) as raw:
        assert raw.request("OPTIONS", f"sip:{server.sip_address}").status_code == 200
        raw.register(server.domain, "8201", "pw-8201", contact="sip:8201@127.0.0.1:5099")
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Sequence

from voip_core.sip.digest import build_authorization, parse_challenge
from voip_core.sip.exceptions import ParseError
from voip_core.sip.message import Response
from voip_core.sip.parser import parse_message

__all__ = ["RawSip", "RawSipError"]


class RawSipError(RuntimeError):
    """No (parseable) response arrived in time."""


class RawSip:
    """A UDP socket on loopback that talks SIP to ``host:port``."""

    def __init__(self, host: str, port: int, local_host: str = "127.0.0.1") -> None:
        self.remote = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local_host, 0))
        self.local_host, self.local_port = self.sock.getsockname()[:2]
        self.call_id = f"{secrets.token_hex(8)}@{self.local_host}"
        self._cseq = 0

    def __enter__(self) -> RawSip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    @property
    def local_address(self) -> str:
        return f"{self.local_host}:{self.local_port}"

    def send(self, data: bytes) -> None:
        """Send one datagram as is."""
        self.sock.sendto(data, self.remote)

    def receive(self, timeout: float = 2.0) -> bytes | None:
        """The next datagram, or ``None`` after ``timeout`` seconds."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
        except TimeoutError:
            return None
        return data

    def build(
        self,
        method: str,
        uri: str,
        *,
        from_uri: str | None = None,
        to_uri: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        branch: str | None = None,
        max_forwards: str = "70",
    ) -> bytes:
        """An out-of-dialog request of this client's Call-ID with the next CSeq
        (``max_forwards`` is the header's text, so ``00`` can be sent)."""
        self._cseq += 1
        branch = branch or "z9hG4bK" + secrets.token_hex(8)
        from_uri = from_uri or f"sip:probe@{self.local_host}"
        to_uri = to_uri or uri
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.local_address};branch={branch};rport",
            f"Max-Forwards: {max_forwards}",
            f"From: <{from_uri}>;tag={secrets.token_hex(4)}",
            f"To: <{to_uri}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self._cseq} {method}",
            *(f"{name}: {value}" for name, value in headers),
            "Content-Length: 0",
            "",
            "",
        ]
        return "\r\n".join(lines).encode()

    def final_response(self, timeout: float = 2.0) -> Response:
        """The next final response to this client's last request (provisional ones,
        answers to anything else and datagrams that do not parse are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            data = self.receive(left) if left > 0 else None
            if data is None:
                raise RawSipError(f"no final response from {self.remote} within {timeout}s")
            try:
                message = parse_message(data)
                if not isinstance(message, Response) or message.status_code < 200:
                    continue
                if (message.call_id, message.cseq().number) == (self.call_id, self._cseq):
                    return message
            except ParseError:
                continue

    def request(
        self,
        method: str,
        uri: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float = 2.0,
        **fields: str,
    ) -> Response:
        """Send a request and return its final response."""
        self.send(self.build(method, uri, headers=headers, **fields))
        return self.final_response(timeout)

    def register(
        self,
        domain: str,
        user: str,
        password: str,
        *,
        contact: str,
        expires: int = 300,
        timeout: float = 2.0,
    ) -> Response:
        """REGISTER ``contact`` for ``sip:user@domain``, answering one digest challenge.

        Returns the final response (200 when bound).
        """
        uri = f"sip:{domain}"
        aor = f"sip:{user}@{domain}"
        headers = [("Contact", f"<{contact}>"), ("Expires", str(expires))]
        response = self.request("REGISTER", uri, from_uri=aor, to_uri=aor, headers=headers)
        if response.status_code not in (401, 407):
            return response
        name = "WWW-Authenticate" if response.status_code == 401 else "Proxy-Authenticate"
        challenge_value = response.header(name)
        if challenge_value is None:
            raise RawSipError(f"{response.status_code} without {name}")
        authorization = build_authorization(
            parse_challenge(challenge_value),
            method="REGISTER",
            uri=uri,
            username=user,
            password=password,
            cnonce=secrets.token_hex(8),
        )
        answer = "Authorization" if response.status_code == 401 else "Proxy-Authorization"
        return self.request(
            "REGISTER",
            uri,
            from_uri=aor,
            to_uri=aor,
            headers=[*headers, (answer, authorization)],
            timeout=timeout,
        )
