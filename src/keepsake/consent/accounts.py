"""Account activity (for retention and new-device entries in the ledger) and account deletion:
scheduled after a grace period, cancellable, then purged so that nothing of the account
remains: rows, blobs, staged uploads, face data (through the withdrawal hooks), its key."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from keepsake.auth.access import Principal, Scope, require_access, require_admin
from keepsake.auth.service import AuthService
from keepsake.clock import Clock
from keepsake.config import Settings
from keepsake.consent.errors import DeletionPending
from keepsake.consent.ledger import (
    OPERATOR,
    Action,
    Ledger,
    admin_actor,
    timestamp,
    user_actor,
)
from keepsake.consent.purposes import PURPOSES
from keepsake.consent.repository import ConsentRepository
from keepsake.consent.service import ConsentService, Via
from keepsake.errors import Conflict, Forbidden, NotFound
from keepsake.ids import new_id
from keepsake.jobs.queue import JobResult
from keepsake.storage.blobs import BlobStore
from keepsake.storage.db import Database
from keepsake.storage.models import AccountDeletion

log = logging.getLogger("keepsake.accounts")

PURGE_ACTOR = "system:account-deletion"


@dataclass(frozen=True)
class DeletionState:
    deletion_id: str
    requested_at: datetime
    purge_after: datetime
    by_admin: bool


class AccountService:
    def __init__(
        self,
        db: Database,
        repo: ConsentRepository,
        auth: AuthService,
        consent: ConsentService,
        ledger: Ledger,
        blobs: BlobStore,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.db = db
        self.repo = repo
        self.auth = auth
        self.consent = consent
        self.ledger = ledger
        self.blobs = blobs
        self.settings = settings
        self.clock = clock

    # --- activity (hooks on AuthService) -----------------------------------------------

    def note_login(self, user_id: str, user_agent: str) -> None:
        """After each login: the account is active; a device not seen before is written to
        the user's ledger; a deletion the user asked for is cancelled by logging in again."""
        now = self.clock.now()
        device = hashlib.sha256(user_agent.strip().encode()).hexdigest()
        with self.db.write() as s:
            self.repo.touch_activity(s, user_id, now)
            if self.repo.add_device(s, user_id, device, now):
                self.ledger.append(
                    s,
                    user_id,
                    user_actor(user_id),
                    Action.LOGIN_NEW_DEVICE,
                    detail={"device": user_agent.strip()[:200] or "unknown"},
                )
            deletion = self.repo.deletion_of(s, user_id)
            if (
                deletion is not None
                and not _by_administration(deletion)
                and deletion.purge_started_at is None
            ):
                self.repo.remove_deletion(s, deletion.id)
                self.ledger.append(
                    s,
                    user_id,
                    user_actor(user_id),
                    Action.DELETION_CANCELLED,
                    object_ids=[deletion.id],
                    detail={"how": "login"},
                )

    def note_activity(self, user_id: str) -> None:
        """A session or API key was used (AuthService calls this at most every few minutes)."""
        with self.db.write() as s:
            self.repo.touch_activity(s, user_id, self.clock.now())

    # --- deletion: the user's side -----------------------------------------------------

    def request_deletion(self, principal: Principal, password: str, via: Via) -> DeletionState:
        """Schedule the caller's account for deletion after the grace period. Every session
        and API key ends now; logging in again (or `cancel_deletion`) cancels."""
        user_id = require_access(principal, Scope.FULL)
        # Re-authentication, throttled like a login (a stolen session cannot delete).
        self.auth.confirm_password(principal, user_id, password)
        deletion = self._schedule(user_id, None, via, user_actor(user_id), immediate=False)
        if deletion.purge_after <= self.clock.now():
            self.purge(deletion.deletion_id)
        return deletion

    def deletion(self, principal: Principal) -> DeletionState | None:
        user_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            row = self.repo.deletion_of(s, user_id)
        return _state(row) if row else None

    def cancel_deletion(self, principal: Principal, via: Via) -> bool:
        """Cancel the caller's own scheduled deletion; False if none was scheduled."""
        user_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            row = self.repo.deletion_of(s, user_id)
            if row is None:
                return False
            if _by_administration(row):
                raise Forbidden("An administrator scheduled this deletion; ask them to cancel it.")
            if row.purge_started_at is not None:
                raise DeletionPending("The account is being deleted; it is too late to cancel.")
            self.repo.remove_deletion(s, row.id)
            self.ledger.append(
                s,
                user_id,
                user_actor(user_id),
                Action.DELETION_CANCELLED,
                object_ids=[row.id],
                detail={"how": via},
            )
        return True

    # --- deletion: administrators and the operator --------------------------------------

    def admin_request_deletion(
        self, actor: Principal | None, user_id: str, *, immediate: bool = False
    ) -> DeletionState:
        """An administrator (or the operator, `actor` None) deletes an account: it is disabled
        at once and purged after the grace period, or now with `immediate`."""
        admin_id = require_admin(actor) if actor is not None else None
        if admin_id == user_id:
            raise Conflict("Delete your own account from your settings; it asks for your password.")
        who = admin_actor(admin_id) if admin_id else OPERATOR
        deletion = self._schedule(user_id, admin_id, "api" if actor else "cli", who, immediate)
        # Disabled (by the security code, which audits it): no login during the grace period.
        self.auth.set_disabled(actor, user_id, True)
        if deletion.purge_after <= self.clock.now():
            self.purge(deletion.deletion_id)
        return deletion

    def admin_cancel_deletion(self, actor: Principal | None, user_id: str) -> None:
        admin_id = require_admin(actor) if actor is not None else None
        with self.db.write() as s:
            row = self.repo.deletion_of(s, user_id)
            if row is None:
                raise NotFound("No deletion is scheduled for this account.")
            if row.purge_started_at is not None:
                raise DeletionPending("The account is being deleted; it is too late to cancel.")
            self.repo.remove_deletion(s, row.id)
            who = admin_actor(admin_id) if admin_id else OPERATOR
            self.ledger.append(s, user_id, who, Action.DELETION_CANCELLED, object_ids=[row.id])
            if admin_id is not None:
                self.ledger.append(
                    s, admin_id, who, Action.ADMIN_DELETION_CANCELLED, object_ids=[row.id]
                )
            disabled_by_us = _by_administration(row)
        if disabled_by_us:
            self.auth.set_disabled(actor, user_id, False)

    def operator_principal(self, email: str) -> Principal:
        """CLI: act for the account with this email, as the operator of the server."""
        with self.db.read() as s:
            user = self.repo.user_by_email(s, email.strip().lower())
        if user is None:
            raise NotFound(f"No account with the email {email}.")
        return Principal(user.id, user.is_admin, frozenset({Scope.FULL}))

    def user_id_for(self, email_or_id: str) -> str:
        """CLI: an account given by email or id."""
        with self.db.read() as s:
            user = self.repo.user_by_id(s, email_or_id) or self.repo.user_by_email(
                s, email_or_id.strip().lower()
            )
        if user is None:
            raise NotFound(f"No account {email_or_id}.")
        return user.id

    def _schedule(
        self, user_id: str, admin_id: str | None, via: Via, actor: str, immediate: bool
    ) -> DeletionState:
        now = self.clock.now()
        grace = timedelta(0 if immediate else self.settings.account_deletion_grace_days)
        with self.db.write() as s:
            user = self.repo.user_by_id(s, user_id)
            if user is None:
                raise NotFound()
            if user.is_admin and self.repo.count_active_admins(s) <= 1:
                raise Conflict(
                    "The last administrator cannot be deleted; make another account an "
                    "administrator first."
                )
            row = self.repo.deletion_of(s, user_id)
            if row is None:
                row = AccountDeletion(
                    id=new_id(),
                    user_id=user_id,
                    requested_at=now,
                    purge_after=now + grace,
                    requested_by=admin_id,
                    via=via,
                )
                self.repo.add_deletion(s, row)
            elif immediate or admin_id is not None:
                row.purge_after = min(row.purge_after, now + grace)
                row.requested_by = admin_id or row.requested_by
            self.repo.revoke_credentials(s, user_id)
            self.ledger.append(
                s,
                user_id,
                actor,
                Action.DELETION_SCHEDULED,
                object_ids=[row.id],
                detail={"purge_after": timestamp(row.purge_after), "via": via},
            )
            if admin_id is not None:
                # The administrator's own ledger names the deletion, not the account: the
                # account's id must not outlive it.
                self.ledger.append(
                    s,
                    admin_id,
                    actor,
                    Action.ADMIN_DELETION_SCHEDULED,
                    object_ids=[row.id],
                    detail={"purge_after": timestamp(row.purge_after)},
                )
            return _state(row)

    # --- the purge -----------------------------------------------------------------------

    def purge_due(self) -> JobResult:
        """Purge every account whose grace period is over (hourly job)."""
        with self.db.read() as s:
            due = [d.id for d in self.repo.due_deletions(s, self.clock.now())]
        failed = False
        for deletion_id in due:
            try:
                self.purge(deletion_id)
            except Exception:
                log.exception("purging account deletion %s failed; retried next run", deletion_id)
                failed = True
        return JobResult.FAILED if failed else JobResult.SUCCESS

    def purge(self, deletion_id: str) -> None:
        """Remove everything of the account. Files go before rows, so a crash part-way leaves
        the deletion row to finish from, never files that nothing points at; each step can
        run again."""
        with self.db.write() as s:
            row = self.repo.deletion_by_id(s, deletion_id)
            if row is None:
                return  # cancelled, or finished by another worker
            if row.purge_started_at is None:
                row.purge_started_at = self.clock.now()
            user_id, admin_id = row.user_id, row.requested_by
            user = self.repo.user_by_id(s, user_id)
            email = user.email if user is not None else None
        if email is not None:
            # Failed logins are counted under a hash of the email, which would confirm that
            # the account existed: forget them (clearing is what a successful login does).
            self.auth.throttle.success(self.auth.throttle.keys(email, None))
            # Face templates, clusters, in-memory indexes: the code that holds them deletes.
            for purpose in PURPOSES:
                self.consent.run_withdraw_hooks(user_id, purpose, False, PURGE_ACTOR)
            with self.db.read() as s:
                uploads = self.repo.upload_ids_of(s, user_id)
            for upload_id in uploads:
                (self.settings.data_dir / "uploads" / f"{upload_id}.part").unlink(missing_ok=True)
            self._delete_blobs(user_id)
            # Deletes the row with the wrapped data key (crypto-shredding) and, by cascade,
            # every row that points at it.
            with contextlib.suppress(NotFound):
                self.auth.delete_account_row(user_id, admin_id)
        self.forget_user(user_id)
        if admin_id is not None:
            with self.db.write() as s:
                if self.repo.user_by_id(s, admin_id) is not None:
                    self.ledger.append(
                        s,
                        admin_id,
                        PURGE_ACTOR,
                        Action.ADMIN_ACCOUNT_PURGED,
                        object_ids=[deletion_id],
                    )

    def forget_user(self, user_id: str) -> None:
        """The purge's last step, after the user row is gone: files of any kind, the security
        audit trail's references, the folders named after the account, and the deleted
        rows' bytes still in the SQLite file."""
        self._delete_blobs(user_id)
        with self.db.write() as s:
            row = self.repo.deletion_of(s, user_id)
            pseudonym = row.id if row is not None else new_id()
            self.repo.pseudonymise_audit(s, user_id, pseudonym)
            if row is not None:
                self.repo.remove_deletion(s, row.id)
        _remove_empty_dirs_named(self.settings.data_dir, user_id)
        try:
            self.repo.compact_sqlite(self.db)
        except Exception:
            # The rows are deleted; only their bytes wait for SQLite to reuse the space.
            log.exception("compacting the database after deleting an account failed")

    def _delete_blobs(self, user_id: str) -> None:
        """Every blob whose key names the account as owner, of any kind (originals, derived
        images, and whatever other capabilities store under `<kind>/<owner>/...`)."""
        for key in list(self.blobs.keys()):
            parts = key.split("/")
            if len(parts) > 2 and parts[1] == user_id:
                self.blobs.delete(key)


def _by_administration(row: AccountDeletion) -> bool:
    """Scheduled by an administrator or by the operator (the CLI), not by the user: the
    account is disabled meanwhile, and only they can cancel."""
    return row.requested_by is not None or row.via == "cli"


def _state(row: AccountDeletion) -> DeletionState:
    return DeletionState(row.id, row.requested_at, row.purge_after, _by_administration(row))


def _remove_empty_dirs_named(root: Path, name: str) -> None:
    """Blob folders are named after their owner; once empty they still say who had files."""
    for directory, _subdirs, _files in os.walk(root, topdown=False):
        path = Path(directory)
        if name in path.relative_to(root).parts:
            try:
                path.rmdir()
            except OSError:
                log.warning("%s is not empty after deleting its account", path)
