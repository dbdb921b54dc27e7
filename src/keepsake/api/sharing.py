"""Routes for sharing: an album's shares (its owner), shared albums (their members), public
links (their owner, and `/api/s/{token}` for whoever holds one, no login), partner sharing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Header, Query, Request, Response, status

from keepsake.api.deps import ClientAddress, ContainerDep, CurrentPrincipal
from keepsake.api.streaming import blob_response
from keepsake.media.schemas import AssetIds, Count
from keepsake.media.service import BlobRead
from keepsake.sharing.links import LinkInfo
from keepsake.sharing.schemas import (
    FaceOut,
    LinkCreated,
    LinkIn,
    LinkOut,
    LinkPatch,
    PartnerAssetOut,
    PartnerIn,
    PartnerPatch,
    PartnerShareOut,
    PartnerStatus,
    PartnerTimelinePage,
    PublicAssetOut,
    PublicLinkOut,
    SharedAlbumAssetOut,
    SharedAlbumDetail,
    SharedAlbumOut,
    ShareIn,
    ShareOut,
    SharePatch,
    UnlockIn,
    UnlockOut,
    UserRef,
    UserWithEmail,
)
from keepsake.sharing.service import PartnerView
from keepsake.storage.models import AlbumShare, Asset, User

router = APIRouter(prefix="/api", tags=["sharing"])

LINK_COOKIE = "keepsake_link"
LINK_SESSION_HEADER = "X-Link-Session"
# Shared files are revalidated on every use (ETag, so usually a 304): a revocation then
# stops them on the next request instead of living on in a browser cache.
SHARED_CACHE = "private, no-cache"
# Link pages are for the people the owner gave the link to, not for search engines.
NO_INDEX = {"X-Robots-Tag": "noindex, nofollow"}

LinkCookie = Annotated[str | None, Cookie(alias=LINK_COOKIE)]
LinkSessionHeader = Annotated[str | None, Header(alias=LINK_SESSION_HEADER)]


def _user(user: User) -> UserRef:
    return UserRef(id=user.id, display_name=user.display_name)


def shared_asset_fields(asset: Asset, owner: User, me: str) -> dict[str, Any]:
    """A photo as a member of its album or a partner sees it: no checksum, no EXIF block."""
    return {
        "id": asset.id,
        "owner": _user(owner),
        "owned_by_me": asset.owner_id == me,
        "original_filename": asset.original_filename,
        "mime_type": asset.mime_type,
        "size": asset.size,
        "width": asset.width,
        "height": asset.height,
        "taken_at": asset.taken_at,
        "taken_at_offset_minutes": asset.taken_at_offset_minutes,
        "make": asset.make,
        "model": asset.model,
        "lens": asset.lens,
        "latitude": asset.latitude,
        "longitude": asset.longitude,
        "orientation": asset.orientation,
    }


def _share_out(share: AlbumShare, recipient: User) -> ShareOut:
    return ShareOut(
        id=share.id,
        album_id=share.album_id,
        recipient=UserWithEmail(
            id=recipient.id, display_name=recipient.display_name, email=recipient.email
        ),
        role=share.role,
        created_at=share.created_at,
        updated_at=share.updated_at,
    )


def _file(request: Request, blob: BlobRead, filename: str | None = None) -> Response:
    return blob_response(request, blob, cache_control=SHARED_CACHE, filename=filename)


# --- an album's shares (its owner) ----------------------------------------------------------


@router.get("/albums/{album_id}/shares")
def list_album_shares(
    album_id: str, principal: CurrentPrincipal, c: ContainerDep
) -> list[ShareOut]:
    """Whom the album is shared with (the owner only)."""
    return [_share_out(s, u) for s, u in c.sharing.album_shares(principal, album_id)]


@router.post("/albums/{album_id}/shares", status_code=status.HTTP_201_CREATED)
def share_album(
    album_id: str, body: ShareIn, principal: CurrentPrincipal, c: ContainerDep
) -> ShareOut:
    """Share the album with another Keepsake user, as viewer or contributor."""
    return _share_out(*c.sharing.share_album(principal, album_id, body.email, body.role))


@router.patch("/albums/{album_id}/shares/{share_id}")
def change_share_role(
    album_id: str, share_id: str, body: SharePatch, principal: CurrentPrincipal, c: ContainerDep
) -> ShareOut:
    return _share_out(*c.sharing.change_role(principal, album_id, share_id, body.role))


@router.delete("/albums/{album_id}/shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_share(
    album_id: str, share_id: str, principal: CurrentPrincipal, c: ContainerDep
) -> None:
    """End a member's access at once; the photos they added leave the album."""
    c.sharing.revoke_share(principal, album_id, share_id)


