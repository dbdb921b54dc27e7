"""Screenshots of the web app's main pages into docs/screenshots/, from a demo library made
on the spot (generated landscapes, so no real photo is needed). Headless Debian Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Run it after changing how a page looks; the README shows the result."""

from __future__ import annotations

import argparse
import io
import math
import random
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from PIL import Image, ImageDraw, ImageFilter
from PIL.TiffImagePlugin import IFDRational
from playwright.sync_api import sync_playwright

from keepsake.app import Container, build_container, create_app
from keepsake.auth.access import Principal, Scope
from keepsake.config import Settings

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "correct horse battery"  # noqa: S105 (the demo account of a temp library)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

SKIES = [
    ((255, 183, 94), (237, 98, 89)),
    ((135, 206, 235), (224, 246, 255)),
    ((40, 60, 120), (240, 140, 90)),
    ((250, 220, 180), (170, 210, 240)),
    ((20, 24, 60), (90, 70, 140)),
    ((180, 225, 250), (255, 255, 255)),
]
LANDS = [(46, 94, 62), (86, 120, 70), (60, 70, 90), (120, 96, 70), (30, 50, 40), (200, 170, 120)]
CAMERAS = [
    ("Canon", "EOS R6", "RF24-105mm F4 L IS USM"),
    ("Apple", "iPhone 15", None),
    ("FUJIFILM", "X-T4", "XF35mmF1.4 R"),
]
PLACES = [(46.5586, 7.8955), (60.3913, 5.3221), (38.7223, -9.1393), (44.4264, 8.9152)]


