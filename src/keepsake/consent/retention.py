"""Retention: the face templates of an account nobody has used for the configured period are
deleted (consent to the biometric purposes ends, the withdrawal hooks delete), by a daily job.
The trash has its own daily job in media; both periods are published on the privacy page."""

from __future__ import annotations

import logging
from datetime import timedelta

from keepsake.clock import Clock
from keepsake.config import Settings
from keepsake.consent.ledger import RETENTION
from keepsake.consent.purposes import BIOMETRIC_PURPOSES
from keepsake.consent.repository import ConsentRepository
from keepsake.consent.service import ConsentService
from keepsake.jobs.queue import JobResult
from keepsake.storage.db import Database

log = logging.getLogger("keepsake.retention")


class RetentionService:
    def __init__(
        self,
        db: Database,
        repo: ConsentRepository,
        consent: ConsentService,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.db = db
        self.repo = repo
        self.consent = consent
        self.settings = settings
        self.clock = clock

    def expire_inactive_templates(self) -> JobResult:
        """End biometric consent, and so delete the face templates, of every account inactive
        for longer than `face_template_retention_days`. Safe to re-run: an expired consent is
        closed first, so an account is handled once; a failing hook is logged and reported."""
        days = self.settings.face_template_retention_days
        cutoff = self.clock.now() - timedelta(days=days)
        failed = False
        tried: set[tuple[str, str]] = set()
        while True:
            with self.db.read() as s:
                due = self.repo.users_to_expire(s, BIOMETRIC_PURPOSES, cutoff)
            # A consent that could not even be closed comes back: try it once per run.
            due = [pair for pair in due if pair not in tried]
            if not due:
                break
            tried.update(due)
            for user_id, purpose in due:
                try:
                    self.consent.expire(user_id, purpose, RETENTION)
                    log.info("retention: %s of an account inactive %d days ended", purpose, days)
                except Exception:
                    log.exception("retention: deleting templates for %s failed", purpose)
                    failed = True
        return JobResult.FAILED if failed else JobResult.SUCCESS
