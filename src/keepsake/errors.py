"""Keepsake's exception hierarchy. The API maps each class to an RFC 9457 problem with a
stable `type`, so a client can tell "unsupported image" from "quota exceeded"."""

from __future__ import annotations


class KeepsakeError(Exception):
    """Base of every error a user can be told about."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str | None = None, **extra: object) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFound(KeepsakeError):
    status, slug, title = 404, "not-found", "Not found"


class Unauthorized(KeepsakeError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(KeepsakeError):
    status, slug, title = 403, "forbidden", "Not allowed"


class Conflict(KeepsakeError):
    status, slug, title = 409, "conflict", "Conflict"


class SetupDone(Conflict):
    slug, title = "setup-done", "Keepsake is already set up"


class InvalidInput(KeepsakeError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class UnsupportedMedia(KeepsakeError):
    status, slug, title = 415, "unsupported-media", "Unsupported file type"


class CorruptImage(KeepsakeError):
    status, slug, title = 422, "corrupt-image", "The image could not be read"


class ImageTooLarge(KeepsakeError):
    status, slug, title = 422, "image-too-large", "The image has too many pixels"


class ChecksumMismatch(KeepsakeError):
    status, slug, title = 422, "checksum-mismatch", "Checksum mismatch"


class PayloadTooLarge(KeepsakeError):
    status, slug, title = 413, "payload-too-large", "Upload too large"


class QuotaExceeded(KeepsakeError):
    status, slug, title = 507, "quota-exceeded", "Storage quota exceeded"


class RateLimited(KeepsakeError):
    status, slug, title = 429, "rate-limited", "Too many attempts"


class RequestTooLarge(KeepsakeError):
    status, slug, title = 413, "request-too-large", "Request body too large"


class SecondFactorRequired(Unauthorized):
    slug, title = "second-factor-required", "A two-factor code is required"


class WrongPassword(KeepsakeError):
    """The current password, re-entered to confirm a sensitive change, is wrong."""

    status, slug, title = 403, "wrong-password", "Wrong password"
