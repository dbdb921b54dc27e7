"""API models for consent, the ledger, the privacy statement, takeout and account deletion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PurposeOut(BaseModel):
    name: str
    version: int = Field(description="The version of the text; consent is given to one.")
    title: str
    text: str
    biometric: bool


class ConsentOut(BaseModel):
    purpose: PurposeOut
    granted: bool = Field(description="Consent to the current text is in force.")
    needs_renewal: bool = Field(
        description="Consent was given to an older text and does not count until renewed."
    )
    granted_version: int | None
    granted_at: datetime | None
    granted_via: str | None


class ConsentGrant(BaseModel):
    version: int = Field(ge=1, description="The version of the text the user accepted.")


class WithdrawalOut(BaseModel):
    purpose: str
    was_granted: bool
    templates_deleted: int | None = Field(
        description="Face templates deleted by this withdrawal (null: not counted)."
    )


class ConsentRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    purpose: str
    version: int
    granted_at: datetime
    granted_via: str
    granted_by: str
    ended_at: datetime | None
    ended_via: str | None
    ended_by: str | None
    ended_reason: str | None


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    action: str
    purpose: str | None
    object_ids: list[str]
    detail: dict[str, Any] | None
    prev_hash: str
    hash: str


class LedgerPage(BaseModel):
    items: list[LedgerEntryOut]
    next_cursor: str | None


class VerificationOut(BaseModel):
    ok: bool
    entries: int
    head_hash: str
    broken_at: int | None = Field(description="Sequence number of the first broken link.")
    reason: str | None


class DeletionRequest(BaseModel):
    password: str = Field(max_length=1024, description="The account's password, entered again.")


class AdminDeletionRequest(BaseModel):
    immediate: bool = Field(False, description="Purge now instead of after the grace period.")


class DeletionOut(BaseModel):
    scheduled: bool
    deletion_id: str | None = None
    requested_at: datetime | None = None
    purge_after: datetime | None = None
    by_admin: bool = False


class ImportOut(BaseModel):
    assets: int
    duplicates: int
    albums: int
    favorites: int
    trashed: int
    face_regions: int = Field(description="Face regions placed on the imported photos.")
    faces_skipped: list[str] = Field(
        description="Photos whose face regions were not imported, and why (face recognition "
        "is off: turn it on and import again; the photos themselves are not duplicated)."
    )
    failed: list[str]
