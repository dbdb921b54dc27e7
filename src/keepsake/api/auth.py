"""Routes for first-run setup, login sessions, the current user, API keys and admin."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from keepsake.api.deps import CSRF_COOKIE, SESSION_COOKIE, ContainerDep, CurrentPrincipal
from keepsake.auth.access import Scope
from keepsake.auth.schemas import (
    ApiKeyOut,
    CreatedApiKey,
    LoginOut,
    LoginRequest,
    NewApiKey,
    NewUser,
    QuotaUpdate,
    SetupRequest,
    UserOut,
)
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
def login(body: LoginRequest, request: Request, response: Response, c: ContainerDep) -> LoginOut:
    token, user = c.auth.login(body.email, body.password, request.headers.get("user-agent", ""))
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
        c.auth.logout(token)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


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


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=[Scope(s) for s in key.scopes.split(",") if s],
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )
