"""Which image files Keepsake accepts, and the cheap check every upload gets before it is kept.

Files are recognised by their content, never by name or declared type. `probe_image` reads
only headers and container structure: no pixel is decoded, so it is safe to run on every
upload in a request thread, and a decompression bomb is refused from its header alone.

Bytes after the end of an image are accepted, because real cameras put data there: MPF
depth maps and second images after a JPEG's end marker, Samsung's trailer, the video of a
"motion photo". The same rule accepts polyglots (a JPEG with a ZIP or an HTML page
appended). That is deliberate and safe here: Keepsake never interprets an original, it
keeps it byte-identical, serves it only under the image type sniffed here, and everything
shown in the UI is a re-encoded derivative that carries none of the appended bytes. The
HTTP layer must still send originals with `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import mmap
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeVar

import pillow_heif
from PIL import Image

from keepsake.errors import CorruptImage, ImageTooLarge, UnsupportedMedia

# Mime type -> Pillow format name. HEIC (HEVC-coded HEIF, what phones write) and generic
# HEIF share one decoder.
SUPPORTED: Final = MappingProxyType(
    {
        "image/jpeg": "JPEG",
        "image/png": "PNG",
        "image/webp": "WEBP",
        "image/gif": "GIF",
        "image/tiff": "TIFF",
        "image/heic": "HEIF",
        "image/heif": "HEIF",
    }
)

_ACCEPTED = "JPEG, PNG, WebP, GIF, TIFF or HEIC"

# Bytes read to recognise a file. The longest signature checked is an ISO-BMFF `ftyp` box
# with its list of compatible brands; 256 bytes hold every list seen in practice.
SNIFF_BYTES: Final = 256

# Upper bounds on structure walks, so a hostile file made of millions of tiny segments
# cannot hold a request thread for long. Each is far above anything a real file has:
# a JPEG has about 20 segments (a few hundred for a progressive one with many scans),
# libpng writes 8 KiB IDAT chunks (a 2 GB PNG has about 250,000), an animated WebP has
# one chunk per frame.
MAX_JPEG_SEGMENTS: Final = 10_000
MAX_PNG_CHUNKS: Final = 1_000_000
MAX_WEBP_CHUNKS: Final = 200_000
MAX_GIF_BLOCKS: Final = 2_000_000  # data sub-blocks: 500 MB of GIF at the usual 255 bytes
MAX_BMFF_BOXES: Final = 10_000
MAX_TIFF_IFD_ENTRIES: Final = 4_096

# EXIF blocks are read whole, so their size is bounded: a JPEG's is at most 64 KiB by
# construction, phones write about 12-60 KiB; a PNG or WebP chunk could claim gigabytes.
# Past this size only the first bytes are read (tags stored beyond them are lost).
MAX_EXIF_BYTES: Final = 1024 * 1024

_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_GENERIC_BRANDS: Final = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})

# TIFF tags used to tell a photo from a camera RAW file that merely uses TIFF's layout.
_TAG_NEW_SUBFILE_TYPE, _TAG_WIDTH, _TAG_HEIGHT = 254, 256, 257
_TAG_PHOTOMETRIC, _TAG_DNG_VERSION = 262, 50706
_PHOTOMETRIC_RAW: Final = frozenset({32803, 34892})  # colour filter array, linear raw
_TIFF_STRIPS: Final = ((273, 279), (324, 325))  # (offsets, byte counts): strips, tiles

# After a JPEG scan header comes entropy-coded data, in which 0xFF is always followed by
# 0x00 (stuffing) or a restart marker. The first other marker ends the scan. (The pattern
# has no repetition on purpose: `\xff+` makes the search 100 times slower.)
_JPEG_SCAN_END: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_FILL_CHUNK: Final = 64 * 1024  # a run of 0xFF fill bytes is skipped this much at a time
# Stray or fill bytes allowed between two JPEG segments. Encoders write none or a few;
# see _jpeg_segments for why there is a bound at all.
MAX_JPEG_GAP_BYTES: Final = 4096
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})

_REGISTER_LOCK: Final = threading.Lock()
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What an image's header says: type and stored size (before any EXIF rotation)."""

    mime_type: str
    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True, slots=True)