# --- shared albums (members, and the owner as members see it) ------------------------------


@router.get("/shared/albums")
def list_shared_albums(principal: CurrentPrincipal, c: ContainerDep) -> list[SharedAlbumOut]:
    """Albums other users share with me, each marked `shared` with my role."""
    return [
        SharedAlbumOut(
            id=x.album.id,
            name=x.album.name,
            role=x.share.role,
            owner=_user(x.owner),
            cover_asset_id=x.album.cover_asset_id,
            asset_count=x.asset_count,
            created_at=x.album.created_at,
            updated_at=x.album.updated_at,
            shared_at=x.share.created_at,
        )
        for x in c.sharing.shared_albums(principal)
    ]


@router.get("/shared/albums/{album_id}")
def get_shared_album(
    album_id: str, principal: CurrentPrincipal, c: ContainerDep
) -> SharedAlbumDetail:
    """A shared album with every member's photos; with the names of people in them where
    each photo's owner consents to `people_sharing`."""
    view = c.sharing.shared_album(principal, album_id)
    return SharedAlbumDetail(
        id=view.album.id,
        name=view.album.name,
        role=view.role,
        owner=_user(view.owner),
        cover_asset_id=view.album.cover_asset_id,
        asset_count=len(view.assets),
        created_at=view.album.created_at,
        updated_at=view.album.updated_at,
        shared_at=view.shared_at,
        people_visible=view.people_visible,
        assets=[
            SharedAlbumAssetOut(
                **shared_asset_fields(a, view.owners[a.owner_id], principal.user_id),
                faces=[FaceOut(**vars(f)) for f in view.faces.get(a.id, ())],
            )
            for a in view.assets
        ],
    )


@router.post("/shared/albums/{album_id}/assets")
def add_to_shared_album(
    album_id: str, body: AssetIds, principal: CurrentPrincipal, c: ContainerDep
) -> Count:
    """Add photos of mine (contributors and the owner); they stay mine."""
    return Count(count=c.sharing.add_to_album(principal, album_id, body.ids))


@router.post("/shared/albums/{album_id}/assets/remove")
def remove_from_shared_album(
    album_id: str, body: AssetIds, principal: CurrentPrincipal, c: ContainerDep
) -> Count:
    """Take photos out of the album: members their own, the owner any. Nothing is deleted."""
    return Count(count=c.sharing.remove_from_album(principal, album_id, body.ids))


