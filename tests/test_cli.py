"""The `keepsake` CLI: user management and `backup` against a real server."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keepsake.app import Container
from keepsake.cli import backup as backup_module
from keepsake.cli.main import app
from tests.helpers import Account, LiveServer, jpeg_bytes

runner = CliRunner()


@pytest.fixture
def env(container: Container) -> dict[str, str]:
    return {
        "KEEPSAKE_DATA_DIR": str(container.settings.data_dir),
        "KEEPSAKE_DATABASE_URL": container.settings.resolved_database_url.replace(
            "postgresql+psycopg://", "postgresql://"
        ),
    }


def test_user_create_and_list(env: dict[str, str]) -> None:
    r = runner.invoke(
        app,
        ["user", "create", "root@example.org", "--admin", "--password", "a good password"],
        env=env,
    )
    assert r.exit_code == 0, r.output
    assert "created administrator root@example.org" in r.output
    r = runner.invoke(
        app, ["user", "create", "root@example.org", "--password", "a good pw1"], env=env
    )
    assert r.exit_code == 1 and "exists" in r.output
    r = runner.invoke(app, ["user", "create", "x@example.org", "--password", "short"], env=env)
    assert r.exit_code == 1 and "8 to 128" in r.output
    r = runner.invoke(app, ["user", "list"], env=env)
    assert "root@example.org\tadmin" in r.output


def test_bad_setting_is_a_plain_message(env: dict[str, str]) -> None:
    r = runner.invoke(app, ["user", "list"], env={**env, "KEEPSAKE_JOB_WORKERS": "lots"})
    assert r.exit_code == 2
    assert "KEEPSAKE_JOB_WORKERS" in r.output


def _photo_folder(root: Path, n: int) -> Path:
    folder = root / "photos"
    (folder / "2024" / "may").mkdir(parents=True)
    for i in range(n):
        (folder / "2024" / "may" / f"IMG_{i:04}.jpg").write_bytes(jpeg_bytes((96, 64), seed=i))
    (folder / "notes.txt").write_text("not a photo")
    (folder / "clip.mov").write_bytes(b"\0" * 100)
    (folder / "2024" / "copy.jpg").write_bytes(jpeg_bytes((96, 64), seed=0))
    return folder


def _api_key(env: dict[str, str], account: Account) -> str:
    r = runner.invoke(app, ["api-key", "create", account.email, "--scope", "upload"], env=env)
    assert r.exit_code == 0, r.output
    return r.output.strip()


def test_backup_uploads_once_and_a_rerun_uploads_nothing(
    live_server: LiveServer,
    alice: Account,
    env: dict[str, str],
    tmp_path: Path,
    container: Container,
) -> None:
    folder = _photo_folder(tmp_path, 5)
    key = _api_key(env, alice)
    cache = tmp_path / "cache.sqlite"
    args = [
        "backup",
        str(folder),
        "--server",
        live_server.url,
        "--cache",
        str(cache),
        "--no-progress",
    ]
    r = runner.invoke(app, args, env={"KEEPSAKE_API_KEY": key})
    assert r.exit_code == 0, r.output
    assert "6 photos: 5 uploaded" in r.output
    assert "1 already on the server" in r.output
    assert "skipped 2 unsupported files" in r.output
    assert len(list(container.blobs.keys("originals/"))) == 5

    calls: list[Path] = []
    original = backup_module._sha256

    def counting(path: Path) -> str:
        calls.append(path)
        return original(path)

    backup_module._sha256 = counting  # type: ignore[assignment]
    try:
        r = runner.invoke(app, args, env={"KEEPSAKE_API_KEY": key})
    finally:
        backup_module._sha256 = original  # type: ignore[assignment]
    assert r.exit_code == 0, r.output
    assert "0 uploaded" in r.output and "6 already on the server" in r.output
    assert calls == []  # unchanged files are not re-read

    # A touched file is re-hashed but, being the same content, not re-uploaded.
    touched = folder / "2024" / "may" / "IMG_0001.jpg"
    os.utime(touched, (1_600_000_000, 1_600_000_000))
    r = runner.invoke(app, args, env={"KEEPSAKE_API_KEY": key})
    assert "0 uploaded" in r.output


def test_backup_reports_bad_files_and_goes_on(
    live_server: LiveServer, alice: Account, env: dict[str, str], tmp_path: Path
) -> None:
    folder = _photo_folder(tmp_path, 2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage" * 50)
    r = runner.invoke(
        app,
        [
            "backup",
            str(folder),
            "--server",
            live_server.url,
            "--cache",
            str(tmp_path / "c.sqlite"),
            "--no-progress",
        ],
        env={"KEEPSAKE_API_KEY": _api_key(env, alice)},
    )
    assert r.exit_code == 1
    assert "2 uploaded" in r.output
    assert "failed: " in r.output and "broken.jpg" in r.output


def test_backup_with_a_wrong_key_or_server_says_so(tmp_path: Path, live_server: LiveServer) -> None:
    folder = _photo_folder(tmp_path, 1)
    r = runner.invoke(
        app,
        [
            "backup",
            str(folder),
            "--server",
            live_server.url,
            "--api-key",
            "ks_wrong",
            "--cache",
            str(tmp_path / "c"),
        ],
    )
    assert r.exit_code == 1 and "rejected the API key" in r.output
    r = runner.invoke(
        app,
        [
            "backup",
            str(folder),
            "--server",
            "http://127.0.0.1:9",
            "--api-key",
            "ks_x",
            "--cache",
            str(tmp_path / "c"),
        ],
    )
    assert r.exit_code == 1 and "cannot reach" in r.output
    r = runner.invoke(app, ["backup", str(tmp_path / "nope"), "--api-key", "ks_x"])
    assert r.exit_code == 1 and "not a folder" in r.output


def test_interrupted_backup_resumes_without_duplicates(
    live_server: LiveServer,
    alice: Account,
    env: dict[str, str],
    tmp_path: Path,
    container: Container,
) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(3):
        (folder / f"P{i}.jpg").write_bytes(jpeg_bytes((2400, 1800), seed=100 + i))
    key = _api_key(env, alice)
    cache = tmp_path / "cache.sqlite"
    uploaded_chunks = threading.Event()
    real_upload_one = backup_module._upload_one

    def interrupt_midway(c, server, headers, cache_, advance, stop):  # type: ignore[no-untyped-def]
        def advance_then_stop(n: int) -> None:
            advance(n)
            if n:
                uploaded_chunks.set()
                stop.set()  # what Ctrl-C does to the workers

        return real_upload_one(c, server, headers, cache_, advance_then_stop, stop)

    backup_module.CHUNK_BYTES, old_chunk = 64 * 1024, backup_module.CHUNK_BYTES
    backup_module._upload_one = interrupt_midway  # type: ignore[assignment]
    try:
        summary = backup_module.run_backup(
            folder, live_server.url, key, cache_path=cache, workers=1, show_progress=False
        )
    finally:
        backup_module._upload_one = real_upload_one  # type: ignore[assignment]
        backup_module.CHUNK_BYTES = old_chunk
    assert uploaded_chunks.is_set()
    assert summary.uploaded == 0 and summary.failed
    assert list(container.blobs.keys("originals/")) == []
    assert list((container.settings.data_dir / "uploads").iterdir())  # partial bytes kept

    summary = backup_module.run_backup(
        folder, live_server.url, key, cache_path=cache, workers=2, show_progress=False
    )
    assert summary.uploaded == 3 and not summary.failed
    assert len(list(container.blobs.keys("originals/"))) == 3
    assert list((container.settings.data_dir / "uploads").iterdir()) == []
