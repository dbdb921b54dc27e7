"""Consent per user and purpose: grant, withdraw, the one policy check (`allows`/`require`)
that every service method and job touching face data asks, the hooks through which the
code holding face data deletes it the moment consent ends, and the reconcile job that
finishes a deletion those hooks did not (a crash after consent ended)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from keepsake.auth.access import Principal, Scope, require_access
from keepsake.clock import Clock
from keepsake.consent.errors import ConsentRequired, ConsentTextChanged
from keepsake.consent.ledger import RECONCILE, Action, Ledger, user_actor
from keepsake.consent.purposes import PURPOSES, Purpose, PurposeName, purpose_named
from keepsake.consent.repository import ConsentRepository
from keepsake.ids import new_id
from keepsake.jobs.queue import JobResult
from keepsake.storage.db import Database
from keepsake.storage.models import ConsentRecord

log = logging.getLogger("keepsake.consent")

# How a change was made: the web UI, the API, the `keepsake` CLI, or a job of the server.
Via = Literal["web", "api", "cli", "system"]

# Called with (owner id, keep names) when consent to a purpose ends (withdrawn, expired by
# retention, or the account deleted); deletes what that purpose produced and returns how many
# face templates went (None if it does not count them).
WithdrawHook = Callable[[str, bool], int | None]
# Called with the owner id when consent to a purpose is granted (again): re-index from scratch.
GrantHook = Callable[[str], object]
# Called with no arguments: the owners who hold data that a purpose produced (face templates,
# face groups), so the reconcile job can find data whose owner no longer consents.
Holders = Callable[[], Iterable[str]]


@dataclass(frozen=True)
class ConsentState:
    """Where one user stands with one purpose."""

    purpose: Purpose
    record: ConsentRecord | None  # the open record, whichever version it is for

    @property
    def granted(self) -> bool:
        return self.record is not None and self.record.version == self.purpose.version

    @property
    def needs_renewal(self) -> bool:
        """Consent was given to an older text; it does not count until accepted again."""
        return self.record is not None and self.record.version != self.purpose.version


@dataclass(frozen=True)
class Withdrawal:
    purpose: PurposeName
    was_granted: bool
    templates_deleted: int | None


class ConsentService:
    def __init__(self, db: Database, repo: ConsentRepository, ledger: Ledger, clock: Clock) -> None:
        self.db = db
        self.repo = repo
        self.ledger = ledger
        self.clock = clock
        self._withdraw_hooks: defaultdict[PurposeName, list[WithdrawHook]] = defaultdict(list)
        self._grant_hooks: defaultdict[PurposeName, list[GrantHook]] = defaultdict(list)
        self._holders: defaultdict[PurposeName, list[Holders]] = defaultdict(list)

    # --- hooks (registered in the composition root) -----------------------------------

    def on_withdraw(
        self, purpose: str, hook: WithdrawHook, *, holders: Holders | None = None
    ) -> None:
        """`hook` deletes what `purpose` produced when consent ends; `holders` says who has
        such data, for the reconcile job (without it, a failed hook is retried only when the
        user withdraws again)."""
        name = purpose_named(purpose).name
        self._withdraw_hooks[name].append(hook)
        if holders is not None:
            self._holders[name].append(holders)

    def on_grant(self, purpose: str, hook: GrantHook) -> None:
        self._grant_hooks[purpose_named(purpose).name].append(hook)

    # --- the policy check -------------------------------------------------------------

    def allows(self, owner_id: str, purpose: str) -> bool:
        """Whether the owner consents, to the current text, to `purpose`. Jobs call this
        before touching face data and return SKIPPED (with a ledger entry) when it is False."""
        current = purpose_named(purpose)
        with self.db.read() as s:
            return self.repo.has_open_consent(s, owner_id, current.name, current.version)

    def owners_allowing(self, purpose: str) -> list[str]:
        """Every owner `allows` is True for (for jobs that visit each consenting library)."""
        current = purpose_named(purpose)
        with self.db.read() as s:
            return self.repo.users_with_open_consent(s, current.name, current.version)

    def require(self, owner_id: str, purpose: str) -> None:
        """`allows`, as the second line of a service method: a 403 problem if not."""
        if not self.allows(owner_id, purpose):
            title = purpose_named(purpose).title
            raise ConsentRequired(
                f"This needs your consent to '{title}' ({purpose}); you can give it in "
                "your settings or with PUT /api/consent/" + purpose + ".",
                purpose=purpose,
            )

    # --- the user's side ---------------------------------------------------------------

    def purposes(self) -> list[Purpose]:
        """Every purpose with its current text; public."""
        return list(PURPOSES.values())

    def status(self, principal: Principal) -> list[ConsentState]:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            open_records = {r.purpose: r for r in self.repo.open_consents(s, owner_id)}
        return [ConsentState(p, open_records.get(p.name)) for p in PURPOSES.values()]

    def history(self, principal: Principal) -> list[ConsentRecord]:
        """Every grant and its end, oldest first: what the user agreed to, when and how."""
        owner_id = require_access(principal, Scope.READ)
        return self.history_of(owner_id)

    def history_of(self, owner_id: str) -> list[ConsentRecord]:
        """For takeout, which has checked access itself."""
        with self.db.read() as s:
            return self.repo.consent_history(s, owner_id)

    def grant(
        self, principal: Principal, purpose: str, version: int, via: Via, *, actor: str = ""
    ) -> ConsentState:
        """Consent to the text of `purpose` at `version`, which must be the current one (the
        client shows the text it sends the version of). Granting what is granted is a no-op."""
        owner_id = require_access(principal, Scope.FULL)
        current = purpose_named(purpose)
        if version != current.version:
            raise ConsentTextChanged(
                f"The text of '{current.name}' is at version {current.version}, not {version}; "
                "show the current text and ask again.",
                current_version=current.version,
            )
        actor = actor or user_actor(owner_id)
        now = self.clock.now()
        with self.db.write() as s:
            existing = self.repo.open_consent(s, owner_id, current.name)
            if existing is not None and existing.version == current.version:
                return ConsentState(current, existing)
            if existing is not None:
                _end(existing, now, via, actor, "renewed")
                s.flush()  # the open-consent index allows one open row per purpose
            record = ConsentRecord(
                id=new_id(),
                user_id=owner_id,
                purpose=current.name,
                version=current.version,
                granted_at=now,
                granted_via=via,
                granted_by=actor,
            )
            self.repo.add_consent(s, record)
            self.ledger.append(
                s,
                owner_id,
                actor,
                Action.CONSENT_GRANTED,
                current.name,
                [record.id],
                {"version": current.version, "via": via},
            )
        for hook in self._grant_hooks[current.name]:
            hook(owner_id)
        return ConsentState(current, record)

    def withdraw(
        self,
        principal: Principal,
        purpose: str,
        via: Via,
        *,
        keep_names: bool = False,
        actor: str = "",
    ) -> Withdrawal:
        """End consent to `purpose` and delete, in this call, what it produced (through the
        hooks). Safe to repeat: the hooks run again, finishing a deletion that failed."""
        owner_id = require_access(principal, Scope.FULL)
        current = purpose_named(purpose)
        actor = actor or user_actor(owner_id)
        was_granted = self._end_consent(
            owner_id, current, via, actor, "withdrawn", Action.CONSENT_WITHDRAWN, keep_names
        )
        deleted = self.run_withdraw_hooks(owner_id, current.name, keep_names, actor)
        return Withdrawal(current.name, was_granted, deleted)

    # --- for retention and account deletion --------------------------------------------

    def expire(self, owner_id: str, purpose: str, actor: str) -> int | None:
        """Retention: end consent for an inactive account and delete the templates; names the
        user gave are kept (they are not biometric), so a returning user finds them."""
        current = purpose_named(purpose)
        self._end_consent(
            owner_id, current, "system", actor, "expired", Action.CONSENT_EXPIRED, True
        )
        return self.run_withdraw_hooks(owner_id, current.name, True, actor)

    def reconcile(self) -> JobResult:
        """Finish deletions that withdrawal hooks did not (the process died after consent
        ended, or a hook failed): every owner who still holds data of a purpose without an
        open consent to it has the hooks run again, keeping the names if they asked to when
        consent ended. Consent to an older text is still open: processing waits for the
        user to accept the new text, their data waits with it. Daily, and at start."""
        failed = False
        for name, sources in self._holders.items():
            holding: set[str] = set()
            for holders in sources:
                holding.update(holders())
            if not holding:
                continue
            with self.db.read() as s:
                consenting = set(self.repo.users_with_open_consent(s, name))
                # Data of deleted accounts is the account purge's to remove.
                due = sorted(self.repo.existing_user_ids(s, holding - consenting))
                keep = {owner: self._names_kept(s, owner, name) for owner in due}
            for owner_id in due:
                with self.db.read() as s:
                    if self.repo.open_consent(s, owner_id, name) is not None:
                        continue  # granted again since the list was made
                try:
                    deleted = self.run_withdraw_hooks(owner_id, name, keep[owner_id], RECONCILE)
                except Exception:
                    log.exception("reconcile: deleting the data of %s failed", name)
                    failed = True
                else:
                    log.warning(
                        "reconcile: deleted data of %s left after consent ended (%s templates)",
                        name,
                        deleted or 0,
                    )
        return JobResult.FAILED if failed else JobResult.SUCCESS

    def _names_kept(self, s: Session, owner_id: str, purpose: str) -> bool:
        """Whether the owner kept the names when consent last ended; yes when unknown (names
        are not biometric, and a name deleted by mistake cannot be given back)."""
        entry = self.repo.last_end(s, owner_id, purpose)
        if entry is None or not entry.detail or "names_kept" not in entry.detail:
            return True
        return bool(entry.detail["names_kept"])

    def run_withdraw_hooks(
        self, owner_id: str, purpose: str, keep_names: bool, actor: str
    ) -> int | None:
        """Run every hook of `purpose`; ledger the templates they deleted. Any hook failing is
        raised after the others ran, so one broken hook does not keep data of the others."""
        name = purpose_named(purpose).name
        total: int | None = None
        failure: BaseException | None = None
        for hook in self._withdraw_hooks[name]:
            try:
                deleted = hook(owner_id, keep_names)
            except Exception as exc:
                log.exception("withdrawal hook for %s failed", name)
                failure = failure or exc
                continue
            if deleted is not None:
                total = (total or 0) + deleted
        if total:
            self.ledger.record(
                owner_id,
                actor,
                Action.FACE_TEMPLATES_DELETED,
                name,
                detail={"count": total, "names_kept": keep_names},
            )
        # The deleted rows are zeroed in the database file, not in SQLite's write-ahead log.
        if not self.repo.checkpoint_sqlite(self.db):
            log.warning("the write-ahead log still holds deleted %s data: a reader was busy", name)
        if failure is not None:
            raise failure
        return total

    def _end_consent(
        self,
        owner_id: str,
        purpose: Purpose,
        via: Via,
        actor: str,
        reason: str,
        action: Action,
        keep_names: bool,
    ) -> bool:
        now = self.clock.now()
        with self.db.write() as s:
            record = self.repo.open_consent(s, owner_id, purpose.name)
            if record is None:
                return False
            _end(record, now, via, actor, reason)
            self.ledger.append(
                s,
                owner_id,
                actor,
                action,
                purpose.name,
                [record.id],
                {"version": record.version, "via": via, "names_kept": keep_names},
            )
            return True


def _end(record: ConsentRecord, when: datetime, via: str, actor: str, reason: str) -> None:
    record.ended_at = when
    record.ended_via = via
    record.ended_by = actor
    record.ended_reason = reason
