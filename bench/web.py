"""Time to the first screen of thumbnails of the timeline, in headless Chromium, on a
10,000-photo library: synthetic rows (sealed like real ones) over 20 years, each with a
small real WebP thumbnail in the blob store (encrypted like real ones).

Measured from the start of navigation to the moment every thumbnail on the first screen is
decoded; cold (a fresh browser profile: HTML, CSS, JS and thumbnails all fetched) and warm
(the same tab reloaded: thumbnails from the browser cache, as their URLs are immutable),
at full CPU speed and with the CPU slowed 4x (DevTools throttling), for a slow laptop.

    .venv/bin/python bench/web.py [--assets 10000] [--runs 7]
"""

from __future__ import annotations

import argparse
import io
import random
import socket
import statistics
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
from PIL import Image
from playwright.sync_api import sync_playwright
from sqlalchemy import insert

from keepsake.app import Container, build_container, create_app
from keepsake.config import Settings
from keepsake.crypto.records import seal_asset
from keepsake.ids import new_id
from keepsake.media.service import STEP_PREVIEW, STEP_THUMBNAIL, THUMBNAILS
from keepsake.storage.blobs import blob_key
from keepsake.storage.models import Asset, AssetStep

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "benchmark password"  # noqa: S105 (a throwaway account in a temp dir)
VIEWPORT = {"width": 1366, "height": 768}  # the most common laptop screen

# Resolves once every thumbnail that intersects the screen has decoded; records when.
FIRST_SCREEN = """() => {
  const imgs = [...document.querySelectorAll('.tile img')].filter(img => {
    const r = img.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight && r.width > 0;
  });
  if (!imgs.length || !imgs.every(img => img.complete && img.naturalWidth > 0)) return false;
  window.__firstScreen = window.__firstScreen || performance.now();
  window.__firstScreenCount = imgs.length;
  return true;
}"""


def thumbnails(n: int) -> list[bytes]:
    """`n` distinct small WebP thumbnails, 250 px on the short side like real ones."""
    rng = random.Random(3)
    out = []
    for i in range(n):
        size = (333, 250) if i % 4 else (250, 333)
        top = tuple(rng.randint(40, 230) for _ in range(3))
        bottom = tuple(rng.randint(10, 200) for _ in range(3))
        image = Image.linear_gradient("L").resize(size)
        image = Image.merge(
            "RGB",
            [
                image.point(lambda v, a=a, b=b: int(a + (b - a) * v / 255))
                for a, b in zip(top, bottom, strict=True)
            ],
        )
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", quality=70)
        out.append(buffer.getvalue())
    return out


def populate(container: Container, owner_id: str, n: int) -> None:
    rng = random.Random(7)
    start = datetime(2005, 1, 1, tzinfo=UTC)
    span = (datetime(2026, 1, 1, tzinfo=UTC) - start).total_seconds()
    cameras = [("Canon", "EOS R6"), ("Apple", "iPhone 15"), ("Nikon", "Z6"), (None, None)]
    thumbs = thumbnails(48)
    now = datetime.now(UTC)
    assets, steps = [], []
    for i in range(n):
        make, model = cameras[i % len(cameras)]
        portrait = i % 4 == 0
        asset = Asset(
            id=new_id(),
            owner_id=owner_id,
            size=3_500_000,
            mime_type="image/jpeg",
            width=3000 if portrait else 4000,
            height=4000 if portrait else 3000,
            taken_at=start + timedelta(seconds=rng.random() * span),
            taken_at_offset_minutes=60,
            taken_at_source="exif",
            orientation=1,
            is_favorite=i % 50 == 0,
            created_at=now,
        )
        asset.checksum = f"{i:064x}"
        asset.original_filename = f"IMG_{i:06}.jpg"
        asset.make, asset.model = make, model
        seal_asset(container.keys, asset)
        assets.append(asset)
        # Same aspect as the row says: portraits get a portrait thumbnail.
        thumb = thumbs[(i // 4) % 12 * 4] if portrait else thumbs[(i % 12) * 4 + 1]
        container.blobs.put(blob_key(THUMBNAILS, owner_id, asset.id), io.BytesIO(thumb))
        for step in (STEP_THUMBNAIL, STEP_PREVIEW):
            steps.append({"asset_id": asset.id, "step": step, "done_at": now})
    with container.db.write() as s:
        s.add_all(assets)
        s.flush()
        for chunk in range(0, len(steps), 5000):
            s.execute(insert(AssetStep), steps[chunk : chunk + 5000])


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


def first_screen(page: Any) -> tuple[float, int]:
    page.goto("/", wait_until="commit")
    page.wait_for_function(FIRST_SCREEN, polling=10, timeout=30_000)
    return page.evaluate("() => [window.__firstScreen, window.__firstScreenCount]")  # type: ignore[no-any-return]


def measure(browser: Any, url: str, email: str, runs: int, slowdown: float) -> dict[str, Any]:
    cold, warm, count = [], [], 0
    for _ in range(runs):
        context = browser.new_context(base_url=url, viewport=VIEWPORT, locale="en-GB")
        context.request.post("/api/auth/login", data={"email": email, "password": PASSWORD})
        page = context.new_page()
        if slowdown > 1:
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
        ms, count = first_screen(page)
        cold.append(ms)
        ms, _ = first_screen(page)
        warm.append(ms)
        context.close()
    return {"cold": cold, "warm": warm, "thumbnails": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), jobs_immediate=True, job_workers=0)
        container = build_container(settings)
        email = "bench@example.org"
        user = container.auth.create_user(None, email, PASSWORD)
        t0 = time.perf_counter()
        populate(container, user.id, args.assets)
        print(f"populated {args.assets} assets with thumbnails in {time.perf_counter() - t0:.1f} s")
        with container.db.read() as s:
            s.connection().exec_driver_sql("ANALYZE")
        results = {}
        with serve(container) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            measure(browser, url, email, 1, 1)  # warm up the server and the browser binary
            for slowdown in (1.0, 4.0):
                results[slowdown] = measure(browser, url, email, args.runs, slowdown)
            browser.close()
        container.close()

    print(
        f"\nTimeline first screen, {args.assets:,} photos, {VIEWPORT['width']}x"
        f"{VIEWPORT['height']}, headless Chromium, median of {args.runs} runs (ms)\n"
    )
    print("| CPU | thumbnails on screen | cold median | cold max | warm median | warm max |")
    print("|---|---|---|---|---|---|")
    for slowdown, r in results.items():
        print(
            f"| {'full speed' if slowdown == 1 else f'{slowdown:g}x slower'} | {r['thumbnails']} "
            f"| {statistics.median(r['cold']):.0f} | {max(r['cold']):.0f} "
            f"| {statistics.median(r['warm']):.0f} | {max(r['warm']):.0f} |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
