"""SQL for the history of job runs (`job_runs`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from keepsake.storage.models import Asset, JobRun, User


class JobRunRepository:
    def run_of(self, s: Session, run_id: str) -> JobRun | None:
        return s.get(JobRun, run_id)

    def add_run(self, s: Session, run: JobRun) -> None:
        s.add(run)
        s.flush()

    def counts_by_state(self, s: Session, *, finished_since: datetime) -> dict[str, int]:
        """Runs per state; finished successes and skips only since `finished_since`."""
        rows = s.execute(
            select(JobRun.state, func.count())
            .where(
                JobRun.state.not_in(("succeeded", "skipped"))
                | (JobRun.updated_at >= finished_since)
            )
            .group_by(JobRun.state)
        )
        return {state: int(n) for state, n in rows}

    def runs_in_states(self, s: Session, states: Collection[str], limit: int) -> list[JobRun]:
        """Newest first."""
        return list(
            s.scalars(
                select(JobRun)
                .where(JobRun.state.in_(states))
                .order_by(JobRun.updated_at.desc(), JobRun.id)
                .limit(limit)
            )
        )

    def delete_runs(self, s: Session, states: Collection[str], updated_before: datetime) -> int:
        result = s.execute(
            delete(JobRun).where(JobRun.state.in_(states), JobRun.updated_at < updated_before)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def mark_runs(
        self,
        s: Session,
        state: str,
        updated_before: datetime,
        *,
        to: str,
        error: str,
        now: datetime,
    ) -> int:
        result = s.execute(
            update(JobRun)
            .where(JobRun.state == state, JobRun.updated_at < updated_before)
            .values(state=to, error=error, finished_at=now, updated_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def all_runs(self, s: Session) -> list[JobRun]:
        return list(s.scalars(select(JobRun)))

    def existing_ids(self, s: Session, ids: Collection[str]) -> set[str]:
        """Which of these ids name an asset or an account that still exists."""
        if not ids:
            return set()
        wanted = list(ids)
        found = set(s.scalars(select(Asset.id).where(Asset.id.in_(wanted))))
        return found | set(s.scalars(select(User.id).where(User.id.in_(wanted))))

    def delete_runs_by_id(self, s: Session, run_ids: Collection[str]) -> None:
        if run_ids:
            s.execute(delete(JobRun).where(JobRun.id.in_(list(run_ids))))
