"""HTTP hardening for every response and request: security headers (a strict Content-Security-
Policy, no framing, no sniffing, no referrer leaks, no caching of API answers) and request
body limits that answer 413 before a byte too many is read or spooled to disk.

Both are plain ASGI middleware rather than Starlette's BaseHTTPMiddleware, which would buffer
streamed downloads and break `request.stream()` for tus uploads."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keepsake.api.problems import problem
from keepsake.config import MiB, Settings

# Pages may load scripts, styles, fonts and images from their own origin only: no inline
# script or style, no eval, no plugins, no <base> tricks, never inside a frame. Images may
# also be data: and blob: URLs, which the web UI makes from photos it has already fetched.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)
# FastAPI's interactive API page (/api/docs) is Swagger UI from a CDN with one inline script;
# it is the only page allowed them. It shows no stored data until its user calls the API with
# their own credentials.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'",
        "style-src 'self' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "connect-src 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)
DOCS_PATH = "/api/docs"

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000; includeSubDomains"  # a year, as ASVS 3.4.1 asks
API_CACHE_CONTROL = "no-store"

# Multipart framing around an uploaded file: boundaries, part headers, the small form fields.
MULTIPART_OVERHEAD = 1 * MiB
UPLOAD_CONTENT_TYPES = ("multipart/form-data", "application/offset+octet-stream")


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response, keeping any a route set itself."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CONTENT_SECURITY_POLICY if path == DOCS_PATH else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = {**SECURITY_HEADERS, "Content-Security-Policy": csp}
                if self.hsts:
                    wanted["Strict-Transport-Security"] = HSTS
                # API answers carry account data: no shared or disk cache keeps them, unless
                # a route chose otherwise (downloads are private and immutable).
                if path.startswith("/api/"):
                    wanted["Cache-Control"] = API_CACHE_CONTROL
                for name, value in wanted.items():
                    if name.lower().encode("latin-1") not in present:
                        headers.append((name.encode("latin-1"), value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies over the limit with a 413 problem: at once when Content-Length
    says so, otherwise as soon as the body read so far passes it (chunked bodies). Uploads
    (multipart forms and tus chunks) may be as large as one original; anything else is small."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_upload_bytes: int,
        upload_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_limits = dict(upload_limits or {})

    def _limit(self, scope: Scope) -> int:
        content_type = ""
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value.decode("latin-1").lower()
        if content_type.startswith(UPLOAD_CONTENT_TYPES):
            limit = self.upload_limits.get(scope.get("path", ""), self.max_upload_bytes)
            return limit + MULTIPART_OVERHEAD
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                declared = value
        if declared is not None:
            text = declared.decode("latin-1").strip()
            if not text.isdigit():
                await problem(400, "bad-request", "Bad request", "Content-Length is not a number.")(
                    scope, receive, send
                )
                return
            if int(text) > limit:
                await _too_large(limit)(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read: FastAPI lets HTTPException through
                    # and the problem handler answers 413.
                    raise StarletteHTTPException(413, _too_large_detail(limit))
            return message

        await self.app(scope, counting_receive, send)


def _too_large_detail(limit: int) -> str:
    return f"Request bodies larger than {limit} bytes are not accepted here."


def _too_large(limit: int) -> ASGIApp:
    return problem(413, "request-too-large", "Request body too large", _too_large_detail(limit))


def install(app: FastAPI, settings: Settings) -> None:
    # Added last is outermost: the headers go on every answer, the 413s included.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.request_max_bytes,
        max_upload_bytes=settings.upload_max_bytes,
        # Uploads larger than one original: a whole library's takeout, imported.
        upload_limits={"/api/takeout/import": settings.takeout_import_max_bytes},
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.cookie_secure)
