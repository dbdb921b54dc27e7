"""Shared fixtures: a fresh database per test on SQLite, and on PostgreSQL when
KEEPSAKE_TEST_POSTGRES_URL is set; real files in tmp_path; the real HTTP stack."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from keepsake.app import Container, build_container, create_app
from keepsake.clock import ManualClock
from keepsake.config import Settings
from tests.helpers import Account, LiveServer, new_account

POSTGRES_URL = os.environ.get("KEEPSAKE_TEST_POSTGRES_URL")
REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("KEEPSAKE_TESTDATA", REPO.parent / "shared" / "testdata"))

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="KEEPSAKE_TEST_POSTGRES_URL is not set (CI sets it)"
        ),
    ),
]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keepsake.db'}"
        return
    assert POSTGRES_URL
    name = f"keepsake_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_sa_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _sa_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "jobs_immediate": True,
        "job_workers": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its container."""
    return {}


@pytest.fixture
def container(
    tmp_path: Path, database_url: str, clock: ManualClock, settings_overrides: dict[str, Any]
) -> Iterator[Container]:
    settings = make_settings(tmp_path / "data", database_url, **settings_overrides)
    c = build_container(settings, clock=clock)
    yield c
    c.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container, start_jobs=False)) as c:
        yield c


@pytest.fixture
def alice(client: TestClient) -> Account:
    return new_account(client, "alice@example.org")


@pytest.fixture
def bob(client: TestClient, alice: Account) -> Account:
    return new_account(client, "bob@example.org", admin_headers=alice.headers)


@pytest.fixture
def live_server(container: Container) -> Iterator[LiveServer]:
    with LiveServer(container) as server:
        yield server
