"""Encryption at rest: `turns.sealed` holds a turn's words sealed (`stores.sealing`) in
place of its question, answer, summary, sources and vector; `sessions.sealed_first_question`
the first question. Rows written in the clear keep NULL there and read as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("turns", sa.Column("sealed", sa.LargeBinary(), nullable=True))
    op.add_column("sessions", sa.Column("sealed_first_question", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("sealed_first_question")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("sealed")
