"""SIPp for the integration tests: the driver in ``bench/sipp_driver.py`` plus this
harness's own scenarios.

The driver (one place, shared with the benchmarks) runs SIPp's built-in ``uac``/
``uas`` and the XML scenarios below and parses its final statistics into a
:class:`SippResult`. Scenarios in ``tests/integration/scenarios/``:

- ``uac_auth.xml``: call through an authenticating proxy (INVITE, 407 or 401, ACK,
  INVITE with digest, 180/200, ACK, pause, BYE); users from :func:`users_injection`,
  ``keys={"domain": ...}``, callee as ``service``.
- ``register_auth.xml``: REGISTER, 401 (or 407), REGISTER with digest, 200; users
  from :func:`users_injection`, ``keys={"domain": ..., "expires": ...}``.
- ``uas.xml``: answers calls (100, 180, 200, BYE) without the built-in ``uas``'s
  trailing 4 s pause.
- ``uas_auth.xml`` and ``registrar_auth.xml``: stand-ins that challenge with 401 and
  check the digest (SIPp ``verifyauth``), for proving the two authenticating
  scenarios and the phones' REGISTER without the Ronghe server; ``uas_auth.xml``
  also plays a carrier trunk demanding authentication.
- ``registrar_unregister.xml``: ``registrar_auth.xml`` plus the client's
  un-REGISTER, for proving the phones' ``unregister()``.
"""

from __future__ import annotations

from pathlib import Path

from bench.sipp_driver import (
    SIPP,
    Sipp,
    SippError,
    SippResult,
    free_port,
    run_sipp,
    users_injection,
)

SCENARIOS = Path(__file__).with_name("scenarios")

__all__ = [
    "SCENARIOS",
    "SIPP",
    "Sipp",
    "SippError",
    "SippResult",
    "free_port",
    "run_sipp",
    "scenario",
    "users_injection",
]


def scenario(name: str) -> Path:
    """The path of ``scenarios/<name>.xml`` (``name`` with or without ``.xml``)."""
    path = SCENARIOS / (name if name.endswith(".xml") else f"{name}.xml")
    if not path.is_file():
        raise FileNotFoundError(f"no scenario {path}")
    return path
