"""run lanes: the run's lane (interactive, standard, flex, batch) and its fallback lane

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 02:10:00.000000
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
        batch_op.add_column(
            sa.Column("lane", sa.String(), nullable=False, server_default="standard")
        )
        batch_op.add_column(sa.Column("lane_fallback", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("lane_fallback")
        batch_op.drop_column("lane")
