"""Resumable uploads by the tus 1.0 protocol, driven by a real tus client (tuspy) against
the real server, including an upload interrupted halfway and resumed."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tusclient.client import TusClient
from tusclient.exceptions import TusUploadFailed

from keepsake.app import Container
from keepsake.auth.access import Principal, Scope
from keepsake.clock import ManualClock
from keepsake.errors import NotFound
from tests.helpers import Account, LiveServer, jpeg_bytes


def _tus(server: LiveServer, account: Account) -> TusClient:
    return TusClient(f"{server.url}/api/uploads", headers=account.headers)


def _meta(data: bytes, name: str = "big.jpg") -> dict[str, str]:
    return {"filename": name, "checksum": hashlib.sha256(data).hexdigest()}


def test_tus_upload_commits_an_asset(
    live_server: LiveServer, alice: Account, tmp_path: Path
) -> None:
    data = jpeg_bytes((1200, 900))
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    with path.open("rb") as stream:
        uploader = _tus(live_server, alice).uploader(
            file_stream=stream, chunk_size=10_000, metadata=_meta(data), upload_checksum=True
        )
        uploader.upload()
    asset_id = uploader.request.response_headers["keepsake-asset-id"]
    original = httpx.get(f"{live_server.url}/api/assets/{asset_id}/original", headers=alice.headers)
    assert original.content == data


def test_interrupted_upload_resumes_where_it_stopped(
    live_server: LiveServer, alice: Account, tmp_path: Path, container: Container
) -> None:
    data = jpeg_bytes((1600, 1200), seed=3)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    half = len(data) // 2
    with path.open("rb") as stream:
        first = _tus(live_server, alice).uploader(
            file_stream=stream, chunk_size=4096, metadata=_meta(data)
        )
        first.upload(stop_at=half)  # the connection "drops" here
    url = first.url
    assert url is not None
    head = httpx.head(url, headers={**alice.headers, "Tus-Resumable": "1.0.0"})
    offset = int(head.headers["upload-offset"])
    assert half <= offset < len(data)
    assert list(container.blobs.keys("originals/")) == []  # nothing committed yet

    with path.open("rb") as stream:
        resumed = _tus(live_server, alice).uploader(
            file_stream=stream, url=url, chunk_size=64 * 1024, metadata=_meta(data)
        )
        assert resumed.offset == offset
        resumed.upload()
    asset_id = resumed.request.response_headers["keepsake-asset-id"]
    original = httpx.get(f"{live_server.url}/api/assets/{asset_id}/original", headers=alice.headers)
    assert hashlib.sha256(original.content).digest() == hashlib.sha256(data).digest()
    assert list((container.settings.data_dir / "uploads").iterdir()) == []


def test_dropped_connection_keeps_the_bytes_that_arrived(
    live_server: LiveServer, alice: Account
) -> None:
    data = jpeg_bytes((800, 600), seed=9)
    headers = {**alice.headers, "Tus-Resumable": "1.0.0"}
    created = httpx.post(
        f"{live_server.url}/api/uploads", headers={**headers, "Upload-Length": str(len(data))}
    )
    url = live_server.url + created.headers["location"]

    def body():  # type: ignore[no-untyped-def]
        yield data[:5000]
        raise ConnectionResetError("cable pulled")

    with pytest.raises((httpx.HTTPError, ConnectionResetError)):
        httpx.patch(
            url,
            content=body(),
            headers={
                **headers,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(len(data)),
            },
        )
    for _ in range(50):
        offset = int(httpx.head(url, headers=headers).headers["upload-offset"])
        if offset:
            break
    assert 0 <= offset <= 5000
    rest = httpx.patch(
        url,
        content=data[offset:],
        headers={
            **headers,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert rest.status_code == 204
    assert rest.headers["keepsake-duplicate"] == "false"


def test_protocol_errors(client: TestClient, alice: Account) -> None:
    h = {**alice.headers, "Tus-Resumable": "1.0.0"}
    options = client.options("/api/uploads")
    assert options.status_code == 204
    assert "checksum" in options.headers["tus-extension"]
    assert "termination" in options.headers["tus-extension"]
    assert (
        client.post("/api/uploads", headers={**alice.headers, "Upload-Length": "10"}).status_code
        == 412
    )
    assert client.post("/api/uploads", headers={**h, "Upload-Length": "-1"}).status_code == 422
    created = client.post("/api/uploads", headers={**h, "Upload-Length": "10"})
    assert created.status_code == 201
    url = created.headers["location"]
    patch_headers = {**h, "Content-Type": "application/offset+octet-stream"}
    wrong_offset = client.patch(
        url, content=b"abc", headers={**patch_headers, "Upload-Offset": "5"}
    )
    assert wrong_offset.status_code == 409
    bad_sum = client.patch(
        url,
        content=b"abc",
        headers={
            **patch_headers,
            "Upload-Offset": "0",
            "Upload-Checksum": "sha1 " + base64.b64encode(b"x" * 20).decode(),
        },
    )
    assert bad_sum.status_code == 460
    assert client.head(url, headers=h).headers["upload-offset"] == "0"
    good_sum = client.patch(
        url,
        content=b"abc",
        headers={
            **patch_headers,
            "Upload-Offset": "0",
            "Upload-Checksum": "sha1 " + base64.b64encode(hashlib.sha1(b"abc").digest()).decode(),
        },
    )
    assert good_sum.status_code == 204 and good_sum.headers["upload-offset"] == "3"
    too_long = client.patch(url, content=b"x" * 20, headers={**patch_headers, "Upload-Offset": "3"})
    assert too_long.status_code == 422


def test_upload_of_another_user_is_404(client: TestClient, alice: Account, bob: Account) -> None:
    h = {"Tus-Resumable": "1.0.0"}
    url = client.post(
        "/api/uploads", headers={**alice.headers, **h, "Upload-Length": "10"}
    ).headers["location"]
    assert client.head(url, headers={**bob.headers, **h}).status_code == 404
    assert client.delete(url, headers={**bob.headers, **h}).status_code == 404
    assert (
        client.patch(
            url,
            content=b"a",
            headers={
                **bob.headers,
                **h,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        ).status_code
        == 404
    )


def test_termination_and_expiry_delete_partial_data(
    client: TestClient, alice: Account, container: Container, clock: ManualClock
) -> None:
    h = {**alice.headers, "Tus-Resumable": "1.0.0"}
    staged = container.settings.data_dir / "uploads"
    url = client.post("/api/uploads", headers={**h, "Upload-Length": "100"}).headers["location"]
    client.patch(
        url,
        content=b"x" * 50,
        headers={**h, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert client.delete(url, headers=h).status_code == 204
    assert client.head(url, headers=h).status_code == 404
    assert list(staged.iterdir()) == []

    url = client.post("/api/uploads", headers={**h, "Upload-Length": "100"}).headers["location"]
    clock.advance(timedelta(hours=23))
    container.uploads.expire()
    assert client.head(url, headers=h).status_code == 200
    clock.advance(timedelta(hours=2))
    assert client.head(url, headers=h).status_code == 404
    container.uploads.expire()
    assert list(staged.iterdir()) == []


def test_expiry_sweeps_partial_files_whose_upload_is_gone(
    client: TestClient, alice: Account, container: Container, clock: ManualClock
) -> None:
    h = {**alice.headers, "Tus-Resumable": "1.0.0"}
    staged = container.settings.data_dir / "uploads"
    url = client.post("/api/uploads", headers={**h, "Upload-Length": "100"}).headers["location"]
    live = staged / f"{url.rsplit('/', 1)[1]}.part"
    orphan = staged / "0f0f0f0f-dead-4bad-8bad-000000000000.part"  # its row is gone
    orphan.write_bytes(b"x" * 50)

    container.uploads.expire()
    assert orphan.exists(), "a young partial file may belong to an upload being created"
    clock.advance(timedelta(hours=container.settings.upload_expiry_hours, minutes=1))
    client.patch(  # keeps nothing alive: expiry is from creation
        url,
        content=b"x" * 10,
        headers={**h, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    container.uploads.expire()

    assert not orphan.exists()
    assert not live.exists()
    assert list(staged.iterdir()) == []


def test_a_chunk_for_an_upload_deleted_meanwhile_leaves_no_file(
    alice: Account, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal = Principal(alice.id, False, frozenset({Scope.FULL}))
    uploads = container.uploads
    state = uploads.create(principal, 100, filename="a.jpg", checksum=None, file_mtime=None)
    live = uploads._live

    def then_purged(owner_id: str, upload_id: str) -> Any:
        upload = live(owner_id, upload_id)
        with container.db.write() as s:  # the account's purge lands after the check
            container.media.repo.delete_upload(s, upload_id)
        (uploads.dir / f"{upload_id}.part").unlink()
        return upload

    monkeypatch.setattr(uploads, "_live", then_purged)
    chunk = uploads.dir / f"{state.id}.chunk"
    chunk.write_bytes(b"x" * 10)

    with pytest.raises(NotFound):
        uploads.append(principal, state.id, 0, chunk)

    assert list(uploads.dir.iterdir()) == []


def test_corrupt_file_by_tus_is_refused_and_leaves_nothing(
    live_server: LiveServer, alice: Account, tmp_path: Path, container: Container
) -> None:
    data = b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 100
    path = tmp_path / "bad.jpg"
    path.write_bytes(data)
    with path.open("rb") as stream, pytest.raises(TusUploadFailed) as failure:
        _tus(live_server, alice).uploader(
            file_stream=stream, chunk_size=1 << 20, retries=0
        ).upload()
    assert failure.value.status_code in (415, 422)
    assert list(container.blobs.keys()) == []
    assert list((container.settings.data_dir / "uploads").iterdir()) == []
