"""The security audit log: logins and their failures, credential, two-factor and key changes,
sessions and API keys revoked, every administrator action on an account, and an
administrator's retry of a failed background job. Administrators
read all of it; each user reads the events about their own account.

Events carry ids, never secrets, passwords, codes or email addresses."""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from keepsake.auth.access import Principal, Scope, require_access, require_admin
from keepsake.auth.repository import AuthRepository
from keepsake.clock import Clock
from keepsake.ids import new_id
from keepsake.storage.db import Database
from keepsake.storage.models import AuditEvent

log = logging.getLogger("keepsake.audit")

AUDIT_MAX_PAGE = 500


class Event(StrEnum):
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_THROTTLED = "login.throttled"
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password.changed"  # noqa: S105 (an event name)
    REAUTH_FAILED = "reauthentication.failed"
    EMAIL_CHANGED = "email.changed"
    TOTP_ENABLED = "totp.enabled"
    TOTP_DISABLED = "totp.disabled"
    RECOVERY_CODE_USED = "recovery_code.used"
    RECOVERY_CODES_RENEWED = "recovery_codes.renewed"
    SESSION_REVOKED = "session.revoked"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    USER_CREATED = "user.created"
    USER_DELETED = "user.deleted"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    QUOTA_CHANGED = "user.quota_changed"
    MASTER_KEY_ROTATED = "master_key.rotated"
    BLOBS_ENCRYPTED = "blobs.encrypted"
    JOB_RETRIED = "job.retried"


class AuditLog:
    def __init__(self, db: Database, repo: AuthRepository, clock: Clock) -> None:
        self.db = db
        self.repo = repo
        self.clock = clock

    def add(
        self,
        s: Session,
        event: Event,
        *,
        user_id: str | None = None,
        actor_id: str | None = None,
        ip: str | None = None,
        **detail: Any,
    ) -> None:
        """Record an event inside the caller's transaction, so it exists exactly when the
        change it describes does."""
        self.repo.add_audit_event(
            s,
            AuditEvent(
                id=new_id(),
                at=self.clock.now(),
                event=str(event),
                user_id=user_id,
                actor_id=actor_id if actor_id != user_id else None,
                ip=ip[:64] if ip else None,
                detail=detail or None,
            ),
        )
        log.info("audit %s user=%s actor=%s", event, user_id, actor_id)

    def record(
        self,
        event: Event,
        *,
        user_id: str | None = None,
        actor_id: str | None = None,
        ip: str | None = None,
        **detail: Any,
    ) -> None:
        """Record an event in a transaction of its own (failures, CLI actions)."""
        with self.db.write() as s:
            self.add(s, event, user_id=user_id, actor_id=actor_id, ip=ip, **detail)

    def events(
        self,
        actor: Principal,
        *,
        user_id: str | None = None,
        before: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Administrators: every event, or those about one account."""
        require_admin(actor)
        with self.db.read() as s:
            return self.repo.audit_events(
                s, user_id=user_id, before=before, limit=min(limit, AUDIT_MAX_PAGE)
            )

    def my_events(
        self, principal: Principal, *, before: datetime | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        """The events about the caller's own account."""
        user_id = require_access(principal, Scope.FULL)
        with self.db.read() as s:
            return self.repo.audit_events(
                s, user_id=user_id, before=before, limit=min(limit, AUDIT_MAX_PAGE)
            )
