"""What the pages ask of the library beyond the JSON API: the months of the timeline (for
the date scrubber) and where a photo sits among its neighbours (for the viewer's arrows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from keepsake.auth.access import Principal, Scope, require_access
from keepsake.errors import NotFound
from keepsake.media.service import MediaService
from keepsake.storage.db import Database
from keepsake.storage.models import Asset
from keepsake.web.repository import WebRepository

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    count: int

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def utc_window(self, widen: timedelta) -> tuple[datetime, datetime]:
        """UTC bounds holding every photo taken in this local month: the month's own bounds
        widened by the largest offset (the page's script filters the rest out)."""
        start = datetime(self.year, self.month, 1, tzinfo=UTC)
        following = datetime(self.year + self.month // 12, self.month % 12 + 1, 1, tzinfo=UTC)
        return start - widen, following + widen

    @property
    def token(self) -> str:
        """How the timeline page hands the month to its script: `YYYY-MM:count`."""
        return f"{self.key}:{self.count}"

    @property
    def name(self) -> str:
        return MONTH_NAMES[self.month - 1]

    @property
    def label(self) -> str:
        return f"{self.name} {self.year}"


class Collection(StrEnum):
    """The list a photo was opened from; the viewer's arrows walk through it."""

    TIMELINE = "timeline"
    FAVORITES = "favorites"
    ALBUM = "album"
    TRASH = "trash"


@dataclass(frozen=True)
class Neighbours:
    newer: str | None
    older: str | None


class WebService:
    def __init__(self, db: Database, repo: WebRepository, media: MediaService) -> None:
        self.db = db
        self.repo = repo
        self.media = media

    def months(self, principal: Principal, *, favorites_only: bool = False) -> list[Month]:
        """Photos per local capture month, newest first."""
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            rows = self.repo.month_counts(s, owner_id, favorites_only=favorites_only)
        months = []
        for key, count in rows:
            year, _, month = key.partition("-")
            if year.isdigit() and month.isdigit() and 1 <= int(month) <= 12:
                months.append(Month(int(year), int(month), count))
        return months

    def neighbours(
        self,
        principal: Principal,
        asset: Asset,
        collection: Collection,
        album_id: str | None = None,
    ) -> Neighbours:
        """The photos before and after `asset` in the list it was opened from."""
        owner_id = require_access(principal, Scope.READ)
        if collection in (Collection.TIMELINE, Collection.FAVORITES):
            if asset.trashed_at is not None:
                return Neighbours(None, None)
            with self.db.read() as s:
                newer, older = self.repo.timeline_neighbours(
                    s,
                    owner_id,
                    asset.taken_at,
                    asset.id,
                    favorites_only=collection is Collection.FAVORITES,
                )
            return Neighbours(newer, older)
        if collection is Collection.ALBUM:
            if album_id is None:
                raise NotFound("No such album.")
            _, items = self.media.album(principal, album_id)
        else:
            items = self.media.list_trash(principal)
        ids = [a.id for a in items]
        if asset.id not in ids:
            return Neighbours(None, None)
        i = ids.index(asset.id)
        return Neighbours(ids[i - 1] if i > 0 else None, ids[i + 1] if i + 1 < len(ids) else None)
