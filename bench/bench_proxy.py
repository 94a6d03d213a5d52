"""Ronghe under SIPp load, beside a SIPp-to-SIPp ceiling and Kamailio, in one run.

Usage::

    .venv/bin/python bench/bench_proxy.py            # full run, about 15 minutes
    .venv/bin/python bench/bench_proxy.py --quick    # about a minute, one repeat

The script starts everything itself on loopback: ``ronghe serve`` on a fresh SQLite
database with ``--trusted-network 127.0.0.0/8`` (SIPp's UAC cannot answer a 407;
REGISTER is always challenged) and extensions imported with ``ronghe plan import``;
Kamailio 5.6 with ``bench/kamailio/kamailio.cfg`` when ``/usr/sbin/kamailio`` exists;
and SIPp (``/usr/bin/sipp``) for every load. Then:

1. **Memory**: registers ``--contacts`` contacts (``--users`` extensions, several
   contacts each from different SIPp ports) with digest, waits until the transaction
   table is empty and reads the server's RSS (``/proc/<pid>/status`` VmRSS).
2. **REGISTER/s**: ``register_auth.xml`` (REGISTER, 401, REGISTER with MD5 digest,
   200) over the users at rising rates, ``--step-seconds`` each, against Ronghe,
   Kamailio and a SIPp registrar that checks the digest (``registrar_auth.xml``): the
   highest rate at which every registration succeeded in time.
3. **Calls/s**: ``uac_dialog.xml`` (INVITE, 100, 180, 200, ACK and BYE along the
   Record-Route set, 200) to a SIPp UAS registered as the callee's contact, at rising
   rates: through Ronghe, through Kamailio, and straight to the UAS (the ceiling of
   this machine). A step passes when no call failed, none was answered 503/500/480/408,
   the run ended within 10 % (+0.5 s) of its nominal length and SIPp retransmitted for
   at most 1 % of the calls (on loopback a retransmission means an answer took 500 ms).

   Steps 2 and 3 repeat ``--repeats`` times; the headline is the median of the
   highest passing rates, and ratios are taken between medians of the same run (the
   ceiling and Kamailio start climbing at Ronghe's rate; a figure marked ≥ passed the
   highest rate offered).
   Then rates are held for ``--sustain-seconds`` against Ronghe alone (longer than
   RFC 3261 Timer J/L/M, 32 s, so finished transactions expire during the run): the
   ladder median first, then the ladder's lower rates until one is held, then a
   bisection (``--sustain-tries`` runs in all);
   the sustained rate is the highest held.
4. **Overload**: ``--overload-seconds`` at twice the sustained call rate; counts the
   calls completed, failed and shed (503); waits until the transaction table is empty
   again (``stats`` line, SIGUSR1) and runs ``--step-seconds`` at the sustained rate,
   which must pass.

CPU is the server's utime+stime over the step divided by its length (100 % = one
core); memory is the largest RSS seen (Kamailio: the PSS of all its processes).
Prints Markdown tables and writes everything to ``bench/results/bench_proxy-*.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.platforms import (  # noqa: E402
    Kamailio,
    Meter,
    Ronghe,
    password_of,
    register_contact,
    temporary_workdir,
)
from bench.sipp_driver import SIPP, Sipp, SippError, free_port, users_injection  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "bench" / "scenarios"
UAC_CALL = SCENARIOS / "uac_dialog.xml"
SIPP_REGISTRAR = SCENARIOS / "registrar_auth.xml"
UAC_REGISTER = REPO / "tests" / "integration" / "scenarios" / "register_auth.xml"
UAS = SCENARIOS / "uas_any_order.xml"
RESULTS = REPO / "bench" / "results"
DOMAIN = "bench.test"
FIRST_NUMBER = 20_000_000
#: Final responses uac_dialog.xml accepts and ends the call on: failures all the same.
REJECTIONS = ("503", "500", "480", "408")
#: Retransmissions per call above which a step fails even if every call completed: on
#: loopback nothing is lost, so each one is a response that took over 500 ms (T1).
MAX_RETRANSMISSIONS = 0.01


@dataclass
class Step:
    """One SIPp run at one rate against one target."""

    target: str
    kind: str
    rate: float
    seconds: float
    attempted: int = 0
    completed: int = 0
    failed: int = 0
    shed_503: int = 0
    rejected: int = 0
    retransmissions: int = 0
    duration: float = 0.0
    cpu_percent: float | None = None
    memory_mib: float | None = None
    passed: bool = False
    exit_code: int | None = None
    note: str = ""
    #: Requests Ronghe refused with 503 during the step, by reason (its stats counters).
    shed_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class Target:
    """Where SIPp sends: an address, and how to meter the process behind it."""

    name: str
    address: str
    meter: Callable[[], Meter] | None = None


@dataclass
class Run:
    """Everything measured in one invocation."""

    command: str
    machine: dict[str, str]
    options: dict[str, Any]
    provisioning_seconds: float = 0.0
    memory: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    ladders: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: Targets that passed the highest rate offered (their figure is a lower bound).
    topped: dict[str, list[str]] = field(default_factory=dict)
    sustained: dict[str, Any] = field(default_factory=dict)
    overload: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    elapsed_seconds: float = 0.0


# -- the machine ---------------------------------------------------------------------------


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "not installed"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return next((line.strip() for line in lines if line.strip()), "")


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": f"{os.cpu_count()} x {model}",
        "memory": f"{int(memory) // 1024} MiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sipp": _first_line([SIPP, "-v"]),
        "kamailio": _first_line(["/usr/sbin/kamailio", "-v"]),
        "load_average_at_start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


# -- one step ---------------------------------------------------------------------------------


def _count(counts: dict[str, str], code: str) -> int:
    total = 0
    for name, value in counts.items():
        if name.endswith(f"_{code}_Recv"):
            total += int(value or 0)
    return total


def _unexpected_503(workdir: Path | None) -> int:
    """503s a scenario did not expect: SIPp aborts those calls and logs each response."""
    if workdir is None or not (workdir / "errors.log").exists():
        return 0
    return (workdir / "errors.log").read_text(errors="replace").count("received 'SIP/2.0 503")


def run_step(
    target: Target,
    kind: str,
    rate: float,
    seconds: float,
    workdir: Path,
    *,
    scenario: Path,
    service: str | None = None,
    injection: str | None = None,
    keys: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    local_port: int | None = None,
) -> Step:
    """Run SIPp at ``rate`` for ``seconds`` against ``target`` and judge the step."""
    calls = max(1, round(rate * seconds))
    step = Step(target.name, kind, rate, seconds, attempted=calls)
    meter = target.meter() if target.meter is not None else None
    if meter is not None:
        meter.start()
    try:
        sipp = Sipp.start(
            scenario,
            target.address,
            local_port=local_port,
            service=service,
            calls=calls,
            rate=rate,
            rate_period_ms=1000,
            injection=injection,
            keys=keys,
            recv_timeout_ms=5000,
            timeout=seconds * 3 + 30,
            extra_args=extra_args,
            workdir=workdir,
        )
        result = sipp.wait()
    except SippError as error:
        step.note = str(error).splitlines()[0]
        if meter is not None:
            meter.stop()
        return step
    if meter is not None:
        usage = meter.stop()
        step.cpu_percent = round(usage.cpu_percent, 1)
        step.memory_mib = round(usage.memory_mib, 1)
    step.shed_503 = _count(result.counts, "503") + _unexpected_503(result.workdir)
    step.rejected = sum(_count(result.counts, code) for code in REJECTIONS)
    step.completed = result.successful_calls - step.rejected
    step.failed = result.failed_calls + step.rejected
    step.retransmissions = result.retransmissions
    step.duration = round(result.duration, 2)
    step.exit_code = result.exit_code
    in_time = result.duration <= seconds * 1.1 + 0.5
    calm = result.retransmissions <= calls * MAX_RETRANSMISSIONS
    step.passed = step.failed == 0 and step.completed == calls and in_time and calm
    if result.exit_code not in (0, 1):
        step.note = f"sipp exit {result.exit_code}: {result.screen.strip().splitlines()[-1:]}"
    elif not in_time:
        step.note = f"took {result.duration:.1f}s for {seconds:g}s of load"
    elif not calm:
        step.note = "too many retransmissions"
    return step


def _describe(step: Step) -> str:
    usage = ""
    if step.cpu_percent is not None:
        usage = f" cpu {step.cpu_percent:.0f}% mem {step.memory_mib:.0f}MiB"
    verdict = "pass" if step.passed else "FAIL"
    reasons = ", ".join(f"{count} for {reason}" for reason, count in step.shed_reasons.items())
    return (
        f"  {step.kind:<8} {step.target:<9} {step.rate:>6g}/s x {step.seconds:g}s: {verdict} "
        f"{step.completed}/{step.attempted} ok, {step.failed} failed ({step.shed_503} x 503), "
        f"{step.retransmissions} retrans, {step.duration:.1f}s{usage} {step.note}"
        + (f" refused: {reasons}" if reasons else "")
    )


# -- the benchmark ------------------------------------------------------------------------


class Bench:
    """The systems under test, the SIPp peers and what they measured."""

    def __init__(self, args: argparse.Namespace, run: Run) -> None:
        self.args = args
        self.run = run
        self.workdir = temporary_workdir("bench-proxy-")
        self.ronghe = Ronghe(self.workdir / "ronghe", domain=DOMAIN, workers=args.workers)
        self.kamailio: Kamailio | None = None
        self.users = [str(FIRST_NUMBER + n) for n in range(args.users)]
        #: Called in every call; registered only as the UAS's contact (so never forked).
        self.callee = str(FIRST_NUMBER + args.users)
        self.peers: list[Sipp] = []
        self.targets: dict[str, Target] = {}
        self.registrars: dict[str, Target] = {}
        self._step_number = 0
        #: REGISTER load comes from one address, so it refreshes the same bindings.
        self._register_port = free_port()

    # -- set-up ---------------------------------------------------------------------

    def start(self) -> None:
        args = self.args
        print(f"# work directory {self.workdir}", flush=True)
        self.ronghe.start()
        self.run.provisioning_seconds = round(self.ronghe.provision([*self.users, self.callee]), 1)
        print(
            f"# ronghe serve pid {self.ronghe.pid} on udp:127.0.0.1:{self.ronghe.sip_port}, "
            f"{len(self.users) + 1} extensions imported in {self.run.provisioning_seconds}s",
            flush=True,
        )
        ronghe_uas = self._uas("uas-ronghe")
        self._bind(self.ronghe.address, ronghe_uas)
        ronghe_address = f"127.0.0.1:{self.ronghe.sip_port}"
        self.targets["ronghe"] = Target("ronghe", ronghe_address, self.ronghe.meter)
        self.registrars["ronghe"] = Target("ronghe", ronghe_address, self.ronghe.meter)
        direct_uas = self._uas("uas-direct")
        self.targets["sipp"] = Target("sipp", direct_uas.address)
        registrar = Sipp.start(
            SIPP_REGISTRAR,
            keys={"realm": DOMAIN},
            timeout=7200,
            workdir=self.workdir / "sipp-registrar",
        )
        self.peers.append(registrar)
        self.registrars["sipp"] = Target("sipp", registrar.address)
        if not args.no_kamailio and Kamailio.available():
            self.kamailio = Kamailio(
                self.workdir / "kamailio", domain=DOMAIN, children=args.kamailio_children
            )
            self.kamailio.start()
            kamailio_uas = self._uas("uas-kamailio")
            self._bind(self.kamailio.address, kamailio_uas)
            address = f"127.0.0.1:{self.kamailio.sip_port}"
            self.targets["kamailio"] = Target("kamailio", address, self.kamailio.meter)
            self.registrars["kamailio"] = Target("kamailio", address, self.kamailio.meter)
            assert self.kamailio.proc is not None
            print(f"# kamailio pid {self.kamailio.proc.pid} on udp:{address}", flush=True)
        elif not args.no_kamailio:
            print("# kamailio not installed: no Kamailio column", flush=True)

    def _uas(self, name: str) -> Sipp:
        uas = Sipp.start(UAS, timeout=7200, workdir=self.workdir / name)
        self.peers.append(uas)
        return uas

    def _bind(self, registrar: tuple[str, int], uas: Sipp) -> None:
        contact = f"sip:{self.callee}@{uas.address}"
        status = register_contact(registrar, DOMAIN, self.callee, contact, expires=7200)
        if status != 200:
            raise RuntimeError(f"binding {contact} at {registrar} answered {status}")

    def stop(self) -> None:
        for peer in self.peers:
            if peer.running():
                with contextlib.suppress(SippError):
                    peer.stop()
        self.ronghe.stop()
        if self.kamailio is not None:
            self.kamailio.stop()
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------

    def _next_dir(self, label: str) -> Path:
        self._step_number += 1
        return self.workdir / "steps" / f"{self._step_number:03d}-{label}"

    def wait_drained(self, limit: float) -> float | None:
        """Seconds until Ronghe's transaction table and response contexts are empty
        (``None``: not within ``limit``, or no stats line available)."""
        started = time.monotonic()
        while True:
            stats = self.ronghe.stats()
            if stats is None:
                return None
            if stats.get("transactions", 1) == 0 and stats.get("contexts", 0) == 0:
                return round(time.monotonic() - started, 1)
            if time.monotonic() - started > limit:
                return None
            time.sleep(1.0)

    def register_step(self, target: Target, rate: float, seconds: float) -> Step:
        scenario = UAC_REGISTER
        before = self._shed_counters(target)
        step = run_step(
            target,
            "register",
            rate,
            seconds,
            self._next_dir(f"register-{target.name}-{rate:g}"),
            scenario=scenario,
            injection=users_injection((user, password_of(user)) for user in self.users),
            keys={"domain": DOMAIN, "expires": "7200"},
            extra_args=["-auth_uri", DOMAIN],
            local_port=self._register_port,
        )
        self._record(step, before, self._shed_counters(target))
        return step

    def _shed_counters(self, target: Target) -> dict[str, int]:
        if target.name != "ronghe":
            return {}
        stats = self.ronghe.stats() or {}
        return {k[len("shed_") :]: v for k, v in stats.items() if k.startswith("shed_")}

    def _record(self, step: Step, before: dict[str, int], after: dict[str, int]) -> None:
        step.shed_reasons = {
            reason: count - before.get(reason, 0)
            for reason, count in after.items()
            if count > before.get(reason, 0)
        }
        self.run.steps.append(step)
        print(_describe(step), flush=True)

    def call_step(self, target: Target, rate: float, seconds: float) -> Step:
        before = self._shed_counters(target)
        step = run_step(
            target,
            "call",
            rate,
            seconds,
            self._next_dir(f"call-{target.name}-{rate:g}"),
            scenario=UAC_CALL,
            service=self.callee,
        )
        self._record(step, before, self._shed_counters(target))
        return step

    # -- phases -------------------------------------------------------------------------

    def memory(self) -> None:
        """Register ``--contacts`` contacts and read the RSS once transactions are gone."""
        args = self.args
        rounds = math.ceil(args.contacts / len(self.users))
        if rounds > 10:
            raise SystemExit("--contacts needs --users of at least a tenth of it (10 per AOR)")
        meter = self.ronghe.meter()
        self.wait_drained(60)
        before = meter.memory_kib() / 1024
        meter.start()
        started = time.monotonic()
        registered = 0
        failures = 0
        for round_number in range(rounds):
            users = self.users[: args.contacts - round_number * len(self.users)]
            sipp = Sipp.start(
                UAC_REGISTER,
                f"127.0.0.1:{self.ronghe.sip_port}",
                transport=args.memory_transport,
                calls=len(users),
                rate=args.memory_rate,
                rate_period_ms=1000,
                injection=users_injection((user, password_of(user)) for user in users),
                keys={"domain": DOMAIN, "expires": "7200"},
                extra_args=["-auth_uri", DOMAIN],
                timeout=len(users) / args.memory_rate * 3 + 60,
                workdir=self._next_dir(f"memory-{round_number}"),
            )
            result = sipp.wait()
            registered += result.successful_calls
            failures += result.failed_calls
        seconds = time.monotonic() - started
        drained = self.wait_drained(120)
        usage = meter.stop()
        stats = self.ronghe.stats() or {}
        after = meter.memory_kib() / 1024
        contacts = stats.get("registrations", registered)
        self.run.memory = {
            "contacts_registered": contacts,
            "registrations_ok": registered,
            "registrations_failed": failures,
            "register_rate": args.memory_rate,
            "seconds": round(seconds, 1),
            "rss_before_mib": round(before, 1),
            "rss_after_mib": round(after, 1),
            "rss_peak_mib": round(usage.memory_mib, 1),
            "drained_after_seconds": drained,
            "bytes_per_contact": round((after - before) * 1024 * 1024 / max(contacts, 1)),
        }
        print(f"  memory: {self.run.memory}", flush=True)

    def ladders(self) -> None:
        """Rising rates per target, repeated; the highest passing rate of each ladder.

        Ronghe climbs from the lowest rate. The SIPp-to-SIPp ceiling and Kamailio climb
        a coarser list from the highest of its rates Ronghe passed in the same repeat
        (stepping down if that fails), which spares the run the low steps every one of
        them passes. While they run, the transactions Ronghe finished expire.
        """
        args = self.args
        kinds = [
            ("register", args.register_rates, args.ceiling_register_rates, self.registrars,
             self.register_step),
            ("call", args.call_rates, args.ceiling_call_rates, self.targets, self.call_step),
        ]  # fmt: skip
        for kind, ronghe_rates, ceiling_rates, targets, step_at in kinds:
            maxima: dict[str, list[float]] = {name: [] for name in targets}
            topped: dict[str, bool] = {name: False for name in targets}
            for repeat in range(args.repeats):
                ronghe_best = 0.0
                for name, target in targets.items():
                    if name == "ronghe" and not args.quick:
                        self.wait_drained(40)
                    rates = ronghe_rates if name == "ronghe" else ceiling_rates
                    first = 0
                    if name != "ronghe":
                        first = max(0, sum(1 for rate in rates if rate <= ronghe_best) - 1)
                    best = self._climb(target, rates, first, step_at)
                    if name == "ronghe":
                        ronghe_best = best
                    topped[name] = topped[name] or best == rates[-1]
                    maxima[name].append(best)
                    print(f"# {kind} ladder {repeat + 1} {name}: {best:g}/s", flush=True)
            self.run.ladders[kind] = maxima
            self.run.topped[kind] = [name for name, top in topped.items() if top]

    def _climb(
        self,
        target: Target,
        rates: Sequence[float],
        first: int,
        step_at: Callable[[Target, float, float], Step],
    ) -> float:
        """The highest rate of ``rates`` passed climbing from ``rates[first]``; when that
        first step fails, the highest passed stepping down from it."""
        seconds = self.args.step_seconds
        index = first
        step = step_at(target, rates[index], seconds)
        while not step.passed and index > 0:
            index -= 1
            time.sleep(1.0)
            step = step_at(target, rates[index], seconds)
        if not step.passed:
            return 0.0
        best = rates[index]
        for rate in rates[index + 1 :]:
            time.sleep(1.0)
            if not step_at(target, rate, seconds).passed:
                break
            best = rate
        return best

    def sustain(self) -> None:
        """Hold rates for --sustain-seconds against Ronghe: first the ladder median, then
        a bisection between the highest rate held and the lowest that failed (three runs
        at most, to within 50/s). Until a rate was held, the next try is the ladder's
        next lower rate, not half the failed one: a held rate is usually a rung or two
        below what a 5 s step passes."""
        args = self.args
        for kind, step_at, rungs in (
            ("register", self.register_step, args.register_rates),
            ("call", self.call_step, args.call_rates),
        ):
            median = statistics.median(self.run.ladders[kind]["ronghe"])
            target = (self.registrars if kind == "register" else self.targets)["ronghe"]
            held, failed = 0.0, median + 50
            tried = []
            rate = median
            for _ in range(args.sustain_tries):
                if rate <= 0 or failed - held <= 50:
                    break
                self.wait_drained(60)
                step = step_at(target, rate, args.sustain_seconds)
                tried.append(asdict(step))
                if step.passed:
                    held = rate
                else:
                    failed = rate
                lower = [rung for rung in rungs if rung < failed]
                halfway = round((held + failed) / 2 / 50) * 50
                rate = max(lower) if held == 0 and lower else halfway
            self.run.sustained[kind] = {"rate": held, "tried": tried}
            print(f"# sustained {kind}: {held:g}/s", flush=True)

    def overload(self) -> None:
        """Twice the sustained call rate; then drain, then the sustained rate again."""
        args = self.args
        sustained = self.run.sustained.get("call", {}).get("rate") or statistics.median(
            self.run.ladders["call"]["ronghe"]
        )
        if not sustained:
            print("# no sustainable call rate: overload skipped", flush=True)
            return
        target = self.targets["ronghe"]
        self.wait_drained(60)
        before = self.ronghe.stats()
        step = self.call_step(target, 2 * sustained, args.overload_seconds)
        ended = time.monotonic()
        during = self.ronghe.stats()
        drained = self.wait_drained(240)
        drained_after = round(time.monotonic() - ended, 1) if drained is not None else None
        after = self.ronghe.stats()
        recovery = self.call_step(target, sustained, args.step_seconds)
        self.run.overload = {
            "rate": 2 * sustained,
            "seconds": args.overload_seconds,
            "step": asdict(step),
            "stats_before": before,
            "stats_at_end": during,
            "stats_after_drain": after,
            "drained_seconds_after_load": drained_after,
            "recovery": asdict(recovery),
        }


# -- report ---------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "—"


def _best_step(run: Run, kind: str, target: str, rate: float) -> Step | None:
    matches = [s for s in run.steps if (s.kind, s.target, s.rate) == (kind, target, rate)]
    passed = [s for s in matches if s.passed and s.seconds == run.options["step_seconds"]]
    return passed[-1] if passed else None


def report(run: Run) -> str:
    """Markdown tables of the headline figures."""
    lines = [
        f"Measured {run.started_at} on {run.machine['cpu']}, {run.machine['memory']}, "
        f"Linux {run.machine['kernel']}, Python {run.machine['python']}, "
        f"{run.machine['sipp']}, {run.machine['kamailio'].split(' (')[0]}; "
        f"load average at start {run.machine['load_average_at_start']}.",
        "",
        f"| Measure | Ronghe ({run.options['workers']} SIP processes) | SIPp→SIPp | Kamailio "
        "| Ronghe/SIPp | Ronghe/Kamailio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind, label in (("register", "REGISTER/s with digest"), ("call", "Calls/s")):
        ladder = run.ladders.get(kind, {})
        medians = {name: _median(values) for name, values in ladder.items()}

        def cell(name: str, ladder: dict[str, list[float]] = ladder, kind: str = kind) -> str:
            if name not in ladder:
                return "—"
            runs = ", ".join(f"{v:g}" for v in ladder[name])
            bound = "≥ " if name in run.topped.get(kind, []) else ""
            return f"**{bound}{_median(ladder[name]):g}** ({runs})"

        ronghe = medians.get("ronghe", 0.0)
        lines.append(
            f"| {label}, zero failures, median of {run.options['repeats']} ladders "
            f"({run.options['step_seconds']:g} s steps) | {cell('ronghe')} | {cell('sipp')} | "
            f"{cell('kamailio')} | {_ratio(ronghe, medians.get('sipp', 0))} | "
            f"{_ratio(ronghe, medians.get('kamailio', 0))} |"
        )
        for name in ("ronghe", "kamailio"):
            step = _best_step(run, kind, name, medians.get(name, 0.0))
            if step is not None and step.cpu_percent is not None:
                usage = f"CPU {step.cpu_percent:.0f} %, {step.memory_mib:.0f} MiB"
                lines.append(
                    f"| {label}: CPU and RSS at {step.rate:g}/s | {usage} | | | | |"
                    if name == "ronghe"
                    else f"| {label}: CPU and PSS at {step.rate:g}/s | | | {usage} | | |"
                )
        sustained = run.sustained.get(kind)
        if sustained:
            tried = sustained["tried"][-1] if sustained["tried"] else {}
            usage = ""
            if tried.get("cpu_percent") is not None:
                usage = f", CPU {tried['cpu_percent']:.0f} %, RSS {tried['memory_mib']:.0f} MiB"
            lines.append(
                f"| {label} held {run.options['sustain_seconds']:g} s, zero failures | "
                f"**{sustained['rate']:g}**{usage} | | | | |"
            )
    memory = run.memory
    if memory:
        lines.append(
            f"| RSS with {memory['contacts_registered']:,} registered contacts "
            f"({run.options['users']:,} extensions) | "
            f"**{memory['rss_after_mib']:.0f} MiB** (empty: "
            f"{memory['rss_before_mib']:.0f}, peak while registering: "
            f"{memory['rss_peak_mib']:.0f}) | | | | |"
        )
    overload = run.overload
    if overload:
        step = overload["step"]
        recovery = overload["recovery"]
        drained = overload["drained_seconds_after_load"]
        lines.append(
            f"| Overload: {overload['seconds']:g} s at {overload['rate']:g} calls/s | "
            f"{step['completed']:,} of {step['attempted']:,} calls completed, "
            f"{step['failed']:,} failed ({step['shed_503']:,} answered 503), CPU "
            f"{step['cpu_percent'] or 0:.0f} %, peak RSS {step['memory_mib'] or 0:.0f} MiB; "
            f"transaction table empty {drained if drained is not None else 'not'} s after; "
            f"then {recovery['rate']:g}/s for {recovery['seconds']:g} s: "
            f"{'pass' if recovery['passed'] else 'FAIL'} | | | | |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="about a minute: one short ladder")
    parser.add_argument("--repeats", type=int, default=None, help="ladders per target (3)")
    parser.add_argument("--step-seconds", type=float, default=None, help="per rate (5)")
    parser.add_argument("--sustain-seconds", type=float, default=None, help="held rate (40)")
    parser.add_argument("--overload-seconds", type=float, default=None, help="(60)")
    parser.add_argument("--users", type=int, default=None, help="extensions (20000)")
    parser.add_argument("--contacts", type=int, default=None, help="for memory (100000)")
    parser.add_argument("--memory-rate", type=float, default=1000.0, help="REGISTER/s")
    parser.add_argument(
        "--memory-transport",
        choices=["udp", "tcp"],
        default="tcp",
        help="for the contacts: over TCP a finished REGISTER transaction ends at once "
        "(RFC 3261 Timer J is 0), so the RSS afterwards is the contacts', not 32 s of "
        "lingering UDP transactions",
    )
    parser.add_argument("--sustain-tries", type=int, default=3, help="held runs per kind")
    parser.add_argument("--call-rates", type=_rates, default=None, help="Ronghe's ladder")
    parser.add_argument("--register-rates", type=_rates, default=None, help="Ronghe's ladder")
    parser.add_argument("--ceiling-call-rates", type=_rates, default=None)
    parser.add_argument("--ceiling-register-rates", type=_rates, default=None)
    parser.add_argument(
        "--workers", type=int, default=2, help="ronghe serve --workers (SIP processes)"
    )
    parser.add_argument(
        "--memory-only", action="store_true", help="register --contacts, measure, stop"
    )
    parser.add_argument("--no-kamailio", action="store_true")
    parser.add_argument(
        "--kamailio-children",
        type=int,
        default=Kamailio.children,
        help="Kamailio's UDP worker processes (children)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults: dict[str, Any] = {
        "repeats": 1 if quick else 3,
        "step_seconds": 2.0 if quick else 5.0,
        "sustain_seconds": 0.0 if quick else 40.0,
        "overload_seconds": 0.0 if quick else 60.0,
        "users": 500 if quick else 20_000,
        "contacts": 0 if quick else 100_000,
        "call_rates": [500, 1000, 1500, 2000] if quick else [500, 750, 1000, 1250, 1500,
                                                             1750, 2000, 2500, 3000],
        "register_rates": [1000, 2000, 3000, 4000] if quick else [1000, 1500, 2000, 2500,
                                                                 3000, 3500, 4000, 5000,
                                                                 6000],
        "ceiling_call_rates": [500, 1000, 1500, 2000] if quick else [500, 1000, 1500, 2000,
                                                                     3000, 4000, 5000],
        "ceiling_register_rates": [1000, 2000, 3000, 4000] if quick else [1000, 2000, 3000,
                                                                         4000, 6000, 8000],
    }  # fmt: skip
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def _rates(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def _exit_on_signal(signum: int, frame: object) -> None:
    # SIGTERM (a timeout, a CI runner) stops the run like Ctrl-C: the finally clause of
    # main() still stops the server, Kamailio and SIPp, which run in their own sessions.
    # A second SIGTERM (``timeout`` and ``pkill`` both send one) must not interrupt that.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    started = time.monotonic()
    run = Run(
        command=" ".join([".venv/bin/python", "bench/bench_proxy.py", *(argv or sys.argv[1:])]),
        machine=machine(),
        options={k: v for k, v in vars(args).items()},
        started_at=time.strftime("%Y-%m-%d %H:%M:%S %z"),
    )
    bench = Bench(args, run)
    try:
        bench.start()
        if args.contacts:
            bench.memory()
        if args.memory_only:
            run.options["repeats"] = 0
        else:
            bench.ladders()
        if args.sustain_seconds and not args.memory_only:
            bench.sustain()
        if args.overload_seconds and not args.memory_only:
            bench.overload()
    finally:
        bench.stop()
    run.elapsed_seconds = round(time.monotonic() - started, 1)
    text = report(run)
    print()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench_proxy-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(asdict(run), indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\n# {run.elapsed_seconds:.0f} s; results in {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
