"""Routes for administering the server's background work: the job queue's counts, its
failures with their errors, and retrying a failed job. One-line adapters onto JobRunService."""

from __future__ import annotations

from fastapi import APIRouter, status

from keepsake.api.deps import ContainerDep, CurrentPrincipal
from keepsake.auth.audit import Event
from keepsake.jobs.schemas import JobQueueOut, JobRunOut
from keepsake.jobs.service import RECENT

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/jobs")
def job_queue(principal: CurrentPrincipal, c: ContainerDep) -> JobQueueOut:
    """How many jobs wait, run, wait for an automatic retry, failed, and finished in the last
    day; the failures (newest first) with their errors."""
    view = c.job_runs.overview(principal)
    return JobQueueOut(
        pending=view.pending,
        running=view.running,
        retrying=view.retrying,
        failed=view.failed,
        done_recently=view.done_recently,
        recent_hours=int(RECENT.total_seconds() // 3600),
        workers=c.settings.job_workers,
        failures=[JobRunOut.model_validate(r) for r in view.failures],
    )


@router.post("/jobs/{run_id}/retry", status_code=status.HTTP_202_ACCEPTED)
def retry_job(run_id: str, principal: CurrentPrincipal, c: ContainerDep) -> JobRunOut:
    """Queue a failed job again with the same arguments (409 unless it failed). The audit log
    records who retried which job (by run id and job name; the arguments may name users'
    photos, so they stay out of it)."""
    run = c.job_runs.retry(principal, run_id)
    # Recorded once the service accepted the retry; a refused one (unknown, not failed)
    # changed nothing.
    c.audit.record(
        Event.JOB_RETRIED, actor_id=principal.user_id, ip=principal.ip, run_id=run.id, job=run.name
    )
    return JobRunOut.model_validate(run)
