"""The upload check: supported images pass with their size, everything else is refused
with the right error, and bombs are refused from the header before any decode."""

from __future__ import annotations

import struct
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image

from keepsake.errors import CorruptImage, ImageTooLarge, UnsupportedMedia
from keepsake.media import formats
from keepsake.media.formats import probe_image

LIMIT = 50_000_000
HEIC_ENCODER = bool(pillow_heif.libheif_info().get("HEIF"))
needs_heic = pytest.mark.skipif(not HEIC_ENCODER, reason="libheif has no HEVC encoder here")


def photo(size: tuple[int, int] = (320, 240), mode: str = "RGB") -> Image.Image:
    """A small image with structure, so every encoder produces real data."""
    image = Image.linear_gradient("L").resize(size).convert(mode)
    image.paste(Image.new(mode, (size[0] // 4, size[1] // 4), "red" if mode == "RGB" else 90))
    return image


def save(path: Path, image: Image.Image, fmt: str, **options: Any) -> Path:
    image.save(path, fmt, **options)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A valid, tiny PNG whose header claims `width` x `height` RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


FORMATS = [
    ("a.jpg", "JPEG", {}, "image/jpeg"),
    ("progressive.jpg", "JPEG", {"progressive": True}, "image/jpeg"),
    ("a.png", "PNG", {}, "image/png"),
    ("lossy.webp", "WEBP", {}, "image/webp"),
    ("lossless.webp", "WEBP", {"lossless": True}, "image/webp"),
    ("a.gif", "GIF", {}, "image/gif"),
    ("a.tif", "TIFF", {}, "image/tiff"),
    ("lzw.tif", "TIFF", {"compression": "tiff_lzw"}, "image/tiff"),
    pytest.param("a.heic", "HEIF", {"quality": 60}, "image/heic", marks=needs_heic),
]


@pytest.mark.parametrize(("name", "fmt", "options", "mime"), FORMATS)
def test_every_supported_format_probes_with_its_type_and_size(
    tmp_path: Path, name: str, fmt: str, options: dict[str, Any], mime: str
) -> None:
    path = save(tmp_path / name, photo((320, 240)), fmt, **options)

    probe = probe_image(path, LIMIT)

    assert (probe.mime_type, probe.format, probe.width, probe.height, probe.frames) == (
        mime,
        fmt,
        320,
        240,
        1,
    )
    assert formats.SUPPORTED[probe.mime_type] == probe.format


@pytest.mark.parametrize(("name", "fmt"), [("a.gif", "GIF"), ("a.webp", "WEBP"), ("a.png", "PNG")])
def test_animations_and_pages_are_counted_as_frames(tmp_path: Path, name: str, fmt: str) -> None:
    frames = [Image.new("RGB", (60, 40), (40 * i, 0, 0)) for i in range(5)]
    path = tmp_path / name
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:])

    assert probe_image(path, LIMIT).frames == 5


def test_multi_page_tiff_counts_pages(tmp_path: Path) -> None:
    pages = [photo((60, 40)) for _ in range(3)]
    path = tmp_path / "scan.tif"
    pages[0].save(path, "TIFF", save_all=True, append_images=pages[1:])

    assert probe_image(path, LIMIT).frames == 3


def test_type_is_sniffed_from_content_not_the_file_name(tmp_path: Path) -> None:
    png_named_jpg = save(tmp_path / "holiday.jpg", photo(), "PNG")
    text_named_jpg = tmp_path / "notes.jpg"
    text_named_jpg.write_text("not a photo")

    assert probe_image(png_named_jpg, LIMIT).mime_type == "image/png"
    with pytest.raises(UnsupportedMedia):
        probe_image(text_named_jpg, LIMIT)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "HTML"),
        (b"just some text\n", "Files of this type"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64, "Videos"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64, "AVIF"),
        (b"PK\x03\x04" + b"\x00" * 64, "ZIP"),
    ],
)
def test_unsupported_files_are_refused_and_named(
    tmp_path: Path, content: bytes, named: str
) -> None:
    path = tmp_path / "upload"
    path.write_bytes(content)

    with pytest.raises(UnsupportedMedia) as refused:
        probe_image(path, LIMIT)

    assert named.lower() in refused.value.detail.lower()


