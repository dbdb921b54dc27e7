"""EXIF reading: the fields Keepsake keeps are read from every container, with the right
time zone, signs and orientation, and damaged or hostile blocks give None, not errors."""

from __future__ import annotations

import json
import random
import struct
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from keepsake.media.exif import (
    MAX_LENS_CHARS,
    MAX_MAKE_CHARS,
    MAX_MODEL_CHARS,
    PhotoMetadata,
    read_metadata,
    read_orientation,
)

Base, GPS = ExifTags.Base, ExifTags.GPS
needs_heic = pytest.mark.skipif(
    not pillow_heif.libheif_info().get("HEIF"), reason="libheif has no HEVC encoder here"
)


def camera_exif(
    *,
    taken: str | None = "2023:07:14 18:30:05",
    offset: str | None = "+02:00",
    orientation: int | None = None,
    gps: tuple[str, tuple[Any, ...], str, tuple[Any, ...]] | None = None,
    **base: Any,
) -> Image.Exif:
    """EXIF as a Canon writes it; every field can be overridden or left out."""
    exif = Image.Exif()
    exif[Base.Make] = base.pop("make", "Canon")
    exif[Base.Model] = base.pop("model", "Canon EOS R5")
    if orientation is not None:
        exif[Base.Orientation] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if taken is not None:
        sub[Base.DateTimeOriginal] = taken
    if offset is not None:
        sub[Base.OffsetTimeOriginal] = offset
    sub[Base.LensModel] = base.pop("lens", "RF24-105mm F4 L IS USM")
    sub[Base.ExposureTime] = IFDRational(1, 250)
    sub[Base.FNumber] = IFDRational(28, 10)
    sub[Base.ISOSpeedRatings] = 400
    sub[Base.FocalLength] = IFDRational(50, 1)
    for tag, value in base.items():
        sub[getattr(Base, tag)] = value
    if gps is not None:
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        lat_ref, lat, lon_ref, lon = gps
        gps_ifd[GPS.GPSLatitudeRef], gps_ifd[GPS.GPSLatitude] = lat_ref, lat
        gps_ifd[GPS.GPSLongitudeRef], gps_ifd[GPS.GPSLongitude] = lon_ref, lon
    return exif


def dms(degrees: int, minutes: int, seconds: float) -> tuple[IFDRational, ...]:
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(round(seconds * 100), 100)


SYDNEY = ("S", dms(33, 51, 31.08), "E", dms(151, 12, 33.48))


def save_with(path: Path, exif: Image.Exif | bytes, fmt: str = "JPEG") -> Path:
    data = exif.tobytes() if isinstance(exif, Image.Exif) else exif
    Image.new("RGB", (64, 48), "teal").save(path, fmt, exif=data)
    return path


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jpg", "JPEG"),
        ("a.png", "PNG"),
        ("a.webp", "WEBP"),
        ("a.tif", "TIFF"),
        pytest.param("a.heic", "HEIF", marks=needs_heic),
    ],
)
def test_when_where_and_with_what_are_read_from_every_container(
    tmp_path: Path, name: str, fmt: str
) -> None:
    path = save_with(tmp_path / name, camera_exif(gps=SYDNEY, SubsecTimeOriginal="25"), fmt)

    meta = read_metadata(path)

    assert meta.taken_at == datetime(2023, 7, 14, 16, 30, 5, 250_000, tzinfo=UTC)
    assert (meta.offset_minutes, meta.taken_at_source) == (120, "exif")
    assert (meta.make, meta.model, meta.lens) == ("Canon", "Canon EOS R5", "RF24-105mm F4 L IS USM")
    assert meta.latitude == pytest.approx(-33.858633, abs=1e-6)
    assert meta.longitude == pytest.approx(151.209300, abs=1e-6)
    assert (meta.width, meta.height, meta.orientation) == (64, 48, 1)
    assert meta.details == {
        "iso": 400,
        "exposure_time_s": 0.004,
        "f_number": 2.8,
        "focal_length_mm": 50.0,
    }


