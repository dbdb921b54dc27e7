"""The tus 1.0 resumable upload protocol (core, creation, termination, checksum,
expiration) at /api/uploads, over `UploadService`."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from keepsake.api.deps import ContainerDep, current_principal
from keepsake.api.problems import problem
from keepsake.errors import InvalidInput, KeepsakeError
from keepsake.ids import new_id
from keepsake.media.uploads import CHECKSUM_ALGORITHMS, UploadState

router = APIRouter(prefix="/api/uploads", tags=["uploads"])
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum,expiration"
WRITE_BATCH = 1024 * 1024


def _tus_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **(extra or {})}


def _state_headers(state: UploadState) -> dict[str, str]:
    return _tus_headers(
        {
            "Upload-Offset": str(state.offset),
            "Upload-Length": str(state.length),
            "Upload-Expires": format_datetime(state.expires_at.astimezone(UTC), usegmt=True),
        }
    )


def _require_tus(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise _TusVersion()


class _TusVersion(KeepsakeError):
    status, slug, title = 412, "tus-version", "Unsupported tus version"

    def __init__(self) -> None:
        super().__init__(
            f"Send 'Tus-Resumable: {TUS_VERSION}'.", headers={"Tus-Version": TUS_VERSION}
        )


def _int_header(request: Request, name: str) -> int:
    value = request.headers.get(name, "")
    if not value.isdigit() or len(value) > 19:
        raise InvalidInput(f"{name} must be a non-negative integer.")
    return int(value)


def _metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs."""
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            result[key] = base64.b64decode(value, validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidInput(f"Upload-Metadata value of '{key}' is not base64 UTF-8.") from exc
    return result


@router.options("", status_code=204)
def tus_options() -> Response:
    return Response(
        status_code=204,
        headers=_tus_headers(
            {
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
            }
        ),
    )


@router.post("", status_code=201)
def create_upload(request: Request, c: ContainerDep) -> Response:
    """Start an upload. Metadata keys: `filename`, `checksum` (SHA-256 hex of the whole
    file), `mtime` (ISO 8601 modification time)."""
    _require_tus(request)
    principal = current_principal(request)
    length = _int_header(request, "upload-length")
    meta = _metadata(request.headers.get("upload-metadata", ""))
    mtime = None
    if meta.get("mtime"):
        try:
            mtime = datetime.fromisoformat(meta["mtime"])
        except ValueError as exc:
            raise InvalidInput("mtime must be an ISO 8601 time.") from exc
        if mtime.tzinfo is None:
            mtime = mtime.replace(tzinfo=UTC)
    state = c.uploads.create(
        principal,
        length,
        filename=meta.get("filename", "unnamed"),
        checksum=meta.get("checksum") or None,
        file_mtime=mtime,
    )
    headers = _state_headers(state)
    headers["Location"] = f"/api/uploads/{state.id}"
    return Response(status_code=201, headers=headers)


@router.head("/{upload_id}")
def upload_status(upload_id: str, request: Request, c: ContainerDep) -> Response:
    _require_tus(request)
    state = c.uploads.status(current_principal(request), upload_id)
    return Response(status_code=200, headers=_state_headers(state))


@router.patch("/{upload_id}", status_code=204)
async def append(upload_id: str, request: Request, c: ContainerDep) -> Response:
    """Append the body at Upload-Offset. The request that completes the upload commits the
    asset and answers with `Keepsake-Asset-Id` and `Keepsake-Duplicate`."""
    _require_tus(request)
    if request.headers.get("content-type") != "application/offset+octet-stream":
        return problem(
            415,
            "unsupported-media",
            "Unsupported content type",
            "PATCH bodies are application/offset+octet-stream.",
            headers=_tus_headers(),
        )
    principal = await run_in_threadpool(current_principal, request)
    offset = _int_header(request, "upload-offset")
    checksum = request.headers.get("upload-checksum")
    # Fail before reading the body: wrong offset or a missing upload.
    state = await run_in_threadpool(c.uploads.status, principal, upload_id)
    if state.offset != offset:
        return problem(
            409,
            "conflict",
            "Conflict",
            f"Upload-Offset is {state.offset}.",
            headers=_state_headers(state),
        )
    chunk = c.uploads.dir / f"{upload_id}.{new_id()}.chunk"
    disconnected = await _receive(request, chunk, state.length - state.offset)
    if disconnected and checksum is not None:
        # A chunk whose checksum cannot be verified is not kept (checksum extension).
        chunk.unlink(missing_ok=True)
        return Response(status_code=400)
    state = await run_in_threadpool(c.uploads.append, principal, upload_id, offset, chunk, checksum)
    headers = _tus_headers({"Upload-Offset": str(state.offset)})
    if state.ingested is not None:
        headers["Keepsake-Asset-Id"] = state.ingested.asset.id
        headers["Keepsake-Duplicate"] = "true" if state.ingested.duplicate else "false"
    return Response(status_code=204, headers=headers)


async def _receive(request: Request, target: Path, limit: int) -> bool:
    """Write the body to `target` off the event loop; True if the client went away (the
    bytes that did arrive are kept, so the upload resumes from there)."""
    buffer = bytearray()
    received = 0
    handle = await run_in_threadpool(target.open, "wb")
    try:
        try:
            async for piece in request.stream():
                received += len(piece)
                if received > limit:
                    raise InvalidInput("The body runs past Upload-Length.")
                buffer += piece
                if len(buffer) >= WRITE_BATCH:
                    await run_in_threadpool(handle.write, bytes(buffer))
                    buffer.clear()
        except ClientDisconnect:
            await run_in_threadpool(handle.write, bytes(buffer))
            return True
        await run_in_threadpool(handle.write, bytes(buffer))
        return False
    except BaseException:
        handle.close()
        target.unlink(missing_ok=True)
        raise
    finally:
        handle.close()


@router.delete("/{upload_id}", status_code=204)
def terminate(upload_id: str, request: Request, c: ContainerDep) -> Response:
    _require_tus(request)
    c.uploads.terminate(current_principal(request), upload_id)
    return Response(status_code=204, headers=_tus_headers())
