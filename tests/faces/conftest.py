"""Fixtures for the faces tests: an app whose face engine is either a fake that reads coloured
squares as faces (fast, exact, for the logic) or the real dlib engine (loaded once per run)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from keepsake.app import Container, build_container
from keepsake.clock import ManualClock
from keepsake.ml import Box, DetectedFace, FaceAnalyzer, FunctionFaceAnalyzer, RgbImage
from keepsake.storage.models import Face, Person
from tests.conftest import TESTDATA, make_settings
from tests.helpers import Account, upload

# Colours the fake engine reads as faces, and whose face each one is. Two shades of red are
# one person (Anna), so a photo can show her twice; "anna_blurry" is Anna, too blurry to seed
# a person; "anna_lookalike" sits between the clustering and the suggestion thresholds.
PALETTE: dict[str, tuple[tuple[int, int, int], str]] = {
    "anna": ((220, 30, 30), "anna"),
    "anna_again": ((150, 0, 0), "anna"),
    "anna_blurry": ((250, 120, 120), "anna"),
    "anna_lookalike": ((240, 150, 20), "lookalike"),
    "ben": ((30, 200, 30), "ben"),
    "cleo": ((30, 30, 220), "cleo"),
    "dan": ((230, 220, 30), "dan"),
    "eve": ((220, 30, 220), "eve"),
}
FACE_PX = 120


def _identity_vectors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    vectors = {}
    for name in ("anna", "ben", "cleo", "dan", "eve"):
        v = rng.normal(size=128)
        vectors[name] = (v / np.linalg.norm(v) * 0.75).astype(np.float32)  # ~1.06 apart
    direction = rng.normal(size=128)
    direction /= np.linalg.norm(direction)
    # Average distance to Anna's faces ~0.575: not grouped (0.55) but suggested (0.6).
    vectors["lookalike"] = (vectors["anna"] + 0.57 * direction).astype(np.float32)
    return vectors


IDENTITY = _identity_vectors()


def fake_faces(image: RgbImage, model_id: str = "fake-1") -> list[DetectedFace]:
    """Each palette colour covering a large enough area is a face; its embedding is its
    identity's vector plus a little noise fixed by where the face is."""
    found = []
    step = 4  # every 4th pixel: boxes to within 4 px, 16 times faster
    pixels = image[::step, ::step].astype(np.int16)
    for name, (colour, identity) in PALETTE.items():
        mask = (np.abs(pixels - np.array(colour, dtype=np.int16)) < 28).all(axis=2)
        if mask.sum() < 25:
            continue
        ys, xs = np.nonzero(mask)
        box = Box(
            float(xs.min() * step),
            float(ys.min() * step),
            float((xs.max() + 1) * step),
            float((ys.max() + 1) * step),
        )
        noise = np.random.default_rng(int(box.x1) * 7919 + int(box.y1)).normal(size=128)
        embedding = IDENTITY[identity] + (0.02 * noise / np.linalg.norm(noise)).astype(np.float32)
        if model_id != "fake-1":  # another model: the same faces, other numbers
            embedding = -embedding
        blurry = name == "anna_blurry"
        found.append(
            DetectedFace(
                box=box,
                landmarks=np.zeros((5, 2), dtype=np.float32),
                confidence=1.0,
                detector_score=2.0,
                quality=0.2 if blurry else 0.9,
                sharpness=5.0 if blurry else 200.0,
                embedding=embedding.astype(np.float32),
            )
        )
    found.sort(key=lambda f: f.box.size, reverse=True)
    return found


def fake_analyzer(model_id: str = "fake-1") -> FunctionFaceAnalyzer:
    return FunctionFaceAnalyzer(lambda image: fake_faces(image, model_id), model_id=model_id)


def photo(
    *faces: str,
    size: tuple[int, int] = (800, 600),
    seed: int = 0,
    taken: str = "2024:05:17 10:30:00",
    orientation: int | None = None,
) -> bytes:
    """A JPEG with a square 'face' per name, left to right; `seed` makes the bytes unique."""
    image = Image.new("RGB", size, (128, 128, 128))
    step = size[0] // (len(faces) + 1)
    for i, name in enumerate(faces):
        left = step * (i + 1) - FACE_PX // 2
        top = size[1] // 2 - FACE_PX // 2 + (seed % 7) * 3
        image.paste(PALETTE[name][0], (left, top, left + FACE_PX, top + FACE_PX))
    image.paste((seed % 256, (seed // 256) % 256, 90), (0, 0, 16, 16))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = taken
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


@pytest.fixture
def face_analyzer_for_app() -> FaceAnalyzer:
    """The engine the app under test uses; modules with real photos override this."""
    return fake_analyzer()


@pytest.fixture
def container(
    tmp_path: Path,
    database_url: str,
    clock: ManualClock,
    settings_overrides: dict[str, Any],
    face_analyzer_for_app: FaceAnalyzer,
) -> Iterator[Container]:
    settings = make_settings(tmp_path / "data", database_url, **settings_overrides)
    c = build_container(settings, clock=clock, face_analyzer=face_analyzer_for_app)
    yield c
    c.close()


def enable(client: TestClient, account: Account, on: bool = True, **extra: Any) -> Any:
    r = client.put(
        "/api/users/me/face-recognition",
        json={"enabled": on, **extra},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


def add_photo(client: TestClient, account: Account, data: bytes, name: str = "p.jpg") -> str:
    r = upload(client, account, data, name)
    assert r.status_code == 201, r.text
    return str(r.json()["asset"]["id"])


def people(client: TestClient, account: Account, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/people", params=params, headers=account.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


def faces_of(client: TestClient, account: Account, asset_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/assets/{asset_id}/faces", headers=account.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


def face_rows(container: Container, owner_id: str | None = None) -> int:
    with container.db.read() as s:
        query = select(func.count()).select_from(Face)
        if owner_id:
            query = query.where(Face.owner_id == owner_id)
        return int(s.scalar(query) or 0)


def person_rows(container: Container, owner_id: str | None = None) -> int:
    with container.db.read() as s:
        query = select(func.count()).select_from(Person)
        if owner_id:
            query = query.where(Person.owner_id == owner_id)
        return int(s.scalar(query) or 0)


FACES_DIR = TESTDATA / "faces"


def real_photo(relative: str) -> bytes:
    path = FACES_DIR / relative
    if not path.is_file():
        pytest.skip(
            f"real face photos not found at {FACES_DIR}: set KEEPSAKE_TESTDATA to the folder "
            "holding faces/ (see shared/testdata/faces/README.md)"
        )
    return path.read_bytes()


@pytest.fixture(scope="session")
def real_analyzer(tmp_path_factory: pytest.TempPathFactory) -> FaceAnalyzer:
    """The real dlib engine, converted and loaded once for the whole run."""
    from keepsake.ml.dlib_backend import DlibFaceAnalyzer

    if not FACES_DIR.is_dir():
        pytest.skip(f"real face photos not found at {FACES_DIR}: set KEEPSAKE_TESTDATA")
    analyzer = DlibFaceAnalyzer(cache_dir=tmp_path_factory.mktemp("face-models"))
    analyzer.load()
    return analyzer
