"""The data-use ledger: hash-chained per user, tamper-evident, filtered and paged through the
API, downloadable, verified from the CLI, and safe to append to from many threads."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from keepsake.app import Container
from keepsake.cli.main import app as cli
from keepsake.clock import ManualClock
from keepsake.consent.ledger import GENESIS, Action, canonical_json, user_actor
from keepsake.storage.db import NestedWriteError
from keepsake.storage.models import LedgerEntry
from tests.consent.conftest import cli_env
from tests.helpers import Account, new_account

pytestmark = pytest.mark.postgres
runner = CliRunner()


def _fill(container: Container, account: Account, n: int) -> None:
    clock = container.clock
    assert isinstance(clock, ManualClock)
    for i in range(n):
        clock.advance(timedelta(minutes=1))
        container.ledger.record(
            account.id,
            user_actor(account.id),
            Action.FACE_SEARCH if i % 2 else Action.FACES_INDEXED,
            "face_recognition",
            [f"asset-{i}"],
            {"faces": i},
        )


def test_each_entry_hashes_its_canonical_json_including_the_previous_hash(
    container: Container, alice: Account
) -> None:
    _fill(container, alice, 3)
    with container.db.read() as s:
        rows = s.scalars(
            select(LedgerEntry).where(LedgerEntry.user_id == alice.id).order_by(LedgerEntry.seq)
        ).all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS
    for before, entry in itertools.pairwise(rows):
        assert entry.prev_hash == before.hash
    last = rows[-1]
    payload = {
        "format": 1,
        "user_id": alice.id,
        "seq": last.seq,
        "at": last.at.isoformat(timespec="microseconds"),
        "actor": f"user:{alice.id}",
        "action": "faces.indexed",
        "purpose": "face_recognition",
        "object_ids": ["asset-2"],
        "detail": {"faces": 2},
        "prev_hash": rows[-2].hash,
    }
    assert last.hash == hashlib.sha256(canonical_json(payload)).hexdigest()


def test_entries_never_carry_content(container: Container, alice: Account) -> None:
    with pytest.raises(ValueError, match="text, a whole number or a flag"):
        container.ledger.record(alice.id, "user", "faces.indexed", detail={"template": 0.25})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="too long"):
        container.ledger.record(alice.id, "user", "faces.indexed", detail={"x": "a" * 1000})
    with pytest.raises(ValueError, match="object ids"):
        container.ledger.record(alice.id, "user", "faces.indexed", object_ids=["x"] * 1001)
    with pytest.raises(ValueError):
        container.ledger.record(alice.id, "user", "faces.indexed", purpose="advertising")
    with pytest.raises(ValueError, match="not a valid Action"):
        container.ledger.record(alice.id, "user", "faces.sold")  # no text explains it


def test_recording_inside_a_write_transaction_is_refused_not_a_deadlock(
    container: Container, alice: Account
) -> None:
    """On SQLite (one writer) `record` inside `db.write()` used to wait for itself forever;
    it is refused on every database, and `append` takes only a write transaction's session."""
    before = container.ledger.verify_chain(alice.id).entries
    with pytest.raises(NestedWriteError), container.db.write():
        container.ledger.record(alice.id, "user", Action.FACE_SEARCH)
    with pytest.raises(TypeError, match=r"db\.write"), container.db.read() as s:
        container.ledger.append(s, alice.id, "user", Action.FACE_SEARCH)
    if container.db.is_sqlite:
        with pytest.raises(NestedWriteError), container.db.write(), container.db.write():
            pass
    with container.db.write() as s:
        container.ledger.append(s, alice.id, user_actor(alice.id), Action.FACE_SEARCH)
    result = container.ledger.verify_chain(alice.id)
    assert result.ok and result.entries == before + 1, "only the append in the transaction"
    container.ledger.record(alice.id, user_actor(alice.id), Action.FACE_SEARCH)  # on its own
    assert container.ledger.verify_chain(alice.id).entries == before + 2


