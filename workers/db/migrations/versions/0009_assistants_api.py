"""Assistants-compatible API: stored assistants and their immutable versions, thread
messages, and a thread's own metadata

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workers.db.models import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistant",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner_key_id", sa.String(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assistant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assistant_owner_key_id"), ["owner_key_id"])
    op.create_table(
        "assistantversion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assistant_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("instructions", sa.String(), nullable=True),
        sa.Column("tools_json", sa.String(), nullable=False),
        sa.Column("server_tools", sa.String(), nullable=False),
        sa.Column("metadata_json", sa.String(), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("top_p", sa.Float(), nullable=True),
        sa.Column("response_format_json", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assistant_id"], ["assistant.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "assistant_id", "version", name="uq_assistantversion_assistant_version"
        ),
    )
    with op.batch_alter_table("assistantversion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assistantversion_assistant_id"), ["assistant_id"])
    op.create_table(
        "threadmessage",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("metadata_json", sa.String(), nullable=False),
        sa.Column("input_of_run_id", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["thread_id"], ["thread.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("threadmessage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_threadmessage_thread_id"), ["thread_id"])
        batch_op.create_index(batch_op.f("ix_threadmessage_input_of_run_id"), ["input_of_run_id"])
    with op.batch_alter_table("thread", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metadata_json", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("thread", schema=None) as batch_op:
        batch_op.drop_column("metadata_json")
    op.drop_table("threadmessage")
    op.drop_table("assistantversion")
    op.drop_table("assistant")
