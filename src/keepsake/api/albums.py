"""Routes for albums."""

from __future__ import annotations

from fastapi import APIRouter, status

from keepsake.api.deps import ContainerDep, CurrentPrincipal
from keepsake.media.schemas import (
    AlbumDetail,
    AlbumIn,
    AlbumOut,
    AlbumPatch,
    AssetIds,
    AssetOut,
    Count,
)
from keepsake.storage.models import Album

router = APIRouter(prefix="/api/albums", tags=["albums"])


def _out(album: Album, count: int) -> AlbumOut:
    return AlbumOut(
        id=album.id,
        name=album.name,
        cover_asset_id=album.cover_asset_id,
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
def get_album(album_id: str, principal: CurrentPrincipal, c: ContainerDep) -> AlbumDetail:
    album, assets = c.media.album(principal, album_id)
    return AlbumDetail(
        **_out(album, len(assets)).model_dump(),
        assets=[AssetOut.model_validate(a) for a in assets],
    )


@router.patch("/{album_id}")
def update_album(
    album_id: str, body: AlbumPatch, principal: CurrentPrincipal, c: ContainerDep
) -> AlbumOut:
    album = c.media.update_album(
        principal, album_id, name=body.name, cover_asset_id=body.cover_asset_id
    )
    _, assets = c.media.album(principal, album_id)
    return _out(album, len(assets))


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