def test_time_without_offset_is_the_camera_clock_labelled_utc(tmp_path: Path) -> None:
    path = save_with(tmp_path / "a.jpg", camera_exif(offset=None))

    meta = read_metadata(path)

    assert meta.taken_at == datetime(2023, 7, 14, 18, 30, 5, tzinfo=UTC)
    assert meta.offset_minutes is None
    assert meta.taken_at_source == "exif"


def test_negative_offset_moves_the_instant_later(tmp_path: Path) -> None:
    path = save_with(tmp_path / "a.jpg", camera_exif(offset="-05:30"))

    meta = read_metadata(path)

    assert meta.taken_at == datetime(2023, 7, 15, 0, 0, 5, tzinfo=UTC)
    assert meta.offset_minutes == -330


def test_offset_time_is_used_when_offset_time_original_is_absent(tmp_path: Path) -> None:
    path = save_with(tmp_path / "a.jpg", camera_exif(offset=None, OffsetTime="+09:00"))

    meta = read_metadata(path)

    assert meta.offset_minutes == 540
    assert meta.taken_at == datetime(2023, 7, 14, 9, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "taken", ["0000:00:00 00:00:00", "    :  :     :  :  ", "2023:13:45 25:61:00", "garbage"]
)
def test_impossible_dates_are_no_date(tmp_path: Path, taken: str) -> None:
    path = save_with(tmp_path / "a.jpg", camera_exif(taken=taken))

    meta = read_metadata(path)

    assert (meta.taken_at, meta.taken_at_source, meta.offset_minutes) == (None, None, None)


def test_digitized_time_stands_in_for_a_missing_original_time(tmp_path: Path) -> None:
    path = save_with(
        tmp_path / "scan.jpg", camera_exif(taken=None, DateTimeDigitized="1999:12:31 23:59:59")
    )

    assert read_metadata(path).taken_at == datetime(1999, 12, 31, 21, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lat_ref", "lon_ref", "signs"),
    [("N", "E", (1, 1)), ("S", "E", (-1, 1)), ("N", "W", (1, -1)), ("S", "W", (-1, -1))],
)
def test_gps_references_give_signed_degrees(
    tmp_path: Path, lat_ref: str, lon_ref: str, signs: tuple[int, int]
) -> None:
    gps = (lat_ref, dms(10, 30, 0), lon_ref, dms(20, 15, 0))
    path = save_with(tmp_path / "a.jpg", camera_exif(gps=gps))

    meta = read_metadata(path)

    assert (meta.latitude, meta.longitude) == (signs[0] * 10.5, signs[1] * 20.25)


@pytest.mark.parametrize(
    "gps",
    [
        ("N", (IFDRational(1, 0), IFDRational(2, 1), IFDRational(3, 1)), "E", dms(1, 0, 0)),
        ("N", dms(0, 0, 0), "E", dms(0, 0, 0)),  # no fix: "null island"
        ("N", dms(95, 0, 0), "E", dms(1, 0, 0)),  # beyond the pole
        ("N", (), "E", dms(1, 0, 0)),
    ],
    ids=["zero-denominator", "zero-zero", "out-of-range", "empty"],
)
def test_degenerate_gps_gives_no_position(tmp_path: Path, gps: Any) -> None:
    path = save_with(tmp_path / "a.jpg", camera_exif(gps=gps))

    meta = read_metadata(path)

    assert (meta.latitude, meta.longitude) == (None, None)


@pytest.mark.parametrize(
    ("orientation", "expected", "size"),
    [(1, 1, (64, 48)), (3, 3, (64, 48)), (6, 6, (48, 64)), (8, 8, (48, 64)), (9, 1, (64, 48))],
)
def test_quarter_turns_swap_the_displayed_size(
    tmp_path: Path, orientation: int, expected: int, size: tuple[int, int]
) -> None:
    path = save_with(tmp_path / "a.jpg", camera_exif(orientation=orientation))

    meta = read_metadata(path)

    assert (meta.orientation, (meta.width, meta.height)) == (expected, size)
    assert read_orientation(path) == expected


