"""The takeout archive's format (its manifest) and the checks an archive passes before anything
in it is imported: member names that stay inside the archive, no links, no encryption, no
overlapping members, and sizes (declared and actual) that cannot exhaust the disk (zip bombs)."""

from __future__ import annotations

import hashlib
import itertools
import re
import stat
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from keepsake.config import MiB
from keepsake.consent.errors import HostileArchive, InvalidArchive

FORMAT = "keepsake-takeout"
FORMAT_VERSION = 1
MANIFEST = "manifest.sha256"  # `sha256sum -c manifest.sha256` checks an unpacked takeout
ACCOUNT = "account.json"

# A photo in a zip barely compresses (JPEG, HEIC: under 1.1:1) and our JSON about 3:1 to
# 10:1 (sidecars and the ledger of tests/consent, deflated); 100:1 leaves room for odd but
# honest files and stops the classic bombs, which reach 1000:1 and more.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_MIN_BYTES = 1 * MiB  # below this a high ratio cannot hurt (a file of spaces)
# Three files per photo (original, JSON sidecar, XMP) for a library of a million photos.
MAX_MEMBERS = 3_000_000
# JSON we parse into memory (sidecars, albums, people, the account): larger is not ours.
MAX_JSON_BYTES = 64 * MiB

MAX_MANIFEST_LINE = 4096
_SHA256_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$")


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int  # the sum of the members' uncompressed sizes
    max_member_bytes: int  # one member, uncompressed (the largest original accepted)


def check_member_name(name: str) -> str:
    """Refuse any name that could land outside the folder it is unpacked into, on any OS."""
    if not name or "\x00" in name or "\\" in name:
        raise HostileArchive(f"The archive holds an unsafe path: {name!r}.")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise HostileArchive(f"The archive holds an absolute path: {name!r}.")
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise HostileArchive(f"The archive holds a path that leaves its folder: {name!r}.")
    if any(not ch.isprintable() for ch in name):
        raise HostileArchive(f"The archive holds a path with control characters: {name!r}.")
    return name


def inspect(
    zf: zipfile.ZipFile, archive_size: int, limits: ArchiveLimits
) -> dict[str, zipfile.ZipInfo]:
    """Check every member's metadata before reading any content; the files by name."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise HostileArchive(f"The archive has more than {MAX_MEMBERS} members.")
    members: dict[str, zipfile.ZipInfo] = {}
    folded: set[str] = set()  # names as a case-insensitive file system would see them
    total = 0
    for info in infos:
        name = check_member_name(info.filename)
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_ISLNK(mode):
            raise HostileArchive(f"The archive holds a symbolic link: {name!r}.")
        if info.flag_bits & 0x1:
            raise HostileArchive(f"The archive holds an encrypted member: {name!r}.")
        if info.is_dir():
            continue
        if name.lower() in folded:
            raise HostileArchive(f"The archive holds {name!r} twice.")
        folded.add(name.lower())
        if info.file_size > limits.max_member_bytes:
            raise HostileArchive(
                f"{name!r} would unpack to {info.file_size} bytes; the limit is "
                f"{limits.max_member_bytes}."
            )
        if info.file_size > RATIO_CHECK_MIN_BYTES and (
            info.compress_size * MAX_COMPRESSION_RATIO < info.file_size
        ):
            raise HostileArchive(
                f"{name!r} is compressed more than {MAX_COMPRESSION_RATIO}:1, like a zip bomb."
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise HostileArchive(
                f"The archive would unpack to more than {limits.max_total_bytes} bytes."
            )
        members[name] = info
    _check_no_overlap(list(members.values()), archive_size)
    return members


def _check_no_overlap(infos: Sequence[zipfile.ZipInfo], archive_size: int) -> None:
    """Members that share compressed data unpack to far more than the archive holds (the
    overlapping-file zip bomb); each member's data must end before the next one starts."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for current, following in itertools.pairwise(ordered):
        if current.header_offset + current.compress_size > following.header_offset:
            raise HostileArchive("Members of the archive overlap, like a zip bomb.")
    if ordered and ordered[-1].header_offset + ordered[-1].compress_size > archive_size:
        raise HostileArchive("A member of the archive runs past its end.")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, chunk: int = MiB) -> Iterator[bytes]:
    """A member's bytes, refusing any beyond its declared size (the size checks trusted it)."""
    left = info.file_size
    try:
        with zf.open(info) as source:
            while data := source.read(chunk):
                left -= len(data)
                if left < 0:
                    raise HostileArchive(f"{info.filename!r} unpacks to more than it declares.")
                yield data
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InvalidArchive(f"{info.filename!r} is damaged: {exc}") from exc
    if left != 0:
        raise InvalidArchive(f"{info.filename!r} is shorter than it declares.")


def member_sha256(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    digest = hashlib.sha256()
    for data in read_member(zf, info):
        digest.update(data)
    return digest.hexdigest()


def read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_JSON_BYTES:
        raise InvalidArchive(f"{info.filename!r} is too large to be a Keepsake metadata file.")
    return b"".join(read_member(zf, info))


def manifest_line(path: str, sha256: str) -> bytes:
    return f"{sha256}  {path}\n".encode()


def parse_manifest(chunks: Iterable[bytes]) -> dict[str, str]:
    """`sha256sum` lines -> {path: sha256}, read as a stream (a large library's manifest is
    hundreds of megabytes); every path checked like a member name."""
    files: dict[str, str] = {}
    pending = b""
    number = 0
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            number += 1
            _manifest_entry(files, number, raw)
        if len(pending) > MAX_MANIFEST_LINE:
            raise InvalidArchive(f"Line {number + 1} of the manifest is too long.")
    if pending:
        _manifest_entry(files, number + 1, pending)
    return files


def _manifest_entry(files: dict[str, str], number: int, raw: bytes) -> None:
    try:
        line = raw.decode()
    except UnicodeDecodeError as exc:
        raise InvalidArchive(f"Line {number} of the manifest is not UTF-8 text.") from exc
    match = _SHA256_LINE.match(line)
    if match is None:
        raise InvalidArchive(f"Line {number} of the manifest is not '<sha256>  <path>'.")
    path = check_member_name(match.group(2))
    if path in files:
        raise InvalidArchive(f"The manifest lists {path!r} twice.")
    files[path] = match.group(1)
