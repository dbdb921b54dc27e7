"""Time-based one-time passwords (RFC 6238, via pyotp) and recovery codes for two-factor
login: what a code is, how it is checked, and how recovery codes are made and stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp

TOTP_DIGITS = 6
TOTP_PERIOD_SECONDS = 30
# Codes from one period before or after the server's are accepted: phones drift by seconds
# and a code typed at the end of its period arrives in the next (RFC 6238, section 5.2).
TOTP_DRIFT_STEPS = 1
ISSUER = "Keepsake"

RECOVERY_CODE_COUNT = 10
# 16 characters of base32: 80 random bits, so an unsalted SHA-256 of it is safe to store.
RECOVERY_CODE_CHARS = 16
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_secret() -> str:
    """A 160-bit TOTP secret in base32, as authenticator apps expect (RFC 4226's length)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER
    )


def current_step(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_PERIOD_SECONDS


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS).at(
        step * TOTP_PERIOD_SECONDS
    )


def verify(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_step` (so a
    code seen once, by the server or by someone watching, cannot be used again)."""
    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    now_step = current_step(now)
    for step in range(now_step - TOTP_DRIFT_STEPS, now_step + TOTP_DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Codes shown once to the user, in groups of four for reading: `ABCD-EFGH-IJKL-MNOP`."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_BASE32) for _ in range(RECOVERY_CODE_CHARS))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_CHARS, 4)))
    return codes


def normalise_recovery_code(code: str) -> str | None:
    raw = "".join(ch for ch in code.upper() if ch not in "- ")
    if len(raw) != RECOVERY_CODE_CHARS or any(ch not in _BASE32 for ch in raw):
        return None
    return raw


def recovery_code_hash(code: str) -> str:
    """The stored form of a recovery code (normalised first, so dashes and case don't matter)."""
    raw = normalise_recovery_code(code)
    if raw is None:
        raise ValueError("not a recovery code")
    return hashlib.sha256(raw.encode()).hexdigest()
