"""The privacy centre: consent per purpose, the data-use ledger in plain sentences, takeout and
account deletion on one page. It reads through the services; every change goes through the
JSON API from static/privacy.js (see routes.py for how pages render)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from keepsake.api.deps import ContainerDep
from keepsake.consent.accounts import DeletionState
from keepsake.consent.ledger import Action
from keepsake.consent.policy import ACTION_TEXT
from keepsake.consent.purposes import PURPOSES, PurposeName
from keepsake.consent.service import ConsentState
from keepsake.errors import KeepsakeError
from keepsake.storage.models import ConsentRecord, LedgerEntry
from keepsake.web.routes import PagePrincipal, PagesDep, _render, describe_agent, format_when

router = APIRouter(include_in_schema=False)

# Ledger entries per page: a screenful of sentences; `?page_size=` asks for other sizes.
LEDGER_PAGE_SIZE = 50

# What ending consent to a purpose does, in the words the page shows before it is done.
WITHDRAW_EFFECTS: dict[str, str] = {
    PurposeName.FACE_RECOGNITION: (
        "Every face template made from your photos and every group of faces (the people "
        "Keepsake found) is deleted at once, and face processing that was waiting stops. "
        "You choose whether the names you gave to people are kept."
    ),
    PurposeName.PEOPLE_SHARING: (
        "The names you gave to people and where their faces are stop being shown to everyone "
        "you share with, at once. Nothing else changes."
    ),
    PurposeName.VERIFICATION_ENROLLMENT: "Your enrolment face template is deleted at once.",
}

VIA_WORDS = {
    "web": "on this website",
    "api": "through the API (a program using your account)",
    "cli": "by the server's operator, on the command line",
    "system": "by Keepsake itself",
}

# The filter of the timeline: each action in words, in the order a person looks for them.
ACTION_LABELS: dict[str, str] = {
    Action.FACES_INDEXED: "Faces found in a photo",
    Action.FACE_SEARCH: "Searches by face",
    Action.FACE_TEMPLATES_DELETED: "Face templates deleted",
    Action.FACE_JOB_SKIPPED: "Photos skipped without consent",
    Action.SHARE_ACCESSED: "Shared photos opened",
    Action.LINK_VIEWED: "Public links opened",
    Action.LINK_DOWNLOADED: "Originals downloaded through links",
    Action.CONSENT_GRANTED: "Consent given",
    Action.CONSENT_WITHDRAWN: "Consent withdrawn",
    Action.CONSENT_EXPIRED: "Consent ended by inactivity",
    Action.TAKEOUT_EXPORTED: "Takeouts downloaded",
    Action.TAKEOUT_IMPORTED: "Takeouts imported",
    Action.LOGIN_NEW_DEVICE: "Logins from new devices",
    Action.DELETION_SCHEDULED: "Account deletion scheduled",
    Action.DELETION_CANCELLED: "Account deletion cancelled",
    Action.ADMIN_DELETION_SCHEDULED: "Deletions you scheduled as administrator",
    Action.ADMIN_DELETION_CANCELLED: "Deletions you cancelled as administrator",
    Action.ADMIN_ACCOUNT_PURGED: "Accounts purged that you deleted",
}

SYSTEM_ACTORS = {
    "system:faces": "Keepsake's face recognition",
    "system:retention": "Keepsake's retention job",
    "system:account-deletion": "Keepsake's account deletion",
    "system:reconcile": "Keepsake's clean-up job",
    "operator:cli": "The server's operator (on the command line)",
}


def action_options() -> dict[str, str]:
    """Every action the ledger records, in words, for the filter: ours first, then any action
    added since, in the privacy statement's words."""
    declared = [str(a) for a in Action]
    options = {value: label for value, label in ACTION_LABELS.items() if value in declared}
    for action in Action:
        text = ACTION_TEXT.get(action, str(action))
        options.setdefault(str(action), text[:1].upper() + text[1:])
    return options


@dataclass(frozen=True)
class PurposeView:
    """One purpose as the page shows it."""

    name: str
    version: int
    title: str
    text: str
    biometric: bool
    granted: bool
    needs_renewal: bool
    granted_version: int | None
    granted_at: datetime | None
    granted_how: str | None
    effects: str
    history: list[ConsentRecord]


@dataclass(frozen=True)
class EntryView:
    """One ledger entry as a sentence."""

    seq: int
    at: datetime
    sentence: str
    actor: str
    purpose: str | None
    object_ids: list[str]
    hash: str


