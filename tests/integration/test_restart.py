"""Registrations survive a restart of the server.

Covers: a pjsua2 phone registered over UDP is reached after ``ronghe serve`` is
stopped with SIGTERM (a clean exit that writes the pending registrations) and
started again on the same database, secret and ports, without registering again;
the call connects with RTP both ways and ends with BYE through the new process
(whose flow tokens, signed with the same secret, are its own). Not covered: TCP
phones (their connection dies with the process, so they must register again), a
crash without the final flush (the write-behind store loses at most one interval).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.phone import Phone
from tests.integration.server import RongheServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_a_registration_survives_a_restart(
    ronghe_server_factory: Callable[..., RongheServer],
    extension_phone: Callable[..., Phone],
) -> None:
    first = ronghe_server_factory()
    desk = extension_phone(first, "8701")
    caller = extension_phone(first, "8702")
    registrations = len(desk.reg_events)

    assert first.stop() == 0
    assert not first.traceback_seen, first.describe()
    second = ronghe_server_factory(restart_of=first)
    assert "restored 2 registrations" in second.log_tail

    outgoing = caller.call(f"sip:8701@{second.domain}")
    incoming = desk.wait_incoming(5)
    incoming.answer(200)
    outgoing.wait_state("CONFIRMED", 5)
    assert outgoing.wait_rtp(min_packets=25, timeout=5).flows_both_ways
    outgoing.hangup()
    incoming.wait_state("DISCONNECTED", 5)
    outgoing.wait_state("DISCONNECTED", 5)
    assert outgoing.last_status == 200
    assert len(desk.reg_events) == registrations  # it never registered again
