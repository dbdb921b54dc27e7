"""Routes for uploading, the timeline, assets, their files, the trash and storage usage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status
from starlette.concurrency import run_in_threadpool

from keepsake.api.deps import ContainerDep, CurrentPrincipal
from keepsake.api.streaming import blob_response
from keepsake.media.schemas import (
    AssetDetail,
    AssetIds,
    AssetOut,
    AssetPatch,
    ChecksumAnswer,
    ChecksumQuery,
    Count,
    TimelinePage,
    UploadResult,
    Usage,
)
from keepsake.media.service import copy_to_staging

router = APIRouter(prefix="/api", tags=["library"])
IMMUTABLE = "private, max-age=31536000, immutable"


@router.post("/assets", status_code=status.HTTP_201_CREATED)
def upload_asset(
    response: Response,
    principal: CurrentPrincipal,
    c: ContainerDep,
    file: Annotated[UploadFile, File(description="The photo")],
    checksum: Annotated[str | None, Form(description="SHA-256 (hex) the client computed")] = None,
    file_mtime: Annotated[datetime | None, Form(description="The file's modification time")] = None,
) -> UploadResult:
    """Upload one photo in a single request. For large files or flaky networks use the
    resumable `/api/uploads` (tus) endpoint."""
    staged = c.media.new_staging_path()
    try:
        copy_to_staging(file.file, staged, c.settings.upload_max_bytes)
        result = c.media.ingest(
            principal,
            staged,
            file.filename or "unnamed",
            declared_checksum=checksum,
            file_mtime=file_mtime,
        )
    finally:
        staged.unlink(missing_ok=True)
    if result.duplicate:
        response.status_code = status.HTTP_200_OK
    return UploadResult(asset=AssetOut.model_validate(result.asset), duplicate=result.duplicate)


@router.post("/assets/exists")
def existing_checksums(
    body: ChecksumQuery, principal: CurrentPrincipal, c: ContainerDep
) -> ChecksumAnswer:
    """Which of these SHA-256 checksums are already in my library."""
    return ChecksumAnswer(existing=c.media.existing_checksums(principal, body.checksums))


@router.get("/timeline", response_model=TimelinePage)
def timeline(
    principal: CurrentPrincipal,
    c: ContainerDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    taken_from: datetime | None = None,
    taken_to: datetime | None = None,
    make: Annotated[str | None, Query(max_length=100)] = None,
    model: Annotated[str | None, Query(max_length=100)] = None,
    favorites: bool = False,
) -> Response:
    """Assets by capture time, newest first; pass `next_cursor` back for the next page."""
    items, next_cursor = c.media.timeline(
        principal,
        cursor=cursor,
        limit=limit,
        taken_from=taken_from,
        taken_to=taken_to,
        make=make,
        model=model,
        favorites_only=favorites,
    )
    page = TimelinePage(items=[AssetOut.model_validate(a) for a in items], next_cursor=next_cursor)
    # The hot path of every client: serialised once here, not validated again by FastAPI.
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/assets/{asset_id}")
def asset_detail(asset_id: str, principal: CurrentPrincipal, c: ContainerDep) -> AssetDetail:
    asset, steps = c.media.asset(principal, asset_id)
    return AssetDetail.model_validate(
        {
            **AssetOut.model_validate(asset).model_dump(),
            "exif": asset.exif,
            "derived": sorted(steps),
        }
    )


@router.patch("/assets/{asset_id}")
def update_asset(
    asset_id: str, body: AssetPatch, principal: CurrentPrincipal, c: ContainerDep
) -> AssetOut:
    return AssetOut.model_validate(
        c.media.update_asset(principal, asset_id, is_favorite=body.is_favorite)
    )


@router.delete("/assets/{asset_id}", status_code=status.HTTP_204_NO_CONTENT)
def trash_asset(asset_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    """Move to the trash; it is purged after the retention period unless restored."""
    c.media.trash(principal, [asset_id])


@router.get("/assets/{asset_id}/original")
async def download_original(
    asset_id: str, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> Response:
    """The original, byte-identical; supports Range and If-None-Match."""
    asset, blob = await run_in_threadpool(c.media.original, principal, asset_id)
    return blob_response(request, blob, cache_control=IMMUTABLE, filename=asset.original_filename)


@router.get("/assets/{asset_id}/thumbnail")
def thumbnail(
    asset_id: str, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> Response:
    return _derived(request, principal, c, asset_id, "thumbnail")


@router.get("/assets/{asset_id}/preview")
def preview(
    asset_id: str, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> Response:
    return _derived(request, principal, c, asset_id, "preview")


def _derived(
    request: Request, principal: CurrentPrincipal, c: ContainerDep, asset_id: str, kind: str
) -> Response:
    blob = c.media.read_derived(principal, asset_id, kind)
    return blob_response(request, blob, cache_control=IMMUTABLE)


@router.post("/assets/trash")
def trash_many(body: AssetIds, principal: CurrentPrincipal, c: ContainerDep) -> Count:
    return Count(count=c.media.trash(principal, body.ids))


@router.get("/trash")
def list_trash(principal: CurrentPrincipal, c: ContainerDep) -> list[AssetOut]:
    return [AssetOut.model_validate(a) for a in c.media.list_trash(principal)]


@router.post("/trash/restore")
def restore(body: AssetIds, principal: CurrentPrincipal, c: ContainerDep) -> Count:
    return Count(count=c.media.restore(principal, body.ids))


@router.post("/trash/empty")
def empty_trash(principal: CurrentPrincipal, c: ContainerDep) -> Count:
    """Delete everything in the trash for good."""
    return Count(count=c.media.empty_trash(principal))


@router.get("/usage")
def usage(principal: CurrentPrincipal, c: ContainerDep) -> Usage:
    count, total, trash, quota = c.media.usage(principal)
    return Usage(assets=count, bytes=total, trash_bytes=trash, quota_bytes=quota)
