"""albums keep an order: album_assets.position and albums.sort_order

Revision ID: 0008
Revises: 0007

Written by hand. Each photo in an album gets a place in the album's manual order, filled in
with the order albums showed until now (newest capture first, then id, as the album queries
sorted), so that switching an existing album to the manual order changes nothing on screen.
Each album says which order it shows; existing albums keep "newest_first".

Both columns are added in place with a server default (ALTER TABLE ... ADD COLUMN): no batch
copy of a table, whose re-creation on SQLite would cascade-delete the rows pointing at it.
The backfill is one UPDATE ... FROM over a window function, which PostgreSQL and SQLite (3.33
and later; Keepsake needs 3.35) both run. The downgrade drops the two columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "albums",
        sa.Column("sort_order", sa.String(16), nullable=False, server_default="newest_first"),
    )
    op.add_column(
        "album_assets",
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE album_assets SET position = ranked.place FROM ("
        "SELECT aa.album_id AS album_id, aa.asset_id AS asset_id, "
        "ROW_NUMBER() OVER (PARTITION BY aa.album_id "
        "ORDER BY a.taken_at DESC, a.id DESC) - 1 AS place "
        "FROM album_assets aa JOIN assets a ON a.id = aa.asset_id) AS ranked "
        "WHERE album_assets.album_id = ranked.album_id "
        "AND album_assets.asset_id = ranked.asset_id"
    )


def downgrade() -> None:
    op.drop_column("album_assets", "position")
    op.drop_column("albums", "sort_order")
