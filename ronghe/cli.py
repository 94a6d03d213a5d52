"""The ``ronghe`` command: the one composition root of the platform."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ronghe.commands._settings import add_environment_option

if TYPE_CHECKING:
    from ronghe.settings import ServeSettings

__all__ = ["build_parser", "main", "serve_settings"]


def _serve_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the SIP registrar/proxy and the admin API in one process",
        description=(
            "Run the SIP registrar and stateful proxy (UDP and TCP) and the admin REST API. "
            "Every option can also be set by an environment variable RONGHE_<OPTION> "
            "(e.g. RONGHE_DATABASE_URL), read by every ronghe command alike; an option "
            "overrides its variable. In development, on an empty database a small demo "
            "county plan is created and its phone credentials are printed; production "
            "never creates it and needs a real deployment secret. GET /metrics serves "
            "Prometheus metrics and GET /api/v1/stats the same numbers as JSON on the "
            "admin API listener. SIGUSR1 logs one line 'stats transactions=N contexts=M "
            "registrations=K ...' (live SIP transactions, proxy response contexts, "
            "registered contacts, ...)."
        ),
    )
    add = serve.add_argument
    add_environment_option(serve)
    add(
        "--sip-host",
        help="address SIP listens on (0.0.0.0 = all IPv4, :: = all IPv6)",
        default=None,
    )
    add("--sip-port", type=int, help="SIP port for UDP and TCP (default 5060)", default=None)
    add(
        "--advertise",
        help="host put in Via/Record-Route (default: the bound or primary address)",
        default=None,
    )
    add("--api-host", help="address the admin API listens on (default 127.0.0.1)", default=None)
    add(
        "--api-port",
        type=int,
        help="admin API port (default 8000; 0 disables the API)",
        default=None,
    )
    add(
        "--database-url",
        help="SQLAlchemy URL (default sqlite:///ronghe.db; postgresql+psycopg://...)",
        default=None,
    )
    add(
        "--redis-url",
        help="Redis URL for registrations shared by several nodes (redis://host:6379/0)",
        default=None,
    )
    add(
        "--node-name",
        help="this node's name among nodes sharing registrations: requests for a phone "
        "registered at another node go through that node, found by this name (letters, "
        "digits, . _ : - [ ], at most 64; default: the advertised address and SIP port, "
        "e.g. 10.0.0.5:5060); unique per node and kept across restarts",
        default=None,
    )
    add("--domain", help="SIP domain and digest realm (default ronghe.local)", default=None)
    add(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=None,
        help="log level (default info)",
    )
    add(
        "--log-format",
        choices=["text", "json"],
        default=None,
        help="log lines as text (default) or as one JSON object per line: time (UTC, "
        "ISO 8601), level, logger, message, and call_id for a call's lines",
    )
    add(
        "--trace-sip",
        action="store_true",
        default=None,
        help="log every SIP message (credentials redacted)",
    )
    add(
        "--t1",
        type=float,
        default=None,
        help="RFC 3261 T1, round-trip estimate in seconds (default 0.5)",
    )
    add(
        "--t2",
        type=float,
        default=None,
        help="RFC 3261 T2, max non-INVITE retransmit interval (default 4)",
    )
    add(
        "--t4",
        type=float,
        default=None,
        help="RFC 3261 T4, max time a message stays in the network (default 5)",
    )
    add(
        "--timer-c",
        type=float,
        default=None,
        help="RFC 3261 Timer C: end an INVITE branch that stays unanswered this long, in "
        "seconds (default 181; more than 180 in production, lower only for tests)",
    )
    add(
        "--digest-algorithm",
        dest="digest_algorithms",
        action="append",
        choices=["MD5", "SHA-256"],
        default=None,
        help="digest algorithm offered in 401/407 challenges; repeat in order of preference "
        "(default MD5 alone, which every phone answers: baresip 1.0 refuses any challenge "
        "list holding SHA-256 and SIPp 3.6 answers only the first challenge; give "
        "--digest-algorithm SHA-256 --digest-algorithm MD5 where every phone supports it)",
    )
    add(
        "--auth-failure-limit",
        type=int,
        default=None,
        help="failed digest answers for one user from one address that block the address "
        "for that user (default 5; 0 never blocks); a request without credentials, a stale "
        "nonce or another realm's credentials never counts",
    )
    add(
        "--auth-failure-window",
        type=float,
        default=None,
        help="seconds within which those failures must fall (default 60)",
    )
    add(
        "--auth-block-seconds",
        type=float,
        default=None,
        help="length of the first block, seconds; each repeat offence doubles it (default 300)",
    )
    add(
        "--auth-max-block-seconds",
        type=float,
        default=None,
        help="longest block a repeat offender gets, seconds (default 86400)",
    )
    add(
        "--rate-limit",
        type=int,
        default=None,
        help="requests one source address may send per --rate-window before its messages "
        "are dropped unread for --rate-block-seconds (default 100; 0: no limit; trusted "
        "networks and trunk gateways are exempt; counted by each worker process)",
    )
    add(
        "--rate-window",
        type=float,
        default=None,
        help="sampling window of --rate-limit, seconds (default 2)",
    )
    add(
        "--rate-block-seconds",
        type=float,
        default=None,
        help="how long a source over --rate-limit stays dropped, seconds (default 60)",
    )
    add(
        "--tcp-idle-timeout",
        type=float,
        default=None,
        help="close TCP connections idle this long, seconds (default 600)",
    )
    add(
        "--trusted-network",
        dest="trusted_networks",
        action="append",
        default=None,
        metavar="CIDR",
        help="source network whose requests are not challenged (carrier gateways); repeatable",
    )
    add(
        "--min-expires",
        type=int,
        default=None,
        help="shortest registration accepted, seconds (default 60)",
    )
    add(
        "--max-expires",
        type=int,
        default=None,
        help="longest registration granted, seconds (default 3600)",
    )
    add(
        "--max-transactions",
        type=int,
        default=None,
        help="refuse new requests with 503 above this many live transactions (default "
        "200000, shared equally between the workers); on UDP an ended transaction stays "
        "live 32 s for retransmissions (RFC 3261 Timers J, L and M), so allow about 100 "
        "per call per second",
    )
    add(
        "--overload-queue-kib",
        type=int,
        default=None,
        help="refuse new requests with 503 while more than this many KiB of datagrams "
        "wait in the UDP receive buffer (default 768: about 600 short messages as the "
        "kernel counts them; a request waiting past T1 is retransmitted before it is "
        "answered); a REGISTER without credentials "
        "(its answer, a stateless 401, costs no more than the 503) or answering a recent "
        "challenge is still served",
    )
    add(
        "--udp-receive-buffer-kib",
        type=int,
        default=None,
        help="UDP receive buffer to ask the kernel for (default 1024; Linux counts twice "
        "that, capped by net.core.rmem_max); datagrams arriving while it is full are "
        "dropped and retransmitted by their senders. Larger buffers hold requests past "
        "T1, so under overload the clients retransmit before they are answered",
    )
    add(
        "--overload-lag",
        type=float,
        default=None,
        help="refuse new requests with 503 while the event loop runs this many seconds "
        "late at two measurements in a row, 50 ms apart (default 0.2; one stall alone "
        "refuses nothing)",
    )
    add(
        "--workers",
        type=int,
        default=None,
        help="SIP worker processes sharing the SIP sockets (default 1; the number of CPU "
        "cores uses them all); registrations are replicated between them, and each "
        "call's and each extension's messages are handled by one of them",
    )
    add(
        "--secret-file",
        default=None,
        help="file holding the deployment secret (default ./ronghe.secret)",
    )
    add(
        "--demo",
        dest="demo",
        action="store_true",
        default=None,
        help="create the demo plan on an empty database (the default in development; "
        "refused in production, as it prints its extensions' passwords)",
    )
    add(
        "--no-demo",
        dest="demo",
        action="store_false",
        default=None,
        help="do not create the demo plan on an empty database",
    )
    add(
        "--metrics-token",
        default=None,
        help="bearer token GET /metrics requires (at least 16 characters; default none: "
        "anyone who reaches the API listener may scrape it, 127.0.0.1 by default)",
    )
    serve.set_defaults(handler=_run_serve)


def serve_settings(args: argparse.Namespace) -> ServeSettings:
    """The settings of ``ronghe serve``: its options over the environment.

    Raises pydantic's ``ValidationError`` for invalid values.
    """
    from ronghe.settings import ServeSettings, settings_from_options

    return settings_from_options(ServeSettings, vars(args))


def _run_serve(args: argparse.Namespace) -> int:
    from ronghe.serve import run
    from ronghe.settings import describe_errors

    try:
        settings = serve_settings(args)
    except ValidationError as error:
        for line in describe_errors(error):
            print(f"ronghe serve: {line}", file=sys.stderr)
        return 2
    return run(settings)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from ronghe.commands import apikey, plan

    parser = argparse.ArgumentParser(
        prog="ronghe", description="Ronghe (融合) converged communications platform"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _serve_parser(subparsers)
    plan.add_parser(subparsers)
    apikey.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ronghe`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
