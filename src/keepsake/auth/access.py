"""Who is asking, and what they may do: the checks every service method starts with."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from keepsake.errors import Forbidden


class Scope(StrEnum):
    READ = "read"
    UPLOAD = "upload"
    FULL = "full"


# What each scope lets a caller do; a session (a person logged in) holds FULL.
_IMPLIES: dict[Scope, set[Scope]] = {
    Scope.READ: {Scope.READ},
    Scope.UPLOAD: {Scope.READ, Scope.UPLOAD},
    Scope.FULL: {Scope.READ, Scope.UPLOAD, Scope.FULL},
}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user through a session or an API key, or the local CLI."""

    user_id: str
    is_admin: bool
    scopes: frozenset[Scope]
    session_id: str | None = None
    api_key_id: str | None = None
    ip: str | None = None  # the client's address, for the audit log

    def allows(self, scope: Scope) -> bool:
        return any(scope in _IMPLIES[held] for held in self.scopes)


def require_access(principal: Principal, scope: Scope = Scope.READ) -> str:
    """Check that the caller may act with `scope` on their own data; return their user id.
    Objects are then always looked up scoped to that id, so another user's is a 404."""
    if not principal.allows(scope):
        raise Forbidden(f"This credential lacks the '{scope}' scope.")
    return principal.user_id


def require_admin(principal: Principal) -> str:
    if not principal.is_admin or not principal.allows(Scope.FULL):
        raise Forbidden("Administrators only.")
    return principal.user_id
