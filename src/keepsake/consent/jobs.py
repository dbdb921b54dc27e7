"""The consent capability's background jobs, by name, and their schedules."""

from __future__ import annotations

from keepsake.consent.accounts import AccountService
from keepsake.consent.retention import RetentionService
from keepsake.consent.service import ConsentService
from keepsake.jobs.queue import HueyJobQueue

RETENTION_JOB = "consent.retention"
PURGE_ACCOUNTS_JOB = "consent.purge_accounts"
RECONCILE_JOB = "consent.reconcile"


def register(
    jobs: HueyJobQueue,
    consent: ConsentService,
    retention: RetentionService,
    accounts: AccountService,
) -> None:
    # Daily, away from the trash purge (03:17), so the two do not contend for the writer.
    jobs.register_periodic(
        RETENTION_JOB, retention.expire_inactive_templates, minute="41", hour="3"
    )
    # Hourly: an account is purged within an hour of its grace period ending.
    jobs.register_periodic(PURGE_ACCOUNTS_JOB, accounts.purge_due, minute="23")
    # Daily (and at start): face data left behind by a withdrawal whose deletion failed.
    jobs.register_periodic(RECONCILE_JOB, consent.reconcile, minute="53", hour="3")
