"""sharing: albums shared with users, public links (with their assets and password sessions),
partner shares

Revision ID: 0005
Revises: 0004

Written by hand. Only new tables, so SQLite's batch mode never copies an existing one; indexes
are created in batch blocks as the other revisions do, which runs the same on both databases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keepsake.storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC = keepsake.storage.models.UTCDateTime


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "album_shares",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("album_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        _fk("album_shares", "album_id", "albums"),
        _fk("album_shares", "recipient_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_album_shares")),
    )
    with op.batch_alter_table("album_shares", schema=None) as batch_op:
        batch_op.create_index(
            "uq_album_shares_album_recipient", ["album_id", "recipient_id"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_album_shares_recipient_id"), ["recipient_id"], unique=False
        )

    op.create_table(
        "share_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("album_id", sa.String(length=36), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("allow_download", sa.Boolean(), nullable=False),
        sa.Column("hide_metadata", sa.Boolean(), nullable=False),
        sa.Column("view_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=True),
        sa.Column("last_viewed_at", UTC(), nullable=True),
        sa.Column("revoked_at", UTC(), nullable=True),
        _fk("share_links", "owner_id", "users"),
        _fk("share_links", "album_id", "albums"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_links_token_hash")),
    )
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_links_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_share_links_album_id"), ["album_id"], unique=False)

    op.create_table(
        "share_link_assets",
        sa.Column("link_id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["share_links.id"],
            name=op.f("fk_share_link_assets_link_id_share_links"),
            ondelete="CASCADE",
        ),
        _fk("share_link_assets", "asset_id", "assets"),
        sa.PrimaryKeyConstraint("link_id", "asset_id", name=op.f("pk_share_link_assets")),
    )
    with op.batch_alter_table("share_link_assets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_share_link_assets_asset_id"), ["asset_id"], unique=False
        )

    op.create_table(
        "share_link_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("link_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["share_links.id"],
            name=op.f("fk_share_link_sessions_link_id_share_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_link_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_link_sessions_token_hash")),
    )
    with op.batch_alter_table("share_link_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_share_link_sessions_link_id"), ["link_id"], unique=False
        )

    op.create_table(
        "partner_shares",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("since", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        _fk("partner_shares", "owner_id", "users"),
        _fk("partner_shares", "partner_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_shares")),
        sa.UniqueConstraint("owner_id", name=op.f("uq_partner_shares_owner_id")),
    )
    with op.batch_alter_table("partner_shares", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_shares_partner_id"), ["partner_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("partner_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_shares_partner_id"))
    op.drop_table("partner_shares")
    with op.batch_alter_table("share_link_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_link_sessions_link_id"))
    op.drop_table("share_link_sessions")
    with op.batch_alter_table("share_link_assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_link_assets_asset_id"))
    op.drop_table("share_link_assets")
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_links_album_id"))
        batch_op.drop_index(batch_op.f("ix_share_links_owner_id"))
    op.drop_table("share_links")
    with op.batch_alter_table("album_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_album_shares_recipient_id"))
        batch_op.drop_index("uq_album_shares_album_recipient")
    op.drop_table("album_shares")
