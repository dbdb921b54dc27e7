"""All of Keepsake's settings: one class, read from `KEEPSAKE_*` variables, validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024
GiB = 1024 * MiB


class Settings(BaseSettings):
    """Keepsake's configuration. Every field is documented in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="KEEPSAKE_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        Path("./keepsake-data"),
        description="Directory for the SQLite database, originals, derived images and the "
        "job queue. Created on first start.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the metadata database. Empty: SQLite in `data_dir`. "
        "PostgreSQL: `postgresql://user@host:5432/db` (psycopg 3).",
    )
    jobs_url: str | None = Field(
        None,
        description="Job queue storage. Empty: SQLite file in `data_dir`, consumed by threads "
        "inside `keepsake serve`. `redis://host:6379/0`: Redis, consumed by `keepsake worker`.",
    )
    job_workers: int = Field(
        2,
        ge=0,
        le=64,
        description="Job consumer threads started inside `keepsake serve` (0: none).",
    )
    jobs_immediate: bool = Field(
        False,
        description="Run jobs synchronously in the request that enqueues them (tests and "
        "debugging only).",
    )
    upload_max_bytes: int = Field(
        4 * GiB, ge=1, description="Largest single original accepted, in bytes."
    )
    upload_expiry_hours: float = Field(
        24.0,
        gt=0,
        description="A resumable upload that is not finished within this many hours is "
        "deleted with its partial data.",
    )
    max_image_pixels: int = Field(
        250_000_000,
        ge=1_000_000,
        description="Images with more pixels than this are refused as decompression bombs "
        "(250 MP covers today's largest phone and medium-format sensors).",
    )
    thumbnail_size: int = Field(
        250, ge=64, le=1024, description="Short side of thumbnails, in pixels."
    )
    preview_size: int = Field(
        1440, ge=512, le=4096, description="Long side of previews, in pixels."
    )
    trash_retention_days: int = Field(
        30, ge=1, description="Days an item stays in the trash before it is purged for good."
    )
    default_quota_bytes: int | None = Field(
        None, ge=0, description="Storage quota for new users, in bytes. Empty: unlimited."
    )
    session_ttl_hours: float = Field(
        24.0 * 30, gt=0, description="A login session expires after this many hours."
    )
    cookie_secure: bool = Field(
        False,
        description="Mark the session cookie Secure (set when Keepsake is served over HTTPS).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of the server."
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql:// URL")
        return value or None

    @field_validator("jobs_url")
    @classmethod
    def _known_queue(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://")):
            raise ValueError("jobs_url must be empty (SQLite) or a redis:// URL")
        return value or None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.data_dir / 'keepsake.db').resolve()}"