class ImageProbe:
    """An image that passed the upload check.

    `width` and `height` are the stored size, before EXIF orientation (HEIF decoders apply
    the container's rotation, so for HEIF they are the displayed size). `frames` counts
    animation frames (GIF, WebP, APNG), pages (TIFF) or top-level images (HEIF); a JPEG is
    one frame even when it carries MPF depth maps.
    """

    mime_type: str
    format: str
    width: int
    height: int
    frames: int


def register_heif() -> None:
    """Teach Pillow to open HEIF/HEIC. Idempotent and thread-safe; cheap after the first call."""
    if "HEIF" in Image.OPEN:
        return
    with _REGISTER_LOCK:
        if "HEIF" not in Image.OPEN:
            Image.init()
            # Depth maps and auxiliary images are never used, so they are not even parsed.
            pillow_heif.register_heif_opener(depth_images=False, aux_images=False)


def allow_pixels(max_pixels: int) -> None:
    """Keep Pillow's own, process-wide bomb guard from refusing what Keepsake allows.

    Keepsake checks `max_pixels` itself, from the header, before Pillow sees the file.
    Pillow's guard is one global that warns above its limit (89 MP by default) and raises
    above twice that, so with Keepsake's 250 MP default it would refuse a 200 MP phone
    photo. It is raised once to the largest limit in use and never lowered, so concurrent
    callers cannot make it flap; it stays as a backstop for code that opens images without
    a probe.
    """
    current = Image.MAX_IMAGE_PIXELS
    if current is None or current >= max_pixels:
        return
    with _REGISTER_LOCK:
        current = Image.MAX_IMAGE_PIXELS
        if current is not None and current < max_pixels:
            Image.MAX_IMAGE_PIXELS = max_pixels


