"""Partner sharing: a whole timeline (or from a date on) shared read-only with one partner,
merged into the partner's timeline with keyset pages, ended by either side."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import Account
from tests.sharing.conftest import ledger, photo

FILES = ("thumbnail", "preview", "original")


def dated(client: TestClient, account: Account, seed: int, year: int) -> str:
    return photo(client, account, seed, taken=f"{year}:06:01 12:00:00", offset=None)


def partner(client: TestClient, owner: Account, to: Account, since: str | None = None) -> str:
    r = client.put("/api/partner", json={"email": to.email, "since": since}, headers=owner.headers)
    assert r.status_code == 200, r.text
    share_id: str = r.json()["id"]
    return share_id


def merged(client: TestClient, account: Account, limit: int = 2, **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        r = client.get("/api/partner/timeline", params=query, headers=account.headers)
        assert r.status_code == 200, r.text
        items.extend(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def test_the_partner_sees_the_timeline_merged_into_theirs_and_marked(
    client: TestClient, alice: Account, bob: Account
) -> None:
    alice_ids = [dated(client, alice, i, 2015 + 2 * i) for i in range(3)]  # 2015, 2017, 2019
    bob_ids = [dated(client, bob, 10 + i, 2016 + 2 * i) for i in range(3)]  # 2016, 2018, 2020
    share_id = partner(client, alice, bob)

    items = merged(client, bob, limit=2)
    assert [i["id"] for i in items] == [
        bob_ids[2], alice_ids[2], bob_ids[1], alice_ids[1], bob_ids[0], alice_ids[0]
    ]  # fmt: skip
    marks = {i["id"]: (i["from_partner"], i["owner"]["id"]) for i in items}
    assert all(marks[a] == (True, alice.id) for a in alice_ids)
    assert all(marks[b] == (False, bob.id) for b in bob_ids)
    assert [i["id"] for i in merged(client, bob, limit=50, include_mine=False)] == alice_ids[::-1]
    # One way only: alice does not see bob's.
    assert {i["id"] for i in merged(client, alice, limit=50)} == set(alice_ids)
    # Bob's own timeline stays his.
    own = client.get("/api/timeline", headers=bob.headers).json()["items"]
    assert {a["id"] for a in own} == set(bob_ids)

    for kind in FILES:
        r = client.get(f"/api/partner/assets/{alice_ids[0]}/{kind}", headers=bob.headers)
        assert r.status_code == 200, (kind, r.text)
    status = client.get("/api/partner", headers=bob.headers).json()
    assert status["sharing_with"] is None
    assert [(s["id"], s["owner"]["id"]) for s in status["shared_with_me"]] == [(share_id, alice.id)]
    status = client.get("/api/partner", headers=alice.headers).json()
    assert status["sharing_with"]["partner"]["id"] == bob.id


def test_the_partner_reads_but_never_changes(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = dated(client, alice, 1, 2020)
    share_id = partner(client, alice, bob)
    h = bob.headers
    assert client.get(f"/api/assets/{a1}", headers=h).status_code == 404
    assert (
        client.patch(f"/api/assets/{a1}", json={"is_favorite": True}, headers=h).status_code == 404
    )
    assert client.delete(f"/api/assets/{a1}", headers=h).status_code == 404
    assert client.post("/api/assets/trash", json={"ids": [a1]}, headers=h).status_code == 404
    r = client.patch(f"/api/partner/shares/{share_id}", json={"since": None}, headers=h)
    assert r.status_code == 404  # only the owner changes what is shared
    r = client.post("/api/links", json={"asset_ids": [a1]}, headers=h)
    assert r.status_code == 404
    assert client.get(f"/api/assets/{a1}/original", headers=alice.headers).status_code == 200


def test_sharing_from_a_date_on_shares_nothing_older(
    client: TestClient, alice: Account, bob: Account
) -> None:
    old, new = dated(client, alice, 1, 2010), dated(client, alice, 2, 2022)
    share_id = partner(client, alice, bob, since="2020-01-01T00:00:00Z")
    assert [i["id"] for i in merged(client, bob, include_mine=False)] == [new]
    assert (
        client.get(f"/api/partner/assets/{old}/thumbnail", headers=bob.headers).status_code == 404
    )
    assert (
        client.get(f"/api/partner/assets/{new}/thumbnail", headers=bob.headers).status_code == 200
    )

    r = client.patch(f"/api/partner/shares/{share_id}", json={"since": None}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["since"] is None
    assert {i["id"] for i in merged(client, bob, include_mine=False)} == {old, new}
    r = client.patch(
        f"/api/partner/shares/{share_id}",
        json={"since": "2020-01-01T00:00:00"},
        headers=alice.headers,
    )
    assert r.status_code == 422  # a time without an offset is ambiguous


def test_either_side_ends_it_from_the_next_request_on(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = dated(client, alice, 1, 2020)
    b1 = dated(client, bob, 2, 2021)
    for ender, other in ((alice, bob), (bob, alice)):
        share_id = partner(client, alice, bob)
        assert (
            client.get(f"/api/partner/assets/{a1}/preview", headers=bob.headers).status_code == 200
        )
        r = client.delete(f"/api/partner/shares/{share_id}", headers=ender.headers)
        assert r.status_code == 204
        assert (
            client.delete(f"/api/partner/shares/{share_id}", headers=other.headers).status_code
            == 404
        )
        assert [i["id"] for i in merged(client, bob)] == [b1]
        assert (
            client.get(f"/api/partner/assets/{a1}/preview", headers=bob.headers).status_code == 404
        )
        assert client.get("/api/partner", headers=bob.headers).json()["shared_with_me"] == []


def test_one_partner_at_a_time_and_strangers_get_nothing(
    client: TestClient, alice: Account, bob: Account, carol: Account
) -> None:
    a1 = dated(client, alice, 1, 2020)
    share_id = partner(client, alice, bob)
    r = client.put("/api/partner", json={"email": carol.email}, headers=alice.headers)
    assert r.status_code == 409
    assert (
        client.put("/api/partner", json={"email": alice.email}, headers=alice.headers).status_code
        == 422
    )
    r = client.put("/api/partner", json={"email": "nobody@example.org"}, headers=alice.headers)
    assert r.status_code == 404
    # Carol, whom nobody shares with, sees nothing and can end nothing.
    assert merged(client, carol) == []
    for kind in FILES:
        assert (
            client.get(f"/api/partner/assets/{a1}/{kind}", headers=carol.headers).status_code == 404
        )
    assert (
        client.delete(f"/api/partner/shares/{share_id}", headers=carol.headers).status_code == 404
    )
    r = client.patch(f"/api/partner/shares/{share_id}", json={"since": None}, headers=carol.headers)
    assert r.status_code == 404
    assert client.get(f"/api/partner/assets/{a1}/preview", headers=bob.headers).status_code == 200
    # A trashed photo is no longer shared.
    client.delete(f"/api/assets/{a1}", headers=alice.headers)
    assert client.get(f"/api/partner/assets/{a1}/preview", headers=bob.headers).status_code == 404
    assert merged(client, bob) == []


def test_the_partners_reads_are_in_the_owners_ledger(
    client: TestClient, alice: Account, bob: Account
) -> None:
    a1 = dated(client, alice, 1, 2020)
    dated(client, bob, 2, 2021)
    partner(client, alice, bob)
    merged(client, bob, limit=50)
    client.get(f"/api/partner/assets/{a1}/original", headers=bob.headers)
    entries = ledger(client, alice, "share.accessed")
    assert [
        (e["actor"], e["detail"]["via"], e["detail"]["what"], e["object_ids"]) for e in entries
    ] == [
        (f"user:{bob.id}", "partner", "original", [a1]),
        (f"user:{bob.id}", "partner", "timeline", [a1]),
    ]
    assert ledger(client, bob, "share.accessed") == []  # bob's own photos: nothing recorded
