"""RFC 9457 problem responses for every error the API reports, and an OpenAPI document that
says so (every operation's 4XX answers are problems)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from keepsake.errors import KeepsakeError

log = logging.getLogger("keepsake.api")
TYPE_BASE = "https://keepsake.invalid/problems/"
PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    async def keepsake_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, KeepsakeError)
        if exc.status in (401, 403, 429):
            # Refused authentication and authorization are security events (ASVS 16.3.2);
            # the detail never carries a secret, the query string is left out.
            log.warning(
                "refused %s %s: %s %s", request.method, request.url.path, exc.status, exc.slug
            )
        extra = {k: v for k, v in exc.extra.items() if k != "headers"}
        headers = exc.extra.get("headers")
        return problem(
            exc.status,
            exc.slug,
            exc.title,
            exc.detail,
            headers=headers if isinstance(headers, dict) else None,
            **extra,
        )

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem(
            422, "invalid-input", "Invalid input", "The request is not valid.", errors=errors
        )

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = {
            400: "bad-request",
            404: "not-found",
            405: "method-not-allowed",
            401: "unauthorized",
            413: "request-too-large",
        }.get(exc.status_code, "http-error")
        return problem(
            exc.status_code,
            slug,
            str(exc.detail),
            str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def data_error(_request: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the request carried (a NUL character, which
        # PostgreSQL text cannot hold, or a string longer than its column): the client's
        # input, whatever route it came through. The transaction was rolled back.
        log.info("database refused a value: %s", type(getattr(exc, "orig", exc)).__name__)
        return problem(
            422,
            "invalid-input",
            "Invalid input",
            "A value in the request cannot be stored (for example a NUL character).",
        )

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, RecursionError):
            # A JSON body nested deeper than Python's parser recurses: the client's fault.
            return problem(400, "bad-request", "Bad request", "The body is nested too deeply.")
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "internal", "Internal error", "Something went wrong on the server.")

    app.add_exception_handler(KeepsakeError, keepsake_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DataError, data_error)
    app.add_exception_handler(Exception, unexpected)
    _document_problems(app)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `type` is stable and tells errors apart.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document tell the truth about errors: FastAPI documents a 422 as
    `application/json` with its own shape, but every error here is a problem."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = _problem_response("Invalid input")
                responses.setdefault("4XX", _problem_response("A client error, as a problem"))
        components = schema["components"]["schemas"]
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
