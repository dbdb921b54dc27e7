"""Routes for consent, the data-use ledger, the public privacy statement, takeout and import,
and account deletion."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status
from fastapi.responses import HTMLResponse, StreamingResponse

from keepsake.api.deps import CSRF_COOKIE, SESSION_COOKIE, ContainerDep, CurrentPrincipal
from keepsake.auth.access import Principal
from keepsake.consent.accounts import DeletionState
from keepsake.consent.policy import privacy_html, statement
from keepsake.consent.schemas import (
    AdminDeletionRequest,
    ConsentGrant,
    ConsentOut,
    ConsentRecordOut,
    DeletionOut,
    DeletionRequest,
    ImportOut,
    LedgerEntryOut,
    LedgerPage,
    PurposeOut,
    VerificationOut,
    WithdrawalOut,
)
from keepsake.consent.service import ConsentState, Via
from keepsake.media.service import copy_to_staging

router = APIRouter(prefix="/api", tags=["privacy"])
pages = APIRouter(include_in_schema=False)


def via_of(request: Request, principal: Principal) -> Via:
    """A change made from the web UI rides on the session cookie; anything else is the API."""
    cookie = principal.session_id is not None and SESSION_COOKIE in request.cookies
    return "web" if cookie and "authorization" not in request.headers else "api"


# --- consent ---------------------------------------------------------------------------------


@router.get("/consent")
def consent_status(principal: CurrentPrincipal, c: ContainerDep) -> list[ConsentOut]:
    """Every purpose with its current text, and where the caller stands with it."""
    return [_consent_out(state) for state in c.consent.status(principal)]


@router.get("/consent/history")
def consent_history(principal: CurrentPrincipal, c: ContainerDep) -> list[ConsentRecordOut]:
    """Every consent the caller gave, and when and why each ended."""
    return [ConsentRecordOut.model_validate(r) for r in c.consent.history(principal)]


@router.put("/consent/{purpose}")
def grant_consent(
    purpose: str, body: ConsentGrant, request: Request, principal: CurrentPrincipal, c: ContainerDep
) -> ConsentOut:
    """Consent to the text of `purpose` at `version` (the one the user was shown)."""
    return _consent_out(
        c.consent.grant(principal, purpose, body.version, via_of(request, principal))
    )


@router.delete("/consent/{purpose}")
def withdraw_consent(
    purpose: str,
    request: Request,
    principal: CurrentPrincipal,
    c: ContainerDep,
    keep_names: Annotated[
        bool, Query(description="Keep the names given to people (face_recognition only).")
    ] = False,
) -> WithdrawalOut:
    """Withdraw consent; what the purpose produced (face templates ...) is deleted now."""
    result = c.consent.withdraw(
        principal, purpose, via_of(request, principal), keep_names=keep_names
    )
    return WithdrawalOut(
        purpose=str(result.purpose),
        was_granted=result.was_granted,
        templates_deleted=result.templates_deleted,
    )


def _consent_out(state: ConsentState) -> ConsentOut:
    p, record = state.purpose, state.record
    return ConsentOut(
        purpose=PurposeOut(
            name=str(p.name), version=p.version, title=p.title, text=p.text, biometric=p.biometric
        ),
        granted=state.granted,
        needs_renewal=state.needs_renewal,
        granted_version=record.version if record else None,
        granted_at=record.granted_at if record else None,
        granted_via=record.granted_via if record else None,
    )


# --- the ledger ------------------------------------------------------------------------------


@router.get("/ledger")
def ledger(
    principal: CurrentPrincipal,
    c: ContainerDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    purpose: Annotated[str | None, Query(max_length=40)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LedgerPage:
    """The caller's data-use ledger, newest first; pass `next_cursor` back for older entries."""
    items, next_cursor = c.ledger.entries(
        principal,
        action=action,
        purpose=purpose,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return LedgerPage(
        items=[LedgerEntryOut.model_validate(e) for e in items], next_cursor=next_cursor
    )


@router.get("/ledger/export")
def ledger_export(principal: CurrentPrincipal, c: ContainerDep) -> StreamingResponse:
    """The whole ledger as JSON, oldest first, with every hash: enough to verify it offline."""
    return StreamingResponse(
        c.ledger.export(principal),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="keepsake-ledger.json"'},
    )


@router.get("/ledger/verify")
def ledger_verify(principal: CurrentPrincipal, c: ContainerDep) -> VerificationOut:
    """Recompute the hash chain; names the first broken link if there is one."""
    result = c.ledger.verify(principal)
    return VerificationOut(
        ok=result.ok,
        entries=result.entries,
        head_hash=result.head_hash,
        broken_at=result.broken_at,
        reason=result.reason,
    )


# --- the public privacy statement ------------------------------------------------------------


@router.get("/privacy")
def privacy_statement(c: ContainerDep) -> dict[str, Any]:
    """Purposes, retention periods in force and what the ledger records; no login needed."""
    return statement(c.settings)


@pages.get("/privacy", response_class=HTMLResponse)
def privacy_page(c: ContainerDep) -> HTMLResponse:
    return HTMLResponse(privacy_html(c.settings))


# --- takeout ---------------------------------------------------------------------------------


@router.get("/takeout", response_class=StreamingResponse)
def takeout(
    request: Request,
    principal: CurrentPrincipal,
    c: ContainerDep,
    include_templates: Annotated[
        bool, Query(description="Include face templates (biometric data): only if you need them.")
    ] = False,
) -> StreamingResponse:
    """Everything of the account as one zip, streamed as it is made."""
    result = c.takeout.export(
        principal, include_templates=include_templates, via=via_of(request, principal)
    )
    return StreamingResponse(
        result.chunks,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{result.filename}"'},
    )


@router.post("/takeout/import")
def import_takeout(
    request: Request,
    principal: CurrentPrincipal,
    c: ContainerDep,
    file: Annotated[UploadFile, File(description="A Keepsake takeout (.zip)")],
) -> ImportOut:
    """Import a takeout from another Keepsake into the caller's account."""
    staged = c.media.new_staging_path()
    try:
        copy_to_staging(file.file, staged, c.settings.takeout_import_max_bytes)
        report = c.takeout.import_archive(principal, staged, via_of(request, principal))
    finally:
        staged.unlink(missing_ok=True)
    return ImportOut(
        assets=report.assets,
        duplicates=report.duplicates,
        albums=report.albums,
        favorites=report.favorites,
        trashed=report.trashed,
        face_regions=report.face_regions,
        faces_skipped=report.faces_skipped,
        failed=report.failed,
    )


# --- account deletion ------------------------------------------------------------------------


@router.get("/account/deletion")
def deletion_status(principal: CurrentPrincipal, c: ContainerDep) -> DeletionOut:
    return deletion_out(c.accounts.deletion(principal))


@router.post("/account/deletion", status_code=status.HTTP_202_ACCEPTED)
def request_deletion(
    body: DeletionRequest,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    c: ContainerDep,
) -> DeletionOut:
    """Delete my account after the grace period (password entered again). Every session and
    API key ends now; logging in again before the purge cancels."""
    state = c.accounts.request_deletion(principal, body.password, via_of(request, principal))
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return deletion_out(state)


@router.delete("/account/deletion", status_code=status.HTTP_204_NO_CONTENT)
def cancel_deletion(request: Request, principal: CurrentPrincipal, c: ContainerDep) -> None:
    c.accounts.cancel_deletion(principal, via_of(request, principal))


@router.post(
    "/admin/users/{user_id}/deletion", tags=["admin"], status_code=status.HTTP_202_ACCEPTED
)
def admin_request_deletion(
    user_id: str, body: AdminDeletionRequest, principal: CurrentPrincipal, c: ContainerDep
) -> DeletionOut:
    """Delete an account: disabled now, purged after the grace period (or now)."""
    return deletion_out(
        c.accounts.admin_request_deletion(principal, user_id, immediate=body.immediate)
    )


@router.delete(
    "/admin/users/{user_id}/deletion", tags=["admin"], status_code=status.HTTP_204_NO_CONTENT
)
def admin_cancel_deletion(user_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    c.accounts.admin_cancel_deletion(principal, user_id)


def deletion_out(state: DeletionState | None) -> DeletionOut:
    if state is None:
        return DeletionOut(scheduled=False)
    return DeletionOut(
        scheduled=True,
        deletion_id=state.deletion_id,
        requested_at=state.requested_at,
        purge_after=state.purge_after,
        by_admin=state.by_admin,
    )
