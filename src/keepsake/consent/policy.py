"""The privacy statement: purposes and their texts, what the ledger records, and the retention
schedule in force, built from the code and the settings so that the public page
(`GET /privacy`, `GET /api/privacy`) and docs/privacy.md cannot say anything else."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from keepsake.config import Settings
from keepsake.consent.ledger import Action
from keepsake.consent.purposes import PURPOSES

TEMPLATES = Path(__file__).parent / "templates"

# What each ledger action means, in the words the user reads (a test checks every action
# has one, so a new kind of processing cannot go unexplained).
ACTION_TEXT: dict[Action, str] = {
    Action.FACES_INDEXED: "faces were found in a photo and their templates made",
    Action.FACE_SEARCH: "your library was searched by face",
    Action.FACE_TEMPLATES_DELETED: "face templates were deleted (how many, and why)",
    Action.FACE_JOB_SKIPPED: "face processing was skipped because you had not consented",
    Action.SHARE_ACCESSED: "someone you shared with opened what you shared",
    Action.LINK_VIEWED: "a public link you made was opened",
    Action.LINK_DOWNLOADED: "an original photo was downloaded through a public link you made",
    Action.CONSENT_GRANTED: "you gave consent to a purpose (which text, when, how)",
    Action.CONSENT_WITHDRAWN: "you withdrew consent",
    Action.CONSENT_EXPIRED: "consent ended because the account was inactive (retention)",
    Action.TAKEOUT_EXPORTED: "a takeout of your account was made",
    Action.TAKEOUT_IMPORTED: "a takeout was imported into your account",
    Action.LOGIN_NEW_DEVICE: "someone logged in to your account from a new device",
    Action.DELETION_SCHEDULED: "your account was scheduled for deletion (by whom, until when)",
    Action.DELETION_CANCELLED: "the deletion of your account was cancelled",
    Action.ADMIN_DELETION_SCHEDULED: "as an administrator, you scheduled an account deletion",
    Action.ADMIN_DELETION_CANCELLED: "as an administrator, you cancelled an account deletion",
    Action.ADMIN_ACCOUNT_PURGED: "an account you deleted as an administrator was purged",
}


@dataclass(frozen=True)
class RetentionRule:
    what: str
    value: float
    unit: str  # days or hours
    setting: str  # the environment variable that changes it

    @property
    def period(self) -> str:
        amount = int(self.value) if float(self.value).is_integer() else self.value
        text = f"{amount} {self.unit if amount != 1 else self.unit.rstrip('s')}"
        if self.unit == "days" and amount and int(amount) % 365 == 0:
            years = int(amount) // 365
            text += f" ({years} year{'s' if years != 1 else ''})"
        return text


def retention_rules(settings: Settings) -> list[RetentionRule]:
    return [
        RetentionRule(
            "Face templates of an account nobody has logged in to or used through the API "
            "are deleted after",
            settings.face_template_retention_days,
            "days",
            "KEEPSAKE_FACE_TEMPLATE_RETENTION_DAYS",
        ),
        RetentionRule(
            "Photos in the trash are deleted for good after",
            settings.trash_retention_days,
            "days",
            "KEEPSAKE_TRASH_RETENTION_DAYS",
        ),
        RetentionRule(
            "An account you delete is purged, with everything in it, after",
            settings.account_deletion_grace_days,
            "days",
            "KEEPSAKE_ACCOUNT_DELETION_GRACE_DAYS",
        ),
        RetentionRule(
            "An upload that is not finished is deleted with its partial data after",
            settings.upload_expiry_hours,
            "hours",
            "KEEPSAKE_UPLOAD_EXPIRY_HOURS",
        ),
        RetentionRule(
            "A login session ends after",
            settings.session_ttl_hours,
            "hours",
            "KEEPSAKE_SESSION_TTL_HOURS",
        ),
    ]


def statement(settings: Settings) -> dict[str, Any]:
    """The machine-readable statement (`GET /api/privacy`)."""
    return {
        "purposes": [
            {
                "name": str(p.name),
                "version": p.version,
                "title": p.title,
                "text": p.text,
                "biometric": p.biometric,
            }
            for p in PURPOSES.values()
        ],
        "retention": [{**asdict(r), "period": r.period} for r in retention_rules(settings)],
        "ledger_actions": [{"action": str(a), "meaning": t} for a, t in ACTION_TEXT.items()],
        "never": NEVER,
    }


NEVER = [
    "Your photos and face templates are never used for anyone else's benefit unless you "
    "share them.",
    "Nothing you store is used to train any model.",
    "Keepsake never infers anyone's race, ethnicity, emotion, gender or age.",
    "One user's face templates are never compared with another user's.",
]


def privacy_html(settings: Settings) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,
    )
    return env.get_template("privacy.html").render(
        purposes=list(PURPOSES.values()),
        retention=retention_rules(settings),
        actions=ACTION_TEXT,
        never=NEVER,
    )


def privacy_markdown(settings: Settings) -> str:
    """docs/privacy.md, from the default settings (the server's page shows its own)."""
    lines = [
        "# Privacy",
        "",
        "This is what Keepsake does with your photos and your face data, and what it never "
        "does. It is generated from the code by `make docs`; a running server shows the same "
        "statement, with its own retention settings, at `/privacy` (and as JSON at "
        "`/api/privacy`), without logging in.",
        "",
        "## What Keepsake never does",
        "",
        *[f"- {line}" for line in NEVER],
        "",
        "## Face recognition is off until you turn it on",
        "",
        "Keepsake asks for your consent per purpose. Until you give it, no face is looked for "
        "in your photos and no face template (the list of numbers describing a face) is made; "
        "the library works fully without it: upload, timeline, albums, sharing, takeout.",
        "",
        "You consent to one version of a purpose's text. When the text changes, its version "
        "goes up and your earlier consent no longer counts until you accept the new text: "
        "meanwhile no face is processed, searched or shown, and the face data you have waits "
        "until you accept the new text or withdraw. Each consent records which text you "
        "accepted, when, and how (web, API or command line); you can read them all, and they "
        "are in your takeout.",
        "",
        "Withdrawing is one click or one call (`DELETE /api/consent/<purpose>`). Withdrawing "
        "face recognition deletes all of your face templates and face groups at once, in the "
        "same request, and stops face processing that was waiting to run. The names you gave "
        "to people are deleted too, unless you ask to keep them (`?keep_names=true`). Giving "
        "consent again starts face recognition from scratch. Should the deletion be "
        "interrupted (the server stopping half-way, say), a job that runs daily and at every "
        "start of the server finds face data whose owner no longer consents and deletes it, "
        "keeping the names only if you asked to.",
        "",
        "### The purposes",
        "",
    ]
    for p in PURPOSES.values():
        lines += [
            f"#### {p.title}",
            "",
            f"`{p.name}`, text version {p.version}"
            + (" — biometric: face templates are made" if p.biometric else ""),
            "",
            f"> {p.text}",
            "",
        ]
    lines += [
        "## The data-use ledger: you can see every use",
        "",
        "Every processing of your data is written to your own ledger, which you can read in "
        "the web UI, filter and page through (`GET /api/ledger`), and download as JSON "
        "(`GET /api/ledger/export`). Entries record the time, who acted (you, an "
        "administrator, someone you shared with, or a job of the server), the purpose and the "
        "ids of the objects concerned — never the content of a photo and never a face "
        "template. The ledger records:",
        "",
        *[f"- `{a}`: {t}" for a, t in ACTION_TEXT.items()],
        "",
        "The ledger is append-only and hash-chained: each entry contains the SHA-256 of the "
        "one before it, computed over its canonical JSON, so an entry changed, removed or "
        "inserted afterwards breaks the chain. `GET /api/ledger/verify` and `keepsake ledger "
        "verify <account>` recompute every link and name the first broken one; the export "
        "holds everything needed to check it yourself. Keep the last hash of a download, and "
        "you can tell later that nothing before it was rewritten.",
        "",
        "## How long things are kept",
        "",
        "| what | after | setting |",
        "|---|---|---|",
        *[
            f"| {r.what} | {r.period} | `{r.setting}` |"
            for r in retention_rules(Settings.model_construct())
        ],
        "",
        "An account counts as inactive when nobody has logged in to it or used it through "
        "the API; using it in any way restarts the count. Face templates are deleted by a "
        "daily job; the names you gave to people are kept, and consent to face recognition "
        "ends, so nothing is made again until you come back and turn it on. These are the "
        "defaults; the operator of a server may change them, and its `/privacy` page shows "
        "the figures in force there.",
        "",
        "## Taking everything with you",
        "",
        "One download (`GET /api/takeout`, or the privacy centre at `/privacy-centre`) gives "
        "you a zip of your whole "
        "account, made while it downloads: your originals byte for byte, a JSON file per "
        "photo with its dates, camera, place, favourite and albums, XMP files with face "
        "regions and people's names that other photo tools read, your albums, your people, "
        "your consent records, your ledger, and `manifest.sha256` with the SHA-256 of every "
        "file (`sha256sum -c manifest.sha256`). Face templates are left out unless you ask "
        "for them (`?include_templates=true`): they are biometric data, and an archive on a "
        "laptop is a new place for them to leak from. When you do, `faces/templates.json` "
        "holds each template with the photo and the face it was made from. Making a takeout "
        "is written to your ledger, with how many templates it holds.",
        "",
        "Another Keepsake server imports the archive (`keepsake import-takeout FILE --user "
        "EMAIL`, or `POST /api/takeout/import`): photos through its normal upload checks, "
        "albums, favourites, the trash, and face regions with people's names. An archive that "
        "is damaged or unsafe (paths leaving its folder, links, a zip bomb) is refused before "
        "anything is imported. Consent is not carried over: you give it again on the new "
        "server, and face regions are imported only once you have turned face recognition on "
        "there (importing the same archive again then adds them, without duplicating photos).",
        "",
        "## Deleting your account",
        "",
        "You can delete your account from the privacy centre (`/privacy-centre`) or with `POST "
        "/api/account/deletion`, entering your password again. Every session and API key "
        "ends at once. Until the grace period above is over, logging in again cancels the "
        "deletion. After it, everything of the account is purged: every database row, every "
        "original, thumbnail and preview, unfinished uploads, face templates, face groups "
        "and people, index entries and caches, consent records and the ledger. The account's "
        "encryption key is destroyed with it, so copies of its files in old backups can no "
        "longer be read. The security log keeps only that an account, under a random "
        "number, existed and when things happened to it.",
        "",
        "Administrators can delete accounts too (`POST /api/admin/users/<id>/deletion`, or "
        "`keepsake user delete` on the server); such an account is disabled at once and "
        "purged after the grace period unless an administrator cancels. An administrator "
        "can also have it purged at once (`DELETE /api/admin/users/<id>`, `keepsake user "
        "delete --now`). Either way the purge is the same, and the administrator's own "
        "ledger records that they did it, naming the deletion, not the account.",
        "",
    ]
    return "\n".join(lines)
