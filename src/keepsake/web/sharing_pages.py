"""Sharing pages (see routes.py for how pages render and where state changes go): the
Sharing page (albums shared with me, what I share, my links, partner sharing), a shared
album as its members see it, the partners' timeline, and the public link page, which
opens without an account.

A link page only says whether the link works and whether it asks for a password: its photos
come from `/api/s/{token}` in the page's script, because the link session cookie is scoped to
the API's link paths and never reaches this page."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from keepsake.api.deps import ContainerDep
from keepsake.sharing.errors import LinkNotFound
from keepsake.sharing.links import LINK_TOKEN_MAX_CHARS, LinkInfo, LinkState
from keepsake.sharing.service import PartnerView, SharedAlbumSummary
from keepsake.storage.models import Album, AlbumShare, User
from keepsake.web.routes import PagePrincipal, PagesDep, _render

router = APIRouter(include_in_schema=False)

# Link pages are for the people the owner gave the link to, not for search engines; and
# their address is a secret, so no page they lead to may learn it from a Referer.
LINK_PAGE_HEADERS = {"X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class SharedByMe:
    """One of my albums as the Sharing page lists it: who has it and how many live links."""

    album: Album
    count: int
    shares: list[tuple[AlbumShare, User]]
    active_links: int


@dataclass(frozen=True)
class LinkRow:
    info: LinkInfo
    album_name: str | None


@router.get("/shared")
def shared_page(
    request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> HTMLResponse:
    with_me: list[SharedAlbumSummary] = c.sharing.shared_albums(principal)
    links = c.links.links(principal)
    albums = c.media.albums(principal)
    names = {album.id: album.name for album, _ in albums}
    live = [i for i in links if i.state == LinkState.ACTIVE]
    by_me = []
    for album, count in albums:
        shares = c.sharing.album_shares(principal, album.id)
        n_links = sum(1 for i in live if i.link.album_id == album.id)
        if shares or n_links:
            by_me.append(SharedByMe(album, count, shares, n_links))
    outgoing, incoming = c.sharing.partner_status(principal)
    return _render(
        request,
        pages,
        "shared.html",
        user=c.auth.me(principal),
        title="Sharing",
        nav="shared",
        with_me=with_me,
        by_me=by_me,
        links=[LinkRow(i, names.get(i.link.album_id or "")) for i in live],
        inactive_links=len(links) - len(live),
        outgoing=outgoing,
        incoming=incoming,
    )


@router.get("/shared/albums/{album_id}")
def shared_album_page(
    album_id: str, request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> Response:
    """An album someone shares with me. Found in my list of shared albums (which writes no
    ledger entry: the album's photos are read, and recorded, when the page's script asks)."""
    summary = next((x for x in c.sharing.shared_albums(principal) if x.album.id == album_id), None)
    if summary is None:
        # The owner has the album's own page; anyone else gets the 404 the API gives.
        album, _ = c.media.album(principal, album_id)
        return RedirectResponse(f"/albums/{album.id}", status_code=303)
    return _render(
        request,
        pages,
        "shared_album.html",
        user=c.auth.me(principal),
        title=summary.album.name,
        nav="shared",
        summary=summary,
    )


@router.get("/shared/partner")
def partner_page(
    request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> HTMLResponse:
    """The photos partners share with me, newest first."""
    _outgoing, incoming = c.sharing.partner_status(principal)
    partners: list[PartnerView] = incoming
    return _render(
        request,
        pages,
        "partner.html",
        user=c.auth.me(principal),
        title="Partners' photos",
        nav="shared",
        partners=partners,
    )


@router.get("/s/{token}")
def link_page(token: str, request: Request, c: ContainerDep, pages: PagesDep) -> HTMLResponse:
    """A public link, for whoever holds it: no login, and nothing of the owner's account
    (the page is rendered with no user, whoever is logged in in this browser)."""
    try:
        if len(token) > LINK_TOKEN_MAX_CHARS:
            raise LinkNotFound()
        locked = c.links.needs_password(token)
    except LinkNotFound:
        response = _render(
            request,
            pages,
            "public_gone.html",
            user=None,
            status_code=404,
            title="This link does not work",
        )
    else:
        response = _render(
            request,
            pages,
            "public_link.html",
            user=None,
            title="Shared photos",
            token=token,
            locked=locked,
        )
    response.headers.update(LINK_PAGE_HEADERS)
    return response
