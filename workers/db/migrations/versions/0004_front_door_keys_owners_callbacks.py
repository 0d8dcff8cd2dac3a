"""front door: API keys, run owners and idempotency per owner, metadata, callbacks,
runs found by provider reference (webhooks)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workers.db.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "apikey",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("prefix", sa.String(), nullable=False),
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apikey_name"), ["name"], unique=True)
        batch_op.create_index(batch_op.f("ix_apikey_key_hash"), ["key_hash"], unique=True)
    op.create_table(
        "callbackattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "attempt", name="uq_callbackattempt_run_attempt"),
    )
    with op.batch_alter_table("callbackattempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callbackattempt_run_id"), ["run_id"], unique=False)
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("owner_key_id", sa.String(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("request_hash", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("metadata_json", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("callback_url", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("callback_state", sa.String(), nullable=True))
        batch_op.drop_index("ix_run_idempotency_key")
        batch_op.create_index(batch_op.f("ix_run_idempotency_key"), ["idempotency_key"])
        batch_op.create_index(batch_op.f("ix_run_owner_key_id"), ["owner_key_id"])
        batch_op.create_index(batch_op.f("ix_run_provider_ref"), ["provider_ref"])
        batch_op.create_unique_constraint(
            "uq_run_owner_idempotency", ["owner_key_id", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_constraint("uq_run_owner_idempotency", type_="unique")
        batch_op.drop_index(batch_op.f("ix_run_provider_ref"))
        batch_op.drop_index(batch_op.f("ix_run_owner_key_id"))
        batch_op.drop_index(batch_op.f("ix_run_idempotency_key"))
        batch_op.create_index("ix_run_idempotency_key", ["idempotency_key"], unique=True)
        for column in ("callback_state", "callback_url", "metadata_json", "request_hash"):
            batch_op.drop_column(column)
        batch_op.drop_column("owner_key_id")
    op.drop_table("callbackattempt")
    op.drop_table("apikey")
