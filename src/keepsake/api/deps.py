"""FastAPI dependencies: thin aliases over what the composition root built."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from keepsake.auth.access import Principal
from keepsake.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from keepsake.app import Container

SESSION_COOKIE = "keepsake_session"
CSRF_COOKIE = "keepsake_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated["Container", Depends(get_container)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.headers.get("x-api-key")


def client_address(request: Request) -> str | None:
    """The client's address as the server sees it (behind a reverse proxy, run uvicorn with
    --proxy-headers and --forwarded-allow-ips so that this is the real client)."""
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]


def optional_principal(request: Request) -> Principal | None:
    container = get_container(request)
    token = _bearer(request)
    if token:
        principal = container.auth.authenticate_api_key(token)
        if principal is None:
            principal = container.auth.authenticate_session(token)
        if principal is None:
            raise Unauthorized("The token or API key is not valid.")
        return replace(principal, ip=client_address(request))
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    principal = container.auth.authenticate_session(cookie)
    if principal is not None and request.method not in SAFE_METHODS:
        # A cookie rides along on cross-site requests; a header the page must read from
        # our own cookie cannot (double-submit CSRF token).
        sent = request.headers.get(CSRF_HEADER, "")
        expected = request.cookies.get(CSRF_COOKIE, "")
        if not expected or not secrets.compare_digest(sent, expected):
            raise Forbidden("Missing or wrong CSRF token.")
    return None if principal is None else replace(principal, ip=client_address(request))


def current_principal(request: Request) -> Principal:
    principal = optional_principal(request)
    if principal is None:
        raise Unauthorized("Log in, or send an API key.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
