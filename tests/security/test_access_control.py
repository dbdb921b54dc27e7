"""Access control that holds, for every route the app has now or gets later.

The test walks the app's own OpenAPI document. Every path parameter that names an object is
filled with an object of user A (an asset, album, upload, API key, session, person, face,
share, link ...), every request body with A's ids where it asks for ids, and each operation
is called by user B and by an administrator who is not A:

- an operation on A's object answers 404 (never 403, never 2xx, never 500), exactly as it
  answers for an id that does not exist, so B cannot even learn that it exists;
- operations of the `admin` tag refuse B (403); administrators may run them, but every
  other operation treats them as strangers too: they cannot see A's photos or faces;
- no answer to B or the administrator contains any of A's ids, checksums, file names or
  email, and afterwards A's library is exactly as it was.

A route with a path parameter this test does not know fails it: add the parameter to
`OBJECT_PARAMS` (and make A one such object in `build_world`) or, when it names no object
(an enum, a capability token), to `OTHER_PARAMS`."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keepsake.app import Container, build_container, create_app
from keepsake.clock import ManualClock
from keepsake.jobs.queue import JobResult
from keepsake.ml.fake import FunctionFaceAnalyzer
from tests.conftest import make_settings
from tests.helpers import Account, jpeg_bytes, new_account, upload

ADMIN_TAG = "admin"

# Path parameters that name an object, and which of A's objects fills them.
OBJECT_PARAMS: dict[str, str] = {
    "asset_id": "asset",
    "album_id": "album",
    "upload_id": "upload",
    "key_id": "api_key",
    "session_id": "session",
    "user_id": "user",
    "person_id": "person",
    "face_id": "face",
    "share_id": "share",
    "link_id": "link",
    # A run of a background job (admin routes only): a failed job about A's photo.
    "run_id": "job_run",
    # A public link's token is the capability itself: whoever holds it may look. Someone who
    # does not must not learn anything, so it is filled with a token that is not A's.
    "token": "wrong_token",
}
# Path parameters that name no object: what to fill them with.
OTHER_PARAMS: dict[str, Callable[[World], str]] = {
    "purpose": lambda world: world.purpose,
}
# Body fields whose smallest valid value is not enough (a box needs x2 > x1).
FIELD_EXAMPLES: dict[str, Any] = {"x1": 1.0, "y1": 1.0, "x2": 50.0, "y2": 50.0}
# Body fields (by name) that carry ids of A's objects.
ID_LIST_FIELDS: dict[str, str] = {
    "ids": "asset",
    "asset_ids": "asset",
    "face_ids": "face",
    "source_ids": "person",
    "person_ids": "person",
}


@dataclass
class World:
    owner: Account  # user A
    intruder: Account  # user B
    admin: Account
    recipient: Account  # whom A shares with
    objects: dict[str, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    purpose: str = ""


def _ok(r: Any, *codes: int) -> Any:
    assert r.status_code in (codes or (200, 201, 204)), f"{r.request.url}: {r.text}"
    return r.json() if r.content else None


def build_world(client: TestClient, container: Container) -> World:
    admin = new_account(client, "admin@example.org")
    owner = new_account(client, "owner@example.org", admin_headers=admin.headers)
    intruder = new_account(client, "intruder@example.org", admin_headers=admin.headers)
    recipient = new_account(client, "friend@example.org", admin_headers=admin.headers)
    world = World(owner, intruder, admin, recipient)
    a = owner.headers
    photos = [jpeg_bytes((400, 300), seed=s) for s in (11, 12)]
    assets = [
        _ok(upload(client, owner, p, f"owner-secret-{i}.jpg"))["asset"]
        for i, p in enumerate(photos)
    ]
    album = _ok(client.post("/api/albums", json={"name": "Owner's album"}, headers=a))
    _ok(
        client.post(
            f"/api/albums/{album['id']}/assets", json={"ids": [x["id"] for x in assets]}, headers=a
        )
    )
    key = _ok(client.post("/api/api-keys", json={"name": "owner key"}, headers=a))
    second = client.post("/api/auth/login", json={"email": owner.email, "password": owner.password})
    client.cookies.clear()
    sessions = _ok(client.get("/api/sessions", headers=a))
    session = next(s for s in sessions if not s["current"])
    tus = {"Tus-Resumable": "1.0.0", **a}
    r = client.post("/api/uploads", headers={**tus, "Upload-Length": "1000"})
    upload_id = r.headers["location"].rsplit("/", 1)[1]

    # Everyone consents to everything and turns faces on, so that what stops a stranger is
    # the owner check, not the stranger's own settings.
    for account in (owner, intruder, admin):
        for consent in _ok(client.get("/api/consent", headers=account.headers)):
            purpose = consent["purpose"]
            body = {"version": purpose["version"]}
            _ok(client.put(f"/api/consent/{purpose['name']}", json=body, headers=account.headers))
            world.purpose = world.purpose or purpose["name"]
        body = {"enabled": True}
        _ok(client.put("/api/users/me/face-recognition", json=body, headers=account.headers))
    face = _ok(
        client.post(
            f"/api/assets/{assets[0]['id']}/faces",
            json={"box": {"x1": 10, "y1": 10, "x2": 120, "y2": 140}, "name": "Owner's friend"},
            headers=a,
        )
    )
    share = _ok(
        client.post(f"/api/albums/{album['id']}/shares", json={"email": recipient.email}, headers=a)
    )
    link = _ok(client.post("/api/links", json={"album_id": album["id"]}, headers=a))

    world.objects = {
        "asset": assets[0]["id"],
        "album": album["id"],
        "upload": upload_id,
        "api_key": key["id"],
        "session": session["id"],
        "user": owner.id,
        "person": face["person_id"],
        "face": face["id"],
        "share": share["id"],
        "link": link["id"],
        "wrong_token": "x" + str(link.get("token") or link.get("url", "t"))[-20:][::-1] + "Q",
    }
    world.objects["job_run"] = _failed_run(client, container, admin, assets[0]["id"])
    world.secrets = {v for k, v in world.objects.items() if k != "wrong_token"}
    world.secrets |= {x["id"] for x in assets} | {owner.email, second.json()["token"]}
    world.secrets |= {hashlib.sha256(p).hexdigest() for p in photos}
    world.secrets |= {"owner-secret-0.jpg", "owner-secret-1.jpg", "Owner's album", "Owner's friend"}
    world.secrets |= {key["secret"], key["prefix"]}
    return world


WALK_FAILING_JOB = "test.walk_fails"


def _failed_run(client: TestClient, container: Container, admin: Account, asset_id: str) -> str:
    """A failed run of a job whose argument is A's photo: one an administrator may retry, and
    B may neither retry nor learn anything about."""

    def fails(asset: str) -> JobResult:
        return JobResult.FAILED

    container.jobs.register(WALK_FAILING_JOB, fails, retries=0)
    container.jobs.enqueue(WALK_FAILING_JOB, asset_id)
    failures = _ok(client.get("/api/admin/jobs", headers=admin.headers))["failures"]
    return str(next(f["id"] for f in failures if f["args"] == [asset_id]))


# --- requests from the OpenAPI document ------------------------------------------------


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def example(spec: dict[str, Any], schema: dict[str, Any], name: str, world: World) -> Any:
    """A small valid value for `schema`, using A's ids wherever a field asks for ids."""
    schema = _resolve(spec, schema)
    if name in FIELD_EXAMPLES:
        return FIELD_EXAMPLES[name]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(spec, s).get("type") != "null"]
            return example(spec, options[0], name, world) if options else None
    if "allOf" in schema:
        return example(spec, schema["allOf"][0], name, world)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        props = schema.get("properties", {})
        wanted = {k for k in props if k in required or k.endswith(("_id", "ids"))}
        return {k: example(spec, props[k], k, world) for k in sorted(wanted)}
    if kind == "array":
        if name in ID_LIST_FIELDS:
            return [world.objects[ID_LIST_FIELDS[name]]]
        item = example(spec, schema.get("items", {}), name.rstrip("s"), world)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(schema.get("minimum", 1), 1) if schema.get("maximum", 2) >= 1 else 0
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return False
    if kind == "string":
        if name in OBJECT_PARAMS:
            return world.objects[OBJECT_PARAMS[name]]
        if name.endswith("_id"):
            return world.objects.get(name.removesuffix("_id"), str(uuid.uuid4()))
        if schema.get("format") == "date-time":
            return "2024-01-01T00:00:00Z"
        if schema.get("format") == "binary":
            return b""
        if "email" in name:
            return "nobody-here@example.org"
        if "password" in name:
            return "not the password at all"  # re-authentication must fail first
        length = max(schema.get("minLength", 1), 1)
        return ("walker" * (length // 6 + 1))[:length]
    return None


@dataclass
class Call:
    method: str
    path: str
    template: str
    tags: list[str]
    object_params: list[str]
    kwargs: dict[str, Any]


def calls(spec: dict[str, Any], world: World, *, random_ids: bool = False) -> Iterator[Call]:
    unknown = []
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = re.findall(r"{([^}]+)}", template)
            path = template
            for param in params:
                if param in OBJECT_PARAMS:
                    value = str(uuid.uuid4()) if random_ids else world.objects[OBJECT_PARAMS[param]]
                elif param in OTHER_PARAMS:
                    value = OTHER_PARAMS[param](world)
                else:
                    unknown.append(f"{method.upper()} {template}: {{{param}}}")
                    continue
                path = path.replace(f"{{{param}}}", value)
            query = {
                p["name"]: example(spec, p.get("schema", {}), p["name"], world)
                for p in operation.get("parameters", [])
                if p.get("in") == "query" and p.get("required")
            }
            headers = {"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Upload-Length": "10"}
            kwargs: dict[str, Any] = {"params": query, "headers": headers}
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                kwargs["json"] = example(spec, content["application/json"]["schema"], "", world)
            elif "multipart/form-data" in content:
                form = example(spec, content["multipart/form-data"]["schema"], "", world)
                kwargs["files"] = {
                    k: ("f.jpg", io.BytesIO(jpeg_bytes((64, 48))), "image/jpeg")
                    for k, v in form.items()
                    if v == b"" or isinstance(v, list)
                } or {"file": ("f.jpg", io.BytesIO(jpeg_bytes((64, 48))), "image/jpeg")}
                kwargs["data"] = {k: v for k, v in form.items() if k not in kwargs["files"]}
            elif content:
                kind = next(iter(content))
                kwargs["content"] = b"<x/>"
                headers["Content-Type"] = kind
            else:
                # Raw bodies (tus chunks) are not described in the document.
                kwargs["content"] = b""
                headers["Content-Type"] = "application/offset+octet-stream"
            object_params = [p for p in params if p in OBJECT_PARAMS]
            yield Call(
                method.upper(), path, template, operation.get("tags", []), object_params, kwargs
            )
    assert not unknown, (
        "Path parameters the access-control walk cannot fill; map them in OBJECT_PARAMS "
        "(and give A such an object in build_world) or OTHER_PARAMS:\n  " + "\n  ".join(unknown)
    )


def send(client: TestClient, call: Call, account: Account) -> Any:
    kwargs = {**call.kwargs, "headers": {**call.kwargs["headers"], **account.headers}}
    return client.request(call.method, call.path, **kwargs)


def leaks(response: Any, world: World, call: Call) -> list[str]:
    sent = json.dumps([call.path, call.kwargs.get("json"), call.kwargs.get("params")])
    text = response.text
    return sorted(s for s in world.secrets if s in text and s not in sent)


OWNER_VIEWS = [
    "/api/timeline",
    "/api/albums",
    "/api/albums/{album}",
    "/api/assets/{asset}",
    "/api/trash",
    "/api/api-keys",
    "/api/usage",
    "/api/people",
    "/api/people/{person}",
    "/api/links",
    "/api/albums/{album}/shares",
    "/api/users/me",
]


def owner_view(client: TestClient, world: World) -> dict[str, Any]:
    view = {}
    for template in OWNER_VIEWS:
        path = template.format(**world.objects)
        r = client.get(path, headers=world.owner.headers)
        assert r.status_code == 200, (path, r.text)
        view[path] = r.json()
    sessions = client.get("/api/sessions", headers=world.owner.headers).json()
    view["sessions"] = sorted(s["id"] for s in sessions)
    tus = {"Tus-Resumable": "1.0.0", **world.owner.headers}
    view["upload"] = client.head(f"/api/uploads/{world.objects['upload']}", headers=tus).status_code
    return view


@pytest.fixture
def walk(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> Iterator[tuple[TestClient, World, Container]]:
    settings = make_settings(tmp_path / "data", database_url)
    container = build_container(
        settings, clock=clock, face_analyzer=FunctionFaceAnalyzer(lambda _image: [])
    )
    try:
        with TestClient(create_app(container, start_jobs=False)) as client:
            yield client, build_world(client, container), container
    finally:
        container.close()


def test_no_route_lets_another_user_or_an_admin_at_someone_elses_objects(
    walk: tuple[TestClient, World, Container],
) -> None:
    client, world, _container = walk
    spec = client.get("/api/openapi.json").json()
    before = owner_view(client, world)
    # Strangers act through API keys with every scope, so that logging out or changing a
    # password on the way does not end their own session.
    strangers = []
    for account in (world.intruder, world.admin):
        secret = _ok(client.post("/api/api-keys", json={"name": "walk"}, headers=account.headers))[
            "secret"
        ]
        strangers.append(
            Account(
                account.id, account.email, account.password, {"Authorization": f"Bearer {secret}"}
            )
        )
    intruder, admin = strangers

    failures: list[str] = []
    walked = 0
    by_random = {(c.method, c.template): c for c in calls(spec, world, random_ids=True)}
    ordered = sorted(calls(spec, world), key=lambda c: not c.object_params)
    for call in ordered:
        for who, account in (("B", intruder), ("admin", admin)):
            admin_route = ADMIN_TAG in call.tags
            if who == "admin" and admin_route:
                continue  # administrators may manage accounts; checked by their own tests
            r = send(client, call, account)
            where = f"{who}: {call.method} {call.template} -> {r.status_code}"
            walked += 1
            if r.status_code >= 500:
                failures.append(f"{where}: server error {r.text[:200]}")
            if found := leaks(r, world, call):
                failures.append(f"{where}: shows A's {found}")
            if admin_route:
                if r.status_code != 403:
                    failures.append(f"{where}: an admin route did not refuse a non-admin")
                continue
            if not call.object_params:
                continue
            if r.status_code != 404:
                failures.append(f"{where}: expected 404 for A's object: {r.text[:200]}")
                continue
            if call.method != "HEAD" and not r.json()["type"].endswith("/not-found"):
                failures.append(f"{where}: 404 without the not-found problem")
            twin = send(client, by_random[(call.method, call.template)], account)
            if twin.status_code != r.status_code:
                failures.append(
                    f"{where}: but {twin.status_code} for an id that does not exist, "
                    "which tells that A's exists"
                )
    assert not failures, "\n".join(failures)
    assert walked > 100  # the document really was walked
    assert owner_view(client, world) == before, "a stranger changed A's library"
    # (The administrator's API key: the walk has logged their session out by now.)
    failures = _ok(client.get("/api/admin/jobs", headers=admin.headers))["failures"]
    assert world.objects["job_run"] in {f["id"] for f in failures}, "B retried a job"
