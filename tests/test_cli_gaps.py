"""`keepsake` commands and failure paths that no other test reached: serve, worker and
consent purposes, and each account command given an account that does not exist."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from keepsake.app import Container
from keepsake.cli.main import app
from keepsake.consent.purposes import PURPOSES
from keepsake.jobs.queue import HueyJobQueue
from tests.helpers import Account

runner = CliRunner()
NOBODY = "nobody@example.org"


@pytest.fixture
def env(container: Container) -> dict[str, str]:
    return {
        "KEEPSAKE_DATA_DIR": str(container.settings.data_dir),
        "KEEPSAKE_DATABASE_URL": container.settings.resolved_database_url.replace(
            "postgresql+psycopg://", "postgresql://"
        ),
    }


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """serve and worker call logging.basicConfig, which would leave a handler on the
    runner's closed output stream for every later test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_serve_runs_the_app_on_the_given_address(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}

    def fake_run(asgi: Any, **kwargs: Any) -> None:
        seen.update(kwargs, app=asgi)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    r = runner.invoke(app, ["serve", "--host", "127.0.0.2", "--port", "8123"], env=env)
    assert r.exit_code == 0, r.output
    assert seen["host"] == "127.0.0.2" and seen["port"] == 8123
    assert "/api/setup" in seen["app"].openapi()["paths"]


def test_serve_refuses_bad_options_and_bad_settings(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    r = runner.invoke(app, ["serve", "--port", "eighty"], env=env)
    assert r.exit_code == 2
    r = runner.invoke(app, ["serve"], env={**env, "KEEPSAKE_JOB_WORKERS": "lots"})
    assert r.exit_code == 2
    assert "KEEPSAKE_JOB_WORKERS" in r.output


def test_worker_consumes_with_the_given_threads(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    monkeypatch.setattr(HueyJobQueue, "run_worker", lambda self, n: threads.append(n))
    r = runner.invoke(app, ["worker", "--threads", "3"], env=env)
    assert r.exit_code == 0, r.output
    assert threads == [3]
    assert "SQLite queue" in r.output, "the note about the shared queue file"


def test_worker_refuses_a_thread_count_out_of_range(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HueyJobQueue, "run_worker", lambda self, n: pytest.fail("ran"))
    for bad in ("0", "65", "two"):
        r = runner.invoke(app, ["worker", "--threads", bad], env=env)
        assert r.exit_code == 2, (bad, r.output)
    r = runner.invoke(app, ["worker"], env={**env, "KEEPSAKE_JOB_WORKERS": "lots"})
    assert r.exit_code == 2 and "KEEPSAKE_JOB_WORKERS" in r.output


def test_consent_purposes_prints_every_purpose_with_its_version(env: dict[str, str]) -> None:
    r = runner.invoke(app, ["consent", "purposes"], env=env)
    assert r.exit_code == 0, r.output
    for purpose in PURPOSES.values():
        assert f"{purpose.name} (version {purpose.version}): {purpose.title}" in r.output
        assert purpose.text in r.output
    r = runner.invoke(app, ["consent", "purposes", "extra"], env=env)
    assert r.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["user", "delete", NOBODY, "--yes"],
        ["user", "cancel-deletion", NOBODY],
        ["api-key", "create", NOBODY],
        ["consent", "show", NOBODY],
        ["consent", "grant", NOBODY, "face_recognition", "--yes"],
        ["consent", "withdraw", NOBODY, "face_recognition"],
        ["ledger", "verify", NOBODY],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_account_commands_refuse_an_account_that_does_not_exist(
    env: dict[str, str], alice: Account, args: list[str]
) -> None:
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 1, r.output
    assert "error:" in r.output


def test_commands_refuse_a_purpose_or_scope_that_does_not_exist(
    env: dict[str, str], alice: Account
) -> None:
    r = runner.invoke(app, ["consent", "grant", alice.email, "mind_reading", "--yes"], env=env)
    assert r.exit_code == 1 and "error:" in r.output
    r = runner.invoke(app, ["consent", "withdraw", alice.email, "mind_reading"], env=env)
    assert r.exit_code == 1 and "error:" in r.output
    r = runner.invoke(app, ["api-key", "create", alice.email, "--scope", "root"], env=env)
    assert r.exit_code == 2


def test_cancel_deletion_without_a_scheduled_deletion_and_declined_delete(
    env: dict[str, str], alice: Account, bob: Account
) -> None:
    r = runner.invoke(app, ["user", "delete", bob.email], input="n\n", env=env)
    assert r.exit_code == 1
    r = runner.invoke(app, ["user", "list"], env=env)
    assert bob.email in r.output, "declining the confirmation deletes nothing"
    r = runner.invoke(app, ["user", "cancel-deletion", bob.email], env=env)
    assert r.exit_code == 1 and "No deletion is scheduled" in r.output, r.output


def test_import_takeout_refuses_what_is_not_a_takeout(
    env: dict[str, str], alice: Account, tmp_path: Path
) -> None:
    r = runner.invoke(app, ["import-takeout", str(tmp_path / "nope.zip"), "--user", alice.email])
    assert r.exit_code == 1 and "is not a file" in r.output
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip archive")
    r = runner.invoke(app, ["import-takeout", str(junk), "--user", alice.email], env=env)
    assert r.exit_code == 1 and "error:" in r.output
    r = runner.invoke(app, ["import-takeout", str(junk), "--user", NOBODY], env=env)
    assert r.exit_code == 1 and "error:" in r.output
    r = runner.invoke(app, ["import-takeout", str(junk)], env=env)
    assert r.exit_code == 2, "--user is required"
