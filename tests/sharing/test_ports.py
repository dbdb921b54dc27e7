"""Sharing's stand-ins for consent, the ledger and face names fail safe: without the real
ones nobody sees face data and nothing breaks; long listings are counted, not cut off."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from keepsake.sharing.ports import (
    LEDGER_MAX_OBJECT_IDS,
    PEOPLE_SHARING,
    DetailValue,
    NamedFace,
    SharingPorts,
)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str | None, list[str], dict[str, DetailValue]]] = []

    def record(
        self,
        owner_id: str,
        actor: str,
        action: str,
        purpose: str | None = None,
        object_ids: Sequence[str] = (),
        detail: Mapping[str, DetailValue] | None = None,
    ) -> object:
        self.calls.append((owner_id, actor, action, purpose, list(object_ids), dict(detail or {})))
        return None


class AllFaces:
    def named_faces(
        self, owner_id: str, asset_ids: Sequence[str]
    ) -> Mapping[str, Sequence[NamedFace]]:
        return {a: [NamedFace("Anna", 0, 0, 1, 1)] for a in asset_ids}


def test_without_a_consent_service_no_face_data_is_allowed_and_nothing_is_recorded() -> None:
    ports = SharingPorts()
    assert ports.consent.allows("owner", PEOPLE_SHARING) is False
    assert ports.faces.named_faces("owner", ["a"]) == {}
    ports.record("owner", "user:x", "share.accessed", ["a"], what="album")  # no error


def test_a_listing_longer_than_an_entry_holds_names_the_first_and_counts_all() -> None:
    recorder = Recorder()
    ports = SharingPorts(ledger=recorder, faces=AllFaces())
    ids = [f"asset-{i}" for i in range(LEDGER_MAX_OBJECT_IDS + 5)]
    ports.record("owner", "user:x", "share.accessed", [*ids, ids[0]], what="album")
    ((owner, actor, action, purpose, objects, detail),) = recorder.calls
    assert (owner, actor, action, purpose) == ("owner", "user:x", "share.accessed", None)
    assert objects == ids[:LEDGER_MAX_OBJECT_IDS]
    assert detail == {"what": "album", "objects": LEDGER_MAX_OBJECT_IDS + 5}
