"""API models for accounts, sessions and API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from keepsake.auth.access import Scope


class SetupRequest(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)
    password: str = Field(min_length=8, max_length=128)
    display_name: str = Field("", max_length=200)


class NewUser(SetupRequest):
    is_admin: bool = False
    quota_bytes: int | None = Field(None, ge=0)


class LoginRequest(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    display_name: str
    is_admin: bool
    quota_bytes: int | None
    usage_bytes: int
    created_at: datetime


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
