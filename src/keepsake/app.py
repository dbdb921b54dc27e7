"""The composition root: Settings -> repositories -> services -> FastAPI app.

Everything with state is built here once and handed down; there are no module globals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from keepsake import __version__
from keepsake.auth.audit import AuditLog
from keepsake.auth.repository import AuthRepository
from keepsake.auth.service import AuthService
from keepsake.auth.throttle import LoginThrottle
from keepsake.clock import Clock, SystemClock
from keepsake.config import Settings
from keepsake.consent import jobs as consent_jobs
from keepsake.consent.accounts import AccountService
from keepsake.consent.facedata import FacesArchive, NoFaceData
from keepsake.consent.ledger import Ledger
from keepsake.consent.repository import ConsentRepository
from keepsake.consent.retention import RetentionService
from keepsake.consent.service import ConsentService
from keepsake.consent.takeout import TakeoutService
from keepsake.crypto.service import ENCRYPT_LEGACY_JOB, KeyService
from keepsake.faces import jobs as face_jobs
from keepsake.faces.engine import AnalyzerProvider, analyzer_factory
from keepsake.faces.repository import FaceRepository
from keepsake.faces.service import PURPOSE as FACES_PURPOSE
from keepsake.faces.service import FacesService
from keepsake.jobs.queue import HueyJobQueue
from keepsake.jobs.repository import JobRunRepository
from keepsake.jobs.service import JobRunService
from keepsake.media.repository import MediaRepository
from keepsake.media.service import (
    DERIVE_JOB,
    PURGE_TRASH_JOB,
    RECONCILE_JOB,
    MediaService,
)
from keepsake.media.uploads import EXPIRE_UPLOADS_JOB, UploadService
from keepsake.ml import FaceAnalyzer
from keepsake.sharing.links import LinkService
from keepsake.sharing.people import TableFaceNames
from keepsake.sharing.ports import SharingPorts
from keepsake.sharing.repository import SharingRepository
from keepsake.sharing.service import SharingService
from keepsake.storage.blobs import BlobStore, LocalBlobStore
from keepsake.storage.db import Database

log = logging.getLogger("keepsake")


@dataclass
class Container:
    """Everything the delivery layers (API, web, CLI) may use."""

    settings: Settings
    clock: Clock
    db: Database
    blobs: BlobStore
    jobs: HueyJobQueue
    auth: AuthService
    media: MediaService
    uploads: UploadService
    keys: KeyService
    audit: AuditLog
    consent: ConsentService
    ledger: Ledger
    accounts: AccountService
    retention: RetentionService
    takeout: TakeoutService
    faces: FacesService
    sharing: SharingService
    links: LinkService
    job_runs: JobRunService

    def close(self) -> None:
        self.jobs.stop_consumer()
        self.db.dispose()


def build_container(
    settings: Settings,
    *,
    clock: Clock | None = None,
    blobs: BlobStore | None = None,
    face_analyzer: FaceAnalyzer | None = None,
) -> Container:
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        db.migrate()
        keys = KeyService.start(db, settings)
        keys.migrate_legacy_rows()
        blobs = keys.protect_blobs(blobs or LocalBlobStore(settings.data_dir / "blobs"), settings)
    except BaseException:
        db.dispose()
        raise
    jobs = HueyJobQueue.from_settings(
        settings.jobs_url, settings.data_dir, immediate=settings.jobs_immediate
    )
    job_runs = JobRunService(db, JobRunRepository(), jobs, clock)
    job_runs.install()  # every run is recorded, so an administrator sees failures
    media_repo = MediaRepository()
    auth_repo = AuthRepository()
    audit = AuditLog(db, auth_repo, clock)
    auth = AuthService(db, auth_repo, settings, clock, keys, audit)
    media = MediaService(db, media_repo, blobs, jobs, settings, clock, keys)
    uploads = UploadService(db, media_repo, media, settings, clock)

    jobs.register(DERIVE_JOB, media.derive_asset)
    jobs.register_periodic(RECONCILE_JOB, media.reconcile, minute="*/15")
    jobs.register_periodic(PURGE_TRASH_JOB, media.purge_expired_trash, minute="17", hour="3")
    jobs.register_periodic(EXPIRE_UPLOADS_JOB, uploads.expire, minute="*/30")
    jobs.register(ENCRYPT_LEGACY_JOB, keys.encrypt_legacy_job)
    auth.on_user_deleted.append(media.delete_blobs_of)
    auth.on_user_deleted.append(job_runs.forget_user)

    consent_repo = ConsentRepository()
    ledger = Ledger(db, consent_repo, clock)
    consent = ConsentService(db, consent_repo, ledger, clock)
    accounts = AccountService(db, consent_repo, auth, consent, ledger, blobs, settings, clock)
    retention = RetentionService(db, consent_repo, consent, settings, clock)
    # Face data comes in below, once the faces service exists.
    takeout = TakeoutService(
        db, consent_repo, media, blobs, consent, ledger, NoFaceData(), settings, clock
    )
    consent_jobs.register(jobs, consent, retention, accounts)
    auth.on_login.append(accounts.note_login)
    auth.on_activity.append(accounts.note_activity)

    # One analyzer per process, loaded on first use (tests and benchmarks hand one in).
    analyzers = (
        AnalyzerProvider.of(face_analyzer)
        if face_analyzer is not None
        else AnalyzerProvider(analyzer_factory(settings))
    )
    faces = FacesService(
        db, FaceRepository(), media, blobs, jobs, keys, settings, clock, analyzers,
        ledger=ledger, consent=consent,
    )  # fmt: skip
    face_jobs.register(jobs, faces)
    media.on_preview_made.append(faces.preview_made)
    auth.on_user_deleted.append(faces.forget_files)
    consent.on_withdraw(FACES_PURPOSE, faces.withdraw_hook, holders=faces.owners_with_face_data)
    consent.on_grant(FACES_PURPOSE, faces.start_indexing)
    takeout.faces = FacesArchive(faces, db, consent_repo)  # XMP regions out and back in

    sharing_repo = SharingRepository()
    # Consent decides whether names are shown; the ledger records every shared read.
    sharing_ports = SharingPorts(
        consent=consent, ledger=ledger, faces=TableFaceNames(db, sharing_repo)
    )
    sharing = SharingService(db, sharing_repo, media_repo, media, clock, sharing_ports)
    # Link passwords are throttled like logins, with the same settings (separate counters).
    link_throttle = LoginThrottle(
        db,
        auth_repo,
        clock,
        free_attempts=settings.login_free_attempts,
        max_delay_seconds=settings.login_max_delay_seconds,
    )
    links = LinkService(db, sharing_repo, media, link_throttle, clock, sharing_ports)
    return Container(
        settings, clock, db, blobs, jobs, auth, media, uploads, keys, audit,
        consent, ledger, accounts, retention, takeout, faces, sharing, links, job_runs,
    )  # fmt: skip


def create_app(container: Container, *, start_jobs: bool = True) -> FastAPI:
    from keepsake.api import routes
    from keepsake.api.problems import install as install_problems
    from keepsake.api.security import install as install_security
    from keepsake.web.routes import install as install_web

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_jobs:
            container.jobs.start_consumer(container.settings.job_workers)
            # Whatever a crash or a lost message left undone is picked up at start.
            container.jobs.enqueue(RECONCILE_JOB)
            container.jobs.enqueue(face_jobs.RECONCILE_JOB)
            container.jobs.enqueue(consent_jobs.RECONCILE_JOB)
            if container.keys.legacy_blobs_pending():
                container.jobs.enqueue(ENCRYPT_LEGACY_JOB)
        yield
        container.jobs.stop_consumer()

    app = FastAPI(
        title="Keepsake",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.container = container
    install_problems(app)
    install_security(app, container.settings)
    routes.include_all(app)
    # Pages after the API: their HTML error pages wrap the API's problem handlers.
    install_web(app)
    return app
