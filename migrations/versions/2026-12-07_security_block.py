"""Blocks of the guard: sources refused for failed authentications or flooding.

Revision ID: 0003_security_block
Revises: 0002_registration_binding
Create Date: 2026-12-07 17:40:00+00:00

Written by hand to match ``voip_core.storage.security_blocks.SecurityBlock``; the
migration test compares the two with Alembic's autogenerate. Schema only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_security_block"
down_revision: str | None = "0002_registration_binding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "security_block",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("since_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_block")),
    )
    op.create_index(op.f("ix_security_block_until_at"), "security_block", ["until_at"])


def downgrade() -> None:
    # Dropping the table drops its index with it.
    op.drop_table("security_block")
