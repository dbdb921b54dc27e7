"""The history of job runs: the queue reports every run here (started, finished, failed),
and administrators read the counts and the failures and retry a failed job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from keepsake.auth.access import Principal, require_admin
from keepsake.clock import Clock
from keepsake.errors import Conflict, NotFound
from keepsake.jobs.queue import HueyJobQueue, JobResult
from keepsake.jobs.repository import JobRunRepository
from keepsake.storage.db import Database
from keepsake.storage.models import JobRun

PRUNE_JOB = "jobs.prune_history"
# "Done recently" on the admin page: the last day, long enough to see last night's work.
RECENT = timedelta(hours=24)
# Finished runs are kept a week (enough to answer "did it run?"), failures a month (time
# for an administrator to look); the table stays small however busy the queue.
KEEP_DONE = timedelta(days=7)
KEEP_FAILED = timedelta(days=30)
# A run still "running" after this long lost its worker (a restart or crash; Huey does not
# redeliver it). The longest job, indexing a 100,000-photo library, enqueues in minutes.
STALE_RUNNING = timedelta(hours=6)
FAILURES_SHOWN = 200

RUNNING, RETRYING, QUEUED = "running", "retrying", "queued"
SUCCEEDED, SKIPPED, FAILED = "succeeded", "skipped", "failed"
_FINISHED = {JobResult.SUCCESS: SUCCEEDED, JobResult.SKIPPED: SKIPPED, JobResult.FAILED: FAILED}
RETURNED_FAILED = "The job reported a failure without an error message; see the server log."
LOST_WORKER = "The worker stopped while this job ran (a restart or a crash)."


@dataclass(frozen=True)
class QueueOverview:
    pending: int
    running: int
    retrying: int
    failed: int
    done_recently: int
    failures: list[JobRun]


class JobRunService:
    """Records runs for the queue (`RunRecorder`) and serves the administrator."""

    def __init__(
        self, db: Database, repo: JobRunRepository, queue: HueyJobQueue, clock: Clock
    ) -> None:
        self.db = db
        self.repo = repo
        self.queue = queue
        self.clock = clock

    def install(self) -> None:
        """Become the queue's recorder and prune the history every hour."""
        self.queue.recorder = self
        self.queue.register_periodic(PRUNE_JOB, self.prune, minute="41")

    # --- what the queue reports ----------------------------------------------------------

    def started(self, run_id: str, name: str, args: Sequence[str]) -> None:
        now = self.clock.now()
        with self.db.write() as s:
            run = self.repo.run_of(s, run_id)
            if run is None:
                self.repo.add_run(
                    s,
                    JobRun(
                        id=run_id,
                        name=name,
                        args=[str(a) for a in args],
                        state=RUNNING,
                        attempts=1,
                        started_at=now,
                        updated_at=now,
                    ),
                )
            else:
                run.state, run.attempts, run.started_at = RUNNING, run.attempts + 1, now
                run.finished_at, run.updated_at = None, now

    def finished(self, run_id: str, result: JobResult) -> None:
        now = self.clock.now()
        with self.db.write() as s:
            run = self.repo.run_of(s, run_id)
            if run is None:
                return
            run.state = _FINISHED[result]
            run.error = RETURNED_FAILED if result is JobResult.FAILED else None
            run.finished_at = run.updated_at = now

    def failed(self, run_id: str, error: str, *, will_retry: bool) -> None:
        now = self.clock.now()
        with self.db.write() as s:
            run = self.repo.run_of(s, run_id)
            if run is None:
                return
            run.state = RETRYING if will_retry else FAILED
            run.error = error
            run.finished_at = run.updated_at = now

    def prune(self) -> JobResult:
        now = self.clock.now()
        with self.db.write() as s:
            self.repo.mark_runs(
                s, RUNNING, now - STALE_RUNNING, to=FAILED, error=LOST_WORKER, now=now
            )
            self.repo.delete_runs(s, (SUCCEEDED, SKIPPED), now - KEEP_DONE)
            self.repo.delete_runs(s, (FAILED,), now - KEEP_FAILED)
        return JobResult.SUCCESS

    def forget_user(self, user_id: str) -> None:
        """After an account is deleted: runs whose arguments name it, or name one of its
        photos (gone with it by now), are deleted, so no id of the account is left here."""
        with self.db.write() as s:
            runs = self.repo.all_runs(s)
            ids = {a for r in runs for a in r.args if _looks_like_id(a)}
            alive = self.repo.existing_ids(s, ids)
            self.repo.delete_runs_by_id(
                s,
                [
                    r.id
                    for r in runs
                    if user_id in r.args
                    or any(_looks_like_id(a) and a not in alive for a in r.args)
                ],
            )

    # --- the administrator ---------------------------------------------------------------

    def overview(self, principal: Principal) -> QueueOverview:
        require_admin(principal)
        with self.db.read() as s:
            counts = self.repo.counts_by_state(s, finished_since=self.clock.now() - RECENT)
            failures = self.repo.runs_in_states(s, (FAILED,), FAILURES_SHOWN)
        return QueueOverview(
            pending=self.queue.pending(),
            running=counts.get(RUNNING, 0),
            retrying=counts.get(RETRYING, 0),
            failed=counts.get(FAILED, 0),
            done_recently=counts.get(SUCCEEDED, 0) + counts.get(SKIPPED, 0),
            failures=failures,
        )

    def retry(self, principal: Principal, run_id: str) -> JobRun:
        """Queue a failed job again, with the same arguments, under the same run."""
        require_admin(principal)
        now = self.clock.now()
        with self.db.write() as s:
            run = self.repo.run_of(s, run_id)
            if run is None:
                raise NotFound("No such job.")
            if run.state != FAILED:
                raise Conflict(f"Only a failed job can be retried; this one is {run.state}.")
            if not self.queue.knows(run.name):
                raise Conflict(f"This server has no job named {run.name!r} any more.")
            run.state, run.updated_at = QUEUED, now
            name, args = run.name, list(run.args)
        # After the commit: an immediate queue runs the job right here, and records it.
        self.queue.rerun(run_id, name, args)
        with self.db.read() as s:
            found = self.repo.run_of(s, run_id)
        assert found is not None
        return found


def _looks_like_id(value: str) -> bool:
    """Ids are UUIDs (36 characters with four dashes); other arguments are left alone."""
    return len(value) == 36 and value.count("-") == 4
