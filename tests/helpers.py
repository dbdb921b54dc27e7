"""Helpers for tests: accounts, generated photos, uploads, a live server."""

from __future__ import annotations

import io
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import MetaData, insert

from keepsake.app import Container, create_app
from keepsake.consent import purposes as purposes_module
from keepsake.consent.purposes import PURPOSES, Purpose, PurposeName
from keepsake.storage.models import ConsentPurpose


@dataclass
class Account:
    id: str
    email: str
    password: str
    headers: dict[str, str]


def new_account(
    client: TestClient,
    email: str,
    *,
    admin_headers: dict[str, str] | None = None,
    password: str = "correct horse battery",
) -> Account:
    """The first account through /api/setup, later ones created by the admin."""
    if admin_headers is None:
        r = client.post("/api/setup", json={"email": email, "password": password})
    else:
        r = client.post(
            "/api/admin/users",
            json={"email": email, "password": password},
            headers=admin_headers,
        )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    return Account(user_id, email, password, {"Authorization": f"Bearer {r.json()['token']}"})


def jpeg_bytes(
    size: tuple[int, int] = (640, 480),
    *,
    seed: int = 0,
    taken: str | None = "2024:05:17 10:30:00",
    offset: str | None = "+02:00",
    make: str | None = "Canon",
    model: str | None = "EOS R6",
    orientation: int | None = None,
    fmt: str = "JPEG",
) -> bytes:
    """A real photo-like image with EXIF; `seed` makes its bytes (and checksum) unique."""
    image = Image.effect_mandelbrot(size, (-2 + seed * 0.01, -1.2, 1, 1.2), 60).convert("RGB")
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if orientation:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    if taken:
        sub[0x9003] = taken
    if offset:
        sub[0x9011] = offset
    out = io.BytesIO()
    kwargs: dict[str, Any] = {"exif": exif} if fmt in ("JPEG", "PNG", "WEBP", "TIFF") else {}
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def upload(
    client: TestClient, account: Account, data: bytes, name: str = "photo.jpg", **form: str
) -> Any:
    return client.post(
        "/api/assets",
        files={"file": (name, data, "image/jpeg")},
        data=form,
        headers=account.headers,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app under uvicorn on a loopback port, in a thread."""

    def __init__(self, container: Container) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(container, start_jobs=False),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def publish_new_face_recognition_text(
    container: Container, monkeypatch: pytest.MonkeyPatch, addition: str = " Also in videos."
) -> Purpose:
    """What a release with a changed face_recognition text does: a migration adds version 2
    of the text, and the code that ships with it knows it as current."""
    old = PURPOSES[PurposeName.FACE_RECOGNITION]
    new = Purpose(old.name, 2, old.title, old.text + addition, old.biometric)
    with container.db.write() as s:
        s.execute(
            insert(ConsentPurpose).values(
                name=old.name, version=2, title=new.title, text=new.text, biometric=True
            )
        )
    monkeypatch.setitem(purposes_module.PURPOSES, PurposeName.FACE_RECOGNITION, new)
    return new


def rows_holding(container: Container, wanted: dict[str, bytes]) -> list[str]:
    """Where any of `wanted`'s byte strings stands in any cell of any table, read through
    SQL (PostgreSQL keeps its files elsewhere), as "<what> in table <name>"."""
    metadata = MetaData()
    metadata.reflect(container.db.engine)
    found = []
    with container.db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(table.select()):
                cells = [v if isinstance(v, bytes) else str(v).encode() for v in row]
                found += [
                    f"{what} in table {table.name}"
                    for what, value in wanted.items()
                    if any(value in cell for cell in cells)
                ]
    return found