@pytest.mark.parametrize("tamper", ["edit", "remove-middle", "remove-last", "forge-hash"])
def test_verify_catches_a_tampered_entry(container: Container, alice: Account, tamper: str) -> None:
    _fill(container, alice, 6)
    first = container.ledger.verify_chain(alice.id)
    assert first.ok, first
    n = first.entries
    with container.db.write() as s:
        where = (LedgerEntry.user_id == alice.id, LedgerEntry.seq == 4)
        if tamper == "edit":
            s.execute(update(LedgerEntry).where(*where).values(object_ids=["someone-else"]))
        elif tamper == "remove-middle":
            s.execute(delete(LedgerEntry).where(*where))
        elif tamper == "remove-last":
            s.execute(
                delete(LedgerEntry).where(LedgerEntry.user_id == alice.id, LedgerEntry.seq == n)
            )
        else:  # rewrite an entry and its own hash: the next link no longer matches
            row = s.scalar(select(LedgerEntry).where(*where))
            assert row is not None
            row.actor = "admin:nobody"
            from keepsake.consent.ledger import entry_hash

            row.hash = entry_hash(row)
    result = container.ledger.verify_chain(alice.id)
    assert not result.ok
    expected = {"edit": 4, "remove-middle": 4, "remove-last": n, "forge-hash": 5}[tamper]
    assert result.broken_at == expected, result

    r = runner.invoke(cli, ["ledger", "verify", alice.email], env=cli_env(container))
    assert r.exit_code == 1
    assert f"BROKEN at entry {expected}" in r.output


def test_cli_verify_reports_an_intact_chain(container: Container, alice: Account) -> None:
    _fill(container, alice, 2)
    r = runner.invoke(cli, ["ledger", "verify", alice.id], env=cli_env(container))
    assert r.exit_code == 0, r.output
    assert r.output.startswith("ok: ")
    r = runner.invoke(cli, ["ledger", "verify", "nobody@example.org"], env=cli_env(container))
    assert r.exit_code == 1 and "No account" in r.output


def test_the_api_filters_pages_and_only_shows_the_callers_own(
    client: TestClient, container: Container, alice: Account, bob: Account
) -> None:
    _fill(container, alice, 7)
    _fill(container, bob, 2)
    seen = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3, "purpose": "face_recognition"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/ledger", params=params, headers=alice.headers).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["object_ids"][0] for e in seen] == [f"asset-{i}" for i in reversed(range(7))]
    assert all(e["object_ids"][0].startswith("asset-") for e in seen)

    searches = client.get(
        "/api/ledger", params={"action": "faces.searched"}, headers=alice.headers
    ).json()["items"]
    assert len(searches) == 3
    at = seen[2]["at"]
    newer = client.get(
        "/api/ledger", params={"since": at, "purpose": "face_recognition"}, headers=alice.headers
    ).json()["items"]
    assert len(newer) == 3
    bad = client.get("/api/ledger", params={"cursor": "nonsense"}, headers=alice.headers)
    assert bad.status_code == 422


def test_the_download_holds_everything_needed_to_verify_offline(
    client: TestClient, container: Container, alice: Account
) -> None:
    _fill(container, alice, 4)
    r = client.get("/api/ledger/export", headers=alice.headers)
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    document = json.loads(r.content)
    prev = GENESIS
    for entry in document["entries"]:
        claimed = entry.pop("hash")
        assert entry["prev_hash"] == prev
        assert hashlib.sha256(canonical_json(entry)).hexdigest() == claimed
        prev = claimed
    assert client.get("/api/ledger/verify", headers=alice.headers).json()["head_hash"] == prev


def test_a_login_from_a_new_device_is_ledgered_once(
    client: TestClient, container: Container, alice: Account
) -> None:
    def logins() -> list[dict[str, object]]:
        return client.get(
            "/api/ledger", params={"action": "login.new_device"}, headers=alice.headers
        ).json()["items"]

    assert len(logins()) == 1  # the first login, from the test client
    body = {"email": alice.email, "password": alice.password}
    client.post("/api/auth/login", json=body)
    assert len(logins()) == 1, "same device"
    client.post("/api/auth/login", json=body, headers={"User-Agent": "Keepsake-Android/1.0"})
    client.cookies.clear()
    entries = logins()
    assert len(entries) == 2
    assert entries[0]["detail"] == {"device": "Keepsake-Android/1.0"}


def test_concurrent_appends_keep_one_unbroken_chain(
    container: Container, client: TestClient
) -> None:
    account = new_account(client, "busy@example.org")
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                container.ledger.record(
                    account.id, "system:test", "faces.indexed", object_ids=[f"{n}-{i}"]
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    result = container.ledger.verify_chain(account.id)
    assert result.ok, result
    assert result.entries == 1 + 80  # the login, then every append
