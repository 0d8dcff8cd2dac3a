"""Dollar budgets: a run's own max_cost_usd; an API key's max_usd (in all), max_usd_day,
max_usd_month and on_budget (fail | wait)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_cost_usd", sa.Float(), nullable=True))
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_usd", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("max_usd_day", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("max_usd_month", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("on_budget", sa.String(), server_default="fail", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.drop_column("on_budget")
        batch_op.drop_column("max_usd_month")
        batch_op.drop_column("max_usd_day")
        batch_op.drop_column("max_usd")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("max_cost_usd")