def sniff_mime_type(head: bytes) -> str | None:
    """The supported mime type `head` (a file's first bytes) starts, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        return _heif_mime_type(head)
    return None


def read_header(path: Path) -> ImageHeader:
    """Type and stored size of the image at `path`, from its header only.

    Raises UnsupportedMedia for anything that is not a supported image, CorruptImage when
    the header cannot be read. Does not check the pixel limit or the rest of the file.
    """
    register_heif()
    with _mapped(path) as buf:
        return _header(buf, path)


def probe_image(path: Path, max_pixels: int) -> ImageProbe:
    """Check an uploaded file cheaply and say what it is, without decoding pixels.

    Raises UnsupportedMedia (not a supported image), ImageTooLarge (more than `max_pixels`
    pixels, refused from the header) or CorruptImage (truncated or damaged structure).
    """
    register_heif()
    allow_pixels(max_pixels)
    with _mapped(path) as buf:
        header = _header(buf, path)
        check_pixels(header, max_pixels)
        frames = _STRUCTURE_CHECKS[header.format](buf, path)
    return ImageProbe(header.mime_type, header.format, header.width, header.height, frames)


def check_pixels(header: ImageHeader, max_pixels: int) -> None:
    """Refuse an image whose header declares more than `max_pixels` pixels."""
    if header.pixels > max_pixels:
        raise ImageTooLarge(
            f"The image is {header.width} x {header.height} pixels "
            f"({header.pixels / 1e6:.1f} MP); the limit is {max_pixels / 1e6:.1f} MP.",
            width=header.width,
            height=header.height,
            max_pixels=max_pixels,
        )


@contextmanager
def exif_block(path: Path) -> Iterator[bytes | mmap.mmap | None]:
    """The image's EXIF block, a TIFF structure starting with its byte-order mark.

    Located by container: a JPEG APP1 segment, a PNG eXIf chunk, a WebP EXIF chunk, the
    HEIF Exif item, or for a TIFF file the file itself (mapped, not read). Yields None when
    there is none or the container cannot be read; never raises for a damaged file.
    """
    register_heif()
    if path.stat().st_size == 0:
        yield None
        return
    with _mapped(path) as buf:
        fmt = SUPPORTED.get(sniff_mime_type(buf[:SNIFF_BYTES]) or "")
        if fmt == "TIFF":
            yield buf
            return
        try:
            block = _EXIF_FINDERS[fmt](buf, path) if fmt else None
        except (CorruptImage, ImageTooLarge, struct.error):
            block = None
    if block is not None and block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    yield block or None


# --- reading -------------------------------------------------------------------------


@contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap]:
    """The file, mapped read-only: walks touch only the pages they read, without copies."""
    with path.open("rb") as file:
        size = path.stat().st_size
        if size == 0:
            raise UnsupportedMedia("The file is empty.")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield buf


def _u16be(buf: mmap.mmap, pos: int) -> int:
    return int.from_bytes(buf[pos : pos + 2], "big")


def _u32be(buf: mmap.mmap, pos: int) -> int:
    return int.from_bytes(buf[pos : pos + 4], "big")


def _u32le(buf: mmap.mmap, pos: int) -> int:
    return int.from_bytes(buf[pos : pos + 4], "little")


def _truncated(kind: str) -> CorruptImage:
    return CorruptImage(f"The {kind} file is truncated or damaged: it ends too early.")


# --- recognising ---------------------------------------------------------------------

# Common files that are not supported images, named so the refusal can say what it saw.
_KNOWN_OTHERS: Final = (
    (b"%PDF", "PDF documents"),
    (b"PK\x03\x04", "ZIP archives"),
    (b"BM", "BMP images"),
    (b"\x00\x00\x01\x00", "ICO icons"),
    (b"IIU\x00", "Panasonic RAW files"),
    (b"IIRO", "Olympus RAW files"),
    (b"II+\x00", "BigTIFF files"),
    (b"MM\x00+", "BigTIFF files"),
    (b"\x1aE\xdf\xa3", "Matroska/WebM videos"),
    (b"8BPS", "Photoshop documents"),
)


def _heif_mime_type(head: bytes) -> str | None:
    size = int.from_bytes(head[0:4], "big")
    brands = {head[8:12]}
    end = min(max(size, 16), len(head))
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    if brands & _HEIF_BRANDS:
        return "image/heic"
    if brands & _AVIF_BRANDS:
        return None
    if head[8:12] in _HEIF_GENERIC_BRANDS:
        return "image/heif"
    return None


def _describe_unsupported(head: bytes) -> str:
    for magic, name in _KNOWN_OTHERS:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "AVIF images" if brand in _AVIF_BRANDS else "Videos"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in head.lower():
        return "SVG images"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML pages"
    return "Files of this type"


def _header(buf: mmap.mmap, path: Path) -> ImageHeader:
    head = buf[:SNIFF_BYTES]
    mime = sniff_mime_type(head)
    if mime is None:
        raise UnsupportedMedia(
            f"{_describe_unsupported(head)} are not supported; upload {_ACCEPTED} images."
        )
    fmt = SUPPORTED[mime]
    width, height = _MEASURE[fmt](buf, path)
    if width <= 0 or height <= 0:
        raise CorruptImage(f"The {fmt} header declares an empty image ({width} x {height}).")
    return ImageHeader(mime, fmt, width, height)


# --- JPEG ----------------------------------------------------------------------------


def _jpeg_segments(buf: mmap.mmap) -> Iterator[tuple[int, int, int]]:
    """Yield (marker, start of payload, end of payload) for each segment after SOI.

    Entropy-coded data after a scan header is skipped; standalone markers yield an empty
    payload; the walk ends after EOI. Like libjpeg, stray bytes between segments are skipped
    rather than refused. Raises CorruptImage when the file ends before EOI.
    """
    size = len(buf)
    pos = 2
    for _ in range(MAX_JPEG_SEGMENTS):
        # Stray bytes and 0xFF fill before a marker are skipped, as libjpeg does, but only a
        # few: Pillow's header parser crawls through them a byte at a time (2 s per MB).
        gap_start, pos = pos, buf.find(b"\xff", pos)
        if pos < 0:
            raise _truncated("JPEG")
        pos = _after_fill(buf, pos)
        if pos - gap_start > MAX_JPEG_GAP_BYTES + 1:
            raise CorruptImage("The JPEG file is damaged: too many bytes between its segments.")
        if pos >= size:
            raise _truncated("JPEG")
        marker = buf[pos]
        pos += 1
        if marker == 0x00:  # a stuffed byte outside a scan: stray data
            continue
        if marker in _JPEG_STANDALONE or marker == _JPEG_EOI:
            yield marker, pos, pos
            if marker == _JPEG_EOI:
                return
            continue
        if pos + 2 > size:
            raise _truncated("JPEG")
        length = _u16be(buf, pos)
        end = pos + length
        if length < 2 or end > size:
            raise _truncated("JPEG")
        yield marker, pos + 2, end
        pos = end
        if marker == _JPEG_SOS:
            pos = _scan_end(buf, pos)
    raise CorruptImage(f"The JPEG file has more than {MAX_JPEG_SEGMENTS} segments.")


def _after_fill(buf: mmap.mmap, pos: int) -> int:
    """Position of the first byte after the 0xFF at `pos` and any 0xFF fill bytes after it."""
    start = pos
    pos += 1
    while pos < len(buf) and buf[pos] == 0xFF:
        chunk = buf[pos : pos + _FILL_CHUNK]  # a run of fill: strip it at C speed
        pos += len(chunk) - len(chunk.lstrip(b"\xff"))
        if len(chunk) == _FILL_CHUNK and pos - start > MAX_JPEG_GAP_BYTES:
            break  # the caller refuses it; no need to measure all of it
    return pos


def _scan_end(buf: mmap.mmap, pos: int) -> int:
    """Where the entropy-coded data that starts at `pos` ends (at a marker's 0xFF).

    About 0.5 ns per byte on real data, where 0xFF is rare. Crafted data made of 0xFF slows
    the search to about 50 ns per byte: still linear in the file's size, so the upload size
    limit bounds it, but a multi-gigabyte crafted file can hold a thread for minutes.
    """
    found = _JPEG_SCAN_END.search(buf, pos)
    if found is None:
        raise _truncated("JPEG")
    return found.start()


def _measure_jpeg(buf: mmap.mmap, _path: Path) -> tuple[int, int]:
    for marker, start, end in _jpeg_segments(buf):
        if marker in _JPEG_SOF:
            if end - start < 6:
                break
            return _u16be(buf, start + 3), _u16be(buf, start + 1)
        if marker in (_JPEG_SOS, _JPEG_EOI):
            break
    raise CorruptImage("The JPEG file has no frame header before its image data.")


def _check_jpeg(buf: mmap.mmap, path: Path) -> int:
    # Walking every segment to the end-of-image marker finds truncation at the cost of a
    # byte search through the file (2-7 ms for 4 MB), instead of a 100 ms decode.
    # Whatever follows the marker is accepted: see the module docstring.
    scans = 0
    for marker, _start, _end in _jpeg_segments(buf):
        scans += marker == _JPEG_SOS
    if scans == 0:
        raise CorruptImage("The JPEG file has no image data.")
    _pillow_agrees(path, "JPEG")
    return 1


# --- PNG -----------------------------------------------------------------------------


def _measure_png(buf: mmap.mmap, _path: Path) -> tuple[int, int]:
    if len(buf) < 33 or buf[12:16] != b"IHDR":
        raise CorruptImage("The PNG file does not start with an image header.")
    return _u32be(buf, 16), _u32be(buf, 20)


def _crc32(buf: mmap.mmap, start: int, end: int) -> int:
    with memoryview(buf) as view, view[start:end] as part:
        return zlib.crc32(part)


def _check_png(buf: mmap.mmap, path: Path) -> int:
    # The same checks as Pillow's verify() (every chunk's CRC, up to IEND), with a bound on
    # the number of chunks and the APNG frame count picked up on the way.
    size = len(buf)
    pos = 8
    frames = 1
    seen_data = False
    for _ in range(MAX_PNG_CHUNKS):
        if pos + 12 > size:
            raise _truncated("PNG")
        length = _u32be(buf, pos)
        kind = buf[pos + 4 : pos + 8]
        end = pos + 8 + length
        if length > 0x7FFFFFFF or end + 4 > size:
            raise _truncated("PNG")
        if _crc32(buf, pos + 4, end) != _u32be(buf, end):
            name = kind.decode("latin-1") if kind.isalpha() else "a"
            raise CorruptImage(f"The PNG file is damaged: {name} chunk fails its checksum.")
        if kind == b"acTL" and length >= 4:
            frames = max(1, _u32be(buf, pos + 8))
        seen_data = seen_data or kind == b"IDAT"
        if kind == b"IEND":
            if not seen_data:
                raise CorruptImage("The PNG file has no image data.")
            _pillow_agrees(path, "PNG")
            return frames
        pos = end + 4
    raise CorruptImage(f"The PNG file has more than {MAX_PNG_CHUNKS} chunks.")


# --- GIF -----------------------------------------------------------------------------


def _measure_gif(buf: mmap.mmap, _path: Path) -> tuple[int, int]:
    # Frames may reach beyond the logical screen and Pillow then grows the canvas, so the
    # size that counts is the one that holds every frame.
    _frames, width, height = _gif_frames(buf)
    return width, height


def _skip_gif_sub_blocks(buf: mmap.mmap, pos: int, budget: list[int]) -> int:
    size = len(buf)
    while True:
        if pos >= size:
            raise _truncated("GIF")
        length = buf[pos]
        pos += 1 + length
        budget[0] -= 1
        if length == 0:
            return pos
        if budget[0] <= 0:
            raise CorruptImage("The GIF file has too many data blocks.")


def _gif_frames(buf: mmap.mmap) -> tuple[int, int, int]:
    """(frames, width, height) of the canvas that holds every frame, walking every block."""
    size = len(buf)
    if size < 13:
        raise _truncated("GIF")
    width, height = struct.unpack_from("<2H", buf, 6)
    flags = buf[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0
    budget = [MAX_GIF_BLOCKS]
    while pos < size:
        block = buf[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_gif_sub_blocks(buf, pos + 2, budget)
        elif block == 0x2C:  # image descriptor
            if pos + 10 > size:
                raise _truncated("GIF")
            left, top, w, h = struct.unpack_from("<4H", buf, pos + 1)
            width, height = max(width, left + w), max(height, top + h)
            flags = buf[pos + 9]
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = _skip_gif_sub_blocks(buf, pos + 1, budget)  # after the LZW code size
            frames += 1
        else:
            raise CorruptImage("The GIF file is damaged: unknown block type.")
    # A missing trailer after a complete block is tolerated, as browsers do; a file that
    # ends inside a block was refused above.
    if frames == 0:
        raise CorruptImage("The GIF file has no image data.")
    return frames, width, height


def _check_gif(buf: mmap.mmap, path: Path) -> int:
    frames, _width, _height = _gif_frames(buf)
    _pillow_agrees(path, "GIF")
    return frames


# --- WebP ----------------------------------------------------------------------------


def _measure_webp(buf: mmap.mmap, _path: Path) -> tuple[int, int]:
    kind, data = buf[12:16], 20
    if len(buf) < 30:
        raise _truncated("WebP")
    if kind == b"VP8X":
        width = int.from_bytes(buf[data + 4 : data + 7], "little") + 1
        height = int.from_bytes(buf[data + 7 : data + 10], "little") + 1
        return width, height
    if kind == b"VP8 " and buf[data + 3 : data + 6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<2H", buf, data + 6)
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and buf[data] == 0x2F:
        bits = _u32le(buf, data + 1)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise CorruptImage("The WebP file does not start with an image header.")


def _check_webp(buf: mmap.mmap, path: Path) -> int:
    end = 8 + _u32le(buf, 4)
    if end > len(buf):
        raise _truncated("WebP")
    pos, frames, has_image = 12, 0, False
    for _ in range(MAX_WEBP_CHUNKS):
        if pos + 8 > end:
            break
        kind, length = buf[pos : pos + 4], _u32le(buf, pos + 4)
        pos += 8 + length + (length & 1)
        if pos - (length & 1) > end:
            raise _truncated("WebP")
        frames += kind == b"ANMF"
        has_image = has_image or kind in (b"VP8 ", b"VP8L", b"ANMF")
    else:
        raise CorruptImage(f"The WebP file has more than {MAX_WEBP_CHUNKS} chunks.")
    if not has_image:
        raise CorruptImage("The WebP file has no image data.")
    _pillow_agrees(path, "WEBP")
    return max(frames, 1)


# --- TIFF ----------------------------------------------------------------------------


def _tiff_ifd0(buf: mmap.mmap) -> dict[int, int]:
    """First value of each numeric tag in the first IFD (enough to measure and classify)."""
    order = "<" if buf[:2] == b"II" else ">"
    offset = int.from_bytes(buf[4:8], "little" if order == "<" else "big")
    if offset + 2 > len(buf):
        raise _truncated("TIFF")
    (count,) = struct.unpack_from(order + "H", buf, offset)
    if offset + 2 + 12 * count > len(buf):
        raise _truncated("TIFF")
    tags: dict[int, int] = {}
    for index in range(min(count, MAX_TIFF_IFD_ENTRIES)):
        tag, kind = struct.unpack_from(order + "HH", buf, offset + 2 + 12 * index)
        value_at = offset + 2 + 12 * index + 8
        if kind == 3:  # SHORT, left-justified in the value field
            (tags[tag],) = struct.unpack_from(order + "H", buf, value_at)
        elif kind == 4:  # LONG
            (tags[tag],) = struct.unpack_from(order + "I", buf, value_at)
        elif kind == 1:  # BYTE (DNGVersion)
            tags[tag] = buf[value_at]
    return tags


def _measure_tiff(buf: mmap.mmap, _path: Path) -> tuple[int, int]:
    if len(buf) < 8:
        raise _truncated("TIFF")
    tags = _tiff_ifd0(buf)
    # Many camera RAW formats (CR2, NEF, ARW, DNG, PEF...) are TIFF files whose first image
    # is a preview or undecodable sensor data. Showing that preview as the photo would be
    # wrong, so they are refused until RAW support exists.
    if (
        buf[8:10] == b"CR"  # Canon's CR2 marker after the TIFF header
        or _TAG_DNG_VERSION in tags
        or tags.get(_TAG_PHOTOMETRIC) in _PHOTOMETRIC_RAW
        or tags.get(_TAG_NEW_SUBFILE_TYPE, 0) & 1
    ):
        raise UnsupportedMedia(f"Camera RAW files are not supported; upload {_ACCEPTED} images.")
    return tags.get(_TAG_WIDTH, 0), tags.get(_TAG_HEIGHT, 0)


def _check_tiff(buf: mmap.mmap, path: Path) -> int:
    def pages(image: Image.Image) -> int:
        tags = getattr(image, "tag_v2", {})
        for offsets_tag, counts_tag in _TIFF_STRIPS:
            offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
            if (
                isinstance(offsets, tuple)
                and isinstance(counts, tuple)
                and offsets
                and max(o + c for o, c in zip(offsets, counts, strict=False)) > len(buf)
            ):
                raise _truncated("TIFF")
        # Counting pages reads each IFD, not the image data.
        return int(getattr(image, "n_frames", 1))

    return _with_pillow(path, "TIFF", pages)


# --- HEIF ----------------------------------------------------------------------------


def _open_heif(path: Path) -> pillow_heif.HeifFile:
    try:
        return pillow_heif.open_heif(path, convert_hdr_to_8bit=True)
    except (OSError, ValueError, RuntimeError, SyntaxError, EOFError) as error:
        if "security limit" in str(error).lower():
            raise ImageTooLarge(f"The HEIF image exceeds the decoder's limits: {error}") from None
        raise CorruptImage(f"The HEIF file cannot be read: {error}") from None


def _measure_heif(_buf: mmap.mmap, path: Path) -> tuple[int, int]:
    # libheif parses the container (no decode) and reports the size after the container's
    # rotation and mirroring, which its decoder applies.
    width, height = _open_heif(path).size
    return int(width), int(height)


def _check_heif(buf: mmap.mmap, path: Path) -> int:
    # Top-level boxes must tile the file: a truncated download cuts the last one (`mdat`,
    # the compressed image), which libheif would only notice when decoding.
    size, pos = len(buf), 0
    for _ in range(MAX_BMFF_BOXES):
        if size - pos < 8:
            break  # a few stray bytes at the end are harmless
        length = _u32be(buf, pos)
        if length == 1 and pos + 16 <= size:
            length = int.from_bytes(buf[pos + 8 : pos + 16], "big")
        elif length == 0:
            length = size - pos
        if length < 8 or pos + length > size:
            raise _truncated("HEIF")
        pos += length
    else:
        raise CorruptImage(f"The HEIF file has more than {MAX_BMFF_BOXES} boxes.")
    return max(1, len(_open_heif(path)))


# --- EXIF blocks ---------------------------------------------------------------------


def _jpeg_exif(buf: mmap.mmap, _path: Path) -> bytes | None:
    for marker, start, end in _jpeg_segments(buf):
        if marker == 0xE1 and buf[start : start + 6] == b"Exif\x00\x00":
            return buf[start:end]
        if marker in (_JPEG_SOS, _JPEG_EOI):
            break
    return None


def _png_exif(buf: mmap.mmap, _path: Path) -> bytes | None:
    # eXIf may come after the image data, so the walk goes to IEND (headers only).
    pos = 8
    for _ in range(MAX_PNG_CHUNKS):
        if pos + 8 > len(buf):
            break
        length, kind = _u32be(buf, pos), buf[pos + 4 : pos + 8]
        if kind == b"eXIf":
            return buf[pos + 8 : pos + 8 + min(length, MAX_EXIF_BYTES)]
        if kind == b"IEND":
            break
        pos += 12 + length
    return None


def _webp_exif(buf: mmap.mmap, _path: Path) -> bytes | None:
    pos, end = 12, min(len(buf), 8 + _u32le(buf, 4))
    for _ in range(MAX_WEBP_CHUNKS):
        if pos + 8 > end:
            break
        kind, length = buf[pos : pos + 4], _u32le(buf, pos + 4)
        if kind == b"EXIF":
            return buf[pos + 8 : pos + 8 + min(length, MAX_EXIF_BYTES)]
        pos += 8 + length + (length & 1)
    return None


def _gif_exif(_buf: mmap.mmap, _path: Path) -> bytes | None:
    return None  # GIF has no EXIF


def _heif_exif(_buf: mmap.mmap, path: Path) -> bytes | None:
    exif = _open_heif(path).info.get("exif")
    return bytes(exif[:MAX_EXIF_BYTES]) if isinstance(exif, bytes | bytearray) else None


# --- Pillow's view -------------------------------------------------------------------


def _with_pillow(path: Path, fmt: str, inspect: Callable[[Image.Image], _T]) -> _T:
    """Open `path` with Pillow (headers only) and return `inspect(image)`.

    Pillow's header parsers are the ones that will decode the file later; if they disagree
    with the walks above, the file is refused now rather than in a background job.
    """
    formats = ["JPEG", "MPO"] if fmt == "JPEG" else [fmt]
    try:
        with Image.open(path, formats=formats) as image:
            return inspect(image)
    except (FileNotFoundError, PermissionError):
        raise
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(str(error)) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        # UnidentifiedImageError is an OSError.
        raise CorruptImage(f"The {fmt} file cannot be read: {error}") from None


def _pillow_agrees(path: Path, fmt: str) -> None:
    _with_pillow(path, fmt, lambda _image: None)


_MEASURE: Final[dict[str, Callable[[mmap.mmap, Path], tuple[int, int]]]] = {
    "JPEG": _measure_jpeg,
    "PNG": _measure_png,
    "GIF": _measure_gif,
    "WEBP": _measure_webp,
    "TIFF": _measure_tiff,
    "HEIF": _measure_heif,
}

_STRUCTURE_CHECKS: Final[dict[str, Callable[[mmap.mmap, Path], int]]] = {
    "JPEG": _check_jpeg,
    "PNG": _check_png,
    "GIF": _check_gif,
    "WEBP": _check_webp,
    "TIFF": _check_tiff,
    "HEIF": _check_heif,
}

_EXIF_FINDERS: Final[dict[str, Callable[[mmap.mmap, Path], bytes | None]]] = {
    "JPEG": _jpeg_exif,
    "PNG": _png_exif,
    "GIF": _gif_exif,
    "WEBP": _webp_exif,
    "HEIF": _heif_exif,
}
