"""Fixtures for the consent tests: a stand-in for the faces code (the real one registers the
same hooks), and helpers for takeouts."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keepsake.app import Container, build_container
from keepsake.clock import ManualClock
from keepsake.consent.facedata import PersonRecord
from tests.conftest import make_settings
from tests.faces.conftest import fake_analyzer
from tests.helpers import Account, jpeg_bytes, upload


@dataclass
class FakeFaces:
    """Face data as the faces code would hold it, behind the interfaces consent uses: a
    withdrawal hook that deletes templates, and the takeout's FaceArchive."""

    templates: dict[str, list[bytes]] = field(default_factory=dict)  # owner -> templates
    sidecars: dict[str, bytes] = field(default_factory=dict)  # asset -> XMP
    people: dict[str, list[PersonRecord]] = field(default_factory=dict)  # owner -> people
    withdrawals: list[tuple[str, bool]] = field(default_factory=list)
    imported: dict[str, bytes] = field(default_factory=dict)  # asset -> XMP

    def withdraw(self, owner_id: str, keep_names: bool) -> int:
        self.withdrawals.append((owner_id, keep_names))
        removed = len(self.templates.pop(owner_id, []))
        if not keep_names:
            self.people.pop(owner_id, None)
        return removed

    def sidecars_of(self, owner_id: str, asset_ids: Sequence[str]) -> Mapping[str, bytes]:
        return {a: self.sidecars[a] for a in asset_ids if a in self.sidecars}

    def people_of(self, owner_id: str) -> Sequence[PersonRecord]:
        return self.people.get(owner_id, [])

    def templates_of(self, owner_id: str) -> Iterator[Mapping[str, Any]]:
        for i, template in enumerate(self.templates.get(owner_id, [])):
            yield {"id": f"t{i}", "embedding": template.hex()}

    def template_count(self, owner_id: str) -> int:
        return len(self.templates.get(owner_id, []))

    def import_sidecar(self, owner_id: str, asset_id: str, xmp: bytes) -> int:
        self.imported[asset_id] = xmp
        return xmp.count(b"<rdf:li")


@pytest.fixture
def container(
    tmp_path: Path, database_url: str, clock: ManualClock, settings_overrides: dict[str, Any]
) -> Iterator[Container]:
    """The app with the faces tests' fake engine (coloured squares are faces): granting face
    recognition indexes photos, and no real model is loaded."""
    settings = make_settings(tmp_path / "data", database_url, **settings_overrides)
    c = build_container(settings, clock=clock, face_analyzer=fake_analyzer())
    yield c
    c.close()


@pytest.fixture
def faces(container: Container) -> FakeFaces:
    fake = FakeFaces()
    container.consent.on_withdraw("face_recognition", fake.withdraw)
    container.takeout.faces = fake
    return fake


def cli_env(container: Container) -> dict[str, str]:
    """Environment for `keepsake` commands against the test's database and data."""
    return {
        "KEEPSAKE_DATA_DIR": str(container.settings.data_dir),
        "KEEPSAKE_DATABASE_URL": container.settings.resolved_database_url.replace(
            "postgresql+psycopg://", "postgresql://"
        ),
    }


def fill_library(client: TestClient, account: Account, n: int = 3, seed: int = 0) -> list[str]:
    """Upload `n` distinct photos; their asset ids."""
    ids = []
    for i in range(n):
        r = upload(client, account, jpeg_bytes((96, 64), seed=seed + i), f"IMG_{seed + i:04}.jpg")
        assert r.status_code == 201, r.text
        ids.append(r.json()["asset"]["id"])
    return ids


def takeout_zip(client: TestClient, account: Account, **params: str) -> zipfile.ZipFile:
    r = client.get("/api/takeout", params=params, headers=account.headers)
    assert r.status_code == 200, r.text
    return zipfile.ZipFile(io.BytesIO(r.content))