@router.post("/shared/albums/{album_id}/leave", status_code=status.HTTP_204_NO_CONTENT)
def leave_shared_album(album_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    """Stop being a member; the photos I added leave the album with me."""
    c.sharing.leave(principal, album_id)


@router.get("/shared/albums/{album_id}/assets/{asset_id}/thumbnail")
def shared_thumbnail(
    album_id: str, asset_id: str, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> Response:
    _, blob = c.sharing.album_file(principal, album_id, asset_id, "thumbnail")
    return _file(request, blob)


@router.get("/shared/albums/{album_id}/assets/{asset_id}/preview")
def shared_preview(
    album_id: str, asset_id: str, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> Response:
    _, blob = c.sharing.album_file(principal, album_id, asset_id, "preview")
    return _file(request, blob)


@router.get("/shared/albums/{album_id}/assets/{asset_id}/original")
def shared_original(
    album_id: str, asset_id: str, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> Response:
    asset, blob = c.sharing.album_file(principal, album_id, asset_id, "original")
    return _file(request, blob, asset.original_filename)


# --- public links: the owner's side ---------------------------------------------------------


def _link_out(info: LinkInfo) -> dict[str, Any]:
    link = info.link
    return {
        "id": link.id,
        "kind": "album" if link.album_id else "assets",
        "album_id": link.album_id,
        "label": link.label,
        "asset_count": info.asset_count,
        "state": info.state,
        "expires_at": link.expires_at,
        "has_password": link.password_hash is not None,
        "allow_download": link.allow_download,
        "hide_metadata": link.hide_metadata,
        "view_count": link.view_count,
        "last_viewed_at": link.last_viewed_at,
        "created_at": link.created_at,
        "revoked_at": link.revoked_at,
    }


@router.post("/links", status_code=status.HTTP_201_CREATED)
def create_link(body: LinkIn, principal: CurrentPrincipal, c: ContainerDep) -> LinkCreated:
    """A public link to an album of mine or to some of my photos. The token is shown once."""
    created = c.links.create(
        principal,
        album_id=body.album_id,
        asset_ids=body.asset_ids,
        expires_at=body.expires_at,
        password=body.password,
        allow_download=body.allow_download,
        hide_metadata=body.hide_metadata,
        label=body.label,
    )
    return LinkCreated(
        **_link_out(created.info), token=created.token, path=f"/api/s/{created.token}"
    )


@router.get("/links")
def list_links(
    principal: CurrentPrincipal,
    c: ContainerDep,
    album_id: Annotated[str | None, Query(max_length=36)] = None,
) -> list[LinkOut]:
    """My links, revoked and expired ones included, with their view counts."""
    return [LinkOut(**_link_out(info)) for info in c.links.links(principal, album_id)]


@router.get("/links/{link_id}")
def get_link(link_id: str, principal: CurrentPrincipal, c: ContainerDep) -> LinkOut:
    return LinkOut(**_link_out(c.links.link(principal, link_id)))


@router.patch("/links/{link_id}")
def update_link(
    link_id: str, body: LinkPatch, principal: CurrentPrincipal, c: ContainerDep
) -> LinkOut:
    sent = body.model_fields_set
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("expires_at", "password", "allow_download", "hide_metadata", "label")
        if name in sent
    }
    return LinkOut(**_link_out(c.links.update(principal, link_id, **changes)))


@router.delete("/links/{link_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_link(link_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    """Revoke: from the next request on the link answers 404, like one never made."""
    c.links.revoke(principal, link_id)


# --- public links: the holder's side (no login) ---------------------------------------------


def _link_session(cookie: str | None, header: str | None) -> str | None:
    return header or cookie


@router.get("/s/{token}")
def open_link(
    token: str,
    response: Response,
    c: ContainerDep,
    cookie: LinkCookie = None,
    session: LinkSessionHeader = None,
) -> PublicLinkOut:
    """What a link shows. Counts a view. A link with a password answers 401
    `link-password-required` until unlocked."""
    opened = c.links.open(token, _link_session(cookie, session))
    link = opened.link
    hidden = link.hide_metadata
    response.headers.update(NO_INDEX)
    return PublicLinkOut(
        kind="album" if link.album_id else "assets",
        title=opened.title,
        expires_at=link.expires_at,
        originals=link.allow_download and not hidden,
        metadata_hidden=hidden,
        assets=[
            PublicAssetOut(
                id=a.id,
                mime_type=a.mime_type,
                width=a.width,
                height=a.height,
                taken_at=a.taken_at,
                taken_at_offset_minutes=a.taken_at_offset_minutes,
                **(
                    {}
                    if hidden
                    else {
                        "original_filename": a.original_filename,
                        "make": a.make,
                        "model": a.model,
                        "lens": a.lens,
                        "latitude": a.latitude,
                        "longitude": a.longitude,
                    }
                ),
            )
            for a in opened.assets
        ],
    )


@router.post("/s/{token}/unlock")
def unlock_link(
    token: str, body: UnlockIn, response: Response, c: ContainerDep, ip: ClientAddress
) -> UnlockOut:
    """Exchange the link's password for a short-lived link session: a cookie for this link's
    paths, and the same value for API clients to send as `X-Link-Session`."""
    session = c.links.unlock(token, body.password, ip)
    max_age = max(1, int((session.expires_at - c.clock.now()).total_seconds()))
    response.set_cookie(
        LINK_COOKIE,
        session.token,
        max_age=max_age,
        path=f"/api/s/{token}",
        httponly=True,
        secure=c.settings.cookie_secure,
        samesite="lax",
    )
    response.headers.update(NO_INDEX)
    return UnlockOut(session=session.token, expires_at=session.expires_at)


def _link_file(
    c: ContainerDep,
    request: Request,
    token: str,
    asset_id: str,
    kind: str,
    session: str | None,
) -> Response:
    asset, blob = c.links.file(token, session, asset_id, kind)
    filename = asset.original_filename if kind == "original" else None
    response = _file(request, blob, filename)
    response.headers.update(NO_INDEX)
    return response


@router.get("/s/{token}/assets/{asset_id}/thumbnail")
def link_thumbnail(
    token: str,
    asset_id: str,
    request: Request,
    c: ContainerDep,
    cookie: LinkCookie = None,
    session: LinkSessionHeader = None,
) -> Response:
    return _link_file(c, request, token, asset_id, "thumbnail", _link_session(cookie, session))


@router.get("/s/{token}/assets/{asset_id}/preview")
def link_preview(
    token: str,
    asset_id: str,
    request: Request,
    c: ContainerDep,
    cookie: LinkCookie = None,
    session: LinkSessionHeader = None,
) -> Response:
    return _link_file(c, request, token, asset_id, "preview", _link_session(cookie, session))


@router.get("/s/{token}/assets/{asset_id}/original")
def link_original(
    token: str,
    asset_id: str,
    request: Request,
    c: ContainerDep,
    cookie: LinkCookie = None,
    session: LinkSessionHeader = None,
) -> Response:
    """Only where the link allows downloads (which a link hiding metadata never does)."""
    return _link_file(c, request, token, asset_id, "original", _link_session(cookie, session))


# --- partner sharing ------------------------------------------------------------------------


def _partner_out(view: PartnerView) -> PartnerShareOut:
    return PartnerShareOut(
        id=view.share.id,
        owner=_user(view.owner),
        partner=_user(view.partner),
        since=view.share.since,
        created_at=view.share.created_at,
    )


@router.get("/partner")
def partner_status(principal: CurrentPrincipal, c: ContainerDep) -> PartnerStatus:
    outgoing, incoming = c.sharing.partner_status(principal)
    return PartnerStatus(
        sharing_with=_partner_out(outgoing) if outgoing else None,
        shared_with_me=[_partner_out(v) for v in incoming],
    )


@router.put("/partner")
def share_with_partner(
    body: PartnerIn, principal: CurrentPrincipal, c: ContainerDep
) -> PartnerShareOut:
    """Share my whole timeline (or photos taken from `since` on) with one partner,
    read-only. Sent again for the same partner, it changes `since`."""
    return _partner_out(c.sharing.share_with_partner(principal, body.email, body.since))


@router.patch("/partner/shares/{share_id}")
def update_partner_share(
    share_id: str, body: PartnerPatch, principal: CurrentPrincipal, c: ContainerDep
) -> PartnerShareOut:
    return _partner_out(c.sharing.update_partner_share(principal, share_id, body.since))


@router.delete("/partner/shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
def end_partner_share(share_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    """Either side ends a partner share."""
    c.sharing.end_partner_share(principal, share_id)


@router.get("/partner/timeline", response_model=PartnerTimelinePage)
def partner_timeline(
    principal: CurrentPrincipal,
    c: ContainerDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    include_mine: bool = True,
) -> Response:
    """My timeline merged with those shared with me, newest first, partners' photos marked
    `from_partner`; pass `next_cursor` back for the next page."""
    items, next_cursor = c.sharing.partner_timeline(
        principal, cursor=cursor, limit=limit, include_mine=include_mine
    )
    page = PartnerTimelinePage(
        items=[
            PartnerAssetOut(
                **shared_asset_fields(i.asset, i.owner, principal.user_id),
                from_partner=i.from_partner,
            )
            for i in items
        ],
        next_cursor=next_cursor,
    )
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/partner/assets/{asset_id}/thumbnail")
def partner_thumbnail(
    asset_id: str, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> Response:
    _, blob = c.sharing.partner_file(principal, asset_id, "thumbnail")
    return _file(request, blob)


@router.get("/partner/assets/{asset_id}/preview")
def partner_preview(
    asset_id: str, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> Response:
    _, blob = c.sharing.partner_file(principal, asset_id, "preview")
    return _file(request, blob)


@router.get("/partner/assets/{asset_id}/original")
def partner_original(
    asset_id: str, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> Response:
    asset, blob = c.sharing.partner_file(principal, asset_id, "original")
    return _file(request, blob, asset.original_filename)
