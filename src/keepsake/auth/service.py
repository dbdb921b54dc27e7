"""Use cases for accounts: first-run setup, users, login sessions and API keys."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from keepsake.auth.access import Principal, Scope, require_access, require_admin
from keepsake.auth.passwords import hash_password, verify_password
from keepsake.auth.repository import AuthRepository
from keepsake.clock import Clock
from keepsake.config import Settings
from keepsake.errors import Conflict, NotFound, SetupDone, Unauthorized
from keepsake.ids import new_id, new_token, token_hash
from keepsake.storage.db import Database
from keepsake.storage.models import ApiKey, LoginSession, User

SESSION_TOUCH_INTERVAL = timedelta(minutes=5)  # write last-seen at most this often
API_KEY_PREFIX = "ks_"


class AuthService:
    def __init__(
        self, db: Database, repo: AuthRepository, settings: Settings, clock: Clock
    ) -> None:
        self.db = db
        self.repo = repo
        self.settings = settings
        self.clock = clock

    # --- users -----------------------------------------------------------------------

    def needs_setup(self) -> bool:
        with self.db.read() as s:
            return self.repo.count_users(s) == 0

    def setup_first_admin(self, email: str, password: str, display_name: str = "") -> User:
        """Create the first account, an administrator; refused once any account exists."""
        password_hash = hash_password(password)
        with self.db.write() as s:
            if self.repo.count_users(s) > 0:
                raise SetupDone("Keepsake already has accounts; log in instead.")
            return self._add_user(s, email, password_hash, display_name, True, None)

    def create_user(
        self,
        actor: Principal | None,
        email: str,
        password: str,
        *,
        display_name: str = "",
        is_admin: bool = False,
        quota_bytes: int | None = None,
    ) -> User:
        """Create an account. `actor` None means the local CLI, which the operator runs."""
        if actor is not None:
            require_admin(actor)
        password_hash = hash_password(password)
        with self.db.write() as s:
            quota = quota_bytes if quota_bytes is not None else self.settings.default_quota_bytes
            return self._add_user(s, email, password_hash, display_name, is_admin, quota)

    def _add_user(
        self,
        s: Session,
        email: str,
        password_hash: str,
        display_name: str,
        is_admin: bool,
        quota: int | None,
    ) -> User:
        email = email.strip().lower()
        if self.repo.user_by_email(s, email) is not None:
            raise Conflict("An account with this email exists.")
        user = User(
            id=new_id(),
            email=email,
            display_name=display_name or email.split("@")[0],
            password_hash=password_hash,
            is_admin=is_admin,
            quota_bytes=quota,
            usage_bytes=0,
            face_recognition_enabled=False,
            created_at=self.clock.now(),
        )
        self.repo.add_user(s, user)
        return user

    def me(self, principal: Principal) -> User:
        user_id = require_access(principal)
        with self.db.read() as s:
            user = self.repo.user_by_id(s, user_id)
            if user is None:
                raise NotFound()
            return user

    def list_users(self, actor: Principal | None) -> list[User]:
        if actor is not None:
            require_admin(actor)
        with self.db.read() as s:
            return self.repo.list_users(s)

    def set_quota(self, actor: Principal | None, user_id: str, quota_bytes: int | None) -> User:
        if actor is not None:
            require_admin(actor)
        with self.db.write() as s:
            user = self.repo.user_by_id(s, user_id)
            if user is None:
                raise NotFound()
            user.quota_bytes = quota_bytes
            return user

    # --- sessions ----------------------------------------------------------------------

    def login(self, email: str, password: str, user_agent: str = "") -> tuple[str, User]:
        with self.db.read() as s:
            user = self.repo.user_by_email(s, email.strip().lower())
        ok = verify_password(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled_at is not None:
            raise Unauthorized("Wrong email or password.")
        token = new_token()
        now = self.clock.now()
        with self.db.write() as s:
            self.repo.add_session(
                s,
                LoginSession(
                    id=new_id(),
                    user_id=user.id,
                    token_hash=token_hash(token),
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(hours=self.settings.session_ttl_hours),
                    user_agent=user_agent[:300],
                ),
            )
        return token, user

    def logout(self, token: str) -> None:
        with self.db.write() as s:
            self.repo.delete_session(s, token_hash(token))

    def authenticate_session(self, token: str) -> Principal | None:
        now = self.clock.now()
        with self.db.read() as s:
            session = self.repo.session_by_token_hash(s, token_hash(token))
            if session is None or session.expires_at <= now:
                return None
            user = self.repo.user_by_id(s, session.user_id)
            if user is None or user.disabled_at is not None:
                return None
            stale = now - session.last_seen_at > SESSION_TOUCH_INTERVAL
        if stale:
            with self.db.write() as s:
                self.repo.touch_session(s, session.id, now)
        return Principal(user.id, user.is_admin, frozenset({Scope.FULL}), session_id=session.id)

    # --- API keys ----------------------------------------------------------------------

    def authenticate_api_key(self, secret: str) -> Principal | None:
        if not secret.startswith(API_KEY_PREFIX):
            return None
        with self.db.read() as s:
            key = self.repo.api_key_by_hash(s, token_hash(secret))
            if key is None:
                return None
            user = self.repo.user_by_id(s, key.user_id)
            if user is None or user.disabled_at is not None:
                return None
            stale = (
                key.last_used_at is None
                or self.clock.now() - key.last_used_at > SESSION_TOUCH_INTERVAL
            )
        if stale:
            with self.db.write() as s:
                self.repo.touch_api_key(s, key.id, self.clock.now())
        scopes = frozenset(Scope(x) for x in key.scopes.split(","))
        return Principal(user.id, user.is_admin, scopes, api_key_id=key.id)

    def create_api_key(
        self, principal: Principal, name: str, scopes: list[Scope]
    ) -> tuple[str, ApiKey]:
        user_id = require_access(principal, Scope.FULL)
        secret = new_token(API_KEY_PREFIX)
        key = ApiKey(
            id=new_id(),
            user_id=user_id,
            name=name,
            key_hash=token_hash(secret),
            prefix=secret[:8],
            scopes=",".join(sorted({str(x) for x in scopes})),
            created_at=self.clock.now(),
        )
        with self.db.write() as s:
            self.repo.add_api_key(s, key)
        return secret, key

    def create_api_key_for(self, user_email: str, name: str, scopes: list[Scope]) -> str:
        """CLI: an operator issues a key for an account on this server."""
        with self.db.read() as s:
            user = self.repo.user_by_email(s, user_email.strip().lower())
        if user is None:
            raise NotFound("No account with this email.")
        principal = Principal(user.id, user.is_admin, frozenset({Scope.FULL}))
        return self.create_api_key(principal, name, scopes)[0]

    def list_api_keys(self, principal: Principal) -> list[ApiKey]:
        user_id = require_access(principal, Scope.FULL)
        with self.db.read() as s:
            return self.repo.api_keys_of(s, user_id)

    def revoke_api_key(self, principal: Principal, key_id: str) -> None:
        user_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            if not self.repo.delete_api_key(s, user_id, key_id):
                raise NotFound()