def test_bmp_is_refused_although_pillow_reads_it(tmp_path: Path) -> None:
    path = save(tmp_path / "a.bmp", photo(), "BMP")

    with pytest.raises(UnsupportedMedia, match="BMP"):
        probe_image(path, LIMIT)


def test_camera_raw_that_looks_like_tiff_is_refused(tmp_path: Path) -> None:
    # A NEF or ARW starts with a reduced-resolution preview (NewSubfileType bit 0).
    path = save(tmp_path / "DSC_0001.NEF", photo(), "TIFF", tiffinfo={254: 1})

    with pytest.raises(UnsupportedMedia, match="RAW"):
        probe_image(path, LIMIT)


@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_jpeg_is_corrupt(tmp_path: Path, keep: float) -> None:
    data = save(tmp_path / "full.jpg", photo(), "JPEG").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * keep)])

    with pytest.raises(CorruptImage, match="truncated"):
        probe_image(path, LIMIT)


def test_jpeg_missing_only_its_end_marker_is_corrupt(tmp_path: Path) -> None:
    data = save(tmp_path / "full.jpg", photo(), "JPEG").read_bytes()
    assert data.endswith(b"\xff\xd9")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[:-2])

    with pytest.raises(CorruptImage):
        probe_image(path, LIMIT)


@pytest.mark.parametrize(
    "trailer",
    [
        b"SEFH" + b"\x00" * 200 + b"SEFT",  # Samsung's trailer
        b"\x00" * 4096,  # padding
        b"PK\x03\x04" + b"\x01" * 200,  # a ZIP: a polyglot, accepted (see formats docstring)
    ],
)
def test_bytes_after_the_jpeg_end_marker_are_accepted(tmp_path: Path, trailer: bytes) -> None:
    data = save(tmp_path / "full.jpg", photo(), "JPEG").read_bytes()
    path = tmp_path / "camera.jpg"
    path.write_bytes(data + trailer)

    assert probe_image(path, LIMIT).format == "JPEG"


def test_png_with_a_damaged_byte_fails_its_checksum(tmp_path: Path) -> None:
    data = bytearray(save(tmp_path / "a.png", photo(), "PNG").read_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(data))

    with pytest.raises(CorruptImage, match="checksum"):
        probe_image(path, LIMIT)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.png", "PNG"),
        ("a.webp", "WEBP"),
        ("a.gif", "GIF"),
        ("a.tif", "TIFF"),
        pytest.param("a.heic", "HEIF", marks=needs_heic),
    ],
)
def test_truncated_files_of_every_format_are_corrupt(tmp_path: Path, name: str, fmt: str) -> None:
    data = save(tmp_path / name, photo(), fmt).read_bytes()
    path = tmp_path / f"cut-{name}"
    path.write_bytes(data[: len(data) * 2 // 3])

    with pytest.raises(CorruptImage):
        probe_image(path, LIMIT)


def test_decompression_bomb_is_refused_from_the_header_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(100_000, 100_000))  # 10 GP in a 1 KB file

    def no_pillow(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the bomb reached Pillow")

    monkeypatch.setattr(Image, "open", no_pillow)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ImageTooLarge, match="100000 x 100000"):
            probe_image(path, 250_000_000)
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert elapsed < 0.05
    assert peak < 1_000_000


def test_jpeg_bomb_is_refused_from_its_frame_header(tmp_path: Path) -> None:
    data = bytearray(save(tmp_path / "a.jpg", photo((320, 240)), "JPEG").read_bytes())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 60_000, 60_000)  # height, width
    path = tmp_path / "bomb.jpg"
    path.write_bytes(bytes(data))

    with pytest.raises(ImageTooLarge):
        probe_image(path, 250_000_000)


