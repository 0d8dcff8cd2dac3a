"""reaper index: unfinished runs by last progress

Revision ID: 0009
Revises: 0002
Create Date: 2026-11-29 20:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_run_status_updated_at", "run", ["status", "updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_run_status_updated_at", table_name="run")
