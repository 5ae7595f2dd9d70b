"""Session locks as leases in a table.

PostgreSQL's session locks were advisory locks, each holding a connection for as long as
the lock was held; a lease row costs a connection only while it is taken, extended or
released. SQLite databases get the table too, unused: SQLite locks within the process.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_locks",
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_session_locks"),
    )


def downgrade() -> None:
    op.drop_table("session_locks")
