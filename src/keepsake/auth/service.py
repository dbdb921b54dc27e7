"""Use cases for accounts: first-run setup, users, login sessions with throttling and optional
two-factor codes, password and email changes, API keys, and the last step of deleting an
account (its row and key; the deletion itself, with its grace period and the purge of
everything else, is keepsake.consent.accounts.AccountService)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from keepsake.auth import totp
from keepsake.auth.access import Principal, Scope, require_access, require_admin
from keepsake.auth.audit import AuditLog, Event
from keepsake.auth.passwords import hash_password, verify_password
from keepsake.auth.repository import AuthRepository
from keepsake.auth.throttle import LoginThrottle, ThrottleKeys
from keepsake.clock import Clock
from keepsake.config import Settings
from keepsake.crypto.keys import Purpose
from keepsake.crypto.service import KeyService
from keepsake.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    SecondFactorRequired,
    SetupDone,
    Unauthorized,
    WrongPassword,
)
from keepsake.ids import new_id, new_token, token_hash
from keepsake.storage.db import Database
from keepsake.storage.models import ApiKey, LoginSession, RecoveryCode, User

SESSION_TOUCH_INTERVAL = timedelta(minutes=5)  # write last-seen at most this often
API_KEY_PREFIX = "ks_"
_TOTP_AD = b"keepsake/totp\x00"


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    uri: str


class AuthService:
    def __init__(
        self,
        db: Database,
        repo: AuthRepository,
        settings: Settings,
        clock: Clock,
        keys: KeyService,
        audit: AuditLog,
    ) -> None:
        self.db = db
        self.repo = repo
        self.settings = settings
        self.clock = clock
        self.keys = keys
        self.audit = audit
        self.throttle = LoginThrottle(
            db,
            repo,
            clock,
            free_attempts=settings.login_free_attempts,
            max_delay_seconds=settings.login_max_delay_seconds,
        )
        # Called with the user id after an account is deleted, to remove what lives outside
        # the database (the composition root registers the blob clean-up).
        self.on_user_deleted: list[Callable[[str], object]] = []
        # Called with (user id, user agent) after a login, and with the user id when a session
        # or API key is used (at most every SESSION_TOUCH_INTERVAL): consent.accounts notes
        # activity for retention and writes logins from new devices to the user's ledger.
        self.on_login: list[Callable[[str, str], object]] = []
        self.on_activity: list[Callable[[str], object]] = []

    # --- users -----------------------------------------------------------------------

    def needs_setup(self) -> bool:
        with self.db.read() as s:
            return self.repo.count_users(s) == 0

    def setup_first_admin(self, email: str, password: str, display_name: str = "") -> User:
        """Create the first account, an administrator; refused once any account exists."""
        if not self.needs_setup():
            # Checked before hashing too: anyone may call this, and a hash costs 19 MiB.
            raise SetupDone("Keepsake already has accounts; log in instead.")
        password_hash = hash_password(password, (email, display_name))
        with self.db.write() as s:
            if self.repo.count_users(s) > 0:
                raise SetupDone("Keepsake already has accounts; log in instead.")
            user = self._add_user(s, email, password_hash, display_name, True, None)
            self.audit.add(s, Event.USER_CREATED, user_id=user.id, is_admin=True)
            return user

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
        password_hash = hash_password(password, (email, display_name))
        with self.db.write() as s:
            quota = quota_bytes if quota_bytes is not None else self.settings.default_quota_bytes
            user = self._add_user(s, email, password_hash, display_name, is_admin, quota)
            self.audit.add(
                s,
                Event.USER_CREATED,
                user_id=user.id,
                actor_id=actor.user_id if actor else None,
                ip=actor.ip if actor else None,
                is_admin=is_admin,
            )
            return user

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
        user_id = new_id()
        user = User(
            id=user_id,
            email=email,
            display_name=display_name or email.split("@")[0],
            password_hash=password_hash,
            is_admin=is_admin,
            quota_bytes=quota,
            usage_bytes=0,
            created_at=self.clock.now(),
            # The account's data key is made with it, in the same transaction.
            wrapped_key=self.keys.wrap_new_user_key(s, user_id),
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
            self.audit.add(
                s,
                Event.QUOTA_CHANGED,
                user_id=user_id,
                actor_id=actor.user_id if actor else None,
                ip=actor.ip if actor else None,
                quota_bytes=quota_bytes,
            )
            return user

    def set_disabled(self, actor: Principal | None, user_id: str, disabled: bool) -> User:
        """Disable an account (its sessions end at once; it cannot log in) or enable it."""
        if actor is not None:
            require_admin(actor)
            if actor.user_id == user_id:
                raise Conflict("Administrators cannot disable their own account.")
        with self.db.write() as s:
            user = self.repo.user_by_id(s, user_id)
            if user is None:
                raise NotFound()
            if disabled and user.disabled_at is None:
                user.disabled_at = self.clock.now()
                self.repo.delete_sessions_of(s, user_id)
            elif not disabled:
                user.disabled_at = None
            self.audit.add(
                s,
                Event.USER_DISABLED if disabled else Event.USER_ENABLED,
                user_id=user_id,
                actor_id=actor.user_id if actor else None,
                ip=actor.ip if actor else None,
            )
            return user

    def delete_account_row(self, user_id: str, actor_id: str | None) -> None:
        """Delete the row, which holds the wrapped data key: from then on nothing encrypted
        for this user can be read, in this database, on disk or in later backups of either
        (crypto-shredding). Rows that point at the user go with it by cascade.

        The last step of `AccountService.purge`, the one code path that deletes accounts (it
        removes files, uploads and face data first): call that, not this. `actor_id` is the
        administrator who asked, for the audit log (None: the user or the operator)."""
        with self.db.write() as s:
            user = self.repo.user_by_id(s, user_id)
            if user is None:
                raise NotFound()
            if user.is_admin and self.repo.count_active_admins(s) <= 1:
                raise Conflict("The last administrator cannot be deleted.")
            self.repo.delete_user(s, user_id)
            self.audit.add(s, Event.USER_DELETED, user_id=user_id, actor_id=actor_id)
        self.repo.flush_deleted(self.db)
        self.keys.forget(user_id)
        for hook in self.on_user_deleted:
            hook(user_id)

    # --- sessions ----------------------------------------------------------------------

    def login(
        self,
        email: str,
        password: str,
        user_agent: str = "",
        *,
        ip: str | None = None,
        code: str | None = None,
    ) -> tuple[str, User]:
        """A new session for the right email and password (and code, with two-factor on).

        Throttled per account and per address before the password is even checked, so
        waiting attempts learn nothing; a wrong password and an unknown email take as long
        and answer alike."""
        keys = self.throttle.keys(email, ip)
        try:
            self.throttle.check(keys)
        except RateLimited:
            self.audit.record(Event.LOGIN_THROTTLED, ip=ip)
            raise
        with self.db.read() as s:
            user = self.repo.user_by_email(s, email.strip().lower())
        ok = verify_password(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled_at is not None:
            self._failed(keys, user.id if user else None, ip, "password")
            raise Unauthorized("Wrong email or password.")
        if user.totp_enabled_at is not None:
            if not code:
                raise SecondFactorRequired("Enter the code from your authenticator app.")
            if not self._second_factor(user, code, ip):
                self._failed(keys, user.id, ip, "code")
                raise Unauthorized("Wrong code.")
        self.throttle.success(keys)
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
            self.audit.add(s, Event.LOGIN_SUCCEEDED, user_id=user.id, ip=ip)
        for login_hook in self.on_login:
            login_hook(user.id, user_agent)
        return token, user

    def _failed(self, keys: ThrottleKeys, user_id: str | None, ip: str | None, what: str) -> None:
        self.throttle.failure(keys)
        self.audit.record(Event.LOGIN_FAILED, user_id=user_id, ip=ip, factor=what)

    def _second_factor(self, user: User, code: str, ip: str | None) -> bool:
        """A current TOTP code (each usable once) or an unused recovery code."""
        if totp.normalise_recovery_code(code) is not None:
            with self.db.write() as s:
                used = self.repo.use_recovery_code(
                    s, user.id, totp.recovery_code_hash(code), self.clock.now()
                )
                if used:
                    left = self.repo.unused_recovery_codes(s, user.id)
                    self.audit.add(s, Event.RECOVERY_CODE_USED, user_id=user.id, ip=ip, left=left)
            return used
        if user.totp_secret_sealed is None:
            return False
        secret = self._totp_secret(user)
        with self.db.write() as s:
            # Locked, so two requests with the same code cannot both pass the replay check.
            row = self.repo.user_for_update(s, user.id)
            if row is None:
                return False
            step = totp.verify(secret, code, self.clock.now(), row.totp_last_step)
            if step is None:
                return False
            row.totp_last_step = step
        return True

    def logout(self, token: str, principal: Principal | None = None) -> None:
        with self.db.write() as s:
            self.repo.delete_session(s, token_hash(token))
            if principal is not None:
                self.audit.add(s, Event.LOGOUT, user_id=principal.user_id, ip=principal.ip)

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
            for activity_hook in self.on_activity:
                activity_hook(user.id)
        return Principal(user.id, user.is_admin, frozenset({Scope.FULL}), session_id=session.id)

    def sessions(self, principal: Principal) -> list[LoginSession]:
        """The caller's live sessions, most recently used first."""
        user_id = require_access(principal, Scope.FULL)
        with self.db.read() as s:
            return self.repo.sessions_of(s, user_id, self.clock.now())

    def revoke_other_sessions(self, principal: Principal) -> int:
        """End every session of the caller's account but the one making the request."""
        user_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            ended = self.repo.delete_sessions_of(s, user_id, keep=principal.session_id)
            self.audit.add(s, Event.SESSION_REVOKED, user_id=user_id, ip=principal.ip, count=ended)
        return ended

    def revoke_session(self, principal: Principal, session_id: str) -> None:
        user_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            if not self.repo.delete_session_of(s, user_id, session_id):
                raise NotFound("No such session.")
            self.audit.add(
                s, Event.SESSION_REVOKED, user_id=user_id, ip=principal.ip, session_id=session_id
            )

    # --- credentials -------------------------------------------------------------------

    def confirm_password(self, principal: Principal, user_id: str, password: str) -> User:
        """Re-authentication before a sensitive change (here, and before deleting an account
        in keepsake.consent.accounts); throttled like a login, failures audited."""
        with self.db.read() as s:
            user = self.repo.user_by_id(s, user_id)
        if user is None:
            raise NotFound()
        keys = self.throttle.keys(user.email, principal.ip)
        self.throttle.check(keys)
        if not verify_password(user.password_hash, password):
            self.throttle.failure(keys)
            self.audit.record(Event.REAUTH_FAILED, user_id=user_id, ip=principal.ip)
            raise WrongPassword("The current password is not right.")
        return user

    def change_password(self, principal: Principal, current: str, new: str) -> None:
        """Change the password; every other session of the account ends."""
        user_id = require_access(principal, Scope.FULL)
        confirmed = self.confirm_password(principal, user_id, current)
        new_hash = hash_password(new, (confirmed.email, confirmed.display_name))
        with self.db.write() as s:
            user = self.repo.user_by_id(s, user_id)
            if user is None:
                raise NotFound()
            user.password_hash = new_hash
            user.password_changed_at = self.clock.now()
            ended = self.repo.delete_sessions_of(s, user_id, keep=principal.session_id)
            self.audit.add(
                s, Event.PASSWORD_CHANGED, user_id=user_id, ip=principal.ip, sessions_ended=ended
            )

    def change_email(self, principal: Principal, password: str, email: str) -> User:
        user_id = require_access(principal, Scope.FULL)
        self.confirm_password(principal, user_id, password)
        email = email.strip().lower()
        with self.db.write() as s:
            other = self.repo.user_by_email(s, email)
            if other is not None and other.id != user_id:
                raise Conflict("An account with this email exists.")
            user = self.repo.user_by_id(s, user_id)
            if user is None:
                raise NotFound()
            user.email = email
            self.audit.add(s, Event.EMAIL_CHANGED, user_id=user_id, ip=principal.ip)
            return user

    # --- two-factor --------------------------------------------------------------------

    def _totp_secret(self, user: User) -> str:
        assert user.totp_secret_sealed is not None
        sealed = self.keys.unseal(
            user.id, user.totp_secret_sealed, _TOTP_AD + user.id.encode(), Purpose.ACCOUNT
        )
        return sealed.decode("ascii")

    def begin_totp(self, principal: Principal, password: str) -> TotpSetup:
        """Step one: a new secret for the authenticator app (not in force until a code from
        it is confirmed with `enable_totp`)."""
        user_id = require_access(principal, Scope.FULL)
        user = self.confirm_password(principal, user_id, password)
        if user.totp_enabled_at is not None:
            raise Conflict("Two-factor login is already on; turn it off first.")
        secret = totp.new_secret()
        sealed = self.keys.seal(
            user_id, secret.encode("ascii"), _TOTP_AD + user_id.encode(), Purpose.ACCOUNT
        )
        with self.db.write() as s:
            row = self.repo.user_by_id(s, user_id)
            if row is None:
                raise NotFound()
            row.totp_secret_sealed = sealed
            row.totp_last_step = None
        return TotpSetup(secret, totp.provisioning_uri(secret, user.email))

    def enable_totp(self, principal: Principal, code: str) -> list[str]:
        """Step two: a code from the app turns two-factor login on. Returns the recovery
        codes, shown this once; every other session of the account ends."""
        user_id = require_access(principal, Scope.FULL)
        with self.db.read() as s:
            user = self.repo.user_by_id(s, user_id)
        if user is None:
            raise NotFound()
        if user.totp_enabled_at is not None:
            raise Conflict("Two-factor login is already on.")
        if user.totp_secret_sealed is None:
            raise Conflict("Start the two-factor setup first.")
        step = totp.verify(self._totp_secret(user), code, self.clock.now(), None)
        if step is None:
            raise InvalidInput("The code is not right; check the time on your device.")
        codes = totp.new_recovery_codes()
        with self.db.write() as s:
            row = self.repo.user_by_id(s, user_id)
            if row is None:
                raise NotFound()
            row.totp_enabled_at = self.clock.now()
            row.totp_last_step = step
            self._store_recovery_codes(s, user_id, codes)
            self.repo.delete_sessions_of(s, user_id, keep=principal.session_id)
            self.audit.add(s, Event.TOTP_ENABLED, user_id=user_id, ip=principal.ip)
        return codes

    def disable_totp(self, principal: Principal, password: str) -> None:
        user_id = require_access(principal, Scope.FULL)
        self.confirm_password(principal, user_id, password)
        with self.db.write() as s:
            row = self.repo.user_by_id(s, user_id)
            if row is None:
                raise NotFound()
            was_on = row.totp_enabled_at is not None
            row.totp_secret_sealed = None
            row.totp_enabled_at = None
            row.totp_last_step = None
            self.repo.replace_recovery_codes(s, user_id, [])
            if was_on:
                self.repo.delete_sessions_of(s, user_id, keep=principal.session_id)
                self.audit.add(s, Event.TOTP_DISABLED, user_id=user_id, ip=principal.ip)

    def renew_recovery_codes(self, principal: Principal, password: str) -> list[str]:
        user_id = require_access(principal, Scope.FULL)
        user = self.confirm_password(principal, user_id, password)
        if user.totp_enabled_at is None:
            raise Conflict("Two-factor login is off.")
        codes = totp.new_recovery_codes()
        with self.db.write() as s:
            self._store_recovery_codes(s, user_id, codes)
            self.audit.add(s, Event.RECOVERY_CODES_RENEWED, user_id=user_id, ip=principal.ip)
        return codes

    def _store_recovery_codes(self, s: Session, user_id: str, codes: list[str]) -> None:
        rows = [
            RecoveryCode(id=new_id(), user_id=user_id, code_hash=totp.recovery_code_hash(c))
            for c in codes
        ]
        self.repo.replace_recovery_codes(s, user_id, rows)

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
            for activity_hook in self.on_activity:
                activity_hook(user.id)
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
            self.audit.add(
                s,
                Event.API_KEY_CREATED,
                user_id=user_id,
                ip=principal.ip,
                key_id=key.id,
                scopes=key.scopes,
            )
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
            self.audit.add(
                s, Event.API_KEY_REVOKED, user_id=user_id, ip=principal.ip, key_id=key_id
            )

    def user_id_for_email(self, email: str) -> str:
        """CLI: the id of the account with this email."""
        with self.db.read() as s:
            user = self.repo.user_by_email(s, email.strip().lower())
        if user is None:
            raise NotFound("No account with this email.")
        return user.id
