"""Synthetic 12-MP camera photos for benchmarks, and the two reference timings for derivatives.

`generate` writes JPEGs that cost what real ones cost: 4000 x 3000, about 4-5 MB at quality
92, with smooth structure, grain and shapes (so both the file size and the decode time are
those of a phone photo, unlike flat colour), and camera EXIF: capture time spread over ten
years with its UTC offset, make, model, lens, GPS, orientation (mostly 1, some 6). Files
that exist are kept, so a run is cached. `floor_seconds` is the least a derive can cost
(one decode at the preview's DCT scale); `naive_seconds` is what the textbook pipeline costs
(a full-size decode and `thumbnail()` per size).

    python bench/photos.py OUTDIR --count 1000 [--workers N] [--measure]

Importable with bench/ on sys.path: `from photos import generate, floor_seconds, ...`.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from PIL import ExifTags, Image, ImageChops, ImageDraw
from PIL.TiffImagePlugin import IFDRational

WIDTH, HEIGHT = 4000, 3000
JPEG_QUALITY: Final = 92  # what phones and cameras write by default (90-95)
PREVIEW_SIZE: Final = 1440  # long side, pixels: Keepsake's default preview
THUMBNAIL_SIZE: Final = 250  # short side, pixels: Keepsake's default thumbnail

# Each worker renders this many base scenes once (about 2 s each), each in a few colour
# variants, and cuts every photo from one of them with its own offset, objects and caption:
# a photo then costs about 0.13 s, mostly JPEG encoding, and every file has its own checksum.
BASE_SCENES: Final = 2
COLOUR_VARIANTS: Final = 3
_MARGIN_X, _MARGIN_Y = 400, 300  # base scenes are this much larger than a photo
GRAIN_SIGMA: Final = 7  # sensor noise, in 8-bit levels; sets the file size (about 4.5 MB)

ORIENTATION_6_SHARE: Final = 0.15  # share of photos taken in portrait (stored rotated)
FIRST_YEAR, LAST_YEAR = 2015, 2024

_CAMERAS: Final = (
    ("Apple", "iPhone 13 Pro", "iPhone 13 Pro back triple camera 5.7mm f/1.5", 5.7, 1.5),
    ("samsung", "SM-S918B", "Samsung S23 Ultra wide 6.3mm f/1.7", 6.3, 1.7),
    ("Google", "Pixel 7", "Pixel 7 back camera 6.81mm f/1.85", 6.81, 1.85),
    ("Canon", "Canon EOS R6", "RF24-105mm F4 L IS USM", 50.0, 4.0),
    ("FUJIFILM", "X-T4", "XF18-55mmF2.8-4 R LM OIS", 23.0, 2.8),
    ("SONY", "ILCE-7M3", "FE 35mm F1.8", 35.0, 1.8),
)
# (latitude, longitude, UTC offset in minutes) of places photos are taken.
_PLACES: Final = (
    (48.8566, 2.3522, 60),
    (51.5074, -0.1278, 0),
    (40.7128, -74.0060, -300),
    (-33.8688, 151.2093, 600),
    (35.6762, 139.6503, 540),
    (-22.9068, -43.1729, -180),
    (28.6139, 77.2090, 330),
    (64.1466, -21.9426, 0),
)
_EXPOSURES: Final = ((1, 30), (1, 60), (1, 125), (1, 250), (1, 1000), (1, 4000))
_ISOS: Final = (50, 100, 200, 400, 800, 1600, 3200)

# Per worker process, filled once by _init_worker: scene -> its colour variants.
_scenes: list[list[Image.Image]] = []


def generate(outdir: Path, count: int, *, workers: int | None = None) -> list[Path]:
    """Make sure `outdir` holds `count` photos (IMG_00000.jpg ...); return their paths.

    Existing files are kept. Files are written under a temporary name and renamed, so an
    interrupted run never leaves a partial photo that a later run would keep.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    paths = [outdir / f"IMG_{index:05d}.jpg" for index in range(count)]
    missing = [index for index, path in enumerate(paths) if not path.exists()]
    if missing:
        processes = max(1, min(workers or os.cpu_count() or 1, len(missing)))
        # spawn, not fork: callers (the ingest benchmark) may have threads running.
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes, initializer=_init_worker) as pool:
            jobs = [(str(outdir), index) for index in missing]
            for _ in pool.imap_unordered(_write_photo, jobs, chunksize=4):
                pass
    return paths


