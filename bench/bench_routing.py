"""Benchmark of the numbering-plan engine: plan compilation and routing decisions.

Usage::

    .venv/bin/python bench/bench_routing.py [--extensions N] [--short-numbers N]
        [--compile-runs N] [--decisions N] [--seed N] [--json]

It builds a county-sized plan (by default 10,000 extensions in 250 units with one
block each, 5,000 carrier short numbers and 30 dial rules), then reports:

- ``compile``: median wall time of ``compile_plan`` over ``--compile-runs`` runs (a
  plan reload: validation, index build). Target: under 1 s.
- ``route``: decisions per second over a realistic mix of dialed numbers, and the
  median and 99th-percentile latency of one ``route()`` call in microseconds.
  Target: median under 20 µs.

The mix: 50 % extensions (a tenth of them forwarded), 20 % short numbers, 15 %
external numbers (local, national, mobile, international), 3 % emergency, 7 % unknown,
5 % incomplete numbers. Latencies are measured per call with ``perf_counter_ns``, so
they include about 0.1 µs of timer overhead.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialplan.engine import CallerContext, NumberingPlan, compile_plan, route  # noqa: E402
from dialplan.model import (  # noqa: E402
    ClassOfServiceRow,
    DestinationKind,
    DialRuleRow,
    ExtensionRow,
    NumberBlockRow,
    PlanRows,
    ShortNumberRow,
    TrunkRow,
    UnitKind,
    UnitRow,
)

D = DestinationKind
BLOCK_SIZE = 40
FIRST_EXTENSION = 80000
FIRST_SHORT_CODE = 61000
# Henan prefecture area codes: the national rules route some of them to a second trunk.
AREA_CODES = ("0371", "0372", "0373", "0374", "0375", "0376", "0377", "0378", "0379", "0391")


def build_rows(extensions: int, short_numbers: int) -> PlanRows:
    """A plan with ``extensions`` extensions and ``short_numbers`` short numbers."""
    blocks_needed = -(-extensions // BLOCK_SIZE)
    units = [UnitRow(1, None, "平安县", "county", UnitKind.COUNTY)]
    blocks = []
    for index in range(blocks_needed):
        unit_id = index + 2
        kind = UnitKind.TOWNSHIP if index < 24 else UnitKind.DEPARTMENT
        parent = 1 if index < 84 else 2 + index % 84
        units.append(UnitRow(unit_id, parent, f"单位{index:03d}", f"u{index:03d}", kind))
        first = FIRST_EXTENSION + index * BLOCK_SIZE
        blocks.append(NumberBlockRow(index + 1, unit_id, str(first), str(first + BLOCK_SIZE - 1)))
    services = (
        ClassOfServiceRow(1, "全功能", frozenset(D) - {D.REJECT}),
        ClassOfServiceRow(2, "内线", frozenset({D.EXTENSION})),
    )
    extension_rows = []
    for index in range(extensions):
        number = str(FIRST_EXTENSION + index)
        forward = str(FIRST_EXTENSION + (index + 1) % extensions) if index % 20 == 0 else None
        extension_rows.append(
            ExtensionRow(
                id=index + 1,
                number=number,
                display_name=f"职员{index}",
                unit_id=index // BLOCK_SIZE + 2,
                site_id=None,
                class_of_service_id=1 if index % 10 else 2,
                enabled=index % 97 != 0,
                ha1_md5="0" * 32,
                ha1_sha256="0" * 64,
                forward_unconditional=forward,
            )
        )
    short_rows = tuple(
        ShortNumberRow(
            id=index + 1,
            short_code=str(FIRST_SHORT_CODE + index),
            mobile_e164=f"+86138{index:08d}",
            person_name=f"职员{index}",
            unit_id=index % blocks_needed + 2,
        )
        for index in range(short_numbers)
    )
    trunks = (TrunkRow(1, "cm-county"), TrunkRow(2, "ct-henan"), TrunkRow(3, "cu-intl"))
    return PlanRows(
        realm="pingan.gov.example",
        units=tuple(units),
        blocks=tuple(blocks),
        classes_of_service=services,
        extensions=tuple(extension_rows),
        short_numbers=short_rows,
        trunks=trunks,
        rules=_rules(),
        version=1,
    )


def _rules() -> tuple[DialRuleRow, ...]:
    rules = [
        DialRuleRow(1, 100, "1[12][029]", 3, 3, D.EMERGENCY, trunk_id=1),
        DialRuleRow(2, 200, "90.", 3, 16, D.REJECT, description="声讯台"),
        DialRuleRow(3, 300, "6XXXX", 5, 5, D.SHORT_NUMBER, trunk_id=1),
        DialRuleRow(4, 400, "79XX", 4, 4, D.CONFERENCE),
        DialRuleRow(5, 500, "7[0-8]XXXX", 6, 6, D.EXTENSION, strip=1),
        DialRuleRow(6, 600, "00.", 5, 20, D.EXTERNAL_INTERNATIONAL, trunk_id=3),
        DialRuleRow(7, 700, "01[3-9]XXXXXXXXX", 12, 12, D.EXTERNAL_NATIONAL, trunk_id=1, strip=1),
        DialRuleRow(8, 800, "1[3-9]XXXXXXXXX", 11, 11, D.EXTERNAL_NATIONAL, trunk_id=1),
        DialRuleRow(9, 900, "9NXXXXXXX", 9, 9, D.EXTERNAL_LOCAL, trunk_id=1, strip=1),
        DialRuleRow(10, 1000, "12345", 5, 5, D.EXTERNAL_LOCAL, trunk_id=1),
        DialRuleRow(11, 1100, "95XXX", 5, 5, D.EXTERNAL_NATIONAL, trunk_id=1),
        DialRuleRow(12, 1200, "400XXXXXXX", 10, 10, D.EXTERNAL_NATIONAL, trunk_id=1),
        DialRuleRow(13, 1300, "800XXXXXXX", 10, 10, D.EXTERNAL_NATIONAL, trunk_id=1),
        DialRuleRow(14, 1400, "17951X.", 16, 18, D.EXTERNAL_NATIONAL, trunk_id=2, strip=5),
        DialRuleRow(15, 1500, "0[2-9]XX[2-9]XXXXXX", 11, 11, D.EXTERNAL_NATIONAL, trunk_id=1),
        DialRuleRow(16, 1600, "01[0-2][2-9]XXXXXXX", 11, 11, D.EXTERNAL_NATIONAL, trunk_id=1),
        DialRuleRow(17, 1700, "0[1-9]X.", 10, 13, D.EXTERNAL_NATIONAL, trunk_id=1),
    ]
    for offset, code in enumerate(AREA_CODES):
        rules.append(
            DialRuleRow(
                18 + offset,
                15 + offset,
                f"{code}[2-9]XXXXXX",
                11,
                11,
                D.EXTERNAL_NATIONAL,
                trunk_id=2,
                description=f"河南 {code}",
            )
        )
    rules.append(DialRuleRow(28, 1800, "*XX", 3, 3, D.CONFERENCE, strip=1, prepend="79"))
    rules.append(DialRuleRow(29, 1900, "#XX", 3, 3, D.REJECT, description="功能码未开通"))
    rules.append(DialRuleRow(30, 2000, "+.", 8, 16, D.EXTERNAL_INTERNATIONAL, trunk_id=3))
    return tuple(rules)


def dial_mix(rows: PlanRows, count: int, rng: random.Random) -> list[tuple[str, CallerContext]]:
    """``count`` (dialed, caller) pairs in the proportions of the module docstring."""
    numbers = [row.number for row in rows.extensions]
    codes = [row.short_code for row in rows.short_numbers]
    callers = [CallerContext(number) for number in numbers[1:200:10]]
    external = (
        "965123456",
        "013912345678",
        "13912345678",
        "0037165123456",
        "037165123456",
        "01065123456",
        "4008123456",
        "0012125551234",
        "+12125551234",
    )
    unknown = ("99999", "70000", "5123", "88888888", "#99")
    incomplete = ("8", "800", "6100", "0139", "0371", "17951", "00")
    mix: list[tuple[str, CallerContext]] = []
    for _ in range(count):
        draw = rng.random()
        if draw < 0.50:
            dialed = rng.choice(numbers)
        elif draw < 0.70:
            dialed = rng.choice(codes)
        elif draw < 0.85:
            dialed = rng.choice(external)
        elif draw < 0.88:
            dialed = rng.choice(("110", "119", "120", "122"))
        elif draw < 0.95:
            dialed = rng.choice(unknown)
        else:
            dialed = rng.choice(incomplete)
        mix.append((dialed, rng.choice(callers)))
    return mix


def measure_compile(rows: PlanRows, runs: int) -> tuple[float, NumberingPlan]:
    """Median seconds of ``compile_plan(rows)`` over ``runs`` runs, and the plan."""
    times = []
    plan = compile_plan(rows)
    for _ in range(runs):
        start = time.perf_counter()
        plan = compile_plan(rows)
        times.append(time.perf_counter() - start)
    return statistics.median(times), plan


def measure_route(plan: NumberingPlan, mix: list[tuple[str, CallerContext]]) -> dict[str, float]:
    """Throughput and per-call latency percentiles of ``route`` over ``mix``."""
    at = datetime(2026, 3, 2, 9, 30)
    for dialed, caller in mix[:2000]:
        route(plan, dialed, caller, at)
    gc.disable()  # a collection pause would be charged to one unlucky decision
    try:
        start = time.perf_counter()
        for dialed, caller in mix:
            route(plan, dialed, caller, at)
        elapsed = time.perf_counter() - start
        clock = time.perf_counter_ns
        latencies = []
        for dialed, caller in mix:
            before = clock()
            route(plan, dialed, caller, at)
            latencies.append(clock() - before)
    finally:
        gc.enable()
    latencies.sort()
    return {
        "decisions_per_second": len(mix) / elapsed,
        "median_us": statistics.median(latencies) / 1000,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extensions", type=int, default=10_000)
    parser.add_argument("--short-numbers", type=int, default=5_000)
    parser.add_argument("--compile-runs", type=int, default=5)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    rows = build_rows(args.extensions, args.short_numbers)
    compile_seconds, plan = measure_compile(rows, args.compile_runs)
    figures = measure_route(plan, dial_mix(rows, args.decisions, random.Random(args.seed)))
    result = {
        "extensions": plan.stats.extensions,
        "short_numbers": plan.stats.short_numbers,
        "rules": plan.stats.rules,
        "index_states": plan.stats.index_states,
        "compile_ms": compile_seconds * 1000,
        **figures,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"plan: {result['extensions']} extensions, {result['short_numbers']} short numbers, "
        f"{result['rules']} rules, {result['index_states']} index states"
    )
    print(f"{'measure':<24}{'value':>14}  target")
    print(f"{'compile (median)':<24}{result['compile_ms']:>11.1f} ms  < 1000 ms")
    print(f"{'route throughput':<24}{result['decisions_per_second']:>11,.0f} /s")
    print(f"{'route median':<24}{result['median_us']:>11.2f} µs  < 20 µs")
    print(f"{'route p99':<24}{result['p99_us']:>11.2f} µs")


if __name__ == "__main__":
    main()
