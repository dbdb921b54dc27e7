"""Routes for first-run setup, login sessions, the current user's credentials and two-factor
login, API keys, the audit log and account administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from keepsake.api.consent import deletion_out, via_of
from keepsake.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    ClientAddress,
    ContainerDep,
    CurrentPrincipal,
)
from keepsake.auth.access import Scope
from keepsake.auth.audit import AUDIT_MAX_PAGE
from keepsake.auth.schemas import (
    ApiKeyOut,
    AuditEventOut,
    CreatedApiKey,
    EmailChange,
    LoginOut,
    LoginRequest,
    NewApiKey,
    NewUser,
    PasswordChange,
    PasswordConfirmation,
    QuotaUpdate,
    RecoveryCodesOut,
    SessionOut,
    SetupRequest,
    TotpCode,
    TotpSetupOut,
    UserOut,
)
from keepsake.consent.schemas import DeletionOut
from keepsake.ids import new_token
from keepsake.storage.models import ApiKey

router = APIRouter(prefix="/api", tags=["accounts"])


@router.get("/setup")
def setup_status(c: ContainerDep) -> dict[str, bool]:
    """Whether the server still waits for its first account."""
    return {"needs_setup": c.auth.needs_setup()}


@router.post("/setup", status_code=status.HTTP_201_CREATED)
def setup(body: SetupRequest, c: ContainerDep) -> UserOut:
    """Create the first administrator; works only while no account exists."""
    return UserOut.model_validate(
        c.auth.setup_first_admin(body.email, body.password, body.display_name)
    )


@router.post("/auth/login")
def login(
    body: LoginRequest, request: Request, response: Response, ip: ClientAddress, c: ContainerDep
) -> LoginOut:
    """A new session. With two-factor login on, a request without `code` is answered with
    the problem `second-factor-required`; repeated failures are answered 429 with
    Retry-After."""
    token, user = c.auth.login(
        body.email, body.password, request.headers.get("user-agent", ""), ip=ip, code=body.code
    )
    max_age = int(c.settings.session_ttl_hours * 3600)
    secure = c.settings.cookie_secure
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite="lax"
    )
    # Readable by our own pages only, echoed back in X-CSRF-Token on state changes.
    response.set_cookie(CSRF_COOKIE, new_token(), max_age=max_age, secure=secure, samesite="strict")
    return LoginOut(token=token, user=UserOut.model_validate(user))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    request: Request, response: Response, principal: CurrentPrincipal, c: ContainerDep
) -> None:
    token = (
        request.cookies.get(SESSION_COOKIE)
        or request.headers.get("authorization", "").partition(" ")[2]
    )
    if principal.session_id and token:
        c.auth.logout(token, principal)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


@router.get("/sessions")
def list_sessions(principal: CurrentPrincipal, c: ContainerDep) -> list[SessionOut]:
    """My live login sessions."""
    return [
        SessionOut(
            id=x.id,
            created_at=x.created_at,
            last_seen_at=x.last_seen_at,
            expires_at=x.expires_at,
            user_agent=x.user_agent,
            current=x.id == principal.session_id,
        )
        for x in c.auth.sessions(principal)
    ]


@router.delete("/sessions", status_code=status.HTTP_204_NO_CONTENT)
def revoke_other_sessions(principal: CurrentPrincipal, c: ContainerDep) -> None:
    """End all my sessions but this one (everywhere else I am logged in)."""
    c.auth.revoke_other_sessions(principal)


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_session(session_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    """End one of my sessions (on whatever device it is)."""
    c.auth.revoke_session(principal, session_id)


@router.post("/users/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, principal: CurrentPrincipal, c: ContainerDep) -> None:
    """Change my password; my other sessions end."""
    c.auth.change_password(principal, body.current_password, body.new_password)


@router.put("/users/me/email")
def change_email(body: EmailChange, principal: CurrentPrincipal, c: ContainerDep) -> UserOut:
    return UserOut.model_validate(c.auth.change_email(principal, body.password, body.email))


@router.post("/users/me/two-factor/setup")
def begin_two_factor(
    body: PasswordConfirmation, principal: CurrentPrincipal, c: ContainerDep
) -> TotpSetupOut:
    """Step one of turning two-factor login on: a secret for the authenticator app."""
    setup = c.auth.begin_totp(principal, body.password)
    return TotpSetupOut(secret=setup.secret, uri=setup.uri)


@router.post("/users/me/two-factor/enable")
def enable_two_factor(
    body: TotpCode, principal: CurrentPrincipal, c: ContainerDep
) -> RecoveryCodesOut:
    """Step two: a code from the app turns it on; keep the recovery codes somewhere safe."""
    return RecoveryCodesOut(recovery_codes=c.auth.enable_totp(principal, body.code))


@router.post("/users/me/two-factor/disable", status_code=status.HTTP_204_NO_CONTENT)
def disable_two_factor(
    body: PasswordConfirmation, principal: CurrentPrincipal, c: ContainerDep
) -> None:
    c.auth.disable_totp(principal, body.password)


@router.post("/users/me/two-factor/recovery-codes")
def renew_recovery_codes(
    body: PasswordConfirmation, principal: CurrentPrincipal, c: ContainerDep
) -> RecoveryCodesOut:
    """New recovery codes; the old ones stop working."""
    return RecoveryCodesOut(recovery_codes=c.auth.renew_recovery_codes(principal, body.password))


@router.post("/users/me/delete", status_code=status.HTTP_202_ACCEPTED, deprecated=True)
def delete_my_account(
    body: PasswordConfirmation,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    c: ContainerDep,
) -> DeletionOut:
    """The same as `POST /api/account/deletion`, which replaces it: my account is purged
    with everything in it after the grace period; every session and API key ends now, and
    logging in again before the purge cancels."""
    state = c.accounts.request_deletion(principal, body.password, via_of(request, principal))
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return deletion_out(state)


@router.get("/users/me/audit")
def my_audit_events(
    principal: CurrentPrincipal,
    c: ContainerDep,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_MAX_PAGE)] = 100,
) -> list[AuditEventOut]:
    """Security events about my account, newest first."""
    return [
        AuditEventOut.model_validate(e)
        for e in c.audit.my_events(principal, before=before, limit=limit)
    ]


@router.get("/users/me")
def me(principal: CurrentPrincipal, c: ContainerDep) -> UserOut:
    return UserOut.model_validate(c.auth.me(principal))


@router.get("/api-keys")
def list_api_keys(principal: CurrentPrincipal, c: ContainerDep) -> list[ApiKeyOut]:
    return [_key_out(k) for k in c.auth.list_api_keys(principal)]


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
def create_api_key(body: NewApiKey, principal: CurrentPrincipal, c: ContainerDep) -> CreatedApiKey:
    secret, key = c.auth.create_api_key(principal, body.name, body.scopes)
    return CreatedApiKey(secret=secret, **_key_out(key).model_dump())


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(key_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    c.auth.revoke_api_key(principal, key_id)


@router.get("/admin/users", tags=["admin"])
def admin_list_users(principal: CurrentPrincipal, c: ContainerDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in c.auth.list_users(principal)]


@router.post("/admin/users", tags=["admin"], status_code=status.HTTP_201_CREATED)
def admin_create_user(body: NewUser, principal: CurrentPrincipal, c: ContainerDep) -> UserOut:
    user = c.auth.create_user(
        principal,
        body.email,
        body.password,
        display_name=body.display_name,
        is_admin=body.is_admin,
        quota_bytes=body.quota_bytes,
    )
    return UserOut.model_validate(user)


@router.put("/admin/users/{user_id}/quota", tags=["admin"])
def admin_set_quota(
    user_id: str, body: QuotaUpdate, principal: CurrentPrincipal, c: ContainerDep
) -> UserOut:
    return UserOut.model_validate(c.auth.set_quota(principal, user_id, body.quota_bytes))


@router.post("/admin/users/{user_id}/disable", tags=["admin"])
def admin_disable_user(user_id: str, principal: CurrentPrincipal, c: ContainerDep) -> UserOut:
    """The account cannot log in, and its sessions end now."""
    return UserOut.model_validate(c.auth.set_disabled(principal, user_id, True))


@router.post("/admin/users/{user_id}/enable", tags=["admin"])
def admin_enable_user(user_id: str, principal: CurrentPrincipal, c: ContainerDep) -> UserOut:
    return UserOut.model_validate(c.auth.set_disabled(principal, user_id, False))


@router.delete("/admin/users/{user_id}", tags=["admin"], status_code=status.HTTP_204_NO_CONTENT)
def admin_delete_user(user_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    """Delete an account and everything in it now, without a grace period (its encryption
    key is destroyed at once); on my ledger by deletion id. `POST
    /api/admin/users/{id}/deletion` deletes after the grace period instead."""
    c.accounts.admin_request_deletion(principal, user_id, immediate=True)


@router.get("/admin/audit", tags=["admin"])
def admin_audit_events(
    principal: CurrentPrincipal,
    c: ContainerDep,
    user_id: Annotated[str | None, Query(max_length=36)] = None,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_MAX_PAGE)] = 100,
) -> list[AuditEventOut]:
    """Security events of every account (or of one), newest first."""
    return [
        AuditEventOut.model_validate(e)
        for e in c.audit.events(principal, user_id=user_id, before=before, limit=limit)
    ]


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=[Scope(s) for s in key.scopes.split(",") if s],
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )
