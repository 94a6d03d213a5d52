"""Periodic work every SIP process does: purge expired registrations, tame the collector."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Final

from voip_core.registrar import BindingStore

__all__ = ["collect_cycles", "purge_registrations", "tune_garbage_collector"]

logger = logging.getLogger("ronghe")

#: Cyclic-collector thresholds while serving (CPython's defaults are 700, 10, 10). The
#: third is never reached: full collections run from :func:`collect_cycles` instead.
_GC_THRESHOLDS: Final = (20_000, 5, 1_000_000_000)
#: Seconds between full collections of the cyclic garbage collector.
_FULL_COLLECTION_INTERVAL: Final = 3600.0


def tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector's pauses off the SIP hot path.

    Messages, transactions, calls and registrations are freed by reference counting when
    they end, so a collection finds next to nothing unreachable. Yet a full collection
    walks every live object, and under load every transaction lingers 32 s after it ends
    (RFC 3261 Timers J, L, M): millions of objects and a pause above a second, during
    which requests pile up, retransmissions follow and the load cascades. So start-up
    objects (the API app, the ORM, the first numbering plan) are frozen out of every
    collection, young collections stay (bounded by the thresholds to tens of
    milliseconds) to catch the short-lived cycles of asyncio and the API, and full
    collections only run every
    :data:`_FULL_COLLECTION_INTERVAL` seconds (:func:`collect_cycles`).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


async def collect_cycles(interval: float = _FULL_COLLECTION_INTERVAL) -> None:
    """Run a full collection every ``interval`` seconds (see :func:`tune_garbage_collector`)."""
    while True:
        await asyncio.sleep(interval)
        started = time.perf_counter()
        found = gc.collect()
        logger.info(
            "full garbage collection: %d unreachable objects in %.0f ms",
            found,
            (time.perf_counter() - started) * 1000,
        )


async def purge_registrations(store: BindingStore, interval: float = 30.0) -> None:
    """Remove expired bindings every ``interval`` seconds."""
    while True:
        await asyncio.sleep(interval)
        removed = store.purge_expired(time.time())
        if removed:
            logger.info("purged %d expired registrations", removed)