@needs_heic
def test_heic_rotation_is_applied_by_the_decoder_not_again(tmp_path: Path) -> None:
    path = save_with(tmp_path / "a.heic", camera_exif(orientation=6), "HEIF")

    meta = read_metadata(path)

    assert (meta.orientation, meta.width, meta.height) == (1, 48, 64)
    assert read_orientation(path) == 1


def test_image_without_exif_has_only_its_size(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (64, 48)).save(path)

    assert read_metadata(path) == PhotoMetadata(width=64, height=48)


def test_a_file_that_is_not_an_image_gives_empty_metadata(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")

    assert read_metadata(path) == PhotoMetadata()


def _garbage_blocks() -> dict[str, bytes]:
    valid = camera_exif(gps=SYDNEY).tobytes()[6:]  # without the "Exif\0\0" prefix
    rng = random.Random(7)
    flipped = valid[:8] + bytes(b ^ 0x5A for b in valid[8:])
    return {
        "random": bytes(rng.randrange(256) for _ in range(4000)),
        "ifd-beyond-end": b"MM\x00*\x7f\xff\xff\xff",
        "huge-entry-count": b"MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x00" * 20,
        "half": valid[: len(valid) // 2],
        "flipped": flipped,
        "bad-magic": b"II\x2b\x00" + valid[4:],
        "self-pointing-exif-ifd": b"MM\x00*\x00\x00\x00\x08\x00\x01"
        + struct.pack(">HHII", 0x8769, 4, 1, 8)
        + b"\x00\x00\x00\x00",
    }


@pytest.mark.parametrize("kind", list(_garbage_blocks()))
def test_garbage_exif_gives_none_fields_quickly(tmp_path: Path, kind: str) -> None:
    path = save_with(tmp_path / "a.jpg", b"Exif\x00\x00" + _garbage_blocks()[kind])

    started = time.perf_counter()
    meta = read_metadata(path)

    assert time.perf_counter() - started < 0.05
    assert (meta.width, meta.height) == (64, 48)
    assert 1 <= meta.orientation <= 8
    json.dumps(meta.details, allow_nan=False)
    if kind not in ("half", "flipped"):  # those may keep a few intact fields
        assert meta == PhotoMetadata(width=64, height=48)


def test_giant_exif_chunk_is_read_only_in_part(tmp_path: Path) -> None:
    block = camera_exif().tobytes()[6:] + bytes(20 * 1024 * 1024)  # 20 MB eXIf chunk
    path = save_with(tmp_path / "a.png", block, "PNG")

    started = time.perf_counter()
    meta = read_metadata(path)

    assert time.perf_counter() - started < 0.5
    assert meta.make == "Canon"  # the tags are at the start and survive


def test_strings_lose_nuls_and_whitespace_and_are_capped(tmp_path: Path) -> None:
    exif = camera_exif(make="  Canon\x00\x00\x00junk", model="M" * 500, lens="\tL" * 300)
    path = save_with(tmp_path / "a.jpg", exif)

    meta = read_metadata(path)

    assert meta.make == "Canon"
    assert meta.model == "M" * MAX_MODEL_CHARS
    assert meta.lens is not None and len(meta.lens) == MAX_LENS_CHARS
    assert "\t" not in meta.lens
    assert MAX_MAKE_CHARS == 100


def test_blank_strings_are_none(tmp_path: Path) -> None:
    path = save_with(tmp_path / "a.jpg", camera_exif(make="   ", model="\x00\x00", lens=""))

    meta = read_metadata(path)

    assert (meta.make, meta.model, meta.lens) == (None, None, None)
