"""An index on `turns.user`, for the threads a person asked in (Slack's App Home), and
`turns.feedback`, what the asker thought of the answer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_turns_user", "turns", ["user"])
    op.add_column("turns", sa.Column("feedback", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("feedback")
    op.drop_index("ix_turns_user", table_name="turns")
