"""recovery in seconds: when each run's next step is due, and how often it was re-sent

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workers.db.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TERMINAL = ("completed", "failed", "cancelled", "expired")


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_due_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("recoveries", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_run_next_due_at", ["next_due_at"], unique=False)
    # Runs in flight at upgrade time become due at once: the sweep looks at each one.
    run = sa.table(
        "run",
        sa.column("status", sa.String()),
        sa.column("updated_at", UTCDateTime()),
        sa.column("next_due_at", UTCDateTime()),
    )
    op.execute(
        run.update().where(run.c.status.not_in(TERMINAL)).values(next_due_at=run.c.updated_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_next_due_at")
        batch_op.drop_column("recoveries")
        batch_op.drop_column("next_due_at")