@dataclass(frozen=True)
class LedgerFilters:
    action: str = ""
    purpose: str = ""
    since: str = ""
    until: str = ""

    def query(self, **extra: str) -> dict[str, str]:
        values = {"action": self.action, "purpose": self.purpose, "since": self.since}
        values.update(until=self.until, **extra)
        return {k: v for k, v in values.items() if v}


@router.get("/privacy-centre")
def privacy_centre_page(
    request: Request,
    principal: PagePrincipal,
    c: ContainerDep,
    pages: PagesDep,
    action: Annotated[str, Query(max_length=64)] = "",
    purpose: Annotated[str, Query(max_length=40)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    cursor: Annotated[str, Query(max_length=100)] = "",
    page_size: Annotated[int, Query(ge=1, le=500)] = LEDGER_PAGE_SIZE,
) -> HTMLResponse:
    user = c.auth.me(principal)
    history = c.consent.history(principal)
    purposes = [_purpose_view(state, history) for state in c.consent.status(principal)]

    filters = LedgerFilters(action, purpose, since, until)
    entries: list[EntryView] = []
    next_cursor: str | None = None
    ledger_error = ""
    try:
        start, end = _day(since, "start"), _day(until, "end")
        if start and end and end <= start:
            raise _FilterError("The end date is before the start date.")
        rows, next_cursor = c.ledger.entries(
            principal,
            action=action or None,
            purpose=purpose or None,
            since=start,
            until=end,
            cursor=cursor or None,
            limit=page_size,
        )
        entries = [_entry_view(row, principal.user_id) for row in rows]
    except (_FilterError, KeepsakeError) as exc:
        ledger_error = str(exc) if isinstance(exc, _FilterError) else exc.detail

    deletion = c.accounts.deletion(principal)
    grace_days = c.settings.account_deletion_grace_days
    return _render(
        request,
        pages,
        "privacy_centre.html",
        user=user,
        title="Privacy centre",
        nav="privacy",
        purposes=purposes,
        filters=filters,
        filtered=bool(action or purpose or since or until),
        action_labels=action_options(),
        purpose_titles={str(p.name): p.title for p in PURPOSES.values()},
        entries=entries,
        older=filters.query(cursor=next_cursor, **_size(page_size)) if next_cursor else None,
        newest=filters.query(**_size(page_size)) if cursor else None,
        ledger_error=ledger_error,
        deletion=deletion,
        grace_days=grace_days,
        purge_estimate=c.clock.now() + timedelta(days=grace_days),
        purge_when=_purge_when(deletion),
    )


class _FilterError(ValueError):
    pass


def _size(page_size: int) -> dict[str, str]:
    return {} if page_size == LEDGER_PAGE_SIZE else {"page_size": str(page_size)}


def _day(value: str, edge: str) -> datetime | None:
    """A date from the filter form as a UTC bound: the start of the day for "from", the start
    of the next day for "to", so that "to" includes the whole day."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _FilterError(f"“{value}” is not a date; use the form 2024-05-17.") from None
    if edge == "end":
        day += timedelta(days=1)
    return datetime.combine(day, time.min, UTC)


def _purge_when(deletion: DeletionState | None) -> str:
    return format_when(deletion.purge_after) if deletion else ""


def _purpose_view(state: ConsentState, history: list[ConsentRecord]) -> PurposeView:
    p, record = state.purpose, state.record
    name = str(p.name)
    return PurposeView(
        name=name,
        version=p.version,
        title=p.title,
        text=p.text,
        biometric=p.biometric,
        granted=state.granted,
        needs_renewal=state.needs_renewal,
        granted_version=record.version if record else None,
        granted_at=record.granted_at if record else None,
        granted_how=VIA_WORDS.get(record.granted_via, record.granted_via) if record else None,
        effects=WITHDRAW_EFFECTS.get(name, "What this purpose produced is deleted at once."),
        history=[r for r in reversed(history) if r.purpose == name and r.ended_at is not None],
    )


# --- the ledger in words ------------------------------------------------------------------


def describe_actor(actor: str, me: str) -> str:
    """Who acted, for the owner of the ledger: "You", "An administrator", "Keepsake's ..."."""
    kind, _, who = actor.partition(":")
    if kind == "user":
        return "You" if who == me else "Someone you shared with"
    if kind == "admin":
        return "You, as administrator" if who == me else "An administrator"
    if kind == "link":
        return "Someone with a public link you made"
    if actor in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[actor]
    if kind == "system":
        return "Keepsake"
    return actor


def _plural(n: int, one: str, many: str = "") -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _int(detail: dict[str, object], key: str) -> int | None:
    value = detail.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _purpose_title(name: str | None) -> str | None:
    try:
        return PURPOSES[PurposeName(name)].title if name else None
    except (ValueError, KeyError):
        return name


def _date_text(value: object) -> str:
    if not isinstance(value, str):
        return "later"
    try:
        return format_when(datetime.fromisoformat(value))
    except ValueError:
        return value


def describe_entry(entry: LedgerEntry, me: str) -> str:
    """One ledger entry as a plain sentence for its owner."""
    who = describe_actor(entry.actor, me)
    detail: dict[str, object] = dict(entry.detail or {})
    title = _purpose_title(entry.purpose)
    about = f"“{title}”" if title else "a purpose"
    via = VIA_WORDS.get(str(detail.get("via", "")), "")
    how = f" {via}" if via else ""
    objects = len(entry.object_ids)
    action = entry.action
    if action == Action.FACES_INDEXED:
        photos = _plural(max(objects, 1), "photo")
        faces = _int(detail, "faces")
        if faces is None:
            return f"{who} looked for faces in {photos}."
        if faces == 0:
            return f"{who} looked for faces in {photos} and found none."
        return (
            f"{who} looked for faces in {photos}, found {_plural(faces, 'face')} and made a "
            "face template of each."
        )
    if action == Action.FACE_SEARCH:
        by = detail.get("by")
        if by == "example":
            return f"{who} searched your library for the faces in an example photo."
        if by == "person":
            return f"{who} searched your library for the photos of a person."
        return f"{who} searched your library by face."
    if action == Action.FACE_TEMPLATES_DELETED:
        count = _int(detail, "count")
        what = _plural(count, "face template") if count is not None else "face templates"
        names = " The names you gave to people were kept." if detail.get("names_kept") else ""
        return f"{who} deleted {what}.{names}"
    if action == Action.FACE_JOB_SKIPPED:
        return "A photo was not looked at for faces, because face recognition was off."
    if action == Action.SHARE_ACCESSED:
        return f"{who} opened what you shared ({_plural(objects, 'item')})."
    if action == Action.LINK_VIEWED:
        return f"{who} opened the link ({_plural(objects, 'item')})."
    if action == "link.downloaded":
        return f"{who} downloaded an original through the link."
    if action == Action.CONSENT_GRANTED:
        version = _int(detail, "version")
        text = f" (text version {version})" if version is not None else ""
        return f"{who} gave consent to {about}{text}{how}."
    if action == Action.CONSENT_WITHDRAWN:
        names = (
            " The names given to people were kept."
            if detail.get("names_kept") and entry.purpose == PurposeName.FACE_RECOGNITION
            else ""
        )
        return f"{who} withdrew consent to {about}{how}.{names}"
    if action == Action.CONSENT_EXPIRED:
        return (
            f"Consent to {about} ended because the account was not used for the retention "
            "period; the face templates were deleted."
        )
    if action == Action.TAKEOUT_EXPORTED:
        templates = "with" if detail.get("templates") else "without"
        return f"{who} downloaded a takeout of your account, {templates} face templates{how}."
    if action == Action.TAKEOUT_IMPORTED:
        assets = _int(detail, "assets")
        photos = f" with {_plural(assets, 'photo')}" if assets is not None else ""
        return f"{who} imported a takeout{photos} into your account{how}."
    if action == Action.LOGIN_NEW_DEVICE:
        device = describe_agent(str(detail.get("device", "")))
        return f"{who} logged in from a device not seen before: {device}."
    if action == Action.DELETION_SCHEDULED:
        return (
            f"{who} scheduled your account for deletion{how}; it is purged after "
            f"{_date_text(detail.get('purge_after'))}."
        )
    if action == Action.DELETION_CANCELLED:
        by_login = " by logging in again" if detail.get("how") == "login" else ""
        return f"{who} cancelled the deletion of your account{by_login}."
    if action == Action.ADMIN_DELETION_SCHEDULED:
        return (
            f"{who} scheduled an account for deletion; it is purged after "
            f"{_date_text(detail.get('purge_after'))}."
        )
    if action == Action.ADMIN_DELETION_CANCELLED:
        return f"{who} cancelled the deletion of an account."
    if action == Action.ADMIN_ACCOUNT_PURGED:
        return "An account you deleted as administrator was purged."
    try:
        text = ACTION_TEXT.get(Action(action), action)
    except ValueError:
        text = action
    return f"{who}: {text}."


def _entry_view(entry: LedgerEntry, me: str) -> EntryView:
    return EntryView(
        seq=entry.seq,
        at=entry.at,
        sentence=describe_entry(entry, me),
        actor=describe_actor(entry.actor, me),
        purpose=_purpose_title(entry.purpose),
        object_ids=list(entry.object_ids),
        hash=entry.hash,
    )
