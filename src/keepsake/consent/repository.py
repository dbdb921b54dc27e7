"""SQL for consent records, the data-use ledger, account activity and devices, account
deletions, and the whole-account reads that takeout and the purge need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keepsake.storage.db import Database
from keepsake.storage.models import (
    AccountActivity,
    AccountDeletion,
    Album,
    AlbumAsset,
    ApiKey,
    Asset,
    AuditEvent,
    ConsentPurpose,
    ConsentRecord,
    Face,
    KnownDevice,
    LedgerEntry,
    LedgerHead,
    LoginSession,
    Person,
    Upload,
    User,
)


def _insert(s: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that knows ON CONFLICT on both databases."""
    if s.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class ConsentRepository:
    # --- accounts ----------------------------------------------------------------------

    def user_by_id(self, s: Session, user_id: str) -> User | None:
        return s.get(User, user_id)

    def user_by_email(self, s: Session, email: str) -> User | None:
        return s.scalar(select(User).where(User.email == email))

    def existing_user_ids(self, s: Session, user_ids: Iterable[str]) -> set[str]:
        wanted = list(user_ids)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            found.update(s.scalars(select(User.id).where(User.id.in_(batch))))
        return found

    def count_active_admins(self, s: Session) -> int:
        query = select(func.count()).where(User.is_admin.is_(True), User.disabled_at.is_(None))
        return s.scalar(query.select_from(User)) or 0

    # --- purposes and consent records --------------------------------------------------

    def purpose_versions(self, s: Session) -> list[ConsentPurpose]:
        return list(
            s.scalars(select(ConsentPurpose).order_by(ConsentPurpose.name, ConsentPurpose.version))
        )

    def purpose_version(self, s: Session, name: str, version: int) -> ConsentPurpose | None:
        return s.get(ConsentPurpose, (name, version))

    def open_consent(self, s: Session, user_id: str, purpose: str) -> ConsentRecord | None:
        return s.scalar(
            select(ConsentRecord).where(
                ConsentRecord.user_id == user_id,
                ConsentRecord.purpose == purpose,
                ConsentRecord.ended_at.is_(None),
            )
        )

    def has_open_consent(self, s: Session, user_id: str, purpose: str, version: int) -> bool:
        found = s.scalar(
            select(ConsentRecord.id).where(
                ConsentRecord.user_id == user_id,
                ConsentRecord.purpose == purpose,
                ConsentRecord.version == version,
                ConsentRecord.ended_at.is_(None),
            )
        )
        return found is not None

    def users_with_open_consent(
        self, s: Session, purpose: str, version: int | None = None
    ) -> list[str]:
        """Users whose consent to `purpose` is open: to `version`, or to any version."""
        query = select(ConsentRecord.user_id).where(
            ConsentRecord.purpose == purpose, ConsentRecord.ended_at.is_(None)
        )
        if version is not None:
            query = query.where(ConsentRecord.version == version)
        return list(s.scalars(query.order_by(ConsentRecord.user_id)))

    def last_end(self, s: Session, user_id: str, purpose: str) -> LedgerEntry | None:
        """The ledger entry of the last time consent to `purpose` ended (withdrawn or
        expired): it says whether the user kept the names."""
        return s.scalar(
            select(LedgerEntry)
            .where(
                LedgerEntry.user_id == user_id,
                LedgerEntry.purpose == purpose,
                LedgerEntry.action.in_(("consent.withdrawn", "consent.expired")),
            )
            .order_by(LedgerEntry.seq.desc())
            .limit(1)
        )

    def open_consents(self, s: Session, user_id: str) -> list[ConsentRecord]:
        return list(
            s.scalars(
                select(ConsentRecord).where(
                    ConsentRecord.user_id == user_id, ConsentRecord.ended_at.is_(None)
                )
            )
        )

    def consent_history(self, s: Session, user_id: str) -> list[ConsentRecord]:
        return list(
            s.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.user_id == user_id)
                .order_by(ConsentRecord.granted_at, ConsentRecord.id)
            )
        )

    def add_consent(self, s: Session, record: ConsentRecord) -> None:
        s.add(record)
        s.flush()

    def users_to_expire(
        self, s: Session, purposes: Sequence[str], inactive_since: datetime, limit: int = 500
    ) -> list[tuple[str, str]]:
        """(user id, purpose) of open consents to biometric purposes whose account has not
        been used since `inactive_since`: no login, session or API key use, and created
        before then. Sessions and keys are read too, in case a hook did not fire."""
        session_seen = (
            select(func.max(LoginSession.last_seen_at))
            .where(LoginSession.user_id == User.id)
            .scalar_subquery()
        )
        key_used = (
            select(func.max(ApiKey.last_used_at)).where(ApiKey.user_id == User.id).scalar_subquery()
        )
        activity = (
            select(AccountActivity.last_active_at)
            .where(AccountActivity.user_id == User.id)
            .scalar_subquery()
        )
        query = (
            select(ConsentRecord.user_id, ConsentRecord.purpose)
            .join(User, User.id == ConsentRecord.user_id)
            .where(
                ConsentRecord.ended_at.is_(None),
                ConsentRecord.purpose.in_(purposes),
                User.created_at < inactive_since,
                func.coalesce(activity, User.created_at) < inactive_since,
                func.coalesce(session_seen, User.created_at) < inactive_since,
                func.coalesce(key_used, User.created_at) < inactive_since,
            )
            .order_by(ConsentRecord.user_id, ConsentRecord.purpose)
            .limit(limit)
        )
        return [(user_id, purpose) for user_id, purpose in s.execute(query)]

    # --- the ledger --------------------------------------------------------------------

    def lock_ledger_head(self, s: Session, user_id: str, genesis: str) -> LedgerHead:
        """The chain head of a user, locked until the transaction ends (PostgreSQL: a row
        lock, so concurrent appends queue; SQLite has one writer already). Created at the
        genesis on first use, without racing a concurrent first append."""
        s.execute(
            _insert(s, LedgerHead)
            .values(user_id=user_id, seq=0, hash=genesis)
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        head = s.scalar(
            select(LedgerHead)
            .where(LedgerHead.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert head is not None
        return head

    def ledger_head(self, s: Session, user_id: str) -> LedgerHead | None:
        return s.get(LedgerHead, user_id)

    def add_ledger_entry(self, s: Session, entry: LedgerEntry) -> None:
        s.add(entry)
        s.flush()

    def ledger_page(
        self,
        s: Session,
        user_id: str,
        *,
        before_seq: int | None,
        limit: int,
        action: str | None = None,
        purpose: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[LedgerEntry]:
        """Newest first, keyset-paginated on the sequence number."""
        query = select(LedgerEntry).where(LedgerEntry.user_id == user_id)
        if before_seq is not None:
            query = query.where(LedgerEntry.seq < before_seq)
        if action is not None:
            query = query.where(LedgerEntry.action == action)
        if purpose is not None:
            query = query.where(LedgerEntry.purpose == purpose)
        if since is not None:
            query = query.where(LedgerEntry.at >= since)
        if until is not None:
            query = query.where(LedgerEntry.at < until)
        return list(s.scalars(query.order_by(LedgerEntry.seq.desc()).limit(limit)))

    def ledger_in_order(
        self, s: Session, user_id: str, *, after_seq: int, limit: int
    ) -> list[LedgerEntry]:
        """Oldest first from `after_seq`, for verifying and exporting the chain."""
        return list(
            s.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.user_id == user_id, LedgerEntry.seq > after_seq)
                .order_by(LedgerEntry.seq)
                .limit(limit)
            )
        )

    # --- activity and devices ----------------------------------------------------------

    def touch_activity(self, s: Session, user_id: str, when: datetime) -> None:
        s.execute(
            _insert(s, AccountActivity)
            .values(user_id=user_id, last_active_at=when)
            .on_conflict_do_update(index_elements=["user_id"], set_={"last_active_at": when})
        )

    def add_device(self, s: Session, user_id: str, device_hash: str, when: datetime) -> bool:
        """Remember a device; True if it was not known before."""
        inserted = s.execute(
            _insert(s, KnownDevice)
            .values(user_id=user_id, device_hash=device_hash, first_seen_at=when)
            .on_conflict_do_nothing(index_elements=["user_id", "device_hash"])
            # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT.
            .returning(KnownDevice.user_id)
        ).first()
        return inserted is not None

    # --- account deletion --------------------------------------------------------------

    def deletion_of(self, s: Session, user_id: str) -> AccountDeletion | None:
        return s.scalar(select(AccountDeletion).where(AccountDeletion.user_id == user_id))

    def deletion_by_id(self, s: Session, deletion_id: str) -> AccountDeletion | None:
        return s.get(AccountDeletion, deletion_id)

    def add_deletion(self, s: Session, deletion: AccountDeletion) -> None:
        s.add(deletion)
        s.flush()

    def remove_deletion(self, s: Session, deletion_id: str) -> None:
        s.execute(delete(AccountDeletion).where(AccountDeletion.id == deletion_id))

    def due_deletions(self, s: Session, now: datetime, limit: int = 50) -> list[AccountDeletion]:
        return list(
            s.scalars(
                select(AccountDeletion)
                .where(AccountDeletion.purge_after <= now)
                .order_by(AccountDeletion.purge_after)
                .limit(limit)
            )
        )

    def revoke_credentials(self, s: Session, user_id: str) -> None:
        """End every session and API key: nothing keeps using an account being deleted."""
        s.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
        s.execute(delete(ApiKey).where(ApiKey.user_id == user_id))

    def upload_ids_of(self, s: Session, user_id: str) -> list[str]:
        return list(s.scalars(select(Upload.id).where(Upload.owner_id == user_id)))

    def pseudonymise_audit(self, s: Session, user_id: str, pseudonym: str) -> None:
        """The security audit log keeps the events of a deleted account for administrators;
        they keep their times and kinds under a random id, without address or details, so
        nothing in them identifies the account any more."""
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.user_id == user_id)
            .values(user_id=pseudonym, ip=None, detail=None)
        )
        s.execute(
            update(AuditEvent).where(AuditEvent.actor_id == user_id).values(actor_id=pseudonym)
        )

    def checkpoint_sqlite(self, db: Database) -> bool:
        """Copy SQLite's write-ahead log into the database file and empty it: the log keeps
        the pages of rows since deleted (secure_delete zeroes them in the file only). False
        if a reader kept it from finishing (the log then empties at a later checkpoint)."""
        if not db.is_sqlite:
            return True
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        return not busy

    def compact_sqlite(self, db: Database) -> None:
        """Rewrite an SQLite file so rows deleted from it leave no bytes behind (SQLite keeps
        freed cells until reused), and empty its write-ahead log, which holds old pages."""
        if not db.is_sqlite:
            return
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            # The connection runs in autocommit (isolation_level None): VACUUM needs that.
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()

    # --- takeout -----------------------------------------------------------------------

    def assets_page(
        self, s: Session, owner_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Asset]:
        """Every asset of the owner, trash included, oldest first, keyset-paginated."""
        query = select(Asset).where(Asset.owner_id == owner_id)
        if after is not None:
            query = query.where(tuple_(Asset.taken_at, Asset.id) > tuple_(*after))
        return list(s.scalars(query.order_by(Asset.taken_at, Asset.id).limit(limit)))

    def albums_of(self, s: Session, owner_id: str) -> list[Album]:
        return list(
            s.scalars(
                select(Album).where(Album.owner_id == owner_id).order_by(Album.created_at, Album.id)
            )
        )

    def album_memberships(self, s: Session, owner_id: str) -> list[tuple[str, str]]:
        """(album id, asset id) for every album of the owner, in the album's own order (the
        owner's arrangement; photos added later come after, in the order added)."""
        rows = s.execute(
            select(AlbumAsset.album_id, AlbumAsset.asset_id)
            .join(Album, Album.id == AlbumAsset.album_id)
            .where(Album.owner_id == owner_id)
            .order_by(
                AlbumAsset.album_id, AlbumAsset.position, AlbumAsset.added_at, AlbumAsset.asset_id
            )
        )
        return [(album_id, asset_id) for album_id, asset_id in rows]

    def assets_with_faces(self, s: Session, owner_id: str, asset_ids: Sequence[str]) -> set[str]:
        """Which of these assets of the owner have faces (the faces tables, read only)."""
        if not asset_ids:
            return set()
        return set(
            s.scalars(
                select(Face.asset_id)
                .where(Face.owner_id == owner_id, Face.asset_id.in_(asset_ids))
                .distinct()
            )
        )

    def named_people(self, s: Session, owner_id: str) -> list[tuple[str, str]]:
        rows = s.execute(
            select(Person.id, Person.name)
            .where(Person.owner_id == owner_id, Person.name.is_not(None))
            .order_by(Person.name, Person.id)
        )
        return [(person_id, name) for person_id, name in rows if name]
