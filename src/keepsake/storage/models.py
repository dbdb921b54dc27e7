"""The database schema: one declarative model per table. Migrations are generated from it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


ID = String(36)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    usage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The user's data key wrapped by the master key (crypto.keys.wrap); deleting the row
    # destroys it, and with it everything encrypted for this user (crypto-shredding).
    wrapped_key: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # TOTP: the secret sealed with the user's key; enabled once a first code was verified.
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last TOTP time step accepted, so a code cannot be replayed within its window.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginSession(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (
        Index("uq_assets_owner_checksum", "owner_id", "checksum", unique=True),
        # The timeline: newest first by capture time, keyset-paginated on (taken_at, id).
        Index(
            "ix_assets_timeline",
            "owner_id",
            "taken_at",
            "id",
            sqlite_where=text("trashed_at IS NULL"),
            postgresql_where=text("trashed_at IS NULL"),
        ),
        Index("ix_assets_trash", "owner_id", "trashed_at"),
    )

    # Revealed (plaintext) values are plain attributes, never columns: see below.
    __allow_unmapped__ = True

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The de-duplication key: HMAC of the SHA-256 under the owner's key (crypto.records),
    # never the SHA-256 itself, so a leaked database cannot confirm who owns a known photo.
    checksum_key: Mapped[str] = mapped_column("checksum", String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_at_offset_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    taken_at_source: Mapped[str] = mapped_column(String(8))
    orientation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_favorite: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    trashed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # SHA-256, file name, camera, lens, place and EXIF, sealed with the owner's key
    # (crypto.records); make and model also as keyed tags, so the timeline can filter on them.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    make_tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The library core's plaintext columns: empty for rows written since migration 0002, and
    # emptied when `crypto.records.migrate_legacy_rows` seals an older row.
    legacy_filename: Mapped[str] = mapped_column("original_filename", String(255), default="")
    legacy_make: Mapped[str | None] = mapped_column("make", String(100), nullable=True)
    legacy_model: Mapped[str | None] = mapped_column("model", String(100), nullable=True)
    legacy_lens: Mapped[str | None] = mapped_column("lens", String(200), nullable=True)
    legacy_latitude: Mapped[float | None] = mapped_column("latitude", Float, nullable=True)
    legacy_longitude: Mapped[float | None] = mapped_column("longitude", Float, nullable=True)
    legacy_exif: Mapped[dict[str, Any] | None] = mapped_column(
        "exif", JSON(none_as_null=True), nullable=True
    )

    # Revealed values: set by crypto.records from `sealed` when a service loads the row (or
    # when it creates it); plain attributes, so they are never written to the database.
    checksum: str | None = None  # the SHA-256 (hex) the owner's client knows
    original_filename: str = ""
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    exif: dict[str, Any] | None = None


class AssetStep(Base):
    """A derived step (thumbnail, preview, faces ...) that is done for an asset."""

    __tablename__ = "asset_steps"

    asset_id: Mapped[str] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(32), primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Album(Base):
    __tablename__ = "albums"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    cover_asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # How the album lists its photos: "manual" (AlbumAsset.position), "oldest_first" or
    # "newest_first" (by capture time), the order albums had before they could be arranged.
    sort_order: Mapped[str] = mapped_column(
        String(16), default="newest_first", server_default="newest_first"
    )


class AlbumAsset(Base):
    __tablename__ = "album_assets"

    album_id: Mapped[str] = mapped_column(
        ForeignKey("albums.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[str] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Place in the album's manual order, from 0; a photo added goes after the last. Not
    # unique: two members adding at once may share a place, which the capture time breaks.
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Upload(Base):
    """A resumable (tus) upload in progress; its bytes are staged on local disk."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # Empty since migration 0002: the file name is in `sealed`, with the owner's key.
    filename: Mapped[str] = mapped_column(String(255))
    # HMAC of the SHA-256 the client declared, as `Asset.checksum_key` (not the SHA-256).
    declared_checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    file_mtime: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    asset_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- security (migration 0002) ----------------------------------------------------------


class SecurityState(Base):
    """Facts about the installation's encryption that every process must agree on: which
    master key wraps the user keys, whether plaintext blobs from before encryption remain."""

    __tablename__ = "security_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class RecoveryCode(Base):
    """A one-time two-factor recovery code, stored as its SHA-256 (it carries 80 random bits)."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginThrottle(Base):
    """Failed authentication attempts per account or per client address (the key is a hash,
    so the table holds no email or address), for exponential back-off."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEvent(Base):
    """A security event: logins, failures, credential and key changes, admin actions.

    `user_id` is the account the event is about (no foreign key: an admin still sees the
    events of a deleted account, by id only); `actor_id` who caused it, when not the user."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_user_at", "user_id", "at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    actor_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


# --- consent, the data-use ledger, retention and account deletion (migration 0004) --------


class ConsentPurpose(Base):
    """One version of a purpose's text, as users read it (keepsake.consent.purposes)."""

    __tablename__ = "consent_purposes"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    biometric: Mapped[bool] = mapped_column(Boolean)


