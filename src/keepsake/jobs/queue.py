"""The job queue: named handlers on Huey, SQLite storage by default and Redis by URL.

Handlers are plain functions registered by name in the composition root; they return a
`JobResult` and must be safe to run twice (a crash can redeliver a job)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

log = logging.getLogger("keepsake.jobs")


class JobResult(StrEnum):
    SUCCESS = "success"
    SKIPPED = "skipped"
    FAILED = "failed"


Handler = Callable[..., JobResult]


class JobQueue(Protocol):
    def enqueue(self, name: str, *args: str) -> None: ...


class HueyJobQueue:
    """Named handlers on a Huey instance; consumer threads can run inside the server."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._tasks: dict[str, Any] = {}
        self._consumer: Any = None

    @classmethod
    def from_settings(
        cls, jobs_url: str | None, data_dir: Path, *, immediate: bool = False
    ) -> HueyJobQueue:
        if immediate:
            return cls(MemoryHuey("keepsake", immediate=True))
        if jobs_url:
            return cls(RedisHuey("keepsake", url=jobs_url))
        return cls(SqliteHuey("keepsake", filename=str(data_dir / "jobs.db")))

    def register(self, name: str, handler: Handler, *, retries: int = 2) -> None:
        def run(*args: str) -> str:
            result = handler(*args)
            log.info("job %s %s -> %s", name, args, result)
            return str(result)

        self._tasks[name] = self.huey.task(name=name, retries=retries, retry_delay=30)(run)

    def register_periodic(self, name: str, handler: Handler, **schedule: str) -> None:
        """Run `handler` on a crontab schedule (minute=..., hour=...) and on demand."""
        self.register(name, handler)

        def run() -> None:
            self.enqueue(name)

        self.huey.periodic_task(crontab(**schedule), name=f"{name}:schedule")(run)

    def enqueue(self, name: str, *args: str) -> None:
        self._tasks[name](*args)

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def start_consumer(self, workers: int) -> None:
        if workers <= 0 or self.huey.immediate:
            return
        self._consumer = _EmbeddedConsumer(
            self.huey,
            workers=workers,
            worker_type="thread",
            periodic=True,
            check_worker_health=True,
        )
        self._consumer.start()

    def run_worker(self, workers: int) -> None:
        """Consume jobs in the foreground until a signal stops it (`keepsake worker`)."""
        self.huey.create_consumer(
            workers=workers, worker_type="thread", periodic=True, check_worker_health=True
        ).run()

    def stop_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """Huey's consumer inside the web server: the server owns the process's signals."""

    def _set_signal_handlers(self) -> None:
        pass
