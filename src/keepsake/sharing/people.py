"""The names and face boxes an owner gave to people in their photos, read from the faces
tables for showing in a shared album: only named people the owner has not hidden, only a name
and a box. Whether they are shown at all is the owner's `people_sharing` consent, which the
sharing service asks on every request."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from keepsake.sharing.ports import NamedFace
from keepsake.sharing.repository import SharingRepository
from keepsake.storage.db import Database


class TableFaceNames:
    """`FaceNames` over the faces tables of migration 0003."""

    def __init__(self, db: Database, repo: SharingRepository) -> None:
        self.db = db
        self.repo = repo

    def named_faces(
        self, owner_id: str, asset_ids: Sequence[str]
    ) -> Mapping[str, Sequence[NamedFace]]:
        with self.db.read() as s:
            rows = self.repo.named_faces(s, owner_id, asset_ids)
        found: defaultdict[str, list[NamedFace]] = defaultdict(list)
        for asset_id, name, x1, y1, x2, y2, width, height in rows:
            if not width or not height:
                continue  # a box needs the photo's size to be placed on a preview
            left, top = _fraction(x1, width), _fraction(y1, height)
            right, bottom = _fraction(x2, width), _fraction(y2, height)
            if right <= left or bottom <= top:
                continue
            found[asset_id].append(
                NamedFace(
                    name,
                    round(left, 4),
                    round(top, 4),
                    round(right - left, 4),
                    round(bottom - top, 4),
                )
            )
        return dict(found)


def _fraction(pixels: float, size: int) -> float:
    """Boxes are stored in pixels of the photo as displayed; previews and thumbnails are other
    sizes, so clients get fractions, clamped to the photo."""
    return min(1.0, max(0.0, pixels / size))
