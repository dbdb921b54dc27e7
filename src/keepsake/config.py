"""All of Keepsake's settings: one class, read from `KEEPSAKE_*` variables, validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keepsake.faces.clustering import (
    CLUSTER_DISTANCE,
    MIN_PERSON_FACES,
    NEIGHBOUR_RADIUS,
    SEARCH_DISTANCE,
    SUGGEST_DISTANCE,
)

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
    face_template_retention_days: int = Field(
        3 * 365,
        ge=1,
        description="Days without a login or API use after which an account's face templates "
        "are deleted (and its consent to face recognition ends). The default, 3 years, is the "
        "longest the Illinois Biometric Information Privacy Act allows after the last "
        "interaction.",
    )
    account_deletion_grace_days: int = Field(
        7,
        ge=0,
        description="Days between asking to delete an account and its purge; logging in "
        "again cancels a deletion the user asked for (0: purged at once).",
    )
    takeout_import_max_bytes: int = Field(
        256 * GiB,
        ge=1 * MiB,
        description="Largest total size, in bytes, that an imported takeout archive may unpack "
        "to; archives claiming more are refused before anything is read.",
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
    encryption_at_rest: bool = Field(
        True,
        description="Encrypt originals, thumbnails and previews with their owner's key. "
        "Database metadata is sealed and checksums keyed either way. Once on, it cannot be "
        "turned off; turning it on over existing data encrypts that data in a background job "
        "(or `keepsake keys migrate`).",
    )
    master_key: SecretStr | None = Field(
        None,
        description="The master key, 32 random bytes in base64 (`head -c 32 /dev/urandom | "
        "base64`). Empty: read from `KEEPSAKE_MASTER_KEY_FILE`, or from `data_dir/master.key`, "
        "created on first start. See docs/security.md.",
    )
    master_key_file: Path | None = Field(
        None,
        description="A file holding the master key (base64, or 32 raw bytes). Put it on "
        "another volume than `data_dir`, so a copy of the data alone is unreadable.",
    )
    request_max_bytes: int = Field(
        2 * MiB,
        ge=1024,
        description="Largest request body accepted, except uploads (multipart and tus "
        "bodies are limited by `KEEPSAKE_UPLOAD_MAX_BYTES`), in bytes.",
    )
    login_free_attempts: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed logins allowed per account and per client address before each "
        "further attempt must wait (1 s, doubling up to `KEEPSAKE_LOGIN_MAX_DELAY_SECONDS`).",
    )
    login_max_delay_seconds: float = Field(
        900.0,
        ge=1,
        le=86400,
        description="Longest wait imposed after repeated failed logins; never a permanent "
        "lock-out. The count is forgotten after a day without failures.",
    )
    face_backend: Literal["dlib", "onnx"] = Field(
        "dlib",
        description="Face engine: `dlib` (HOG or CNN detector, 5-point alignment, dlib's ResNet "
        "on ONNX Runtime) or `onnx` (operator-supplied detector and recogniser models in "
        "`KEEPSAKE_FACE_MODEL_DIR`). Changing it re-indexes every library with faces on.",
    )
    face_detector: Literal["hog", "cnn"] = Field(
        "hog",
        description="dlib face detector: `hog` (fast, frontal faces) or `cnn` (finds more "
        "faces in odd poses and light, seconds per photo without a GPU).",
    )
    face_model_dir: Path | None = Field(
        None,
        description="Folder with face model files: the dlib `.dat` files when the "
        "`face_recognition_models` package is not installed, or the `.onnx` models of the "
        "`onnx` backend. Nothing is ever downloaded.",
    )
    face_cluster_distance: float = Field(
        CLUSTER_DISTANCE,
        gt=0,
        le=NEIGHBOUR_RADIUS,
        description="Average Euclidean distance between face templates (dlib embedding units) "
        "below which faces are grouped into one person. Lower splits more, higher merges "
        "more; see docs/faces.md for the figures behind the default.",
    )
    face_suggest_distance: float = Field(
        SUGGEST_DISTANCE,
        gt=0,
        le=2,
        description="Average distance of an unassigned face to a person's faces below which "
        'Keepsake asks "is this ...?" (embedding units).',
    )
    face_search_distance: float = Field(
        SEARCH_DISTANCE,
        gt=0,
        le=2,
        description="Distance (embedding units) below which a face in the library matches a "
        "face of a photo searched by example.",
    )
    face_min_person_faces: int = Field(
        MIN_PERSON_FACES,
        ge=1,
        le=100,
        description="Faces a group needs before it is shown as a person; fewer stay "
        "unassigned, with suggestions.",
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

    @field_validator("master_key")
    @classmethod
    def _nonempty_key(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

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
