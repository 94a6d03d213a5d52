"""``ronghe apikey create|list|revoke``: manage admin API keys from the server's shell.

The first admin key can only come from here; after that admins can also use the API.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dialplan.storage.exceptions import PlanStorageError
from dialplan.storage.records import Role
from dialplan.storage.services.api_keys import create_api_key, list_api_keys, revoke_api_key
from ronghe.commands._database import CLI_ACTOR, open_database
from ronghe.commands._settings import add_common_options, command_settings

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register ``ronghe apikey create``, ``list`` and ``revoke``."""
    apikey = subparsers.add_parser("apikey", help="manage admin API keys")
    commands = apikey.add_subparsers(dest="apikey_command", required=True)

    create = commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", choices=[role.value for role in Role], required=True)
    create.add_argument("--name", default=None, help="who or what uses the key (default: the role)")
    add_common_options(create)
    create.set_defaults(handler=_run_create)

    listing = commands.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    add_common_options(listing)
    listing.set_defaults(handler=_run_list)

    revoke = commands.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id", type=int)
    add_common_options(revoke)
    revoke.set_defaults(handler=_run_revoke)


def _run_create(args: argparse.Namespace) -> int:
    role = Role(args.role)
    settings = command_settings(args, "apikey create")
    if settings is None:
        return 2
    session_factory = open_database(settings.database_url)
    with session_factory() as session:
        try:
            created = create_api_key(
                session, actor=CLI_ACTOR, name=args.name or f"{role.value} (cli)", role=role
            )
        except PlanStorageError as error:
            print(f"ronghe apikey create: {error.message}", file=sys.stderr)
            return 1
    print(f"API key #{created.key.id} {created.key.name!r}, role {role.value}; shown once:")
    print(created.secret)
    return 0


def _run_list(args: argparse.Namespace) -> int:
    settings = command_settings(args, "apikey list")
    if settings is None:
        return 2
    session_factory = open_database(settings.database_url)
    with session_factory() as session:
        page = list_api_keys(session, include_revoked=args.all, limit=10_000)
    for key in page.items:
        state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        print(f"{key.id:>5}  {key.prefix}…  {key.role.value:<8}  {state:<10}  {key.name}")
    return 0


def _run_revoke(args: argparse.Namespace) -> int:
    settings = command_settings(args, "apikey revoke")
    if settings is None:
        return 2
    session_factory = open_database(settings.database_url)
    with session_factory() as session:
        try:
            key = revoke_api_key(session, actor=CLI_ACTOR, key_id=args.key_id)
        except PlanStorageError as error:
            print(f"ronghe apikey revoke: {error.message}", file=sys.stderr)
            return 1
    print(f"revoked API key #{key.id} {key.name!r}")
    return 0
