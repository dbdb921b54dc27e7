"""API models for the administrator's view of the job queue."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class JobRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str = Field(description="the job, as registered (derive, faces.index_asset ...)")
    args: list[str] = Field(description="its arguments: ids of assets or users")
    state: str = Field(description="running, retrying, queued, succeeded, skipped or failed")
    attempts: int
    error: str | None = Field(description="the last error, in words")
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class JobQueueOut(BaseModel):
    pending: int = Field(description="jobs waiting in the queue")
    running: int
    retrying: int = Field(description="failed once, retried automatically after a delay")
    failed: int = Field(description="failed for good: retry them here")
    done_recently: int = Field(description="succeeded or skipped within `recent_hours`")
    recent_hours: int
    workers: int = Field(description="worker threads in this server (0: a separate worker)")
    failures: list[JobRunOut] = Field(description="failed jobs, newest first")
