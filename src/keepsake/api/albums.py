"""Routes for albums."""

from __future__ import annotations

from fastapi import APIRouter, status

from keepsake.api.deps import ContainerDep, CurrentPrincipal
from keepsake.api.sharing import shared_asset_fields
from keepsake.media.schemas import (
    AlbumArrangement,
    AlbumIn,
    AlbumOrder,
    AlbumOut,
    AlbumPatch,
    AssetIds,
    Count,
)
from keepsake.sharing.schemas import (
    FaceOut,
    OwnAlbumAssetOut,
    OwnerAlbumDetail,
    SharedAlbumAssetOut,
)
from keepsake.storage.models import Album

router = APIRouter(prefix="/api/albums", tags=["albums"])


def _out(album: Album, count: int) -> AlbumOut:
    return AlbumOut(
        id=album.id,
        name=album.name,
        cover_asset_id=album.cover_asset_id,
        order=AlbumOrder(album.sort_order),
        asset_count=count,
        created_at=album.created_at,
        updated_at=album.updated_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_album(body: AlbumIn, principal: CurrentPrincipal, c: ContainerDep) -> AlbumOut:
    return _out(c.media.create_album(principal, body.name), 0)


@router.get("")
def list_albums(principal: CurrentPrincipal, c: ContainerDep) -> list[AlbumOut]:
    return [_out(album, count) for album, count in c.media.albums(principal)]


@router.get("/{album_id}")
def get_album(album_id: str, principal: CurrentPrincipal, c: ContainerDep) -> OwnerAlbumDetail:
    """The album with its photos: mine in full; those its members added as members see them
    (no checksum), recorded in their owners' ledgers."""
    view = c.sharing.owner_album(principal, album_id)
    me = principal.user_id
    return OwnerAlbumDetail(
        **_out(view.album, len(view.assets)).model_dump(),
        assets=[
            OwnAlbumAssetOut.model_validate(a)
            if a.owner_id == me
            else SharedAlbumAssetOut(
                **shared_asset_fields(a, view.owners[a.owner_id], me),
                faces=[FaceOut(**vars(f)) for f in view.faces.get(a.id, ())],
            )
            for a in view.assets
        ],
    )


@router.patch("/{album_id}")
def update_album(
    album_id: str, body: AlbumPatch, principal: CurrentPrincipal, c: ContainerDep
) -> AlbumOut:
    album = c.media.update_album(
        principal, album_id, name=body.name, cover_asset_id=body.cover_asset_id, order=body.order
    )
    return _out(album, _count(principal, c, album.id))


@router.put("/{album_id}/order")
def arrange_album(
    album_id: str, body: AlbumArrangement, principal: CurrentPrincipal, c: ContainerDep
) -> AlbumOut:
    """Arrange the album by hand: `ids` lists every photo the album shows (as
    `GET /api/albums/{id}` lists them, members' photos included), each once, in the new
    order; the album's `order` becomes `manual`. Only its owner may. A list that leaves a
    photo out (perhaps one a member just added) or names one the album does not show is
    refused with a 422 `album-order-mismatch` problem and changes nothing."""
    album = c.media.arrange_album(principal, album_id, body.ids)
    return _out(album, _count(principal, c, album.id))


def _count(principal: CurrentPrincipal, c: ContainerDep, album_id: str) -> int:
    # Counted as the list counts it: every member's photos, not only mine.
    return next((n for a, n in c.media.albums(principal) if a.id == album_id), 0)


@router.delete("/{album_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_album(album_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    """Delete the album; its photos stay in the library."""
    c.media.delete_album(principal, album_id)


@router.post("/{album_id}/assets")
def add_assets(
    album_id: str, body: AssetIds, principal: CurrentPrincipal, c: ContainerDep
) -> Count:
    return Count(count=c.media.add_to_album(principal, album_id, body.ids))


@router.post("/{album_id}/assets/remove")
def remove_assets(
    album_id: str, body: AssetIds, principal: CurrentPrincipal, c: ContainerDep
) -> Count:
    return Count(count=c.media.remove_from_album(principal, album_id, body.ids))
