"""security: wrapped user keys, sealed asset metadata, two-factor, throttling, audit log

Revision ID: 0002
Revises: 0001

Written by hand. Only ADD COLUMN and new tables, so SQLite's batch mode never has to copy a
table (a copy would lose the timeline's partial index). Rows of the library core keep their
plaintext until `crypto.records.migrate_legacy_rows` seals them at the next start: a
migration has no master key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keepsake.storage.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTCDateTime = keepsake.storage.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wrapped_key", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("totp_secret_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("password_changed_at", UTCDateTime(), nullable=True))

    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("make_tag", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("model_tag", sa.String(length=64), nullable=True))

    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))

    state = op.create_table(
        "security_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_security_state")),
    )
    # Blobs stored by the library core are plaintext: say so, so that the server reads them
    # as they are until the `crypto.encrypt_legacy` job has encrypted them.
    has_assets = op.get_bind().execute(sa.text("SELECT 1 FROM assets LIMIT 1")).first()
    if has_assets is not None:
        op.bulk_insert(state, [{"name": "plaintext_blobs", "value": "1"}])

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTCDateTime(), nullable=False),
        sa.Column("blocked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )

    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_events_user_at", ["user_id", "at"], unique=False)


def downgrade() -> None:
    # Lossy by nature: rows written since 0002 keep their metadata only in `sealed`.
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_user_at")
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
    op.drop_table("audit_events")
    op.drop_table("login_throttle")
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    op.drop_table("security_state")
    # Dropping columns makes SQLite copy these tables; the copy must keep the timeline's
    # partial index, so it is dropped first and made again afterwards.
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_assets_timeline",
            sqlite_where=sa.text("trashed_at IS NULL"),
            postgresql_where=sa.text("trashed_at IS NULL"),
        )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_column("sealed")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_column("model_tag")
        batch_op.drop_column("make_tag")
        batch_op.drop_column("sealed")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assets_timeline",
            ["owner_id", "taken_at", "id"],
            unique=False,
            sqlite_where=sa.text("trashed_at IS NULL"),
            postgresql_where=sa.text("trashed_at IS NULL"),
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_changed_at")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret_sealed")
        batch_op.drop_column("wrapped_key")
