"""drop users.face_recognition_enabled: consent to face recognition is the only switch

Revision ID: 0007
Revises: 0006

Written by hand. The faces code asks the consent service (an open consent record to the
current text of `face_recognition`) instead of this flag, which only mirrored it. A flag that
is on without a consent record is not consent to any text, so nothing is carried over; the
consent reconcile job deletes face data such an account still holds (names are kept).

SQLite drops the column in place (ALTER TABLE ... DROP COLUMN, SQLite 3.35 and later, which
Keepsake needs already for RETURNING): no batch copy of `users`, whose re-creation would
cascade-delete every row pointing at it while foreign keys are on. The downgrade puts the
column back, on where the user consents to the current text, as the old code kept it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("users", "face_recognition_enabled")


def downgrade() -> None:
    op.add_column(
        "users",
        sa.Column(
            "face_recognition_enabled", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    op.execute(
        "UPDATE users SET face_recognition_enabled = TRUE WHERE id IN ("
        "SELECT r.user_id FROM consent_records r "
        "WHERE r.purpose = 'face_recognition' AND r.ended_at IS NULL AND r.version = ("
        "SELECT MAX(p.version) FROM consent_purposes p WHERE p.name = 'face_recognition'))"
    )
