"""Byte-range responses over the BlobStore (RFC 9110 single ranges, ETag, If-None-Match)."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from keepsake.media.service import BlobRead

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def blob_response(
    request: Request,
    blob: BlobRead,
    *,
    cache_control: str = "private, no-cache",
    filename: str | None = None,
) -> Response:
    """Serve a whole blob or one range of it."""
    size = blob.size
    quoted = f'"{blob.etag}"'
    headers = {"ETag": quoted, "Accept-Ranges": "bytes", "Cache-Control": cache_control}
    if filename:
        headers["Content-Disposition"] = content_disposition(filename)
    if request.headers.get("if-none-match") in (quoted, f"W/{quoted}", "*"):
        return Response(status_code=304, headers=headers)
    start, stop, status = 0, size, 200
    header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if header and _RANGE.match(header.strip()) and (if_range is None or if_range == quoted):
        # Anything but one plain byte range (multi-range, other units) gets the whole
        # blob, which RFC 9110 allows.
        parsed = _parse_range(header, size)
        if parsed is None:
            return Response(
                status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"}
            )
        start, stop = parsed
        status = 206
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    headers["Content-Length"] = str(stop - start)
    return StreamingResponse(
        iterate_in_threadpool(blob.chunks(start, stop)),
        status_code=status,
        media_type=blob.mime_type,
        headers=headers,
    )


def content_disposition(filename: str) -> str:
    """`attachment` with the name as plain ASCII and, when it has other characters, as
    RFC 5987 UTF-8 too: header values must be Latin-1, and quotes, backslashes and control
    characters must not end the value early (a name is the uploader's to choose)."""
    printable = "".join(ch for ch in filename if ch.isprintable())
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in printable)
    header = f'attachment; filename="{fallback or "download"}"'
    if fallback != printable:
        header += f"; filename*=UTF-8''{quote(printable, safe='')}"
    return header


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b`, `bytes=a-` or `bytes=-n` range as [start, stop); None if unsatisfiable."""
    match = _RANGE.match(header.strip())
    if not match or size == 0:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        length = int(last)
        if length == 0:
            return None
        return max(0, size - length), size
    start = int(first)
    stop = min(size, int(last) + 1) if last else size
    if start >= size or stop <= start:
        return None
    return start, stop
