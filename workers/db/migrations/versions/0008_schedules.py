"""runs that wait for time: run.run_at, and the schedule table (cron jobs per API key)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workers.db.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_at", UTCDateTime(), nullable=True))
    text = sa.String()
    op.create_table(
        "schedule",
        sa.Column("id", text, nullable=False),
        sa.Column("owner_key_id", text, nullable=False),
        sa.Column("agent", text, nullable=False),
        sa.Column("job_json", text, nullable=False),
        sa.Column("cron", text, nullable=False),
        sa.Column("timezone", text, nullable=False),
        sa.Column("missed", text, nullable=False),
        sa.Column("overlap", text, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at", UTCDateTime(), nullable=True),
        sa.Column("last_fired_at", UTCDateTime(), nullable=True),
        sa.Column("last_run_id", text, nullable=True),
        sa.Column("last_skip_reason", text, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_owner_key_id"), ["owner_key_id"])
        batch_op.create_index(batch_op.f("ix_schedule_next_fire_at"), ["next_fire_at"])


def downgrade() -> None:
    op.drop_table("schedule")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("run_at")
