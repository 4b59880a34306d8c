"""Workflow runs retried after an outage: released keys, attempts, next attempt.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Rows written before this revision are final (a released key used to be deleted), so
    # they are not released and made one attempt.
    with op.batch_alter_table("workflow_runs") as batch:
        batch.add_column(
            sa.Column("released", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("next_attempt_at", sa.BigInteger(), nullable=True))
    op.create_index(
        op.f("ix_workflow_runs_status_next_attempt_at"),
        "workflow_runs",
        ["status", "next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_workflow_runs_status_next_attempt_at"), table_name="workflow_runs")
    with op.batch_alter_table("workflow_runs") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
        batch.drop_column("released")
