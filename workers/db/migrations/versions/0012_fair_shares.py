"""fair shares: a key's weight and cap, and runs waiting for their key's share

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("max_concurrent_runs", sa.Integer(), nullable=True))
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("share_waiting", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_run_share_waiting", ["share_waiting"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_share_waiting")
        batch_op.drop_column("share_waiting")
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.drop_column("max_concurrent_runs")
        batch_op.drop_column("weight")
