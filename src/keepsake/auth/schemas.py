"""API models for accounts, sessions, two-factor login, API keys and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from keepsake.auth.access import Scope
from keepsake.auth.passwords import PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
# Long enough for any real password; short enough that hashing it costs nothing extra.
MAX_TYPED_PASSWORD = 1024


class SetupRequest(BaseModel):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)
    password: str = Field(min_length=PASSWORD_MIN_CHARS, max_length=PASSWORD_MAX_CHARS)
    display_name: str = Field("", max_length=200)


class NewUser(SetupRequest):
    is_admin: bool = False
    quota_bytes: int | None = Field(None, ge=0)


class LoginRequest(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=MAX_TYPED_PASSWORD)
    code: str | None = Field(
        None,
        max_length=64,
        description="With two-factor login on: the authenticator's code, or a recovery code.",
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    display_name: str
    is_admin: bool
    quota_bytes: int | None
    usage_bytes: int
    created_at: datetime
    disabled_at: datetime | None = None
    totp_enabled_at: datetime | None = Field(
        None, description="When two-factor login was turned on; empty while it is off."
    )


class LoginOut(BaseModel):
    token: str
    user: UserOut


class QuotaUpdate(BaseModel):
    quota_bytes: int | None = Field(None, ge=0)


class NewApiKey(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.FULL], min_length=1)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None


class CreatedApiKey(ApiKeyOut):
    secret: str = Field(description="Shown once; Keepsake keeps only its hash.")


class PasswordConfirmation(BaseModel):
    password: str = Field(
        max_length=MAX_TYPED_PASSWORD, description="The current password, entered again."
    )


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=MAX_TYPED_PASSWORD)
    new_password: str = Field(min_length=PASSWORD_MIN_CHARS, max_length=PASSWORD_MAX_CHARS)


class EmailChange(PasswordConfirmation):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)


class TotpCode(BaseModel):
    code: str = Field(max_length=64)


class TotpSetupOut(BaseModel):
    secret: str = Field(description="Base32 secret for the authenticator app (shown once).")
    uri: str = Field(description="otpauth:// URI, for a QR code.")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Each works once; shown only now.")


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str
    current: bool = Field(description="The session this request was made with.")


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    at: datetime
    event: str
    user_id: str | None = Field(description="The account the event is about.")
    actor_id: str | None = Field(description="Who caused it, when not that account's user.")
    ip: str | None
    detail: dict[str, Any] | None
