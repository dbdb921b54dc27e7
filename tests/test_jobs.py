"""Derived data is recomputable: a lost job is redone by reconcile; jobs are idempotent;
the SQLite-backed Huey queue really runs jobs in consumer threads; every run is recorded, so
an administrator sees failures with their errors and retries them."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from huey import MemoryHuey
from sqlalchemy import delete, inspect, select

from keepsake.app import Container, build_container, create_app
from keepsake.clock import ManualClock
from keepsake.jobs.queue import HueyJobQueue, JobResult, NoRecorder
from keepsake.jobs.service import PRUNE_JOB
from keepsake.media.service import DERIVE_JOB
from keepsake.storage.db import Database, alembic_config
from keepsake.storage.models import AssetStep, Base, JobRun
from tests.conftest import make_settings
from tests.helpers import Account, jpeg_bytes, new_account, upload


def test_reconcile_redoes_lost_derived_steps(
    client: TestClient, alice: Account, container: Container
) -> None:
    asset_id = upload(client, alice, jpeg_bytes()).json()["asset"]["id"]
    # Simulate a crash that lost the job's results.
    with container.db.write() as s:
        s.execute(delete(AssetStep))
    for kind in ("thumbnail", "preview"):
        container.blobs.delete(f"{kind}s/{alice.id}/{asset_id}")
    assert client.get(f"/api/assets/{asset_id}/thumbnail", headers=alice.headers).status_code == 404
    assert container.media.reconcile() is JobResult.SUCCESS
    assert client.get(f"/api/assets/{asset_id}/thumbnail", headers=alice.headers).status_code == 200
    assert container.media.derive_asset(asset_id) is JobResult.SKIPPED  # already done


def test_derive_job_for_a_missing_asset_is_skipped(container: Container) -> None:
    assert container.media.derive_asset("no-such-asset") is JobResult.SKIPPED


def test_sqlite_queue_runs_jobs_in_consumer_threads(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path / "d", database_url, jobs_immediate=False, job_workers=2)
    container = build_container(settings)
    try:
        with TestClient(create_app(container)) as client:
            account = new_account(client, "a@example.org")
            asset_id = upload(client, account, jpeg_bytes()).json()["asset"]["id"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                detail = client.get(f"/api/assets/{asset_id}", headers=account.headers).json()
                if set(detail["derived"]) == {"thumbnail", "preview"}:
                    break
                time.sleep(0.1)
            assert set(detail["derived"]) == {"thumbnail", "preview"}
        assert (settings.data_dir / "jobs.db").exists()
    finally:
        container.close()


REDIS_URL = os.environ.get("KEEPSAKE_TEST_REDIS_URL")


@pytest.mark.skipif(not REDIS_URL, reason="KEEPSAKE_TEST_REDIS_URL is not set (CI sets it)")
def test_redis_queue_runs_jobs_across_processes_settings(tmp_path: Path) -> None:
    """The scale-out queue: jobs enqueued on Redis are consumed by worker threads."""
    assert REDIS_URL
    queue = HueyJobQueue.from_settings(REDIS_URL, tmp_path)
    queue.huey.storage.flush_all()
    done = threading.Event()
    seen: list[str] = []

    def handler(value: str) -> JobResult:
        seen.append(value)
        done.set()
        return JobResult.SUCCESS

    queue.register("test.echo", handler)
    queue.enqueue("test.echo", "hello")
    assert queue.pending() == 1
    queue.start_consumer(1)
    try:
        assert done.wait(20)
    finally:
        queue.stop_consumer()
        queue.huey.storage.flush_all()
    assert seen == ["hello"]


# --- the record of runs, and the administrator's view of it -------------------------------


class Flaky:
    """A job that fails (raising) until told to work."""

    def __init__(self) -> None:
        self.works = False
        self.calls: list[str] = []

    def __call__(self, value: str) -> JobResult:
        self.calls.append(value)
        if not self.works:
            raise OSError(f"the disk is full while writing {value}")
        return JobResult.SUCCESS


def _queue(client: TestClient, account: Account) -> dict[str, Any]:
    r = client.get("/api/admin/jobs", headers=account.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_failed_job_is_listed_with_its_error_and_an_admin_retry_runs_it_again(
    client: TestClient, alice: Account, container: Container
) -> None:
    flaky = Flaky()
    container.jobs.register("test.flaky", flaky, retries=0)
    container.jobs.enqueue("test.flaky", "asset-1")
    queue = _queue(client, alice)
    assert queue["failed"] == 1
    [failure] = queue["failures"]
    assert failure["name"] == "test.flaky"
    assert failure["args"] == ["asset-1"]
    assert failure["state"] == "failed"
    assert failure["attempts"] == 1
    assert failure["error"] == "OSError: the disk is full while writing asset-1"

    flaky.works = True
    r = client.post(f"/api/admin/jobs/{failure['id']}/retry", headers=alice.headers)
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "succeeded"
    assert r.json()["attempts"] == 2
    assert r.json()["error"] is None
    assert flaky.calls == ["asset-1", "asset-1"]
    queue = _queue(client, alice)
    assert queue["failed"] == 0 and queue["failures"] == []
    assert queue["done_recently"] >= 1

    # Only a failed job can be retried; an unknown one is a 404.
    again = client.post(f"/api/admin/jobs/{failure['id']}/retry", headers=alice.headers)
    assert again.status_code == 409
    assert "Only a failed job can be retried" in again.json()["detail"]
    assert client.post("/api/admin/jobs/nope/retry", headers=alice.headers).status_code == 404


def test_an_admin_retry_is_in_the_audit_log_and_a_refused_one_is_not(
    client: TestClient, alice: Account, bob: Account, container: Container
) -> None:
    flaky = Flaky()
    container.jobs.register("test.flaky", flaky, retries=0)
    container.jobs.enqueue("test.flaky", "asset-1")
    [failure] = _queue(client, alice)["failures"]
    flaky.works = True

    def retried() -> list[dict[str, Any]]:
        r = client.get("/api/admin/audit", headers=alice.headers)
        assert r.status_code == 200, r.text
        return [e for e in r.json() if e["event"] == "job.retried"]

    assert (
        client.post(f"/api/admin/jobs/{failure['id']}/retry", headers=bob.headers).status_code
        == 403
    )
    assert client.post("/api/admin/jobs/nope/retry", headers=alice.headers).status_code == 404
    assert retried() == []
    r = client.post(f"/api/admin/jobs/{failure['id']}/retry", headers=alice.headers)
    assert r.status_code == 202, r.text
    [event] = retried()
    assert event["actor_id"] == alice.id and event["user_id"] is None
    assert event["detail"] == {"run_id": failure["id"], "job": "test.flaky"}
    # The job's arguments can name someone's photos: they stay out of the log.
    assert "asset-1" not in str(event)
    # A retry the service refuses (the run no longer failed) adds nothing.
    client.post(f"/api/admin/jobs/{failure['id']}/retry", headers=alice.headers)
    assert len(retried()) == 1


def test_a_job_that_returns_failed_is_a_failure_too(
    client: TestClient, alice: Account, container: Container
) -> None:
    container.jobs.register("test.gives_up", lambda: JobResult.FAILED)
    container.jobs.enqueue("test.gives_up")
    [failure] = _queue(client, alice)["failures"]
    assert failure["name"] == "test.gives_up"
    assert "without an error message" in failure["error"]


def test_members_cannot_see_or_retry_jobs(
    client: TestClient, alice: Account, bob: Account, container: Container
) -> None:
    container.jobs.register("test.flaky", Flaky(), retries=0)
    container.jobs.enqueue("test.flaky", "x")
    [failure] = _queue(client, alice)["failures"]
    assert client.get("/api/admin/jobs", headers=bob.headers).status_code == 403
    r = client.post(f"/api/admin/jobs/{failure['id']}/retry", headers=bob.headers)
    assert r.status_code == 403
    assert _queue(client, alice)["failed"] == 1


def test_real_jobs_count_as_done_recently_and_old_history_is_pruned(
    client: TestClient, alice: Account, container: Container, clock: ManualClock
) -> None:
    upload(client, alice, jpeg_bytes())  # the derive job runs at once in tests
    assert _queue(client, alice)["done_recently"] >= 1
    with container.db.read() as s:
        names = set(s.scalars(select(JobRun.name)))
    assert DERIVE_JOB in names

    clock.advance(timedelta(hours=25))
    assert _queue(client, alice)["done_recently"] == 0  # still stored, no longer recent
    clock.advance(timedelta(days=7))
    container.jobs.register("test.flaky", Flaky(), retries=0)
    container.jobs.enqueue("test.flaky", "x")
    assert container.job_runs.prune() is JobResult.SUCCESS
    with container.db.read() as s:
        states = list(s.scalars(select(JobRun.state).where(JobRun.name != PRUNE_JOB)))
    assert states == ["failed"]  # the week-old successes went; the fresh failure stays


def test_a_run_whose_worker_died_becomes_a_failure_that_can_be_retried(
    client: TestClient, alice: Account, container: Container, clock: ManualClock
) -> None:
    container.job_runs.started("lost-run", DERIVE_JOB, ["gone-asset"])
    assert _queue(client, alice)["running"] == 1
    clock.advance(timedelta(hours=7))
    container.job_runs.prune()
    queue = _queue(client, alice)
    assert queue["running"] == 0
    [failure] = queue["failures"]
    assert failure["id"] == "lost-run"
    assert "worker stopped" in failure["error"]
    r = client.post("/api/admin/jobs/lost-run/retry", headers=alice.headers)
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "skipped"  # the asset is gone: the job skips it


def test_a_failure_with_retries_left_is_retrying_then_failed(tmp_path: Path) -> None:
    """With a real (not immediate) queue, Huey's own retries show as 'retrying'."""
    queue = HueyJobQueue(MemoryHuey("t", immediate=False))
    seen: list[tuple[str, bool]] = []

    class Recorder(NoRecorder):
        def failed(self, run_id: str, error: str, *, will_retry: bool) -> None:
            seen.append((run_id, will_retry))

    queue.recorder = Recorder()
    queue.register("test.flaky", Flaky(), retries=1)
    queue.enqueue("test.flaky", "a")
    task = queue.huey.dequeue()
    queue.huey.execute(task)
    [retry] = queue.huey.scheduled()
    queue.huey.execute(retry, timestamp=retry.eta)  # 30 s later
    assert seen == [(task.id, True), (task.id, False)]


def test_job_runs_migration_matches_the_model_and_goes_down_and_up(database_url: str) -> None:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    db = Database(url)
    try:
        db.migrate()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in diff if "job_runs" in repr(d)] == []
        with db.engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        assert "job_runs" not in inspect(db.engine).get_table_names()
        db.migrate()
        assert "job_runs" in inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_deleting_an_account_deletes_the_runs_that_name_it_or_its_photos(
    client: TestClient, alice: Account, bob: Account, container: Container
) -> None:
    bobs = upload(client, bob, jpeg_bytes(seed=1)).json()["asset"]["id"]
    alices = upload(client, alice, jpeg_bytes(seed=2)).json()["asset"]["id"]
    container.jobs.register("test.flaky", Flaky(), retries=0)
    container.jobs.enqueue("test.flaky", bob.id)

    def args() -> list[str]:
        with container.db.read() as s:
            return [a for run in s.scalars(select(JobRun)) for a in run.args]

    assert {bobs, alices, bob.id} <= set(args())
    r = client.delete(f"/api/admin/users/{bob.id}", headers=alice.headers)
    assert r.status_code == 204, r.text
    left = args()
    assert bobs not in left and bob.id not in left
    assert alices in left
