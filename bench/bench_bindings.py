"""Memory and speed of the in-memory binding store at county scale.

Usage::

    .venv/bin/python bench/bench_bindings.py [--count N] [--gruu-share F] [--json]

It registers ``--count`` phones (default 100,000), one AOR each, through the real
:func:`process_register` path, keeps the bindings in a
:class:`~voip_core.registrar.memory_store.MemoryBindingStore`, and reports:

- ``bytes_per_binding``: growth of the process's resident set size while the store
  filled, divided by the number of bindings (the store's dictionaries, the expiry heap,
  every Binding with its strings and Peer);
- ``rss_total_mb``: the whole process afterwards. Budget: well under 400 MB for
  100,000 bindings;
- ``register_us``: median CPU time of one ``process_register`` call (a refresh of an
  existing binding), and ``purge_ms``: one ``purge_expired`` that removes a tenth.

Phones are realistic: contacts with private addresses and ports, 40-character
Call-IDs, one of six User-Agent strings, and ``--gruu-share`` (default 0.3) of them
register with ``+sip.instance`` and ``Supported: gruu``, so they carry a temporary GRUU.
The REGISTER requests are built and dropped one by one, so they do not count.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voip_core.registrar import (  # noqa: E402
    MemoryBindingStore,
    RegistrarPolicy,
    process_register,
)
from voip_core.sip.message import Request  # noqa: E402
from voip_core.sip.parser import parse_message  # noqa: E402
from voip_core.sip.peer import Peer  # noqa: E402

DOMAIN = "xiayi.gov.cn"
NOW = 1_800_000_000.0
GRUU_SECRET = b"bench-gruu-secret-0123456789abcd"
USER_AGENTS = (
    "Yealink SIP-T46U 108.86.0.70",
    "Fanvil X4U 2.12.0.6888",
    "Grandstream GXP2170 1.0.11.23",
    "MicroSIP/3.21.3",
    "Linphone/5.2.0 (belle-sip/5.2.0)",
    "Cisco-CP8841/12.8.1",
)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def _register(index: int, *, cseq: int, gruu: bool) -> tuple[Request, Peer]:
    extension = 80000 + index
    host = f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"
    port = 5060 + index % 1000
    contact = f"<sip:{extension}@{host}:{port};transport=udp>"
    extra = ""
    if gruu:
        instance = uuid.UUID(int=index * 7919 + 1)
        contact += f';+sip.instance="<urn:uuid:{instance}>"'
        extra = "Supported: gruu, path\r\n"
    data = (
        f"REGISTER sip:{DOMAIN} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{index:08x}{cseq}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{extension}@{DOMAIN}>;tag={index:x}\r\n"
        f"To: <sip:{extension}@{DOMAIN}>\r\n"
        f"Call-ID: {uuid.UUID(int=index).hex}@{host}\r\n"
        f"CSeq: {cseq} REGISTER\r\n"
        f"Contact: {contact}\r\n"
        "Expires: 3600\r\n"
        f"User-Agent: {USER_AGENTS[index % len(USER_AGENTS)]}\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message, Peer("udp", host, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--gruu-share", type=float, default=0.3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args()
    count: int = arguments.count
    gruu_every = round(1 / arguments.gruu_share) if arguments.gruu_share > 0 else 0

    policy = RegistrarPolicy()
    store = MemoryBindingStore()
    gc.collect()
    rss_before = _rss_bytes()
    for index in range(count):
        request, source = _register(
            index, cseq=1, gruu=bool(gruu_every) and index % gruu_every == 0
        )
        aor = f"sip:{80000 + index}@{DOMAIN}"
        now = NOW + index * 0.01
        outcome = process_register(
            request,
            aor=aor,
            current=store.get(aor),
            policy=policy,
            source=source,
            now=now,
            gruu_secret=GRUU_SECRET,
        )
        store.replace(aor, outcome.bindings)
    del request, outcome
    gc.collect()
    rss_after = _rss_bytes()
    assert store.count() == count

    timings: list[float] = []
    for index in range(0, count, max(1, count // 2000)):
        request, source = _register(
            index, cseq=2, gruu=bool(gruu_every) and index % gruu_every == 0
        )
        aor = f"sip:{80000 + index}@{DOMAIN}"
        started = time.process_time()
        outcome = process_register(
            request,
            aor=aor,
            current=store.get(aor),
            policy=policy,
            source=source,
            now=NOW + 1800,
            gruu_secret=GRUU_SECRET,
        )
        timings.append(time.process_time() - started)
        store.replace(aor, outcome.bindings)

    started = time.process_time()
    purged = store.purge_expired(NOW + 3600 + count * 0.001)
    purge_seconds = time.process_time() - started

    result = {
        "bindings": count,
        "bytes_per_binding": round((rss_after - rss_before) / count),
        "rss_total_mb": round(rss_after / 2**20, 1),
        "register_us": round(statistics.median(timings) * 1e6, 1),
        "purged": purged,
        "purge_ms": round(purge_seconds * 1e3, 1),
    }
    if arguments.json:
        print(json.dumps(result))
        return
    print(f"bindings           {result['bindings']:>10,}")
    print(f"bytes per binding  {result['bytes_per_binding']:>10,}")
    print(f"process RSS        {result['rss_total_mb']:>10} MB (budget 400 MB)")
    print(f"process_register   {result['register_us']:>10} µs median (refresh)")
    print(f"purge_expired      {result['purge_ms']:>10} ms for {purged:,} bindings")


if __name__ == "__main__":
    main()
