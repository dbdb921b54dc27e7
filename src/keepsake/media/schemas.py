"""API models for assets, the timeline, albums, trash and usage."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    checksum: str = Field(description="SHA-256 of the original, as the owner knows it")
    size: int
    original_filename: str
    mime_type: str
    width: int | None
    height: int | None
    taken_at: datetime
    taken_at_offset_minutes: int | None
    taken_at_source: str = Field(description="exif, file (file time, a fallback) or upload")
    make: str | None
    model: str | None
    lens: str | None
    latitude: float | None
    longitude: float | None
    orientation: int | None
    is_favorite: bool
    created_at: datetime
    trashed_at: datetime | None


class AssetDetail(AssetOut):
    exif: dict[str, Any] | None
    derived: list[str] = Field(description="derived steps done: thumbnail, preview, ...")


class UploadResult(BaseModel):
    asset: AssetOut
    duplicate: bool


class TimelinePage(BaseModel):
    items: list[AssetOut]
    next_cursor: str | None


class ChecksumQuery(BaseModel):
    checksums: list[str] = Field(max_length=5000)


class ChecksumAnswer(BaseModel):
    existing: dict[str, str] = Field(description="checksum -> asset id, for those already stored")


class AssetPatch(BaseModel):
    is_favorite: bool | None = None


# The most photos an album can be arranged with in one request (its whole order): albums
# larger than this keep their order but cannot be rearranged by hand.
ALBUM_MAX_ASSETS = 20_000


class AssetIds(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=5000)


class Count(BaseModel):
    count: int


class AlbumIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class AlbumOrder(StrEnum):
    """How an album lists its photos; albums made before it could be chosen are newest
    first, as all albums were."""

    MANUAL = "manual"  # as the owner arranged them (PUT /api/albums/{id}/order)
    OLDEST_FIRST = "oldest_first"  # by capture time
    NEWEST_FIRST = "newest_first"


class AlbumPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    cover_asset_id: str | None = None
    order: AlbumOrder | None = Field(None, description="How the album lists its photos")


class AlbumArrangement(BaseModel):
    ids: list[str] = Field(
        min_length=1,
        max_length=ALBUM_MAX_ASSETS,
        description="Every photo the album shows (`GET /api/albums/{id}`), each once, "
        "in the new order",
    )


class AlbumOut(BaseModel):
    id: str
    name: str
    cover_asset_id: str | None
    order: AlbumOrder
    asset_count: int
    created_at: datetime
    updated_at: datetime


class AlbumDetail(AlbumOut):
    assets: list[AssetOut]


class Usage(BaseModel):
    assets: int
    bytes: int
    trash_bytes: int
    quota_bytes: int | None
