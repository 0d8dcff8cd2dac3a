"""run lanes: the run's lane (interactive, standard, flex, batch) and its fallback lane, and
the batch-lane turns waiting for (or answered by) a Batch API batch

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workers.db.models import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sa.String(), nullable=False, server_default="standard")
        )
        batch_op.add_column(sa.Column("lane_fallback", sa.String(), nullable=True))
    op.create_table(
        "batchturn",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("batch_id", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_json", sa.String(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("batchturn", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batchturn_run_id"), ["run_id"])
        batch_op.create_index(batch_op.f("ix_batchturn_status"), ["status"])
        batch_op.create_index(batch_op.f("ix_batchturn_batch_id"), ["batch_id"])


def downgrade() -> None:
    op.drop_table("batchturn")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("lane_fallback")
        batch_op.drop_column("lane")
