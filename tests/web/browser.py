"""What the browser tests share: launching Chromium, catching page errors, axe-core,
making users and photos straight through the services (fast), and waiting on the grid."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from keepsake.app import Container
from keepsake.auth.access import Principal, Scope
from keepsake.storage.models import Asset
from tests.helpers import LiveServer, jpeg_bytes

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
# axe-core impacts that fail a page; "moderate" and "minor" are reported, not fatal.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


class BrowserErrors:
    """Uncaught script errors and Content-Security-Policy violations on a page fail the
    test. Failed requests the page expects (a wrong password's 401) are not errors."""

    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        page.on("pageerror", lambda exc: self.messages.append(f"uncaught: {exc}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and not text.startswith("Failed to load resource"):
            self.messages.append(f"console: {text}")
        elif "Content-Security-Policy" in text or "Content Security Policy" in text:
            self.messages.append(f"CSP: {text}")

    def check(self) -> None:
        assert not self.messages, "\n".join(self.messages)


def check_accessibility(page: Any, what: str = "") -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    report = "\n".join(
        f"{v['impact']}: {v['id']} — {v['help']}\n    "
        + "\n    ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in blocking
    )
    assert not blocking, f"axe on {what or page.url}:\n{report}"


@dataclass
class LibraryUser:
    id: str
    email: str
    principal: Principal
    assets: list[Asset] = field(default_factory=list)


def make_user(
    container: Container, email: str, name: str = "", *, admin: bool | None = None
) -> LibraryUser:
    if container.auth.needs_setup():
        user = container.auth.setup_first_admin(email, PASSWORD, name)
    else:
        user = container.auth.create_user(None, email, PASSWORD, display_name=name)
    is_admin = user.is_admin if admin is None else admin
    return LibraryUser(user.id, email, Principal(user.id, is_admin, frozenset({Scope.FULL})))


def add_photo(
    container: Container,
    owner: LibraryUser,
    tmp: Path,
    name: str,
    *,
    taken: datetime,
    seed: int = 0,
    size: tuple[int, int] = (96, 64),
    **exif: Any,
) -> Asset:
    """One real JPEG through ingest (thumbnail and preview made at once in tests)."""
    data = jpeg_bytes(size, seed=seed, taken=taken.strftime("%Y:%m:%d %H:%M:%S"), **exif)
    path = tmp / f"{owner.id}-{name}"
    path.write_bytes(data)
    try:
        asset = container.media.ingest(owner.principal, path, name).asset
    finally:
        path.unlink(missing_ok=True)
    owner.assets.append(asset)
    return asset


def add_photos(
    container: Container,
    owner: LibraryUser,
    tmp: Path,
    times: list[datetime],
    *,
    size: tuple[int, int] = (96, 64),
) -> list[Asset]:
    return [
        add_photo(container, owner, tmp, f"IMG_{i:04d}.jpg", taken=t, seed=i, size=size)
        for i, t in enumerate(times)
    ]


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def tiles(page: Any) -> Any:
    return page.locator(".tile")


def wait_for_thumbnails(page: Any, at_least: int = 1) -> None:
    """Until `at_least` thumbnails have loaded (decoded, not just requested)."""
    page.wait_for_function(
        """n => [...document.querySelectorAll('.tile img')]
              .filter(i => i.complete && i.naturalWidth > 0).length >= n""",
        arg=at_least,
    )


def gps_jpeg(lat: float, lon: float, *, taken: str = "2024:05:17 10:30:00") -> bytes:
    """A JPEG whose EXIF records where it was taken."""
    image = Image.effect_mandelbrot((120, 80), (-2, -1.2, 1, 1.2), 40).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R6"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = taken
    sub[0x9011] = "+02:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    gps[2] = _dms(abs(lat))
    gps[4] = _dms(abs(lon))
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    return (float(d), float(m), round(((value - d) * 60 - m) * 60, 3))


def add_file(container: Container, owner: LibraryUser, tmp: Path, name: str, data: bytes) -> Asset:
    path = tmp / f"{owner.id}-{name}"
    path.write_bytes(data)
    try:
        asset = container.media.ingest(owner.principal, path, name).asset
    finally:
        path.unlink(missing_ok=True)
    owner.assets.append(asset)
    return asset


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def new_context(browser: Any, server: LiveServer, viewport: dict[str, int] = DESKTOP) -> Any:
    """A fresh browser context on the live server: a British locale, UTC, downloads on,
    a phone's touch and mobile viewport below 500 px wide."""
    phone = viewport["width"] < 500
    ctx = browser.new_context(
        base_url=server.url,
        locale="en-GB",
        timezone_id="UTC",
        viewport=viewport,
        is_mobile=phone,
        has_touch=phone,
        accept_downloads=True,
    )
    ctx.set_default_timeout(10_000)
    return ctx


@contextmanager
def browser_page(
    browser: Any,
    server: LiveServer,
    login: LibraryUser | None = None,
    viewport: dict[str, int] = DESKTOP,
) -> Iterator[Any]:
    """A page in a browser of its own: another user's (`login`), or a stranger's (None).
    Any script error or CSP violation on it fails the test."""
    ctx = new_context(browser, server, viewport)
    try:
        if login is not None:
            response = ctx.request.post(
                "/api/auth/login", data={"email": login.email, "password": PASSWORD}
            )
            assert response.ok, response.text()
        page = ctx.new_page()
        errors = BrowserErrors(page)
        yield page
        errors.check()
    finally:
        ctx.close()


# A folder dropped onto the page, as Chromium hands it to a script: entries whose
# directory readers give at most `batch` children per readEntries call (Chromium gives
# 100), so a reader that asks once sees only the first batch.
DROP_FOLDERS = """({tree, batch}) => {
  const fileEntry = (name, f) => ({
    isFile: true, isDirectory: false, name,
    file: (ok, fail) => f.unreadable
      ? setTimeout(() => fail(new DOMException('The file is gone.', 'NotFoundError')), 5)
      : ok(new File([Uint8Array.from(atob(f.data), c => c.charCodeAt(0))], name,
                              {type: f.type, lastModified: f.modified})),
  });
  const dirEntry = (name, children) => ({
    isFile: false, isDirectory: true, name,
    createReader: () => {
      const entries = Object.entries(children).map(([n, c]) => c.data !== undefined
        ? fileEntry(n, c) : dirEntry(n, c));
      let at = 0;
      return {readEntries: (ok) => setTimeout(() => {
        const part = entries.slice(at, at + batch); at += part.length; ok(part);
      }, 5)};
    },
  });
  const dt = new DataTransfer();
  const roots = Object.entries(tree).map(([n, c]) => c.data !== undefined
    ? fileEntry(n, c) : dirEntry(n, c));
  for (const [n] of Object.entries(tree)) dt.items.add(new File([''], n));
  const items = [...dt.items];
  items.forEach((item, i) => { item.webkitGetAsEntry = () => roots[i]; });
  const realItems = Object.getOwnPropertyDescriptor(DataTransfer.prototype, 'items');
  Object.defineProperty(dt, 'items', {get: () => items});
  void realItems;
  const zone = document.getElementById('drop-zone');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
  }
}"""