def test_gif_frame_reaching_beyond_the_screen_counts_towards_the_limit(tmp_path: Path) -> None:
    data = bytearray(save(tmp_path / "a.gif", Image.new("P", (10, 10)), "GIF").read_bytes())
    descriptor = data.index(b"\x2c\x00\x00\x00\x00")
    struct.pack_into("<HH", data, descriptor + 5, 30_000, 30_000)  # frame 30,000 x 30,000
    path = tmp_path / "bomb.gif"
    path.write_bytes(bytes(data))

    with pytest.raises(ImageTooLarge):
        probe_image(path, 250_000_000)


def test_pixel_limit_is_the_callers(tmp_path: Path) -> None:
    path = save(tmp_path / "a.png", photo((640, 480)), "PNG")

    with pytest.raises(ImageTooLarge):
        probe_image(path, 640 * 480 - 1)
    assert probe_image(path, 640 * 480).width == 640


def test_pillows_own_guard_never_refuses_what_keepsake_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With Pillow's global guard below the image, Pillow would warn (an error under pytest)
    # or refuse; probing with a higher limit must raise the guard, never lower it.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    path = save(tmp_path / "a.png", photo((300, 200)), "PNG")

    assert probe_image(path, 100_000).width == 300
    assert Image.MAX_IMAGE_PIXELS == 100_000
    probe_image(path, 60_000)
    assert Image.MAX_IMAGE_PIXELS == 100_000


def test_12mp_jpeg_probe_is_cheap(tmp_path: Path) -> None:
    path = save(tmp_path / "big.jpg", photo((4000, 3000)), "JPEG", quality=92)
    probe_image(path, LIMIT)  # warm up Pillow's plugin registry

    started = time.perf_counter()
    probe = probe_image(path, LIMIT)
    elapsed = time.perf_counter() - started

    assert (probe.width, probe.height) == (4000, 3000)
    assert elapsed < 0.05  # a decode takes about 0.1 s; this reads headers and markers


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "image/heif"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", None),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", None),
    ],
)
def test_heif_is_told_apart_from_avif_and_video_by_brand(head: bytes, mime: str | None) -> None:
    assert formats.sniff_mime_type(head) == mime


def test_jpeg_with_a_second_mpf_image_is_one_jpeg(tmp_path: Path) -> None:
    # Phones store depth maps and stereo pairs as MPF images after the first one.
    path = tmp_path / "portrait.jpg"
    photo().save(path, "MPO", save_all=True, append_images=[photo()])

    probe = probe_image(path, LIMIT)

    assert (probe.mime_type, probe.format, probe.frames) == ("image/jpeg", "JPEG", 1)


@pytest.mark.parametrize("gap", [b"\xff" * 100, b"\x00" * 100])
def test_a_few_fill_or_stray_bytes_between_segments_are_tolerated(
    tmp_path: Path, gap: bytes
) -> None:
    data = save(tmp_path / "a.jpg", photo(), "JPEG").read_bytes()
    sos = data.index(b"\xff\xda")
    path = tmp_path / "padded.jpg"
    path.write_bytes(data[:sos] + gap + data[sos:])

    assert probe_image(path, LIMIT).width == 320


@pytest.mark.parametrize("gap", [b"\xff" * 5_000_000, b"\x00" * 5_000_000])
def test_megabytes_between_segments_are_refused_before_pillow_crawls_them(
    tmp_path: Path, gap: bytes
) -> None:
    data = save(tmp_path / "a.jpg", photo(), "JPEG").read_bytes()
    sos = data.index(b"\xff\xda")
    path = tmp_path / "padded.jpg"
    path.write_bytes(data[:sos] + gap + data[sos:])

    started = time.perf_counter()
    with pytest.raises(CorruptImage, match="between its segments"):
        probe_image(path, LIMIT)
    assert time.perf_counter() - started < 0.1
