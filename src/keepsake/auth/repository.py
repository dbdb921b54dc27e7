"""SQL for accounts, sessions and API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from keepsake.storage.models import ApiKey, LoginSession, User


class AuthRepository:
    def count_users(self, s: Session) -> int:
        return s.scalar(select(func.count()).select_from(User)) or 0

    def add_user(self, s: Session, user: User) -> None:
        s.add(user)
        s.flush()

    def user_by_id(self, s: Session, user_id: str) -> User | None:
        return s.get(User, user_id)

    def user_by_email(self, s: Session, email: str) -> User | None:
        return s.scalar(select(User).where(User.email == email))

    def list_users(self, s: Session) -> list[User]:
        return list(s.scalars(select(User).order_by(User.created_at, User.email)))

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

    def delete_sessions_of(self, s: Session, user_id: str) -> None:
        s.execute(delete(LoginSession).where(LoginSession.user_id == user_id))

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
