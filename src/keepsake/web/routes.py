"""Page routes: each renders a template from what the services return; everything that
changes state goes through the JSON API from the page's static script (with the CSRF
header), so the pages carry no inline script or style and work under a strict
Content-Security-Policy.

`install` mounts the pages, the static files and HTML error pages on the app."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope as AsgiScope

from keepsake.api.deps import ContainerDep, optional_principal
from keepsake.auth.access import Principal, require_admin
from keepsake.errors import KeepsakeError, NotFound, Unauthorized
from keepsake.faces.service import PURPOSE as FACES_PURPOSE
from keepsake.jobs.service import RECENT as JOBS_RECENT
from keepsake.media.schemas import AssetOut, TimelinePage
from keepsake.storage.models import Asset, User
from keepsake.web.repository import WebRepository
from keepsake.web.service import Collection, WebService

log = logging.getLogger("keepsake.web")

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
# Photos per timeline request: one request fills a month for most libraries (a month of a
# 10,000-photo library over 20 years holds about 40), small enough to answer in a few ms.
TIMELINE_PAGE_SIZE = 200
# Photos of the newest month sent with the timeline page itself: a large screen's worth.
FIRST_SCREEN_ITEMS = 60
# Thumbnails the page asks for from <head>, before its script runs: a laptop screen holds
# about 18 at the default row height, a phone about 12.
PRELOAD_THUMBNAILS = 24
# The largest UTC offset in use (UTC+14): local months are asked for with bounds this wide.
MAX_UTC_OFFSET = timedelta(hours=14)
HTML_CACHE = "private, no-cache"
# A person's page lists their best faces to move or remove, up to this many (a screenful
# or two of 96 px crops; the rest are reached by fixing these first, or from the viewer).
FACES_SHOWN = 300
STATIC_IMMUTABLE = "public, max-age=31536000, immutable"

router = APIRouter(include_in_schema=False)


class LoginRequired(KeepsakeError):
    """A page was asked for without a session: the browser is sent to log in."""

    status, slug, title = 401, "unauthorized", "Authentication required"


@dataclass(frozen=True)
class Pages:
    """The template environment and the fingerprints that make static URLs immutable."""

    templates: Jinja2Templates
    versions: dict[str, str]

    def static_url(self, name: str) -> str:
        return f"/static/{name}?v={self.versions.get(name, '0')}"


class CachedStatic(StaticFiles):
    """Static files; a fingerprinted URL (`?v=`) is cached for good by the browser."""

    async def get_response(self, path: str, scope: AsgiScope) -> Response:
        response = await super().get_response(path, scope)
        versioned = b"v=" in scope.get("query_string", b"")
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = STATIC_IMMUTABLE if versioned else "no-cache"
        return response


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _web(request: Request) -> WebService:
    web: WebService = request.app.state.web
    return web


def page_principal(request: Request) -> Principal:
    """The logged-in user of a page request; anyone else is sent to the login page."""
    try:
        principal = optional_principal(request)
    except Unauthorized:
        principal = None
    if principal is None:
        raise LoginRequired()
    return principal


PagesDep = Annotated[Pages, Depends(_pages)]
WebDep = Annotated[WebService, Depends(_web)]
PagePrincipal = Annotated[Principal, Depends(page_principal)]


def _render(
    request: Request,
    pages: Pages,
    template: str,
    *,
    user: User | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    response = pages.templates.TemplateResponse(
        request, template, {"user": user, **context}, status_code=status_code
    )
    response.headers["Cache-Control"] = HTML_CACHE
    return response


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only, never another origin."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ch in value for ch in "\r\n\t"):
        return "/"
    return value


# --- first run, login ----------------------------------------------------------------


@router.get("/setup")
def setup_page(request: Request, c: ContainerDep, pages: PagesDep) -> Response:
    if not c.auth.needs_setup():
        return RedirectResponse("/login", status_code=303)
    return _render(request, pages, "setup.html", user=None, title="Welcome to Keepsake")


@router.get("/login")
def login_page(
    request: Request,
    c: ContainerDep,
    pages: PagesDep,
    next_url: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> Response:
    if c.auth.needs_setup():
        return RedirectResponse("/setup", status_code=303)
    target = safe_next(next_url)
    try:
        principal = optional_principal(request)
    except Unauthorized:
        principal = None
    if principal is not None:
        return RedirectResponse(target, status_code=303)
    return _render(request, pages, "login.html", user=None, title="Log in", next_url=target)


# --- the library -----------------------------------------------------------------------


def _timeline(
    request: Request,
    principal: Principal,
    c: ContainerDep,
    pages: Pages,
    web: WebService,
    *,
    favorites: bool,
    page_size: int,
) -> HTMLResponse:
    months = web.months(principal, favorites_only=favorites)
    first_page = ""
    preload: list[str] = []
    if months:
        # The newest month's first photos come with the page (and their thumbnails are
        # preloaded from <head>), so the first screen needs no API round trip first.
        start, end = months[0].utc_window(MAX_UTC_OFFSET)
        items, cursor = c.media.timeline(
            principal,
            limit=min(page_size, FIRST_SCREEN_ITEMS),
            taken_from=start,
            taken_to=end,
            favorites_only=favorites,
        )
        first_page = TimelinePage(
            items=[AssetOut.model_validate(a) for a in items], next_cursor=cursor
        ).model_dump_json()
        preload = [a.id for a in items[:PRELOAD_THUMBNAILS]]
    return _render(
        request,
        pages,
        "timeline.html",
        user=c.auth.me(principal),
        title="Favourites" if favorites else "Photos",
        nav="favorites" if favorites else "photos",
        months=months,
        total=sum(m.count for m in months),
        favorites=favorites,
        page_size=page_size,
        first_page=first_page,
        preload=preload,
        collection="favorites" if favorites else "timeline",
        retention_days=c.settings.trash_retention_days,
    )


PageSize = Annotated[int, Query(ge=1, le=500)]


@router.get("/")
def timeline_page(
    request: Request,
    principal: PagePrincipal,
    c: ContainerDep,
    pages: PagesDep,
    web: WebDep,
    page_size: PageSize = TIMELINE_PAGE_SIZE,
) -> HTMLResponse:
    return _timeline(request, principal, c, pages, web, favorites=False, page_size=page_size)


@router.get("/favorites")
def favorites_page(
    request: Request,
    principal: PagePrincipal,
    c: ContainerDep,
    pages: PagesDep,
    web: WebDep,
    page_size: PageSize = TIMELINE_PAGE_SIZE,
) -> HTMLResponse:
    return _timeline(request, principal, c, pages, web, favorites=True, page_size=page_size)


@router.get("/photos/{asset_id}")
def viewer_page(
    asset_id: str,
    request: Request,
    principal: PagePrincipal,
    c: ContainerDep,
    pages: PagesDep,
    web: WebDep,
    within: Annotated[str, Query(alias="in", max_length=80)] = "timeline",
) -> HTMLResponse:
    asset, _steps = c.media.asset(principal, asset_id)
    kind, _, album_id = within.partition(":")
    try:
        collection = Collection(kind)
    except ValueError:
        collection = Collection.TIMELINE
    album_name = None
    if collection is Collection.ALBUM:
        album, _ = c.media.album(principal, album_id)
        album_name = album.name
        back = f"/albums/{album.id}"
        within = f"album:{album.id}"
    else:
        back = {
            Collection.TIMELINE: "/",
            Collection.FAVORITES: "/favorites",
            Collection.TRASH: "/trash",
        }[collection]
        within = collection.value
    near = web.neighbours(principal, asset, collection, album_id or None)
    faces = None
    if asset.trashed_at is None and c.faces.status(principal).enabled:
        faces = c.faces.asset_faces(principal, asset.id)
    return _render(
        request,
        pages,
        "viewer.html",
        user=c.auth.me(principal),
        title=asset.original_filename,
        nav="photos",
        asset=asset,
        facts=describe(asset),
        taken=local_time(asset),
        newer=near.newer,
        older=near.older,
        within=within,
        back=back,
        album_name=album_name,
        collection=collection.value,
        displayable=asset.mime_type in BROWSER_IMAGE_TYPES,
        faces=faces,
        retention_days=c.settings.trash_retention_days,
    )


@router.get("/upload")
def upload_page(
    request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> HTMLResponse:
    return _render(
        request,
        pages,
        "upload.html",
        user=c.auth.me(principal),
        title="Upload",
        nav="upload",
        max_bytes=c.settings.upload_max_bytes,
    )


@router.get("/albums")
def albums_page(
    request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> HTMLResponse:
    albums = c.media.albums(principal)
    return _render(
        request,
        pages,
        "albums.html",
        user=c.auth.me(principal),
        title="Albums",
        nav="albums",
        albums=albums,
    )


@router.get("/albums/{album_id}")
def album_page(
    album_id: str, request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> HTMLResponse:
    # The count the album list shows: the owner's photos and those members added (the
    # page's script loads them all through the API, which ledgers the members' ones).
    found = next(((a, n) for a, n in c.media.albums(principal) if a.id == album_id), None)
    if found is None:
        raise NotFound("No such album.")
    album, count = found
    return _render(
        request,
        pages,
        "album.html",
        user=c.auth.me(principal),
        title=album.name,
        nav="albums",
        album=album,
        count=count,
    )


@router.get("/trash")
def trash_page(
    request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> HTMLResponse:
    items = c.media.list_trash(principal)
    return _render(
        request,
        pages,
        "trash.html",
        user=c.auth.me(principal),
        title="Trash",
        nav="trash",
        count=len(items),
        size=sum(a.size for a in items),
        retention_days=c.settings.trash_retention_days,
    )


@router.get("/people")
def people_page(
    request: Request,
    principal: PagePrincipal,
    c: ContainerDep,
    pages: PagesDep,
    hidden: bool = False,
) -> HTMLResponse:
    status = c.faces.status(principal)
    consent = next(
        (x for x in c.consent.status(principal) if str(x.purpose.name) == FACES_PURPOSE), None
    )
    people, review = [], []
    if status.enabled:
        people = c.faces.people(principal, include_hidden=hidden)
        review = [v for v in c.faces.unassigned(principal, limit=40) if v.suggestion][:8]
    return _render(
        request,
        pages,
        "people.html",
        user=c.auth.me(principal),
        title="People",
        nav="people",
        status=status,
        purpose=consent.purpose if consent else None,
        people=people,
        review=review,
        show_hidden=hidden,
    )


@router.get("/people/{person_id}")
def person_page(
    person_id: str, request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> HTMLResponse:
    page = c.faces.person(principal, person_id, limit=1)
    faces = c.faces.person_faces(principal, person_id)
    everyone = c.faces.people(principal, include_hidden=True)
    others = [p for p in everyone if p.person.id != person_id]
    return _render(
        request,
        pages,
        "person.html",
        user=c.auth.me(principal),
        title=page.summary.person.name or "Unnamed person",
        nav="people",
        person=page.summary.person,
        cover=page.summary.cover_face_id,
        photo_count=page.photo_count,
        face_count=len(faces),
        faces=faces[:FACES_SHOWN],
        others=others,
    )


@router.get("/settings")
def settings_page(
    request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> HTMLResponse:
    count, total, trash, quota = c.media.usage(principal)
    return _render(
        request,
        pages,
        "settings.html",
        user=c.auth.me(principal),
        title="Settings",
        nav="settings",
        keys=c.auth.list_api_keys(principal),
        sessions=c.auth.sessions(principal),
        current_session=principal.session_id,
        usage={"assets": count, "bytes": total, "trash": trash, "quota": quota},
        used_percent=min(100, round(100 * total / quota)) if quota else None,
    )


@router.get("/admin")
def admin_page(
    request: Request, principal: PagePrincipal, c: ContainerDep, pages: PagesDep
) -> HTMLResponse:
    require_admin(principal)
    return _render(
        request,
        pages,
        "admin.html",
        user=c.auth.me(principal),
        title="Administration",
        nav="admin",
        users=c.auth.list_users(principal),
        jobs=c.job_runs.overview(principal),
        recent_hours=int(JOBS_RECENT.total_seconds() // 3600),
        job_workers=c.settings.job_workers,
    )


# --- what the viewer shows -------------------------------------------------------------

# Types a browser shows without help; others (HEIC, TIFF) are viewed through the preview.
BROWSER_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def local_time(asset: Asset) -> datetime:
    """The wall-clock time of the capture (UTC plus the recorded offset, if any)."""
    return asset.taken_at + timedelta(minutes=asset.taken_at_offset_minutes or 0)


def format_bytes(size: int | None) -> str:
    if size is None:
        return "unlimited"
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def describe_agent(user_agent: str) -> str:
    """A browser's User-Agent in a few words: "Firefox on Linux", "keepsake-backup"."""
    ua = user_agent or ""
    if not ua:
        return "Unknown"
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Chromium/", "Chromium"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        None,
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        None,
    )
    if browser and system:
        return f"{browser} on {system}"
    return browser or ua.split(" ")[0][:60]


