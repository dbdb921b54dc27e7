"""SQL the pages need beyond the library API: the month histogram behind the timeline's date
scrubber and an asset's neighbours for the photo viewer.

These are reads over `assets` and would sit well in `media/repository.py`; they live here
while the web app is their only user."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, and_, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from keepsake.storage.models import Asset

# The capture's local month is its UTC time plus the offset the camera recorded. Computing
# that for every row is slow on SQLite (about 12 µs a row: 120 ms for 10,000 photos), so
# SQLite counts UTC months from the timeline index alone and then moves the few photos
# whose offset carries them across a month boundary (those taken within 14 hours of one).
# PostgreSQL computes it directly, fast enough.
_PG_LOCAL_MONTH = (
    "to_char(taken_at + coalesce(taken_at_offset_minutes, 0) * interval '1 minute', 'YYYY-MM')"
)
_SQLITE_UTC_MONTHS = """
SELECT substr(taken_at, 1, 7) AS month, count(*) FROM assets INDEXED BY ix_assets_timeline
WHERE owner_id = :owner AND trashed_at IS NULL {favorites} GROUP BY month
"""
# UTC times stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]': the last days of a month from 10:00
# and the first day until 14:00, a superset of those an offset of at most 14 h can move.
_SQLITE_NEAR_BOUNDARY = """
SELECT taken_at, taken_at_offset_minutes FROM assets INDEXED BY ix_assets_timeline
WHERE owner_id = :owner AND trashed_at IS NULL {favorites}
  AND coalesce(taken_at_offset_minutes, 0) != 0
  AND ((substr(taken_at, 9, 2) >= '28' AND substr(taken_at, 12, 2) >= '10')
       OR substr(taken_at, 9, 5) < '01 14')
"""


class WebRepository:
    def month_counts(
        self, s: Session, owner_id: str, *, favorites_only: bool = False
    ) -> list[tuple[str, int]]:
        """(`YYYY-MM`, photos) per local capture month, newest first, trash left out."""
        if s.get_bind().dialect.name == "sqlite":
            return self._sqlite_month_counts(s, owner_id, favorites_only)
        local = literal_column(_PG_LOCAL_MONTH, String).label("month")
        query = (
            select(local, func.count())
            .where(Asset.owner_id == owner_id, Asset.trashed_at.is_(None))
            .group_by(local)
            .order_by(local.desc())
        )
        if favorites_only:
            query = query.where(Asset.is_favorite.is_(True))
        return [(str(m), int(n)) for m, n in s.execute(query)]

    def _sqlite_month_counts(
        self, s: Session, owner_id: str, favorites_only: bool
    ) -> list[tuple[str, int]]:
        favorites = "AND is_favorite = 1" if favorites_only else ""
        params = {"owner": owner_id}
        counts: dict[str, int] = {
            str(m): int(n)
            for m, n in s.execute(text(_SQLITE_UTC_MONTHS.format(favorites=favorites)), params)
        }
        edge = text(_SQLITE_NEAR_BOUNDARY.format(favorites=favorites))
        for taken, offset in s.execute(edge, params):
            utc = datetime.fromisoformat(str(taken))
            local = (utc + timedelta(minutes=int(offset))).strftime("%Y-%m")
            month = utc.strftime("%Y-%m")
            if local != month:
                counts[month] -= 1
                counts[local] = counts.get(local, 0) + 1
        return sorted(((m, n) for m, n in counts.items() if n > 0), reverse=True)

    def timeline_neighbours(
        self, s: Session, owner_id: str, taken_at: datetime, asset_id: str, *, favorites_only: bool
    ) -> tuple[str | None, str | None]:
        """The ids just before (newer) and after (older) an asset in timeline order."""
        base = select(Asset.id).where(Asset.owner_id == owner_id, Asset.trashed_at.is_(None))
        if favorites_only:
            base = base.where(Asset.is_favorite.is_(True))
        newer = s.scalar(
            base.where(
                or_(
                    Asset.taken_at > taken_at,
                    and_(Asset.taken_at == taken_at, Asset.id > asset_id),
                )
            )
            .order_by(Asset.taken_at.asc(), Asset.id.asc())
            .limit(1)
        )
        older = s.scalar(
            base.where(
                or_(
                    Asset.taken_at < taken_at,
                    and_(Asset.taken_at == taken_at, Asset.id < asset_id),
                )
            )
            .order_by(Asset.taken_at.desc(), Asset.id.desc())
            .limit(1)
        )
        return newer, older