class ConsentRecord(Base):
    """A user's consent to one version of a purpose: who gave it, when and how, and when and
    why it ended. Rows are never deleted while the account exists; at most one is open."""

    __tablename__ = "consent_records"
    __table_args__ = (
        ForeignKeyConstraint(
            ["purpose", "version"], ["consent_purposes.name", "consent_purposes.version"]
        ),
        Index(
            "uq_consent_records_open",
            "user_id",
            "purpose",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    granted_via: Mapped[str] = mapped_column(String(8))  # web, api or cli
    granted_by: Mapped[str] = mapped_column(String(80))  # a ledger actor
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_via: Mapped[str | None] = mapped_column(String(8), nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # withdrawn (by the user), renewed (accepted a newer text), expired (retention)
    ended_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)


class LedgerEntry(Base):
    """One processing of a user's data, hash-chained to the entry before it (consent.ledger).
    Append-only: nothing updates or deletes a row except the deletion of the account."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_user_at", "user_id", "at"),)

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(40), nullable=True)
    object_ids: Mapped[list[str]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """The last entry of a user's chain: appends lock this row, and `verify` compares it with
    the last entry, so cutting entries off the end is caught too."""

    __tablename__ = "ledger_heads"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AccountActivity(Base):
    """When the account was last used (a login, a session or API key in use), for retention."""

    __tablename__ = "account_activity"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KnownDevice(Base):
    """A device (by the SHA-256 of its user agent) the user has logged in from, so that a
    login from a new one is written to their ledger."""

    __tablename__ = "known_devices"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    device_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccountDeletion(Base):
    """An account deletion waiting for its grace period to end. No foreign key on purpose:
    the row outlives the user row by the last steps of the purge, so a purge interrupted
    after the user row went is finished by the next run; the purge deletes it last."""

    __tablename__ = "account_deletions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, unique=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purge_after: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    requested_by: Mapped[str | None] = mapped_column(ID, nullable=True)  # an admin; None: self
    via: Mapped[str] = mapped_column(String(8))
    purge_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --- faces and people (migration 0003) ----------------------------------------------------


class Person(Base):
    """A person in one owner's library: a group of that owner's faces, named or not.

    `is_confirmed`: the user has acted on this person (named, hid, merged, split, assigned or
    removed a face); a full re-cluster keeps a confirmed person's faces and never merges two
    confirmed people. `cover_face_id` has no foreign key (faces point at people already);
    a cover that no longer belongs to the person is ignored."""

    __tablename__ = "people"
    __table_args__ = (Index("ix_people_owner_name", "owner_id", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    is_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    cover_face_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Face(Base):
    """One face in one photo. The box is in pixels of the photo as displayed (after its EXIF
    orientation), (x1, y1) top-left, (x2, y2) bottom-right exclusive. `embedding` is the face
    template: float32 bytes sealed with the owner's key (crypto), bound to the face id; it is
    empty for a face the user drew where no template could be made."""

    __tablename__ = "faces"
    __table_args__ = (
        Index("ix_faces_owner_person", "owner_id", "person_id"),
        # Photos of a person, newest first, a page at a time, straight from the index.
        Index("ix_faces_person_taken", "person_id", "taken_at", "asset_id"),
        # A photo's faces, and "is this person in this photo" when searching several people.
        Index("ix_faces_asset_person", "asset_id", "person_id"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True
    )
    # The photo's capture time, copied so that a person's photos page by the index above.
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[list[list[float]] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    quality: Mapped[float] = mapped_column(Float, default=0.0)
    is_seed: Mapped[bool] = mapped_column(Boolean, default=False)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    model_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str] = mapped_column(String(10))  # detected, manual, xmp
    assigned_by: Mapped[str | None] = mapped_column(String(8), nullable=True)  # auto, user
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FaceRejection(Base):
    """The user said this face is not this person: it never goes (back) into it."""

    __tablename__ = "face_rejections"

    face_id: Mapped[str] = mapped_column(
        ForeignKey("faces.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FaceIndex(Base):
    """Per owner: the model the library's faces are indexed with, a counter bumped by every
    change to the owner's faces or people (in-memory template caches compare it), and the
    last merge, kept so it can be undone."""

    __tablename__ = "face_indexes"

    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    last_merge: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- sharing (migration 0005) -------------------------------------------------------------


class AlbumShare(Base):
    """An album its owner shares with another user, as `viewer` or `contributor`. Access is
    read from this row on every request, so a revoked or changed grant counts at once."""

    __tablename__ = "album_shares"
    __table_args__ = (
        Index("uq_album_shares_album_recipient", "album_id", "recipient_id", unique=True),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    album_id: Mapped[str] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"))
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShareLink(Base):
    """A public link to an album (`album_id`) or to a selection of assets (`share_link_assets`).
    Only the SHA-256 of its token is kept; the password, if any, as an Argon2id hash."""

    __tablename__ = "share_links"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    album_id: Mapped[str | None] = mapped_column(
        ForeignKey("albums.id", ondelete="CASCADE"), nullable=True, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    allow_download: Mapped[bool] = mapped_column(Boolean, default=False)
    hide_metadata: Mapped[bool] = mapped_column(Boolean, default=True)
    view_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ShareLinkAsset(Base):
    """One asset of a link to a selection of assets."""

    __tablename__ = "share_link_assets"

    link_id: Mapped[str] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[str] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ShareLinkSession(Base):
    """A short-lived session for a password-protected link, given for the right password so
    the password is not re-sent (and re-hashed) with every thumbnail. Stored hashed."""

    __tablename__ = "share_link_sessions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    link_id: Mapped[str] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PartnerShare(Base):
    """A user's whole timeline (from `since` on, if set) shared read-only with one partner."""

    __tablename__ = "partner_shares"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One run of a background job, for the administrator's view of the queue: what ran,
    how it ended and, for a failure, the error. The queue (Huey) keeps no such history.
    Job arguments are ids, never user data."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_state_updated", "state", "updated_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)  # the queue's task id
    name: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[str]] = mapped_column(JSON)
    # running, retrying (an automatic retry is scheduled), queued (retried by an
    # administrator), succeeded, skipped, failed
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
