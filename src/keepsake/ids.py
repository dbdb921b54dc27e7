"""Identifiers and secret tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_id() -> str:
    return str(uuid.uuid4())


def new_token(prefix: str = "") -> str:
    """A secret with 256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are stored only as their SHA-256: they carry 256 random bits, so a fast hash
    is enough and a leaked database holds nothing that logs anyone in."""
    return hashlib.sha256(token.encode()).hexdigest()
