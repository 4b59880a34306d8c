"""Workflow run leases: a `running` claim holds its key until `lease_until`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Rows written before this revision get no lease: a finished run needs none, and a claim
    # still `running` then is recovered as one whose progress is unknown (`interrupted`) once
    # `started_at` is a lease old. The status index already serves the search for expired
    # claims (few rows are `running` at a time).
    with op.batch_alter_table("workflow_runs") as batch:
        batch.add_column(sa.Column("lease_until", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("workflow_runs") as batch:
        batch.drop_column("lease_until")
