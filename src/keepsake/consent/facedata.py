"""What takeout and import need from the faces code, as a small interface: face regions with
people's names as XMP sidecars (out and back in), the people's names, and face templates only
when the user asks for them.

`FacesArchive` implements it over the faces capability: the faces code writes and reads the
XMP (it knows how boxes map to MWG's stored orientation), the faces tables say which photos
have faces and what the people are called. `NoFaceData` stands in where there is no faces
code: the archive then carries no face data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from keepsake.auth.access import Principal, Scope
from keepsake.consent.repository import ConsentRepository
from keepsake.storage.db import Database


@dataclass(frozen=True)
class PersonRecord:
    id: str
    name: str


class FaceArchive(Protocol):
    def sidecars_of(self, owner_id: str, asset_ids: Sequence[str]) -> Mapping[str, bytes]:
        """XMP sidecars (MWG regions and names) of those of these assets that have faces."""
        ...

    def people_of(self, owner_id: str) -> Sequence[PersonRecord]:
        """The owner's named people, faces or not (withdrawing can keep the names)."""
        ...

    def templates_of(self, owner_id: str) -> Iterator[Mapping[str, Any]]:
        """The owner's face templates as JSON-ready objects (asked for explicitly only)."""
        ...

    def template_count(self, owner_id: str) -> int:
        """How many templates `templates_of` yields (for the ledger entry of the export)."""
        ...

    def import_sidecar(self, owner_id: str, asset_id: str, xmp: bytes) -> int:
        """Put the regions and names of an XMP sidecar on an imported photo; how many regions.
        Raises a KeepsakeError when the owner has not turned face recognition on."""
        ...


class NoFaceData:
    """No face data: the archive and the import carry none."""

    def sidecars_of(self, owner_id: str, asset_ids: Sequence[str]) -> Mapping[str, bytes]:
        return {}

    def people_of(self, owner_id: str) -> Sequence[PersonRecord]:
        return []

    def templates_of(self, owner_id: str) -> Iterator[Mapping[str, Any]]:
        return iter(())

    def template_count(self, owner_id: str) -> int:
        return 0

    def import_sidecar(self, owner_id: str, asset_id: str, xmp: bytes) -> int:
        return 0


class FacesPort(Protocol):
    """What `keepsake.faces.service.FacesService` offers for regions in and out."""

    def export_xmp(self, principal: Principal, asset_id: str) -> str: ...

    def import_xmp(self, principal: Principal, asset_id: str, data: bytes) -> tuple[int, int]: ...

    def export_templates(self, principal: Principal) -> Iterator[Mapping[str, Any]]: ...

    def template_count(self, principal: Principal) -> int: ...


class FacesArchive:
    """`FaceArchive` over the faces capability. Called by takeout after its own access check,
    so it acts as the owner."""

    def __init__(self, faces: FacesPort, db: Database, repo: ConsentRepository) -> None:
        self.faces = faces
        self.db = db
        self.repo = repo

    def sidecars_of(self, owner_id: str, asset_ids: Sequence[str]) -> Mapping[str, bytes]:
        with self.db.read() as s:
            with_faces = self.repo.assets_with_faces(s, owner_id, asset_ids)
        owner = _as_owner(owner_id)
        return {a: self.faces.export_xmp(owner, a).encode() for a in asset_ids if a in with_faces}

    def people_of(self, owner_id: str) -> Sequence[PersonRecord]:
        with self.db.read() as s:
            return [PersonRecord(i, n) for i, n in self.repo.named_people(s, owner_id)]

    def templates_of(self, owner_id: str) -> Iterator[Mapping[str, Any]]:
        return self.faces.export_templates(_as_owner(owner_id))

    def template_count(self, owner_id: str) -> int:
        return self.faces.template_count(_as_owner(owner_id))

    def import_sidecar(self, owner_id: str, asset_id: str, xmp: bytes) -> int:
        created, assigned = self.faces.import_xmp(_as_owner(owner_id), asset_id, xmp)
        return max(created, assigned)


def _as_owner(owner_id: str) -> Principal:
    return Principal(owner_id, False, frozenset({Scope.FULL}))
