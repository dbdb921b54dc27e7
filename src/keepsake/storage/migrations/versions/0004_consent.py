"""consent: purposes and their texts, consent records, the data-use ledger, account activity,
known devices, account deletions

Revision ID: 0004
Revises: 0003

Written by hand. Only new tables, so SQLite's batch mode never copies an existing one. The
purpose texts are copied here as they were published, not imported from
`keepsake.consent.purposes`: a migration must insert the same rows whenever it runs, and a
later text is a later migration that inserts version 2 (tests/consent/test_purposes.py
checks that the newest version in the database is the one in the code).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keepsake.storage.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = keepsake.storage.models.UTCDateTime

PURPOSES_V1 = [
    {
        "name": "face_recognition",
        "version": 1,
        "title": "Find and group faces in my own library",
        "text": "Keepsake looks for faces in your photos and, for each face it finds, computes a "
        "face template: a list of numbers describing the face. Templates are compared only "
        "with other templates from your own library, to group photos of the same person "
        "and to let you search for them. They are encrypted with your key, never shared, "
        "never used for anyone else, never used to train anything, and never used to guess "
        "anyone's age, gender, emotion or ethnicity. You can withdraw at any time: all your "
        "face templates and face groups are then deleted at once. If your account is "
        "inactive for the period stated on the privacy page, the templates are deleted.",
        "biometric": True,
    },
    {
        "name": "people_sharing",
        "version": 1,
        "title": "Show who is in the photos I share",
        "text": "When you share an album, the people you share it with may see the names you gave "
        "to people in those photos and where their faces are. Nothing is shown to anyone "
        "you have not shared with. If you withdraw, the names and face regions are hidden "
        "from everyone you share with, at once.",
        "biometric": False,
    },
    {
        "name": "verification_enrollment",
        "version": 1,
        "title": "Enrol my face for identity verification",
        "text": "An organisation using Keepsake's verification service may keep one face template "
        "of you, made from photos you provide for this purpose only, to confirm who you are "
        "(for example at a door or when you sign in). Photos in your library are never used "
        "for enrolment. If you withdraw, your enrolment template is deleted at once.",
        "biometric": True,
    },
]


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    purposes = op.create_table(
        "consent_purposes",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("biometric", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_consent_purposes")),
    )
    op.bulk_insert(purposes, PURPOSES_V1)

    op.create_table(
        "consent_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("granted_at", UTC(), nullable=False),
        sa.Column("granted_via", sa.String(length=8), nullable=False),
        sa.Column("granted_by", sa.String(length=80), nullable=False),
        sa.Column("ended_at", UTC(), nullable=True),
        sa.Column("ended_via", sa.String(length=8), nullable=True),
        sa.Column("ended_by", sa.String(length=80), nullable=True),
        sa.Column("ended_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["purpose", "version"],
            ["consent_purposes.name", "consent_purposes.version"],
            name=op.f("fk_consent_records_purpose_consent_purposes"),
        ),
        _user_fk("consent_records"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_records_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_consent_records_open",
            ["user_id", "purpose"],
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )

    op.create_table(
        "ledger_entries",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=True),
        sa.Column("object_ids", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        _user_fk("ledger_entries"),
        sa.PrimaryKeyConstraint("user_id", "seq", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entries_user_at", ["user_id", "at"], unique=False)

    op.create_table(
        "ledger_heads",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        _user_fk("ledger_heads"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_ledger_heads")),
    )

    op.create_table(
        "account_activity",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("last_active_at", UTC(), nullable=False),
        _user_fk("account_activity"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_account_activity")),
    )

    op.create_table(
        "known_devices",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", UTC(), nullable=False),
        _user_fk("known_devices"),
        sa.PrimaryKeyConstraint("user_id", "device_hash", name=op.f("pk_known_devices")),
    )

    op.create_table(
        "account_deletions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("requested_at", UTC(), nullable=False),
        sa.Column("purge_after", UTC(), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=True),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("purge_started_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_deletions")),
        sa.UniqueConstraint("user_id", name=op.f("uq_account_deletions_user_id")),
    )
    with op.batch_alter_table("account_deletions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_deletions_purge_after"), ["purge_after"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_deletions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_deletions_purge_after"))
    op.drop_table("account_deletions")
    op.drop_table("known_devices")
    op.drop_table("account_activity")
    op.drop_table("ledger_heads")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_user_at")
    op.drop_table("ledger_entries")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_consent_records_open",
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_consent_records_user_id"))
    op.drop_table("consent_records")
    op.drop_table("consent_purposes")
