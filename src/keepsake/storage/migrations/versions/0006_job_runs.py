"""job_runs: one row per run of a background job (state, attempts, the last error), so an
administrator sees the queue's failures and can retry them

Revision ID: 0006
Revises: 0005

Written by hand. Only a new table, so SQLite's batch mode never copies an existing one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keepsake.storage.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = keepsake.storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", UTC(), nullable=True),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index("ix_job_runs_state_updated", ["state", "updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_state_updated")
    op.drop_table("job_runs")
