"""The in-memory templates: a snapshot with a change replayed equals one loaded afresh, and
the cache drops what it cannot replay."""

from __future__ import annotations

import numpy as np

from keepsake.faces.templates import TemplateCache, TemplateChange, Templates


def _rows(n: int) -> list[tuple[str, str, str | None, bool, np.ndarray]]:
    rng = np.random.default_rng(n)
    return [
        (f"f{i}", f"a{i // 2}", f"p{i % 3}" if i % 4 else None, i % 5 != 0, rng.normal(size=8))
        for i in range(n)
    ]


def _same(a: Templates, b: Templates) -> None:
    assert a.face_ids == b.face_ids
    assert np.allclose(a.embeddings, b.embeddings)
    assert [a.asset_ids[i] for i in a.photos] == [b.asset_ids[i] for i in b.photos]
    assert [a.person_of(int(i)) for i in a.people] == [b.person_of(int(i)) for i in b.people]
    assert a.seeds.tolist() == b.seeds.tolist()
    assert dict(a.position) == dict(b.position)


def test_a_replayed_change_equals_a_fresh_load() -> None:
    rows = _rows(12)
    snapshot = Templates.build(1, "m", rows, dim=8)
    extra = ("f99", "a77", "p9", True, np.ones(8))
    change = TemplateChange()
    change.add(*extra)
    change.move(["f1", "f2"], "p9")
    change.move(["f3"], None)
    change.remove(["f5", "f6"])
    replayed = snapshot.with_changes(change, 2)
    expected = []
    for face_id, asset_id, person_id, seed, embedding in rows:
        if face_id in ("f5", "f6"):
            continue
        person_id = {"f1": "p9", "f2": "p9", "f3": None}.get(face_id, person_id)
        expected.append((face_id, asset_id, person_id, seed, embedding))
    _same(replayed, Templates.build(2, "m", [*expected, extra], dim=8))
    assert replayed.version == 2 and snapshot.version == 1 and len(snapshot) == 12


def test_the_cache_serves_its_version_and_drops_what_it_cannot_replay() -> None:
    cache = TemplateCache(max_owners=2)
    loads: list[str] = []

    def loader(owner: str, version: int) -> Templates:
        loads.append(owner)
        return Templates.build(version, "m", _rows(4), dim=8)

    cache.get("u1", 1, "m", lambda: loader("u1", 1))
    cache.get("u1", 1, "m", lambda: loader("u1", 1))
    assert loads == ["u1"]
    change = TemplateChange()
    change.move(["f1"], "p0")
    cache.apply("u1", 1, 2, change)
    assert cache.get("u1", 2, "m", lambda: loader("u1", 2)).version == 2
    assert loads == ["u1"], "replayed, not reloaded"
    cache.apply("u1", 5, 6, change)  # another process moved on: drop
    cache.get("u1", 6, "m", lambda: loader("u1", 6))
    assert loads == ["u1", "u1"]
    cache.get("u1", 6, "other-model", lambda: loader("u1", 6))
    assert loads == ["u1", "u1", "u1"], "another model is another snapshot"
    cache.get("u2", 1, "m", lambda: loader("u2", 1))
    cache.get("u3", 1, "m", lambda: loader("u3", 1))
    assert set(cache._snapshots) == {"u2", "u3"}, "least recently used owner went first"
