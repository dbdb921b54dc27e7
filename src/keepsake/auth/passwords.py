"""Password rules and hashing with Argon2id."""

from __future__ import annotations

import re
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from keepsake.errors import InvalidInput

# OWASP's minimum for Argon2id: t=2 iterations, m=19 MiB, p=1.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 128

_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)
# Verified against when an account does not exist, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("keepsake-dummy-password")


# The passwords of 8 characters or more that lead every published list of leaked ones
# (ASVS 6.2.4 asks for the top 3,000; Keepsake ships no list that long, see docs/security.md).
COMMON_PASSWORDS = frozenset(
    """
    password password1 password12 password123 12345678 123456789 1234567890 0123456789
    87654321 11111111 00000000 88888888 12341234 11223344 qwertyui qwertyuiop qwerty123
    1q2w3e4r 1qaz2wsx zaq12wsx qazwsxedc asdfghjkl iloveyou iloveyou1 sunshine princess
    football baseball superman batman123 starwars trustno1 welcome1 welcome123 letmein1
    passw0rd p@ssw0rd p@ssword abc12345 abcd1234 aa123456 a1b2c3d4 computer internet
    whatever michelle jennifer jordan23 charlie1 dragon123 monkey123 shadow12 master123
    changeme administrator admin123 admin1234 secret123 photos123 pictures
    """.split()  # noqa: SIM905 (a word list reads better as words)
)
# Words about this service that make a password easy to guess (ASVS 6.1.2 and 6.2.11).
CONTEXT_WORDS = ("keepsake", "keepsakes", "photos", "photolibrary")


def check_password_rules(password: str, context: Iterable[str] = ()) -> None:
    """Length, not one of the most common passwords, not just a word about this service or
    the account (`context`: its email, name). No composition rules (ASVS 6.2.5)."""
    if not PASSWORD_MIN_CHARS <= len(password) <= PASSWORD_MAX_CHARS:
        raise InvalidInput(
            f"A password has {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters."
        )
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        raise InvalidInput("This password is one of the most used; choose another.")
    letters = re.sub(r"[^a-z]", "", lowered)
    words = {w.lower() for w in CONTEXT_WORDS}
    for value in context:
        value = value.strip().lower()
        if value:
            words |= {value, value.split("@")[0], re.sub(r"[^a-z]", "", value.split("@")[0])}
    if lowered in words or (letters and letters in words):
        raise InvalidInput("The password must not be the name of this service or your account.")


def hash_password(password: str, context: Iterable[str] = ()) -> str:
    check_password_rules(password, context)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
