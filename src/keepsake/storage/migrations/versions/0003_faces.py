"""faces: people, faces (boxes and sealed templates), rejections, the per-owner face index

Revision ID: 0003
Revises: 0002

Written by hand. Only new tables, so SQLite's batch mode never copies an existing one; the
indexes are created in batch blocks as the library core's are, which runs the same on both
databases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keepsake.storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC = keepsake.storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("is_hidden", sa.Boolean(), nullable=False),
        sa.Column("is_confirmed", sa.Boolean(), nullable=False),
        sa.Column("cover_face_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_people_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index("ix_people_owner_name", ["owner_id", "name"], unique=False)

    op.create_table(
        "faces",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("taken_at", UTC(), nullable=False),
        sa.Column("x1", sa.Float(), nullable=False),
        sa.Column("y1", sa.Float(), nullable=False),
        sa.Column("x2", sa.Float(), nullable=False),
        sa.Column("y2", sa.Float(), nullable=False),
        sa.Column("landmarks", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("is_seed", sa.Boolean(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("model_id", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("assigned_by", sa.String(length=8), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_faces_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_faces_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_faces_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faces")),
    )
    with op.batch_alter_table("faces", schema=None) as batch_op:
        batch_op.create_index("ix_faces_owner_person", ["owner_id", "person_id"], unique=False)
        batch_op.create_index(
            "ix_faces_person_taken", ["person_id", "taken_at", "asset_id"], unique=False
        )
        batch_op.create_index("ix_faces_asset_person", ["asset_id", "person_id"], unique=False)

    op.create_table(
        "face_rejections",
        sa.Column("face_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["face_id"],
            ["faces.id"],
            name=op.f("fk_face_rejections_face_id_faces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_face_rejections_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("face_id", "person_id", name=op.f("pk_face_rejections")),
    )
    with op.batch_alter_table("face_rejections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_face_rejections_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "face_indexes",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("last_merge", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_face_indexes_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_face_indexes")),
    )


def downgrade() -> None:
    op.drop_table("face_indexes")
    with op.batch_alter_table("face_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_rejections_person_id"))
    op.drop_table("face_rejections")
    with op.batch_alter_table("faces", schema=None) as batch_op:
        batch_op.drop_index("ix_faces_asset_person")
        batch_op.drop_index("ix_faces_person_taken")
        batch_op.drop_index("ix_faces_owner_person")
    op.drop_table("faces")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index("ix_people_owner_name")
    op.drop_table("people")
