"""SQL for the key hierarchy: wrapped user keys, the installation's security state, and the
rows from before encryption that still hold plaintext."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keepsake.storage.models import Asset, SecurityState, Upload, User

# Names in `security_state`.
MASTER_KEY_ID = "master_key_id"  # the master key that wraps every user key
PLAINTEXT_BLOBS = "plaintext_blobs"  # "1": blobs from before encryption may remain
BLOBS_ENCRYPTED = "blobs_encrypted"  # "1": encryption at rest was on at least once


class KeyRepository:
    # --- security state ----------------------------------------------------------------

    def state(self, s: Session, name: str, *, for_update: bool = False) -> str | None:
        query = select(SecurityState.value).where(SecurityState.name == name)
        if for_update:
            # Serialises user creation against a rotation on PostgreSQL (on SQLite every
            # write transaction already holds the database's write lock).
            query = query.with_for_update()
        return s.scalar(query)

    def set_state(self, s: Session, name: str, value: str) -> None:
        row = s.get(SecurityState, name)
        if row is None:
            s.add(SecurityState(name=name, value=value))
        else:
            row.value = value
        s.flush()

    # --- wrapped user keys -------------------------------------------------------------

    def wrapped_key(self, s: Session, user_id: str) -> str | None:
        return s.scalar(select(User.wrapped_key).where(User.id == user_id))

    def any_wrapped_key(self, s: Session) -> bool:
        return s.scalar(select(User.id).where(User.wrapped_key.is_not(None)).limit(1)) is not None

    def wrapped_keys(self, s: Session) -> list[tuple[str, str]]:
        rows = s.execute(
            select(User.id, User.wrapped_key).where(User.wrapped_key.is_not(None)).order_by(User.id)
        )
        return [(user_id, wrapped) for user_id, wrapped in rows if wrapped is not None]

    def users_without_key(self, s: Session) -> list[str]:
        return list(s.scalars(select(User.id).where(User.wrapped_key.is_(None))))

    def set_wrapped_key(self, s: Session, user_id: str, wrapped: str) -> None:
        s.execute(update(User).where(User.id == user_id).values(wrapped_key=wrapped))

    # --- rows from before encryption ---------------------------------------------------

    def legacy_assets(self, s: Session, limit: int) -> list[Asset]:
        return list(s.scalars(select(Asset).where(Asset.sealed.is_(None)).limit(limit)))

    def legacy_uploads(self, s: Session, limit: int) -> list[Upload]:
        return list(s.scalars(select(Upload).where(Upload.sealed.is_(None)).limit(limit)))
