"""Rules that hold whatever else changes: the library works for a user who never consents to
anything, and no biometric categorisation (age, gender, emotion, ethnicity ...) exists
anywhere in the code or the schema."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from keepsake.app import Container
from tests.consent.conftest import fill_library, takeout_zip
from tests.helpers import Account

SRC = Path(__file__).resolve().parents[2] / "src" / "keepsake"
# Words that would name an inferred attribute of a person, as parts of an identifier.
CATEGORIES = {
    "age",
    "ages",
    "gender",
    "genders",
    "sex",
    "emotion",
    "emotions",
    "ethnicity",
    "ethnicities",
    "race",
    "races",
    "mood",
    "skin",
    "attractiveness",
}
# HTTP caching's "max-age" is about seconds, not people.
ALLOWED = {"max_age"}


def _categorical(name: str) -> bool:
    if any(name.lower().endswith(allowed) for allowed in ALLOWED):
        return False
    parts = name.replace("-", "_").lower().split("_")
    return any(part in CATEGORIES for part in parts)


@pytest.mark.postgres
def test_a_user_who_never_consents_has_a_working_library(
    client: TestClient, container: Container, alice: Account
) -> None:
    ids = fill_library(client, alice, 2)
    h = alice.headers
    assert len(client.get("/api/timeline", headers=h).json()["items"]) == 2
    assert client.get(f"/api/assets/{ids[0]}/original", headers=h).status_code == 200
    assert client.get(f"/api/assets/{ids[0]}/thumbnail", headers=h).status_code == 200
    album = client.post("/api/albums", json={"name": "Mine"}, headers=h).json()
    assert (
        client.post(f"/api/albums/{album['id']}/assets", json={"ids": ids}, headers=h).json()[
            "count"
        ]
        == 2
    )
    assert client.patch(f"/api/assets/{ids[1]}", json={"is_favorite": True}, headers=h).json()[
        "is_favorite"
    ]
    assert client.delete(f"/api/assets/{ids[0]}", headers=h).status_code == 204
    z = takeout_zip(client, alice)
    assert sum(n.endswith(".jpg") for n in z.namelist()) == 2
    assert client.get("/api/ledger/verify", headers=h).json()["ok"]

    assert not any(s["granted"] for s in client.get("/api/consent", headers=h).json())
    for purpose in ("face_recognition", "people_sharing", "verification_enrollment"):
        assert not container.consent.allows(alice.id, purpose)
    me = client.get("/api/users/me", headers=h)
    assert me.status_code == 200
    actions = {e["action"] for e in client.get("/api/ledger", headers=h).json()["items"]}
    assert not any(a.startswith("faces.") for a in actions), "no face processing at all"


def test_no_biometric_categorisation_in_the_schema(container: Container) -> None:
    inspector = inspect(container.db.engine)
    offending = [
        f"{table}.{column['name']}"
        for table in inspector.get_table_names()
        for column in inspector.get_columns(table)
        if _categorical(column["name"])
    ]
    assert offending == []


def test_no_biometric_categorisation_in_the_code() -> None:
    """Model fields, dataclass and schema attributes, settings, and string keys: none names a
    category of person. (Comments and prose may say that these are never inferred.)"""
    offending = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        names.append(item.target.id)
                    elif isinstance(item, ast.Assign):
                        names += [t.id for t in item.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.append(node.name)
                names += [a.arg for a in node.args.args + node.args.kwonlyargs]
            elif isinstance(node, ast.Attribute):
                names.append(node.attr)
            elif isinstance(node, ast.Dict):
                names += [
                    k.value
                    for k in node.keys
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                ]
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)
            ):
                names.append(node.slice.value)
            offending += [
                f"{path.relative_to(SRC)}:{getattr(node, 'lineno', '?')}: {n}"
                for n in names
                if _categorical(n)
            ]
    assert offending == []


def test_the_guard_recognises_categories() -> None:
    assert _categorical("estimated_age") and _categorical("gender") and _categorical("Emotion")
    assert not _categorical("page") and not _categorical("usage_bytes")
    assert not _categorical("storage") and not _categorical("max_age")
