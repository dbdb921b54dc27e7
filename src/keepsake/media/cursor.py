"""Opaque keyset cursors over (capture time, asset id), shared by every newest-first list
of photos (timeline, person search, partner timeline)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from keepsake.errors import InvalidInput
from keepsake.storage.models import Asset


def encode_cursor(asset: Asset) -> str:
    raw = f"{asset.taken_at.astimezone(UTC).isoformat()}|{asset.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        taken, asset_id = raw.split("|", 1)
        when = datetime.fromisoformat(taken)
        if when.tzinfo is None or len(asset_id) > 36:
            raise ValueError(cursor)
        return when, asset_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The cursor is not one this server gave out.") from exc
