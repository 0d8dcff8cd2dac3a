"""Runs that wait for people and callers: a run's caller-declared tools, and who decided a
tool call that waited for approval

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("caller_tools", sa.String(), nullable=True))
    with op.batch_alter_table("toolcall", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("decision_reason", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("toolcall", schema=None) as batch_op:
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decision_reason")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("decision")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("caller_tools")
