"""SQL for accounts, sessions, API keys, two-factor recovery codes, login throttling and the
security audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from keepsake.storage.db import Database
from keepsake.storage.models import (
    ApiKey,
    AuditEvent,
    LoginSession,
    LoginThrottle,
    RecoveryCode,
    User,
)


class AuthRepository:
    def count_users(self, s: Session) -> int:
        return s.scalar(select(func.count()).select_from(User)) or 0

    def add_user(self, s: Session, user: User) -> None:
        s.add(user)
        s.flush()

    def user_by_id(self, s: Session, user_id: str) -> User | None:
        return s.get(User, user_id)

    def user_for_update(self, s: Session, user_id: str) -> User | None:
        return s.scalar(select(User).where(User.id == user_id).with_for_update())

    def user_by_email(self, s: Session, email: str) -> User | None:
        return s.scalar(select(User).where(User.email == email))

    def list_users(self, s: Session) -> list[User]:
        return list(s.scalars(select(User).order_by(User.created_at, User.email)))

    def count_active_admins(self, s: Session) -> int:
        query = select(func.count()).where(User.is_admin.is_(True), User.disabled_at.is_(None))
        return s.scalar(query.select_from(User)) or 0

    def delete_user(self, s: Session, user_id: str) -> bool:
        """Delete the account and, by cascade, everything that points at it. The wrapped data
        key is on the row, so this destroys it; it is blanked first so that no copy of it
        remains in the row's old bytes either (SQLite keeps freed cells until reused)."""
        s.execute(update(User).where(User.id == user_id).values(wrapped_key=None))
        result = s.execute(delete(User).where(User.id == user_id))
        return bool(getattr(result, "rowcount", 0))

    def flush_deleted(self, db: Database) -> None:
        """SQLite keeps the old version of a deleted row's page in its write-ahead log until a
        checkpoint; checkpoint now and empty the log (best effort: a long reader may delay
        it to the next checkpoint), so the bytes of a destroyed key leave the disk."""
        if not db.is_sqlite:
            return
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()

    def add_session(self, s: Session, session: LoginSession) -> None:
        s.add(session)

    def session_by_token_hash(self, s: Session, token_hash: str) -> LoginSession | None:
        return s.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash))

    def touch_session(self, s: Session, session_id: str, when: datetime) -> None:
        s.execute(
            update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=when)
        )

    def delete_session(self, s: Session, token_hash: str) -> None:
        s.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash))

    def delete_sessions_of(self, s: Session, user_id: str, *, keep: str | None = None) -> int:
        query = delete(LoginSession).where(LoginSession.user_id == user_id)
        if keep is not None:
            query = query.where(LoginSession.id != keep)
        return int(getattr(s.execute(query), "rowcount", 0) or 0)

    def sessions_of(self, s: Session, user_id: str, now: datetime) -> list[LoginSession]:
        return list(
            s.scalars(
                select(LoginSession)
                .where(LoginSession.user_id == user_id, LoginSession.expires_at > now)
                .order_by(LoginSession.last_seen_at.desc(), LoginSession.id)
            )
        )

    def delete_session_of(self, s: Session, user_id: str, session_id: str) -> bool:
        result = s.execute(
            delete(LoginSession).where(
                LoginSession.user_id == user_id, LoginSession.id == session_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    def delete_expired_sessions(self, s: Session, now: datetime) -> int:
        result = s.execute(delete(LoginSession).where(LoginSession.expires_at < now))
        return int(getattr(result, "rowcount", 0) or 0)

    def add_api_key(self, s: Session, key: ApiKey) -> None:
        s.add(key)

    def api_key_by_hash(self, s: Session, key_hash: str) -> ApiKey | None:
        return s.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))

    def api_keys_of(self, s: Session, user_id: str) -> list[ApiKey]:
        return list(
            s.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at))
        )

    def delete_api_key(self, s: Session, user_id: str, key_id: str) -> bool:
        result = s.execute(delete(ApiKey).where(ApiKey.user_id == user_id, ApiKey.id == key_id))
        return bool(getattr(result, "rowcount", 0))

    def touch_api_key(self, s: Session, key_id: str, when: datetime) -> None:
        s.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))

    # --- two-factor recovery codes -----------------------------------------------------

    def replace_recovery_codes(self, s: Session, user_id: str, codes: list[RecoveryCode]) -> None:
        s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        s.add_all(codes)

    def use_recovery_code(self, s: Session, user_id: str, code_hash: str, when: datetime) -> bool:
        """Mark an unused code used; False if there is none (each code works once)."""
        result = s.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=when)
        )
        return bool(getattr(result, "rowcount", 0))

    def unused_recovery_codes(self, s: Session, user_id: str) -> int:
        query = select(func.count()).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
        return s.scalar(query.select_from(RecoveryCode)) or 0

    # --- login throttling --------------------------------------------------------------

    def throttle(self, s: Session, key: str) -> LoginThrottle | None:
        return s.get(LoginThrottle, key)

    def set_throttle(
        self,
        s: Session,
        key: str,
        failures: int,
        last_failure_at: datetime,
        blocked_until: datetime | None,
    ) -> None:
        row = s.get(LoginThrottle, key)
        if row is None:
            s.add(
                LoginThrottle(
                    key=key,
                    failures=failures,
                    last_failure_at=last_failure_at,
                    blocked_until=blocked_until,
                )
            )
        else:
            row.failures = failures
            row.last_failure_at = last_failure_at
            row.blocked_until = blocked_until

    def clear_throttle(self, s: Session, key: str) -> None:
        s.execute(delete(LoginThrottle).where(LoginThrottle.key == key))

    # --- audit log ---------------------------------------------------------------------

    def add_audit_event(self, s: Session, event: AuditEvent) -> None:
        s.add(event)

    def audit_events(
        self,
        s: Session,
        *,
        user_id: str | None,
        before: datetime | None,
        limit: int,
    ) -> list[AuditEvent]:
        query = select(AuditEvent)
        if user_id is not None:
            query = query.where(AuditEvent.user_id == user_id)
        if before is not None:
            query = query.where(AuditEvent.at < before)
        query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
        return list(s.scalars(query))
