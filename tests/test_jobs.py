"""Derived data is recomputable: a lost job is redone by reconcile; jobs are idempotent;
the SQLite-backed Huey queue really runs jobs in consumer threads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from keepsake.app import Container, build_container, create_app
from keepsake.jobs.queue import HueyJobQueue, JobResult
from keepsake.storage.models import AssetStep
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
