"""The inbox: questions received and not yet answered, and the processes answering them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_questions",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_pending_questions"),
    )
    op.create_index("ix_pending_questions_session_id", "pending_questions", ["session_id"])
    op.create_table(
        "inbox_owners",
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("alive_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", name="pk_inbox_owners"),
    )


def downgrade() -> None:
    op.drop_table("inbox_owners")
    op.drop_index("ix_pending_questions_session_id", table_name="pending_questions")
    op.drop_table("pending_questions")
