"""The job queue: named handlers on Huey, SQLite storage by default and Redis by URL.

Handlers are plain functions registered by name in the composition root; they return a
`JobResult` and must be safe to run twice (a crash can redeliver a job). Each run is reported
to a `RunRecorder` (the `job_runs` table), so failures are seen and can be retried."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from keepsake.ids import new_id

log = logging.getLogger("keepsake.jobs")


class JobResult(StrEnum):
    SUCCESS = "success"
    SKIPPED = "skipped"
    FAILED = "failed"


Handler = Callable[..., JobResult]


class JobQueue(Protocol):
    def enqueue(self, name: str, *args: str) -> None: ...


class RunRecorder(Protocol):
    """Where the queue reports each run: started, then finished with a result or failed."""

    def started(self, run_id: str, name: str, args: Sequence[str]) -> None: ...

    def finished(self, run_id: str, result: JobResult) -> None: ...

    def failed(self, run_id: str, error: str, *, will_retry: bool) -> None: ...


class NoRecorder:
    def started(self, run_id: str, name: str, args: Sequence[str]) -> None:
        pass

    def finished(self, run_id: str, result: JobResult) -> None:
        pass

    def failed(self, run_id: str, error: str, *, will_retry: bool) -> None:
        pass


# The longest error text kept per run: the exception's type and message, not a traceback
# (the server log has that); a few lines are enough to tell one failure from another.
MAX_ERROR_CHARS = 2000


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip()
    described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return described[:MAX_ERROR_CHARS]


class HueyJobQueue:
    """Named handlers on a Huey instance; consumer threads can run inside the server."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._tasks: dict[str, Any] = {}
        self._consumer: Any = None
        self.recorder: RunRecorder = NoRecorder()

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
        def run(*args: str, task: Any = None, run_id: str | None = None) -> str:
            # A run keeps the queue's task id across Huey's own retries; an administrator's
            # retry passes the id of the run it repeats.
            rid = run_id or (str(task.id) if task is not None else new_id())
            self._report(self.recorder.started, rid, name, args)
            try:
                result = handler(*args)
            except Exception as exc:
                # An immediate queue (tests) never runs the retries it schedules.
                will_retry = bool(task is not None and task.retries) and not self.huey.immediate
                self._report(self.recorder.failed, rid, describe_error(exc), will_retry=will_retry)
                raise
            log.info("job %s %s -> %s", name, args, result)
            self._report(self.recorder.finished, rid, result)
            return str(result)

        self._tasks[name] = self.huey.task(
            name=name, retries=retries, retry_delay=30, context=True
        )(run)

    @staticmethod
    def _report(method: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Recording a run must never fail the job itself (a busy database, say)."""
        try:
            method(*args, **kwargs)
        except Exception:
            log.exception("could not record a job run")

    def register_periodic(self, name: str, handler: Handler, **schedule: str) -> None:
        """Run `handler` on a crontab schedule (minute=..., hour=...) and on demand."""
        self.register(name, handler)

        def run() -> None:
            self.enqueue(name)

        self.huey.periodic_task(crontab(**schedule), name=f"{name}:schedule")(run)

    def enqueue(self, name: str, *args: str) -> None:
        self._tasks[name](*args)

    def knows(self, name: str) -> bool:
        return name in self._tasks

    def rerun(self, run_id: str, name: str, args: Sequence[str]) -> None:
        """Queue a recorded run again under its own id (an administrator's retry)."""
        self._tasks[name](*args, run_id=run_id)

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
