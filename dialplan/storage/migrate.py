"""Run the Alembic migrations programmatically: ``ronghe serve`` and the tests do.

Migrations never run on import; the composition root calls :func:`upgrade_to_head`
as its deploy step, like ``alembic upgrade head``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config

__all__ = ["ALEMBIC_INI", "alembic_config", "downgrade_to", "upgrade_to_head"]

#: The repository's Alembic configuration, beside ``env.py`` and ``versions/``.
ALEMBIC_INI: Final = Path(__file__).resolve().parents[2] / "migrations" / "alembic.ini"


def alembic_config(url: str) -> Config:
    """Return an Alembic configuration for ``url`` that leaves logging alone."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # env.py would otherwise apply the ini file's logging setup to the host process.
    config.attributes["configure_logger"] = False
    return config


def upgrade_to_head(url: str) -> None:
    """Upgrade the database at ``url`` to the newest revision (a no-op when current)."""
    command.upgrade(alembic_config(url), "head")


def downgrade_to(url: str, revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision`` (``"base"`` drops everything)."""
    command.downgrade(alembic_config(url), revision)