def format_when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")


def _offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def describe(asset: Asset) -> list[tuple[str, str]]:
    """The metadata panel: (label, value) in the order a person reads them."""
    facts: list[tuple[str, str]] = []
    when = local_time(asset).strftime("%A %-d %B %Y, %H:%M")
    if asset.taken_at_offset_minutes is not None:
        when += f" ({_offset(asset.taken_at_offset_minutes)})"
    if asset.taken_at_source == "file":
        when += " — from the file's date; the photo records none"
    elif asset.taken_at_source == "upload":
        when += " — when it was uploaded; the photo records no date"
    facts.append(("Taken", when))
    camera = " ".join(p for p in (asset.make, asset.model) if p)
    if asset.make and asset.model and asset.model.lower().startswith(asset.make.lower()):
        camera = asset.model
    if camera:
        facts.append(("Camera", camera))
    if asset.lens:
        facts.append(("Lens", asset.lens))
    exposure = _exposure(asset.exif or {})
    if exposure:
        facts.append(("Exposure", exposure))
    if asset.latitude is not None and asset.longitude is not None:
        facts.append(("Place", f"{asset.latitude:.5f}, {asset.longitude:.5f}"))
    if asset.width and asset.height:
        facts.append(("Size", f"{asset.width} × {asset.height} pixels"))  # noqa: RUF001
    facts.append(("File", f"{asset.original_filename} ({format_bytes(asset.size)})"))
    return facts