def landscape(rng: random.Random, portrait: bool) -> Image.Image:
    """A small painted landscape: sky gradient, sun, layered hills, a lake sometimes."""
    w, h = (900, 1200) if portrait else (1200, 800)
    top, bottom = rng.choice(SKIES)
    image = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(image)
    for y in range(h):
        t = y / h
        draw.line(
            [(0, y), (w, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    sun_x, sun_y, r = rng.randint(100, w - 100), rng.randint(80, h // 2), rng.randint(40, 90)
    draw.ellipse([sun_x - r, sun_y - r, sun_x + r, sun_y + r], fill=(255, 236, 170))
    base = rng.choice(LANDS)
    for layer in range(4):
        shade = tuple(max(0, c - 18 * layer) for c in base)
        horizon = h * (0.45 + 0.12 * layer)
        amp, freq, phase = rng.randint(30, 110), rng.uniform(1.5, 4), rng.uniform(0, 6)
        points = [(0, h)]
        for x in range(0, w + 20, 20):
            points.append((x, horizon - amp * math.sin(freq * x / w * math.pi + phase)))
        points.append((w, h))
        draw.polygon(points, fill=shade)
    if rng.random() < 0.4:
        draw.rectangle([0, int(h * 0.82), w, h], fill=tuple(min(255, c + 40) for c in top))
    return image.filter(ImageFilter.GaussianBlur(1.2))


def photo_bytes(rng: random.Random, taken: datetime, i: int) -> bytes:
    image = landscape(rng, portrait=i % 5 == 3)
    make, model, lens = CAMERAS[i % len(CAMERAS)]
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    sub[0x9011] = "+02:00"
    sub[0x829D] = IFDRational(18, 10)  # f/1.8
    sub[0x829A] = IFDRational(1, 250)
    sub[0x8827] = 200
    sub[0x920A] = IFDRational(35, 1)
    if lens:
        sub[0xA434] = lens
    if i % 3 == 0:
        lat, lon = PLACES[i % len(PLACES)]
        gps = exif.get_ifd(0x8825)
        gps[1], gps[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
        gps[2] = tuple(IFDRational(v) for v in _dms(abs(lat)))
        gps[4] = tuple(IFDRational(v) for v in _dms(abs(lon)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60, 2)
    return (float(d), float(m), s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(container: Container) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(container, start_jobs=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def populate(container: Container, tmp: Path) -> dict[str, Any]:
    rng = random.Random(11)
    admin = container.auth.setup_first_admin("ada@example.org", PASSWORD, "Ada Lovelace")
    container.auth.create_user(None, "charles@example.org", PASSWORD, display_name="Charles")
    principal = Principal(admin.id, True, frozenset({Scope.FULL}))
    start = datetime(2025, 9, 21, 17, 0, tzinfo=UTC)
    ids = []
    for i in range(46):
        taken = start - timedelta(days=i * 2.3 + rng.random(), hours=rng.randint(0, 6))
        path = tmp / f"demo-{i}.jpg"
        path.write_bytes(photo_bytes(rng, taken, i))
        ids.append(container.media.ingest(principal, path, f"IMG_{2400 + i}.jpg").asset.id)
        path.unlink()
    for asset_id in ids[1:40:6]:
        container.media.update_asset(principal, asset_id, is_favorite=True)
    summer = container.media.create_album(principal, "Summer in the Alps")
    container.media.add_to_album(principal, summer.id, ids[2:14])
    coast = container.media.create_album(principal, "Lisbon weekend")
    container.media.add_to_album(principal, coast.id, ids[20:27])
    container.media.create_album(principal, "To print")
    container.media.trash(principal, ids[40:43])
    container.auth.create_api_key(principal, "Laptop backup", [Scope.UPLOAD])
    container.sharing.share_album(principal, summer.id, "charles@example.org", "contributor")
    link = container.links.create(
        principal,
        album_id=coast.id,
        expires_at=datetime.now(UTC) + timedelta(days=30),
        allow_download=True,
        hide_metadata=False,
        label="For the family",
    )
    return {"ids": ids, "album": summer.id, "link": link.token}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = Settings(data_dir=tmp / "data", jobs_immediate=True, job_workers=0)
        container = build_container(settings)
        with serve(container) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)

            def context(viewport: dict[str, int], dark: bool = False) -> Any:
                return browser.new_context(
                    base_url=url,
                    viewport=viewport,
                    device_scale_factor=1,
                    locale="en-GB",
                    timezone_id="UTC",
                    color_scheme="dark" if dark else "light",
                )

            def shot(page: Any, name: str) -> None:
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(args.out / f"{name}.png"))
                print(f"wrote {args.out / name}.png")

            first = context(DESKTOP).new_page()
            first.goto("/setup")
            first.get_by_label("Your name").fill("Ada Lovelace")
            first.get_by_label("Email").fill("ada@example.org")
            shot(first, "setup")
            first.context.close()

            demo = populate(container, tmp)
            ctx = context(DESKTOP)
            page = ctx.new_page()
            page.goto("/login")
            shot(page, "login")
            page.get_by_label("Email").fill("ada@example.org")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{url}/")
            page.wait_for_selector(".tile img")
            shot(page, "timeline")
            for tile in page.locator(".tile").all()[3:6]:
                tile.hover()
                tile.locator(".tile-check").check()
            shot(page, "timeline-selection")
            page.goto(f"/photos/{demo['ids'][3]}")
            shot(page, "viewer")
            page.goto("/albums")
            shot(page, "albums")
            page.goto(f"/albums/{demo['album']}")
            page.wait_for_selector(".tile img")
            shot(page, "album")
            page.goto(f"/albums/{demo['album']}?share=1")
            page.wait_for_selector("dialog[open]")
            shot(page, "share-dialog")
            page.goto("/shared")
            shot(page, "sharing")
            page.goto("/privacy-centre")
            shot(page, "privacy-centre")
            page.goto("/trash")
            page.wait_for_selector(".tile img")
            shot(page, "trash")
            page.goto("/upload")
            files = []
            rng = random.Random(5)
            for i in range(3):
                files.append(
                    {
                        "name": f"new-{i}.jpg",
                        "mimeType": "image/jpeg",
                        "buffer": photo_bytes(rng, datetime(2025, 9, 22, 10, i, tzinfo=UTC), i),
                    }
                )
            files.append(
                {"name": "IMG_2400.jpg", "mimeType": "image/jpeg", "buffer": files[0]["buffer"]}
            )
            files.append({"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"})
            page.locator("#file-input").set_input_files(files)
            page.wait_for_selector("#upload-summary[data-state='finished']")
            shot(page, "upload")
            page.goto("/people")
            shot(page, "people")
            page.goto("/settings")
            shot(page, "settings")
            page.goto("/admin")
            shot(page, "admin")
            ctx.close()

            visitor = context(DESKTOP)  # a public link, opened by someone with no account
            page = visitor.new_page()
            page.goto(f"/s/{demo['link']}")
            page.wait_for_selector(".tile img")
            shot(page, "public-link")
            visitor.close()

            phone = context(PHONE)
            page = phone.new_page()
            page.goto("/login")
            page.get_by_label("Email").fill("ada@example.org")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{url}/")
            page.wait_for_selector(".tile img")
            shot(page, "phone-timeline")
            page.goto(f"/photos/{demo['ids'][0]}")
            shot(page, "phone-viewer")
            phone.close()

            dark = context(DESKTOP, dark=True)
            page = dark.new_page()
            page.goto("/login")
            page.get_by_label("Email").fill("ada@example.org")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{url}/")
            page.wait_for_selector(".tile img")
            shot(page, "timeline-dark")
            dark.close()
            browser.close()
        container.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
