"""What a photo's EXIF says about when, where and with what it was taken.

The block is read by a small TIFF reader of our own rather than Pillow's `Exif`: it looks
up only the tags Keepsake uses, follows the Exif and GPS sub-IFDs one level deep and no
chains, bounds every read, and neither warns nor raises on garbage. A malformed or hostile
block therefore costs microseconds and yields None fields, never an error.
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Final, Literal, Protocol, TypeAlias

from keepsake.errors import KeepsakeError
from keepsake.media import formats

# Longest strings kept, in characters. Real values are far shorter ("Canon EOS R5",
# "iPhone 15 Pro back triple camera 6.86mm f/1.78"); the caps keep a hostile file from
# storing kilobytes in every listing.
MAX_MAKE_CHARS: Final = 100
MAX_MODEL_CHARS: Final = 100
MAX_LENS_CHARS: Final = 200

# IFDs with more entries than this are read up to this many entries. Cameras write about
# 60 in the Exif IFD; the bound keeps a 65,535-entry block from costing a long loop.
MAX_IFD_ENTRIES: Final = 1_000

# Dates outside these years are garbage (a camera with a flat clock battery writes
# 0000:00:00). Photography begins in the 1820s.
EARLIEST_YEAR: Final = 1826
LATEST_YEAR: Final = 2200

# UTC offsets in use run from -12:00 to +14:00.
MAX_OFFSET_MINUTES: Final = 14 * 60

# Coordinates are kept to 7 decimals of a degree (about 1 cm), enough for any GPS.
GPS_DECIMALS: Final = 7

_IFD0_ORIENTATION, _IFD0_MAKE, _IFD0_MODEL, _IFD0_DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_EXPOSURE_TIME, _F_NUMBER, _ISO, _FOCAL_LENGTH, _LENS_MODEL = (
    0x829A,
    0x829D,
    0x8827,
    0x920A,
    0xA434,
)
# (date and time, its UTC offset, its sub-seconds), in order of preference: when the
# shutter fired, when the image was digitised, when the file was last changed.
_DATE_TAGS: Final = ((0x9003, 0x9011, 0x9291), (0x9004, 0x9012, 0x9292), (0x0132, 0x9010, 0x9290))
_OFFSET_TAGS: Final = (0x9011, 0x9012, 0x9010)
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON, _GPS_STATUS = 1, 2, 3, 4, 9

# Bytes per value of TIFF field types 1-13: BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE,
# UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD (an offset, like LONG).
_TYPE_SIZES: Final = dict(zip(range(1, 14), (1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4), strict=True))
_INT_FORMATS: Final = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I"}
_TEXT_TYPES: Final = frozenset({1, 2, 7})

_DATETIME: Final = re.compile(
    r"\s*(\d{4})[:\-/](\d{1,2})[:\-/](\d{1,2})[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?"
)
_OFFSET: Final = re.compile(r"\s*([+-])(\d{1,2}):?(\d{2})")

DetailValue: TypeAlias = str | float | int


@dataclass(frozen=True, slots=True)
class PhotoMetadata:
    """What Keepsake keeps from a photo's EXIF. Absent or unreadable fields are None.

    `taken_at` is UTC. With `offset_minutes` it is exact; without (the camera did not
    record its time zone) it is the camera's local time labelled as UTC, which orders a
    library correctly and shows the time the camera showed, but may be hours off the true
    instant. `taken_at_source` is "exif" when a date was found; otherwise None and the
    caller falls back to the file's time and flags it. `width` and `height` are the
    displayed size: swapped when the orientation turns the image a quarter.
    """

    taken_at: datetime | None = None
    offset_minutes: int | None = None
    taken_at_source: Literal["exif"] | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    orientation: int = 1
    width: int | None = None
    height: int | None = None
    details: dict[str, DetailValue] = field(default_factory=dict)


def read_metadata(path: Path) -> PhotoMetadata:
    """Read the metadata of the image at `path`. Never raises for a damaged or foreign file."""
    try:
        header: formats.ImageHeader | None = formats.read_header(path)
    except KeepsakeError:
        header = None
    with formats.exif_block(path) as block:
        tags = _Tags.parse(block) if block is not None else _Tags.EMPTY
        metadata = _interpret(tags)
    if header is None:
        return metadata
    # HEIF decoders apply the container's rotation themselves, and the header already
    # reports the rotated size; the EXIF orientation there is informational and applying
    # it again would turn the photo twice.
    orientation = 1 if header.format == "HEIF" else metadata.orientation
    width, height = header.width, header.height
    if orientation >= 5:
        width, height = height, width
    return replace(metadata, orientation=orientation, width=width, height=height)


def read_orientation(path: Path) -> int:
    """The orientation (1-8) `path` declares for its pixels; 1 for HEIF (see read_metadata)."""
    if formats.sniff_mime_type(_head(path)) in ("image/heic", "image/heif"):
        return 1  # the decoder applies HEIF's own rotation; see read_metadata
    with formats.exif_block(path) as block:
        return _orientation(_Tags.parse(block)) if block is not None else 1


def _head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(formats.SNIFF_BYTES)


# --- the TIFF structure --------------------------------------------------------------


class _Buffer(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, index: slice, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: int
    count: int
    at: int  # where the value starts in the block


class _Tags:
    """The three IFDs Keepsake reads (IFD0, Exif, GPS), with bounded, non-raising access."""

    EMPTY: ClassVar[_Tags]

    def __init__(self, buf: _Buffer, order: str, ifds: tuple[dict[int, _Entry], ...]) -> None:
        self._buf, self._order = buf, order
        self.ifd0, self.exif, self.gps = ifds

    @classmethod
    def parse(cls, buf: _Buffer) -> _Tags:
        head = buf[0:8]
        if len(head) < 8 or head[:2] not in (b"II", b"MM"):
            return cls.EMPTY
        order = "<" if head[:2] == b"II" else ">"
        magic, offset = struct.unpack(order + "HI", head[2:8])
        if magic != 42:
            return cls.EMPTY
        reader = cls(buf, order, ({}, {}, {}))
        ifd0 = reader._ifd(offset)
        sub = [reader._ifd(reader._pointer(ifd0.get(tag))) for tag in (_EXIF_IFD, _GPS_IFD)]
        return cls(buf, order, (ifd0, sub[0], sub[1]))

    def _pointer(self, entry: _Entry | None) -> int:
        values = self.ints(entry, 1)
        return values[0] if values else 0

    def _ifd(self, offset: int) -> dict[int, _Entry]:
        if offset < 8:  # zero is "absent"; anything else that low overlaps the header
            return {}
        raw = self._buf[offset : offset + 2]
        if len(raw) < 2:
            return {}
        (count,) = struct.unpack(self._order + "H", raw)
        count = min(count, MAX_IFD_ENTRIES)
        table = self._buf[offset + 2 : offset + 2 + 12 * count]
        entries: dict[int, _Entry] = {}
        for index in range(len(table) // 12):
            tag, kind, n = struct.unpack_from(self._order + "HHI", table, 12 * index)
            size = _TYPE_SIZES.get(kind)
            if size is None or tag in entries:
                continue
            at = offset + 2 + 12 * index + 8
            if size * n > 4:
                (at,) = struct.unpack_from(self._order + "I", table, 12 * index + 8)
            entries[tag] = _Entry(kind, n, at)
        return entries

    def _read(self, entry: _Entry, limit: int) -> bytes:
        """At most `limit` values of `entry`; fewer when the block ends early."""
        size = _TYPE_SIZES[entry.kind]
        length = size * min(entry.count, limit)
        data = self._buf[entry.at : entry.at + length]
        return data[: len(data) - len(data) % size]

    def _unpack(self, entry: _Entry, limit: int, fmt: str) -> tuple[int | float, ...]:
        data = self._read(entry, limit)
        return struct.unpack(f"{self._order}{len(data) // struct.calcsize(fmt)}{fmt}", data)

    def ints(self, entry: _Entry | None, limit: int = 4) -> tuple[int, ...]:
        if entry is None or entry.kind not in _INT_FORMATS:
            return ()
        return tuple(int(v) for v in self._unpack(entry, limit, _INT_FORMATS[entry.kind]))

    def numbers(self, entry: _Entry | None, limit: int = 4) -> tuple[float | None, ...]:
        """Numeric values as floats; None for a fraction with a zero denominator or NaN."""
        if entry is None:
            return ()
        values: list[float | None]
        if entry.kind in (5, 10):  # RATIONAL, SRATIONAL: numerator and denominator
            pairs = self._unpack(entry, limit, "I" if entry.kind == 5 else "i")
            values = [n / d if d else None for n, d in zip(pairs[::2], pairs[1::2], strict=True)]
        elif entry.kind in (11, 12):  # FLOAT, DOUBLE
            values = [
                float(v) for v in self._unpack(entry, limit, "f" if entry.kind == 11 else "d")
            ]
        else:
            values = [float(v) for v in self.ints(entry, limit)]
        return tuple(v if v is not None and math.isfinite(v) else None for v in values)

    def text(self, entry: _Entry | None, max_chars: int) -> str | None:
        """A string value: cut at the first NUL, control characters removed, trimmed, capped."""
        if entry is None or entry.kind not in _TEXT_TYPES:
            return None
        raw = self._read(entry, 4 * max_chars).split(b"\x00", 1)[0]
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")
        cleaned = "".join(c for c in decoded if unicodedata.category(c)[0] != "C")
        return cleaned.strip()[:max_chars].strip() or None


_Tags.EMPTY = _Tags(b"", "<", ({}, {}, {}))


# --- meaning -------------------------------------------------------------------------


def _interpret(tags: _Tags) -> PhotoMetadata:
    taken_at, offset = _taken_at(tags)
    latitude, longitude = _position(tags)
    return PhotoMetadata(
        taken_at=taken_at,
        offset_minutes=offset,
        taken_at_source="exif" if taken_at is not None else None,
        make=tags.text(tags.ifd0.get(_IFD0_MAKE), MAX_MAKE_CHARS),
        model=tags.text(tags.ifd0.get(_IFD0_MODEL), MAX_MODEL_CHARS),
        lens=tags.text(tags.exif.get(_LENS_MODEL), MAX_LENS_CHARS),
        latitude=latitude,
        longitude=longitude,
        orientation=_orientation(tags),
        details=_details(tags),
    )


def _orientation(tags: _Tags) -> int:
    values = tags.ints(tags.ifd0.get(_IFD0_ORIENTATION), 1)
    return values[0] if values and 1 <= values[0] <= 8 else 1


def _taken_at(tags: _Tags) -> tuple[datetime | None, int | None]:
    for date_tag, offset_tag, subsec_tag in _DATE_TAGS:
        ifd = tags.ifd0 if date_tag == _IFD0_DATETIME else tags.exif
        local = _parse_datetime(tags.text(ifd.get(date_tag), 64))
        if local is None:
            continue
        local += _parse_subseconds(tags.text(tags.exif.get(subsec_tag), 16))
        # The offset recorded for this date; failing that, another one the camera wrote,
        # since cameras record one time zone for all three dates.
        offset = None
        for tag in (offset_tag, *_OFFSET_TAGS):
            offset = _parse_offset(tags.text(tags.exif.get(tag), 16))
            if offset is not None:
                break
        if offset is None:
            # No time zone recorded: the camera's local time is treated as UTC, so photos
            # still sort by the time the camera showed. See PhotoMetadata.
            return local.replace(tzinfo=UTC), None
        return (local - timedelta(minutes=offset)).replace(tzinfo=UTC), offset
    return None, None


def _parse_datetime(text: str | None) -> datetime | None:
    match = _DATETIME.match(text or "")
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        return None
    try:
        return datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return None


def _parse_subseconds(text: str | None) -> timedelta:
    digits = "".join(c for c in (text or "") if c.isdigit())[:6]
    return timedelta(microseconds=int(digits.ljust(6, "0"))) if digits else timedelta()


def _parse_offset(text: str | None) -> int | None:
    match = _OFFSET.match(text or "")
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > MAX_OFFSET_MINUTES:
        return None
    return -total if sign == "-" else total


def _position(tags: _Tags) -> tuple[float | None, float | None]:
    gps = tags.gps
    if (tags.text(gps.get(_GPS_STATUS), 4) or "A").upper().startswith("V"):
        return None, None  # "void": the receiver had no fix
    latitude = _coordinate(tags, _GPS_LAT, _GPS_LAT_REF, "S", 90.0)
    longitude = _coordinate(tags, _GPS_LON, _GPS_LON_REF, "W", 180.0)
    # 0,0 is what devices without a fix write; nobody photographs that spot in the ocean.
    if latitude is None or longitude is None or (latitude == 0.0 and longitude == 0.0):
        return None, None
    return latitude, longitude


def _coordinate(
    tags: _Tags, value_tag: int, ref_tag: int, negative: str, limit: float
) -> float | None:
    parts = tags.numbers(tags.gps.get(value_tag), 3)
    if not parts or any(part is None or part < 0 for part in parts[1:]):
        return None
    degrees = 0.0
    for part, unit in zip(parts, (1.0, 60.0, 3600.0), strict=False):
        if part is None:
            return None
        degrees += part / unit
    ref = (tags.text(tags.gps.get(ref_tag), 4) or "").upper()
    if ref.startswith(negative):
        degrees = -abs(degrees)
    elif ref:
        degrees = abs(degrees)
    if not -limit <= degrees <= limit:
        return None
    return round(degrees, GPS_DECIMALS)


def _details(tags: _Tags) -> dict[str, DetailValue]:
    exif = tags.exif
    details: dict[str, DetailValue] = {}
    iso = tags.ints(exif.get(_ISO), 1)
    if iso and 0 < iso[0] < 10_000_000:
        details["iso"] = iso[0]
    for key, tag in (
        ("exposure_time_s", _EXPOSURE_TIME),
        ("f_number", _F_NUMBER),
        ("focal_length_mm", _FOCAL_LENGTH),
    ):
        values = tags.numbers(exif.get(tag), 1)
        if values and values[0] is not None and 0 < values[0] < 100_000:
            details[key] = float(f"{values[0]:.4g}")  # 1/8000 s stays exact; 50.0 mm, f/1.8
    return details
