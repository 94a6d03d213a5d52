"""Errors of the registrar.

::

    SipError                          (voip_core.sip.exceptions)
    └── ProtocolError
        └── RemoteProtocolError
            └── RegistrationRejected  a REGISTER we refuse: 400, 403, 420, 423, 439...

:func:`~voip_core.registrar.register.process_register` turns a
``RegistrationRejected`` into the response it describes, so callers normally see the
reply rather than the exception.
"""

from __future__ import annotations

from collections.abc import Sequence

from voip_core.sip.exceptions import RemoteProtocolError

__all__ = ["RegistrationRejected"]


class RegistrationRejected(RemoteProtocolError):
    """A REGISTER refused with ``status_code``, ``reason`` and extra response ``headers``.

    ``headers`` carries what the RFC requires with the code: ``Min-Expires`` with 423
    (RFC 3261 §10.3 step 7), ``Unsupported`` with 420 (RFC 3261 §8.2.2.3).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 400,
        reason: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message, status_code=status_code, reason=reason)
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)
