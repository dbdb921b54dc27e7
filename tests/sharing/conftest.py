"""Fixtures for the sharing tests: a third account that nobody shares with, and small
helpers for photos, albums, shares and the owner's ledger, all through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Account, jpeg_bytes, new_account, upload


@pytest.fixture
def carol(client: TestClient, alice: Account, bob: Account) -> Account:
    """A stranger: a user of the same server whom nothing is shared with."""
    return new_account(client, "carol@example.org", admin_headers=alice.headers)


def photo(client: TestClient, account: Account, seed: int, **exif: Any) -> str:
    """A small photo of `account` (unique per seed); returns its asset id."""
    r = upload(client, account, jpeg_bytes((64, 48), seed=seed, **exif), name=f"p{seed}.jpg")
    assert r.status_code == 201, r.text
    asset_id: str = r.json()["asset"]["id"]
    return asset_id


def album(client: TestClient, owner: Account, asset_ids: list[str], name: str = "Holiday") -> str:
    r = client.post("/api/albums", json={"name": name}, headers=owner.headers)
    assert r.status_code == 201, r.text
    album_id: str = r.json()["id"]
    if asset_ids:
        r = client.post(
            f"/api/albums/{album_id}/assets", json={"ids": asset_ids}, headers=owner.headers
        )
        assert r.status_code == 200, r.text
    return album_id


def share(
    client: TestClient, owner: Account, album_id: str, to: Account, role: str = "viewer"
) -> str:
    r = client.post(
        f"/api/albums/{album_id}/shares",
        json={"email": to.email, "role": role},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    share_id: str = r.json()["id"]
    return share_id


def ledger(client: TestClient, account: Account, action: str | None = None) -> list[Any]:
    params = {"limit": 500, **({"action": action} if action else {})}
    r = client.get("/api/ledger", params=params, headers=account.headers)
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items