def floor_seconds(path: Path, *, preview_size: int = PREVIEW_SIZE, repeat: int = 3) -> float:
    """Best-of-`repeat` time to decode `path` once at the preview's DCT scale (draft)."""

    def decode() -> None:
        with Image.open(path) as image:
            image.draft("RGB", _fit(image.size, preview_size))
            image.load()

    return _best_of(decode, repeat)


def naive_seconds(
    path: Path,
    *,
    sizes: Sequence[int] = (PREVIEW_SIZE, THUMBNAIL_SIZE),
    repeat: int = 3,
) -> float:
    """Best-of-`repeat` time of the textbook pipeline: per size, a full-size decode, then
    `thumbnail()` and a JPEG encode. (`load()` first, since `thumbnail()` on an unloaded
    JPEG would use draft itself.)"""

    def derive() -> None:
        for size in sizes:
            with Image.open(path) as image:
                image.load()
                image.thumbnail((size, size))
                image.save(io.BytesIO(), "JPEG", quality=85)

    return _best_of(derive, repeat)


def _best_of(action: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    scale = min(1.0, long_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


# --- rendering (in worker processes) -------------------------------------------------


def _init_worker() -> None:
    rng = random.Random(os.getpid())
    for _ in range(BASE_SCENES):
        scene = _scene()
        variants = [scene.point(_colour_table(rng, 0.3)) for _ in range(COLOUR_VARIANTS - 1)]
        _scenes.append([scene, *variants])


def _field(size: tuple[int, int], scale: int, sigma: float) -> Image.Image:
    """Gaussian noise at 1/`scale` resolution, blown up: soft structure `scale` px wide."""
    small = Image.effect_noise((size[0] // scale + 2, size[1] // scale + 2), sigma)
    return small.resize(size, Image.Resampling.BICUBIC)


def _scene() -> Image.Image:
    size = (WIDTH + _MARGIN_X, HEIGHT + _MARGIN_Y)
    # Luminance with structure at three scales, lit from the top like a sky, plus a
    # colour cast per channel and grain: roughly the statistics of an outdoor photo.
    light = ImageChops.add(_field(size, 400, 80), _field(size, 60, 50), scale=2.0)
    light = ImageChops.add(light, _field(size, 8, 30), scale=2.0)
    sky = ImageChops.invert(Image.linear_gradient("L").resize(size))
    light = ImageChops.blend(light, sky, 0.35)
    grain = Image.effect_noise(size, GRAIN_SIGMA)
    channels = []
    for _ in range(3):
        channel = ImageChops.add(light, _field(size, 500, 25), offset=-128)
        channels.append(ImageChops.add(channel, grain, offset=-128))
    return Image.merge("RGB", channels)


def _colour_table(rng: random.Random, spread: float) -> list[int]:
    table: list[int] = []
    for _ in range(3):
        gain, shift = rng.uniform(1 - spread, 1 + spread), rng.uniform(-30, 30)
        table += [max(0, min(255, int(level * gain + shift))) for level in range(256)]
    return table


def _render(index: int, rng: random.Random) -> Image.Image:
    variants = _scenes[index % len(_scenes)]
    left, top = rng.randrange(_MARGIN_X), rng.randrange(_MARGIN_Y)
    photo = rng.choice(variants).crop((left, top, left + WIDTH, top + HEIGHT))
    # Objects: the same scene in another colour, seen through a shape.
    for _ in range(rng.randrange(3, 8)):
        r = rng.randrange(100, 700)
        x, y = rng.randrange(WIDTH - 2 * r), rng.randrange(HEIGHT - 2 * r)
        mask = Image.new("L", (2 * r, 2 * r), 0)
        shape = (
            ImageDraw.Draw(mask).ellipse if rng.random() < 0.5 else ImageDraw.Draw(mask).rectangle
        )
        shape((0, rng.randrange(r), 2 * r - 1, 2 * r - 1), fill=rng.randrange(150, 256))
        source = rng.choice(variants).crop((x, y, x + 2 * r, y + 2 * r))
        photo.paste(source, (x + rng.randrange(-50, 50), y + rng.randrange(-50, 50)), mask)
    ImageDraw.Draw(photo).text((40, 40), f"keepsake bench {index:05d}", fill="white", font_size=48)
    return photo


def _exif(index: int, rng: random.Random) -> Image.Exif:
    make, model, lens, focal, aperture = rng.choice(_CAMERAS)
    latitude, longitude, offset = rng.choice(_PLACES)
    start = datetime(FIRST_YEAR, 1, 1)  # local time of the place
    span = (datetime(LAST_YEAR + 1, 1, 1) - start).total_seconds()
    local = start + timedelta(seconds=rng.uniform(0, span))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = make
    exif[ExifTags.Base.Model] = model
    exif[ExifTags.Base.Orientation] = 6 if rng.random() < ORIENTATION_6_SHARE else 1
    exif[ExifTags.Base.Software] = "keepsake bench/photos.py"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = local.strftime("%Y:%m:%d %H:%M:%S")
    sub[ExifTags.Base.DateTimeDigitized] = local.strftime("%Y:%m:%d %H:%M:%S")
    sign = "-" if offset < 0 else "+"
    sub[ExifTags.Base.OffsetTimeOriginal] = f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    sub[ExifTags.Base.SubsecTimeOriginal] = f"{index % 1000:03d}"
    sub[ExifTags.Base.LensModel] = lens
    sub[ExifTags.Base.FocalLength] = IFDRational(round(focal * 100), 100)
    sub[ExifTags.Base.FNumber] = IFDRational(round(aperture * 100), 100)
    sub[ExifTags.Base.ExposureTime] = IFDRational(*rng.choice(_EXPOSURES))
    sub[ExifTags.Base.ISOSpeedRatings] = rng.choice(_ISOS)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    latitude += rng.uniform(-0.05, 0.05)
    longitude += rng.uniform(-0.05, 0.05)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N" if latitude >= 0 else "S"
    gps[ExifTags.GPS.GPSLatitude] = _dms(abs(latitude))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E" if longitude >= 0 else "W"
    gps[ExifTags.GPS.GPSLongitude] = _dms(abs(longitude))
    return exif


def _dms(degrees: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    seconds = round((degrees - whole - minutes / 60) * 3600 * 1000)
    return IFDRational(whole, 1), IFDRational(minutes, 1), IFDRational(seconds, 1000)


def _write_photo(job: tuple[str, int]) -> None:
    outdir, index = Path(job[0]), job[1]
    rng = random.Random(index)
    photo = _render(index, rng)
    target = outdir / f"IMG_{index:05d}.jpg"
    partial = target.with_suffix(f".{os.getpid()}.part")
    photo.save(partial, "JPEG", quality=JPEG_QUALITY, exif=_exif(index, rng).tobytes())
    partial.replace(target)


# --- command line ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="directory for the photos (created)")
    parser.add_argument("--count", type=int, default=1000, help="number of photos (1000)")
    parser.add_argument("--workers", type=int, default=None, help="processes (all cores)")
    parser.add_argument(
        "--measure", action="store_true", help="then print the floor and naive timings"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    paths = generate(args.outdir, args.count, workers=args.workers)
    elapsed = time.perf_counter() - start
    megabytes = sum(path.stat().st_size for path in paths) / 1e6
    print(f"{len(paths)} photos, {megabytes:,.0f} MB in {args.outdir} ({elapsed:.1f} s)")
    if args.measure and paths:
        sample = paths[0]
        print(f"floor (one draft decode): {floor_seconds(sample) * 1000:.0f} ms per photo")
        print(f"naive (full decode per size): {naive_seconds(sample) * 1000:.0f} ms per photo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
