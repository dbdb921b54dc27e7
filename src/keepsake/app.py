"""The composition root: Settings -> repositories -> services -> FastAPI app.

Everything with state is built here once and handed down; there are no module globals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from keepsake import __version__
from keepsake.auth.repository import AuthRepository
from keepsake.auth.service import AuthService
from keepsake.clock import Clock, SystemClock
from keepsake.config import Settings
from keepsake.jobs.queue import HueyJobQueue
from keepsake.media.repository import MediaRepository
from keepsake.media.service import (
    DERIVE_JOB,
    PURGE_TRASH_JOB,
    RECONCILE_JOB,
    MediaService,
)
from keepsake.media.uploads import EXPIRE_UPLOADS_JOB, UploadService
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

    def close(self) -> None:
        self.jobs.stop_consumer()
        self.db.dispose()


def build_container(
    settings: Settings, *, clock: Clock | None = None, blobs: BlobStore | None = None
) -> Container:
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.migrate()
    blobs = blobs or LocalBlobStore(settings.data_dir / "blobs")
    jobs = HueyJobQueue.from_settings(
        settings.jobs_url, settings.data_dir, immediate=settings.jobs_immediate
    )
    media_repo = MediaRepository()
    auth = AuthService(db, AuthRepository(), settings, clock)
    media = MediaService(db, media_repo, blobs, jobs, settings, clock)
    uploads = UploadService(db, media_repo, media, settings, clock)

    jobs.register(DERIVE_JOB, media.derive_asset)
    jobs.register_periodic(RECONCILE_JOB, media.reconcile, minute="*/15")
    jobs.register_periodic(PURGE_TRASH_JOB, media.purge_expired_trash, minute="17", hour="3")
    jobs.register_periodic(EXPIRE_UPLOADS_JOB, uploads.expire, minute="*/30")
    return Container(settings, clock, db, blobs, jobs, auth, media, uploads)


def create_app(container: Container, *, start_jobs: bool = True) -> FastAPI:
    from keepsake.api import routes
    from keepsake.api.problems import install as install_problems

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_jobs:
            container.jobs.start_consumer(container.settings.job_workers)
            # Whatever a crash or a lost message left undone is picked up at start.
            container.jobs.enqueue(RECONCILE_JOB)
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
    routes.include_all(app)
    return app
