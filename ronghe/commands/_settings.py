"""The options every ``ronghe`` command shares, and their settings.

Each option overrides its environment variable (``--database-url`` over
``RONGHE_DATABASE_URL``), and both are read through :class:`ronghe.settings.CommonSettings`,
the one place that reads the environment, so ``ronghe apikey`` and ``ronghe plan`` use
the database and domain ``ronghe serve`` uses.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ronghe.settings import CommonSettings

__all__ = ["add_common_options", "add_environment_option", "command_settings"]


def add_environment_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--environment`` (``RONGHE_ENVIRONMENT``, default development)."""
    parser.add_argument(
        "--environment",
        choices=["development", "production"],
        default=None,
        help="deployment kind (default development; production refuses the demo plan and "
        "a missing or placeholder secret)",
    )


def add_common_options(parser: argparse.ArgumentParser, *, domain: bool = False) -> None:
    """Add ``--environment`` and ``--database-url`` (and ``--domain`` when it matters)."""
    add_environment_option(parser)
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL (default $RONGHE_DATABASE_URL, else sqlite:///ronghe.db; "
        "postgresql+psycopg://...)",
    )
    if domain:
        parser.add_argument(
            "--domain",
            default=None,
            help="SIP domain and digest realm (default $RONGHE_DOMAIN, else ronghe.local)",
        )


def command_settings(args: argparse.Namespace, command: str) -> CommonSettings | None:
    """The settings of ``ronghe <command>``: its options over the environment.

    Prints one line per invalid setting and returns ``None`` when any is invalid.
    """
    from pydantic import ValidationError

    from ronghe.settings import CommonSettings, describe_errors, settings_from_options

    try:
        return settings_from_options(CommonSettings, vars(args))
    except ValidationError as error:
        for line in describe_errors(error):
            print(f"ronghe {command}: {line}", file=sys.stderr)
        return None
