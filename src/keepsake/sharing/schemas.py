"""API models for album shares, shared albums, public links and partner sharing.

What a shared photo tells depends on who asks: members of a shared album and partners see
what the original they may download carries anyway (camera, place); a public link shows no
checksum, no EXIF block, and with `hide_metadata` no file name, camera or place either."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from keepsake.media.schemas import AlbumOut, AssetOut

RoleName = Literal["viewer", "contributor"]


class UserRef(BaseModel):
    id: str
    display_name: str


class UserWithEmail(UserRef):
    email: str


# --- album shares (the owner's side) -------------------------------------------------------


class ShareIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, description="The recipient's account")
    role: RoleName = "viewer"


class SharePatch(BaseModel):
    role: RoleName


class ShareOut(BaseModel):
    id: str
    album_id: str
    recipient: UserWithEmail
    role: RoleName
    created_at: datetime
    updated_at: datetime


# --- shared albums (the members' side) -----------------------------------------------------


class FaceOut(BaseModel):
    """A named person's face, as fractions (0..1) of the photo as displayed."""

    name: str
    left: float
    top: float
    width: float
    height: float


class SharedAssetOut(BaseModel):
    id: str
    owner: UserRef
    owned_by_me: bool
    original_filename: str
    mime_type: str
    size: int
    width: int | None
    height: int | None
    taken_at: datetime
    taken_at_offset_minutes: int | None
    make: str | None
    model: str | None
    lens: str | None
    latitude: float | None
    longitude: float | None
    orientation: int | None


class SharedAlbumAssetOut(SharedAssetOut):
    faces: list[FaceOut] = Field(
        default_factory=list,
        description="Named people, only where the photo's owner consents to people_sharing",
    )


class SharedAlbumOut(BaseModel):
    id: str
    name: str
    shared: bool = Field(True, description="Always true: an album someone shares with you")
    role: Literal["owner", "viewer", "contributor"]
    owner: UserRef
    cover_asset_id: str | None
    asset_count: int
    created_at: datetime
    updated_at: datetime
    shared_at: datetime | None = Field(description="When it was shared with you")


class SharedAlbumDetail(SharedAlbumOut):
    people_visible: bool = Field(
        description="Whether an owner of photos here lets members see the people they named"
    )
    assets: list[SharedAlbumAssetOut]


class OwnAlbumAssetOut(AssetOut):
    """One of the caller's own photos in their album: all that its owner knows of it."""

    owned_by_me: Literal[True] = True


class OwnerAlbumDetail(AlbumOut):
    """The owner's album (`GET /api/albums/{id}`). Photos members added come in the shape
    members get (`owned_by_me: false`, their `owner`, no checksum), and reading them is in
    each contributor's ledger."""

    assets: list[OwnAlbumAssetOut | SharedAlbumAssetOut]


# --- public links --------------------------------------------------------------------------


class LinkIn(BaseModel):
    album_id: str | None = Field(None, description="Link to this album (the owner's photos)")
    asset_ids: list[str] | None = Field(
        None, max_length=1000, description="Or link to these photos"
    )
    expires_at: datetime | None = None
    password: str | None = Field(None, min_length=8, max_length=128)
    allow_download: bool = Field(False, description="Offer originals (needs hide_metadata off)")
    hide_metadata: bool = Field(True, description="Hide file names, camera and GPS data")
    label: str = Field("", max_length=200, description="A note for yourself; holders never see it")


class LinkPatch(BaseModel):
    """Only the fields sent change; send `"password": null` to remove the password and
    `"expires_at": null` to make the link last until revoked."""

    expires_at: datetime | None = None
    password: str | None = Field(None, min_length=8, max_length=128)
    allow_download: bool | None = None
    hide_metadata: bool | None = None
    label: str | None = Field(None, max_length=200)


class LinkOut(BaseModel):
    id: str
    kind: Literal["album", "assets"]
    album_id: str | None
    label: str
    asset_count: int
    state: Literal["active", "expired", "revoked"]
    expires_at: datetime | None
    has_password: bool
    allow_download: bool
    hide_metadata: bool
    view_count: int
    last_viewed_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None


class LinkCreated(LinkOut):
    token: str = Field(description="Shown this once; only its hash is kept")
    path: str = Field(description="The link's API path; the web page is /s/{token}")


class UnlockIn(BaseModel):
    password: str = Field(min_length=1, max_length=128)


class UnlockOut(BaseModel):
    session: str = Field(description="Also set as a cookie; API clients send X-Link-Session")
    expires_at: datetime


class PublicAssetOut(BaseModel):
    id: str
    mime_type: str
    width: int | None
    height: int | None
    taken_at: datetime
    taken_at_offset_minutes: int | None
    original_filename: str | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class PublicLinkOut(BaseModel):
    kind: Literal["album", "assets"]
    title: str | None = Field(description="The album's name, for a link to an album")
    expires_at: datetime | None
    originals: bool = Field(description="Whether originals can be downloaded")
    metadata_hidden: bool
    assets: list[PublicAssetOut]


# --- partner sharing -----------------------------------------------------------------------


class PartnerIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    since: datetime | None = Field(None, description="Share photos taken from then on only")


class PartnerPatch(BaseModel):
    since: datetime | None = None


class PartnerShareOut(BaseModel):
    id: str
    owner: UserRef
    partner: UserRef
    since: datetime | None
    created_at: datetime


class PartnerStatus(BaseModel):
    sharing_with: PartnerShareOut | None = Field(description="Whom you share your timeline with")
    shared_with_me: list[PartnerShareOut] = Field(description="Who shares theirs with you")


class PartnerAssetOut(SharedAssetOut):
    from_partner: bool = Field(description="A partner's photo (else one of yours)")


class PartnerTimelinePage(BaseModel):
    items: list[PartnerAssetOut]
    next_cursor: str | None
