"""The data-use ledger: per user, append-only and hash-chained, one entry for every processing
of the user's data (face indexing, searches, exports, shares, administrator actions, consent
changes, logins from new devices).

Each entry's hash is the SHA-256 of its canonical JSON (keys sorted, no spaces, UTF-8), which
includes the hash of the entry before it, so changing, removing or reordering any entry breaks
every later link; the chain head (`ledger_heads`) also catches entries cut off the end.
Entries hold times, actors, purposes and object ids, never image content or templates."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from keepsake.auth.access import Principal, Scope, require_access
from keepsake.clock import Clock
from keepsake.consent.purposes import PurposeName
from keepsake.consent.repository import ConsentRepository
from keepsake.errors import InvalidInput
from keepsake.storage.db import WRITE_SESSION, Database, NestedWriteError
from keepsake.storage.models import LedgerEntry

GENESIS = "0" * 64  # the "previous hash" of a chain's first entry
LEDGER_FORMAT = 1  # part of every hashed entry, so a future format cannot be confused with it
LEDGER_MAX_PAGE = 500
VERIFY_BATCH = 1000

# An entry names objects, it does not list a whole library: callers with more ids record a
# count in `detail` (a withdrawal that deletes 10,000 templates is one entry, not 10,000).
MAX_OBJECT_IDS = 1000
MAX_DETAIL_KEYS = 20
MAX_DETAIL_TEXT = 300

DetailValue = str | int | bool | None


class Action(StrEnum):
    """What happened. The faces, sharing and verification code record the first group."""

    FACES_INDEXED = "faces.indexed"
    FACE_SEARCH = "faces.searched"
    FACE_TEMPLATES_DELETED = "face_templates.deleted"
    FACE_JOB_SKIPPED = "faces.skipped_without_consent"
    SHARE_ACCESSED = "share.accessed"
    LINK_VIEWED = "link.viewed"
    LINK_DOWNLOADED = "link.downloaded"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    CONSENT_EXPIRED = "consent.expired"
    TAKEOUT_EXPORTED = "takeout.exported"
    TAKEOUT_IMPORTED = "takeout.imported"
    LOGIN_NEW_DEVICE = "login.new_device"
    DELETION_SCHEDULED = "account.deletion_scheduled"
    DELETION_CANCELLED = "account.deletion_cancelled"
    # On an administrator's own ledger: what they did to other accounts (by an opaque
    # deletion id, never the other account's id, which must vanish with it).
    ADMIN_DELETION_SCHEDULED = "admin.account_deletion_scheduled"
    ADMIN_DELETION_CANCELLED = "admin.account_deletion_cancelled"
    ADMIN_ACCOUNT_PURGED = "admin.account_purged"


# Actors, as recorded: who caused the processing.
def user_actor(user_id: str) -> str:
    return f"user:{user_id}"


def admin_actor(user_id: str) -> str:
    return f"admin:{user_id}"


OPERATOR = "operator:cli"  # someone with shell access to the server, through `keepsake`
RETENTION = "system:retention"
# The job that finishes a deletion a withdrawal hook did not (ConsentService.reconcile).
RECONCILE = "system:reconcile"


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_payload(entry: LedgerEntry) -> dict[str, object]:
    """Exactly what an entry's hash covers."""
    return {
        "format": LEDGER_FORMAT,
        "user_id": entry.user_id,
        "seq": entry.seq,
        "at": timestamp(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "purpose": entry.purpose,
        "object_ids": list(entry.object_ids),
        "detail": dict(entry.detail or {}),
        "prev_hash": entry.prev_hash,
    }


def entry_hash(entry: LedgerEntry) -> str:
    return hashlib.sha256(canonical_json(entry_payload(entry))).hexdigest()


def entry_json(entry: LedgerEntry) -> dict[str, object]:
    """An entry as exported: its hashed fields and its hash, enough to verify it offline."""
    return {**entry_payload(entry), "hash": entry.hash}


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head_hash: str
    broken_at: int | None = None  # the sequence number of the first broken link
    reason: str | None = None


class Ledger:
    """Appends to and reads the per-user chains."""

    def __init__(self, db: Database, repo: ConsentRepository, clock: Clock) -> None:
        self.db = db
        self.repo = repo
        self.clock = clock

    # --- writing (for services that have done their own access check) -----------------

    def append(
        self,
        s: Session,
        owner_id: str,
        actor: str,
        action: str,
        purpose: str | None = None,
        object_ids: Sequence[str] = (),
        detail: Mapping[str, DetailValue] | None = None,
    ) -> LedgerEntry:
        """Add an entry inside the caller's write transaction, so it exists exactly when the
        processing it records does. Locks the owner's chain head until that commit. This is
        the way to record from code that writes anyway: one transaction, and no second
        writer waiting for the first."""
        if not s.info.get(WRITE_SESSION):
            # A read session is never committed: the entry would vanish without a word.
            raise TypeError("Ledger.append needs a session from db.write(), not db.read()")
        _check(action, purpose, object_ids, detail)
        head = self.repo.lock_ledger_head(s, owner_id, GENESIS)
        entry = LedgerEntry(
            user_id=owner_id,
            seq=head.seq + 1,
            at=self.clock.now(),
            actor=actor,
            action=str(action),
            purpose=str(purpose) if purpose is not None else None,
            object_ids=[str(x) for x in object_ids],
            detail=dict(detail) if detail else None,
            prev_hash=head.hash,
            hash="",
        )
        entry.hash = entry_hash(entry)
        self.repo.add_ledger_entry(s, entry)
        head.seq, head.hash = entry.seq, entry.hash
        return entry

    def record(
        self,
        owner_id: str,
        actor: str,
        action: str,
        purpose: str | None = None,
        object_ids: Sequence[str] = (),
        detail: Mapping[str, DetailValue] | None = None,
    ) -> LedgerEntry:
        """Add an entry in a write transaction of its own, for processing that writes nothing
        else (a search, a read through a share). Inside a `db.write()` block this raises
        `NestedWriteError` on every database (on SQLite a second writer would wait for the
        first forever; elsewhere the entry would commit apart from what it records): use
        `append` with that block's session."""
        if self.db.in_write:
            raise NestedWriteError(
                "Ledger.record inside db.write(): use Ledger.append(s, ...) with its session"
            )
        with self.db.write() as s:
            return self.append(s, owner_id, actor, action, purpose, object_ids, detail)

    # --- reading and verifying ---------------------------------------------------------

    def entries(
        self,
        principal: Principal,
        *,
        action: str | None = None,
        purpose: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[LedgerEntry], str | None]:
        """The caller's entries, newest first; pass `next_cursor` back for older ones."""
        owner_id = require_access(principal, Scope.READ)
        if not 1 <= limit <= LEDGER_MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {LEDGER_MAX_PAGE}.")
        before = _decode_cursor(cursor) if cursor else None
        with self.db.read() as s:
            rows = self.repo.ledger_page(
                s,
                owner_id,
                before_seq=before,
                limit=limit + 1,
                action=action,
                purpose=purpose,
                since=since,
                until=until,
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, _encode_cursor(rows[-1].seq) if more else None

    def export(self, principal: Principal) -> Iterator[bytes]:
        """The caller's whole chain as one JSON document, oldest first, streamed."""
        owner_id = require_access(principal, Scope.READ)
        return self.export_chain(owner_id)

    def export_chain(self, owner_id: str) -> Iterator[bytes]:
        """For takeout, which has checked access itself."""
        yield b'{"format":"keepsake-ledger","version":%d,"user_id":' % LEDGER_FORMAT
        yield json.dumps(owner_id).encode() + b',"entries":['
        first = True
        for entry in self._chain(owner_id):
            yield (b"" if first else b",") + b"\n" + canonical_json(entry_json(entry))
            first = False
        yield b"\n]}\n"

    def verify(self, principal: Principal) -> Verification:
        owner_id = require_access(principal, Scope.READ)
        return self.verify_chain(owner_id)

    def verify_chain(self, owner_id: str) -> Verification:
        """Recompute every link; report the first entry whose hash, predecessor or sequence
        number is wrong, or a head that does not match the last entry."""
        prev_hash, expected_seq, count = GENESIS, 1, 0
        for entry in self._chain(owner_id):
            if entry.seq != expected_seq:
                return Verification(
                    False, count, prev_hash, expected_seq, f"entry {expected_seq} is missing"
                )
            if entry.prev_hash != prev_hash:
                return Verification(
                    False,
                    count,
                    prev_hash,
                    entry.seq,
                    "its previous-entry hash does not match the entry before it",
                )
            if entry_hash(entry) != entry.hash:
                return Verification(
                    False, count, prev_hash, entry.seq, "its content does not match its hash"
                )
            prev_hash, expected_seq, count = entry.hash, expected_seq + 1, count + 1
        with self.db.read() as s:
            head = self.repo.ledger_head(s, owner_id)
        head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
        if (head_seq, head_hash) != (count, prev_hash):
            return Verification(
                False,
                count,
                prev_hash,
                count + 1 if head_seq > count else head_seq,
                f"the chain head is at entry {head_seq}, the entries end at {count}",
            )
        return Verification(True, count, prev_hash)

    def _chain(self, owner_id: str) -> Iterator[LedgerEntry]:
        after = 0
        while True:
            with self.db.read() as s:
                batch = self.repo.ledger_in_order(s, owner_id, after_seq=after, limit=VERIFY_BATCH)
            yield from batch
            if len(batch) < VERIFY_BATCH:
                return
            after = batch[-1].seq


def _check(
    action: str,
    purpose: str | None,
    object_ids: Sequence[str],
    detail: Mapping[str, DetailValue] | None,
) -> None:
    """Entries are small and typed: no floats (their text differs between languages, which
    would make a chain unverifiable elsewhere), no blobs, nothing long enough to be content."""
    if purpose is not None:
        PurposeName(purpose)  # ValueError for a purpose that does not exist
    # ValueError for an action that is not declared (and so not explained to the user).
    Action(action)
    if len(object_ids) > MAX_OBJECT_IDS or any(len(str(x)) > 64 for x in object_ids):
        raise ValueError(f"at most {MAX_OBJECT_IDS} object ids of up to 64 characters")
    for key, value in (detail or {}).items():
        if not isinstance(value, str | int | bool | None) or isinstance(value, float):
            raise ValueError(f"ledger detail {key!r} must be text, a whole number or a flag")
        if isinstance(value, str) and len(value) > MAX_DETAIL_TEXT:
            raise ValueError(f"ledger detail {key!r} is too long")
    if len(detail or {}) > MAX_DETAIL_KEYS:
        raise ValueError("too many ledger details")


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "seq" or not number.isdigit():
            raise ValueError(cursor)
        return int(number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The cursor is not one this server gave out.") from exc
