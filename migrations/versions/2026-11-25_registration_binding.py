"""Registration bindings of the SIP registrar.

Revision ID: 0002_registration_binding
Revises: 0001_numbering_plan
Create Date: 2026-11-25 01:40:00+00:00

Written by hand to match ``voip_core.storage.models.RegistrationBinding``; the
migration test compares the two with Alembic's autogenerate. The id is ``BIGINT`` on
PostgreSQL (bindings churn: every unregistration frees a row) and ``INTEGER`` on SQLite,
where only ``INTEGER PRIMARY KEY`` is the rowid. Times are ``timestamptz`` on
PostgreSQL and UTC text on SQLite. Schema only: no data to migrate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_registration_binding"
down_revision: str | None = "0001_numbering_plan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registration_binding",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("aor", sa.String(length=255), nullable=False),
        sa.Column("contact_uri", sa.String(length=1024), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("cseq", sa.Integer(), nullable=False),
        sa.Column("q", sa.Float(), nullable=True),
        sa.Column("source_transport", sa.String(length=8), nullable=False),
        sa.Column("source_host", sa.String(length=64), nullable=False),
        sa.Column("source_port", sa.Integer(), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("instance_id", sa.String(length=255), nullable=True),
        sa.Column("reg_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("temp_gruu", sa.String(length=1024), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_binding")),
        sa.UniqueConstraint(
            "aor", "contact_uri", name=op.f("uq_registration_binding_aor_contact_uri")
        ),
    )
    op.create_index(op.f("ix_registration_binding_aor"), "registration_binding", ["aor"])
    op.create_index(
        op.f("ix_registration_binding_expires_at"), "registration_binding", ["expires_at"]
    )


def downgrade() -> None:
    # Dropping the table drops its indexes and constraints with it.
    op.drop_table("registration_binding")