def _exposure(exif: dict[str, Any]) -> str:
    parts = []
    f_number = exif.get("f_number")
    if isinstance(f_number, int | float):
        parts.append(f"f/{f_number:g}")
    seconds = exif.get("exposure_time_s")
    if isinstance(seconds, int | float) and seconds > 0:
        parts.append(f"1/{round(1 / seconds)} s" if seconds < 1 else f"{seconds:g} s")
    focal = exif.get("focal_length_mm")
    if isinstance(focal, int | float):
        parts.append(f"{focal:g} mm")
    iso = exif.get("iso")
    if isinstance(iso, int | float):
        parts.append(f"ISO {iso:g}")
    return " · ".join(parts)


# --- installation, error pages ---------------------------------------------------------


def _fingerprints(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, not a static file) gets HTML errors."""
    path = request.url.path
    if path == "/api" or path.startswith(("/api/", "/static/")):
        return False
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", "")


Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


def _error_user(request: Request) -> User | None:
    """Whoever is logged in, so an error page keeps the navigation; nobody when that
    cannot be told (no session, or the error is the database itself)."""
    try:
        principal = optional_principal(request)
        if principal is None:
            return None
        user: User = request.app.state.container.auth.me(principal)
        return user
    except Exception:
        return None


def _error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    pages = _pages(request)
    return _render(
        request,
        pages,
        "error.html",
        user=_error_user(request) if status != 401 else None,
        status_code=status,
        title=title,
        status=status,
        detail=detail,
    )


def _html_errors(app: FastAPI) -> None:
    """Pages answer errors in words, as HTML; the API keeps its problem JSON."""
    api_handlers: dict[Any, Handler] = dict(app.exception_handlers)

    async def delegate(request: Request, exc: Exception, key: Any) -> Response:
        handler = api_handlers.get(key)
        if handler is None:
            raise exc
        result = handler(request, exc)
        if isinstance(result, Response):
            return result
        return await result

    async def keepsake_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KeepsakeError)
        if isinstance(exc, LoginRequired) and _wants_page(request):
            if request.app.state.container.auth.needs_setup():
                return RedirectResponse("/setup", status_code=303)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        if _wants_page(request):
            return _error_page(request, exc.status, exc.title, exc.detail)
        return await delegate(request, exc, KeepsakeError)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if _wants_page(request) and exc.status_code == 404:
            return _error_page(request, 404, "Page not found", "There is no page at this address.")
        return await delegate(request, exc, StarletteHTTPException)

    async def unexpected(request: Request, exc: Exception) -> Response:
        if _wants_page(request):
            log.exception("unhandled error", exc_info=exc)
            return _error_page(
                request,
                500,
                "Something went wrong",
                "The server could not show this page. Try again in a moment.",
            )
        return await delegate(request, exc, Exception)

    app.add_exception_handler(KeepsakeError, keepsake_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def install(app: FastAPI) -> None:
    """Mount the pages, the static files and HTML error pages. Call after the API's own
    problem handlers are installed: page errors fall back to them for API requests."""
    container = app.state.container
    app.state.web = WebService(container.db, WebRepository(), container.media)
    templates = Jinja2Templates(directory=TEMPLATES)
    pages = Pages(templates, _fingerprints(STATIC))
    env = templates.env
    env.globals["static_url"] = pages.static_url
    env.filters["bytes"] = format_bytes
    env.filters["when"] = format_when
    env.filters["agent"] = describe_agent
    app.state.pages = pages
    app.mount("/static", CachedStatic(directory=STATIC), name="static")
    from keepsake.web import privacy_pages, sharing_pages  # they import this module

    app.include_router(router)
    app.include_router(sharing_pages.router)
    app.include_router(privacy_pages.router)
    _html_errors(app)
