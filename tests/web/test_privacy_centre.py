"""The privacy centre in the browser: consent switches (withdrawing asks first and deletes the
face data at once), a changed text asking for consent again, the ledger as a timeline with
filters, pages and its chain check, takeout, and deleting the account then changing one's
mind. Faces come from the fake engine of the faces tests (coloured squares are faces)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from keepsake.app import Container, build_container
from keepsake.clock import ManualClock
from keepsake.consent.ledger import Action, user_actor
from keepsake.storage.models import LedgerEntry, Person
from tests.conftest import make_settings
from tests.faces.conftest import face_rows, fake_analyzer, person_rows, photo
from tests.helpers import publish_new_face_recognition_text
from tests.web.browser import (
    PASSWORD,
    BrowserErrors,
    LibraryUser,
    add_file,
    add_photos,
    check_accessibility,
    make_user,
    utc,
)

FACES = "Find and group faces in my own library"
SHARING = "Show who is in the photos I share"


@pytest.fixture
def container(tmp_path: Path, database_url: str, clock: ManualClock) -> Iterator[Container]:
    c = build_container(
        make_settings(tmp_path / "data", database_url), clock=clock, face_analyzer=fake_analyzer()
    )
    yield c
    c.close()


def switch(page: Any, title: str) -> Any:
    return page.get_by_role("switch", name=title)


def entries(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".ledger-sentence").all_inner_texts()]


def named_people(container: Container, owner_id: str) -> list[str]:
    with container.db.read() as s:
        names = s.scalars(select(Person.name).where(Person.owner_id == owner_id)).all()
    return sorted(n for n in names if n)


# --- consent ---------------------------------------------------------------------------------


def test_face_recognition_is_granted_then_withdrawn_and_its_faces_are_deleted(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    for i, faces in enumerate([("anna",), ("anna", "ben"), ("ben",)]):
        add_file(container, user, tmp_path, f"group-{i}.jpg", photo(*faces, seed=i))

    page.goto("/privacy-centre")
    check_accessibility(page, "privacy centre, nothing granted")
    expect(switch(page, FACES)).to_have_attribute("aria-checked", "false")
    assert "Text version 1" in page.locator("#purpose-face_recognition").inner_text()
    assert (
        "You have not given consent" in page.locator("#purpose-face_recognition-state").inner_text()
    )
    assert face_rows(container, user.id) == 0, "no face is looked for before consent"

    switch(page, FACES).click()
    expect(switch(page, FACES)).to_have_attribute("aria-checked", "true")
    expect(page.locator("#purpose-face_recognition-state")).to_contain_text(
        re.compile(r"On since \d\d \w+ \d{4}, \d\d:\d\d UTC, given on this website")
    )
    page.get_by_text(f"Consent given: {FACES}.").wait_for()
    assert face_rows(container, user.id) >= 4, "granting indexed the library"
    sentences = entries(page)
    assert f"You gave consent to “{FACES}” (text version 1) on this website." in sentences
    assert (
        "Keepsake's face recognition looked for faces in 1 photo, found 2 faces and made a face template of each."
        in sentences
    )
    people = container.faces.people(user.principal)
    container.faces.update_person(user.principal, people[0].person.id, name="Anna")
    check_accessibility(page, "privacy centre, face recognition on")

    # The dialog says what goes; cancelling keeps everything.
    switch(page, FACES).click()
    dialog = page.get_by_role("dialog", name=f"Turn off “{FACES}”?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Every face template made from your photos")
    expect(dialog.get_by_role("radio", name="Delete them too")).to_be_checked()
    check_accessibility(page, "withdrawal dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(switch(page, FACES)).to_be_focused()
    assert container.consent.allows(user.id, "face_recognition")
    assert face_rows(container, user.id) >= 4

    # Withdrawing, keeping the names: every template goes at once, the name stays.
    switch(page, FACES).click()
    dialog.get_by_role("radio", name=re.compile("^Keep them")).check()
    dialog.get_by_role("button", name="Turn off and delete").click()
    expect(switch(page, FACES)).to_have_attribute("aria-checked", "false")
    page.get_by_text(
        re.compile(r"Consent withdrawn: .*\d+ face templates? deleted\. The names")
    ).wait_for()
    expect(switch(page, FACES)).to_be_focused()
    assert face_rows(container, user.id) == 0
    assert named_people(container, user.id) == ["Anna"]
    assert not container.consent.allows(user.id, "face_recognition")
    sentences = entries(page)
    assert any(
        re.fullmatch(r"You deleted \d+ face templates?\. The names .* kept\.", s) for s in sentences
    )
    assert any(
        s.startswith(f"You withdrew consent to “{FACES}” on this website") for s in sentences
    )
    page.locator("#purpose-face_recognition").get_by_text("Earlier consents (1)").click()
    expect(page.locator("#purpose-face_recognition .purpose-history")).to_contain_text(
        "Version 1: given"
    )

    # Again, deleting the names this time.
    switch(page, FACES).click()
    expect(switch(page, FACES)).to_have_attribute("aria-checked", "true")
    assert face_rows(container, user.id) >= 4
    switch(page, FACES).click()
    dialog.get_by_role("button", name="Turn off and delete").click()
    expect(switch(page, FACES)).to_have_attribute("aria-checked", "false")
    assert face_rows(container, user.id) == 0
    assert person_rows(container, user.id) == 0, "no face group and no name is left"
    page.locator("#purpose-face_recognition").get_by_text("Earlier consents (2)").wait_for()


def test_consent_switches_work_from_the_keyboard(page: Any, user: LibraryUser) -> None:
    page.goto("/privacy-centre")
    sharing = switch(page, SHARING)
    sharing.focus()
    page.keyboard.press("Space")
    expect(sharing).to_have_attribute("aria-checked", "true")
    expect(sharing).to_be_focused()

    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    expect(dialog.get_by_role("group")).to_have_count(0)  # no question about names here
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(sharing).to_be_focused()
    expect(sharing).to_have_attribute("aria-checked", "true")

    page.keyboard.press("Enter")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Turn off", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(sharing).to_have_attribute("aria-checked", "false")
    expect(sharing).to_be_focused()

    # The table of contents moves the keyboard to a section.
    page.get_by_role("navigation", name="On this page").get_by_role(
        "link", name="Delete your account"
    ).press("Enter")
    expect(page.locator("#deletion")).to_be_focused()


def test_a_changed_text_asks_for_consent_again(
    page: Any, user: LibraryUser, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    container.consent.grant(user.principal, "face_recognition", 1, "web")
    # What a migration publishing a new text does, and the code that ships with it.
    publish_new_face_recognition_text(container, monkeypatch, " Now also in videos.")

    page.goto("/privacy-centre")
    item = page.locator("#purpose-face_recognition")
    expect(switch(page, FACES)).to_have_attribute("aria-checked", "false")
    assert "Text version 2" in item.inner_text() and "Now also in videos." in item.inner_text()
    renewal = page.locator("#purpose-face_recognition-renewal")
    expect(renewal).to_contain_text("The text changed since you agreed to version 1")
    check_accessibility(page, "privacy centre, consent to renew")

    switch(page, FACES).click()
    expect(switch(page, FACES)).to_have_attribute("aria-checked", "true")
    expect(renewal).to_have_count(0)
    assert container.consent.allows(user.id, "face_recognition")
    assert entries(page)[0].startswith(f"You gave consent to “{FACES}” (text version 2)")


# --- the ledger ------------------------------------------------------------------------------


def _record(
    container: Container,
    owner: LibraryUser,
    action: Action,
    purpose: str | None = None,
    **detail: Any,
) -> None:
    container.ledger.record(owner.id, user_actor(owner.id), action, purpose, detail=detail or None)


def test_the_ledger_reads_as_a_timeline_with_filters_pages_and_its_chain_checked(
    page: Any, user: LibraryUser, container: Container, clock: ManualClock
) -> None:
    clock.advance(timedelta(days=-10))
    day1 = clock.now().date()
    _record(container, user, Action.CONSENT_GRANTED, "people_sharing", version=1, via="web")
    clock.advance(timedelta(days=3))
    day2 = clock.now().date()
    _record(container, user, Action.TAKEOUT_EXPORTED, templates=False, via="web")
    _record(container, user, Action.FACE_SEARCH, "face_recognition", by="person")
    clock.advance(timedelta(days=3))
    _record(container, user, Action.CONSENT_WITHDRAWN, "people_sharing", version=1, via="api")
    _record(container, user, Action.TAKEOUT_EXPORTED, templates=True, via="api")

    page.goto("/privacy-centre?page_size=2")
    expect(page.locator("#ledger-verify")).to_have_text(
        re.compile(r"^The chain verifies: none of the \d+ entries")
    )
    assert entries(page) == [
        "You downloaded a takeout of your account, with face templates through the API (a program using your account).",
        f"You withdrew consent to “{SHARING}” through the API (a program using your account).",
    ]
    assert (
        "Who: You · Purpose: Show who is in the photos I share"
        in page.locator(".ledger-entry").nth(1).inner_text()
    )
    check_accessibility(page, "ledger")

    # Older entries through the API's cursor, and back.
    page.get_by_role("link", name="Older entries").click()
    expect(page.locator(".ledger-sentence").first).to_have_text(
        "You searched your library for the photos of a person."
    )
    page.get_by_role("link", name="Older entries").click()
    expect(page.locator(".ledger-sentence")).to_have_count(2)  # the oldest: logging in
    oldest = entries(page)
    assert oldest[0] == f"You gave consent to “{SHARING}” (text version 1) on this website."
    assert oldest[1].startswith("You logged in from a device not seen before: Chrome")
    expect(page.get_by_role("link", name="Older entries")).to_have_count(0)
    page.get_by_role("link", name="Newest entries").click()
    expect(page.locator(".ledger-sentence").first).to_contain_text("with face templates")

    # Filters: what happened, the purpose, a date range.
    page.goto("/privacy-centre")
    page.get_by_label("What happened").select_option(label="Takeouts downloaded")
    page.get_by_role("button", name="Show entries").click()
    expect(page.locator(".ledger-sentence")).to_have_count(2)
    assert all("downloaded a takeout" in s for s in entries(page))
    page.get_by_label("What happened").select_option(label="Everything")
    page.get_by_label("Purpose").select_option(label=SHARING)
    page.get_by_role("button", name="Show entries").click()
    expect(page.locator(".ledger-sentence")).to_have_count(2)
    assert all(SHARING in s for s in entries(page))
    page.get_by_label("Purpose").select_option(label="Any")
    page.get_by_label("From", exact=True).fill(day1.isoformat())
    page.get_by_label("To (inclusive)").fill(day2.isoformat())
    page.get_by_role("button", name="Show entries").click()
    expect(page.locator(".ledger-sentence")).to_have_count(3)
    page.get_by_label("From", exact=True).fill(day2.isoformat())
    page.get_by_label("To (inclusive)").fill(day1.isoformat())
    page.get_by_role("button", name="Show entries").click()
    expect(
        page.get_by_role("alert").filter(has_text="The end date is before the start date.")
    ).to_be_visible()
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator(".ledger-sentence")).to_have_count(6)

    # The whole chain as JSON.
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as JSON").click()
    exported = json.loads(Path(info.value.path()).read_text())
    assert [e["action"] for e in exported["entries"]][-5:] == [
        "consent.granted",
        "takeout.exported",
        "faces.searched",
        "consent.withdrawn",
        "takeout.exported",
    ]
    assert all(len(e["hash"]) == 64 for e in exported["entries"])

    # A rewritten entry breaks the chain, and the page says so.
    with container.db.write() as s:
        s.execute(
            update(LedgerEntry)
            .where(LedgerEntry.user_id == user.id, LedgerEntry.action == Action.FACE_SEARCH)
            .values(detail={"by": "example"})
        )
    page.reload()
    expect(page.locator("#ledger-verify")).to_have_text(
        re.compile(r"^The chain does not verify: entry \d+ is wrong")
    )


# --- takeout ---------------------------------------------------------------------------------


def test_takeout_downloads_a_zip_whose_manifest_lists_the_originals(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    photos = add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(2)])
    page.goto("/privacy-centre#takeout")
    box = page.get_by_role("checkbox", name="Include my face templates")
    expect(box).not_to_be_checked()
    expect(box).to_have_attribute("aria-describedby", "templates-warning")
    expect(page.locator("#templates-warning")).to_contain_text("biometric data")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download my takeout").click()
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    manifest = dict(
        reversed(line.split(None, 1))  # "<sha256>  <path>"
        for line in archive.read("manifest.sha256").decode().splitlines()
    )
    manifest = {path.lstrip("*"): digest for path, digest in manifest.items()}
    listed = [p for p in manifest if p.startswith("photos/") and p.endswith(".jpg")]
    assert sorted(p.rsplit("/", 1)[-1] for p in listed) == sorted(
        a.original_filename for a in photos
    )
    for path in listed:
        assert hashlib.sha256(archive.read(path)).hexdigest() == manifest[path]
    assert "faces/templates.json" not in archive.namelist()

    # With the templates: asked once more, then included; both takeouts are in the ledger.
    box.check()
    page.get_by_role("button", name="Download my takeout").click()
    dialog = page.get_by_role("dialog", name="Include your face templates?")
    expect(dialog).to_contain_text("biometric data")
    with page.expect_download() as info:
        dialog.get_by_role("button", name="Include them").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert "faces/templates.json" in archive.namelist()
    page.goto("/privacy-centre")
    sentences = entries(page)
    assert sentences[0].startswith(
        "You downloaded a takeout of your account, with face templates on this website"
    )
    assert sentences[1].startswith(
        "You downloaded a takeout of your account, without face templates on this website"
    )


# --- deleting the account --------------------------------------------------------------------


@contextmanager
def member_page(browser: Any, server: Any, container: Container) -> Iterator[tuple[Any, Any]]:
    """A member's page (the administrator's account cannot be deleted while it is the last)."""
    make_user(container, "ada@example.org", "Ada")
    bob = make_user(container, "bob@example.org", "Bob")
    ctx = browser.new_context(base_url=server.url, locale="en-GB", timezone_id="UTC")
    ctx.set_default_timeout(10_000)
    try:
        response = ctx.request.post(
            "/api/auth/login", data={"email": bob.email, "password": PASSWORD}
        )
        assert response.ok, response.text()
        page = ctx.new_page()
        errors = BrowserErrors(page)
        yield page, bob
        errors.check()
    finally:
        ctx.close()


def test_deletion_is_asked_with_the_password_and_cancelled_by_logging_in_again(
    browser: Any, server: Any, container: Container, clock: ManualClock
) -> None:
    with member_page(browser, server, container) as (page, bob):
        ctx = page.context
        page.goto("/privacy-centre#deletion")
        expect(page.locator("#grace-days")).to_have_text(
            f"{container.settings.account_deletion_grace_days} days"
        )

        page.get_by_role("button", name="Delete my account").click()
        expect(page.locator("#deletion-password-error")).to_have_text("Enter your password.")
        page.get_by_label("Enter your password to confirm").fill("not my password")
        page.get_by_role("button", name="Delete my account").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete my account").click()
        expect(page.locator("#deletion-error")).to_have_text("The current password is not right.")
        assert container.accounts.deletion(bob.principal) is None

        page.get_by_label("Enter your password to confirm").fill(PASSWORD)
        page.get_by_role("button", name="Delete my account").click()
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
        assert container.accounts.deletion(bob.principal) is None, (
            "cancelling the dialog asks nothing"
        )
        page.get_by_role("button", name="Delete my account").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete my account").click()

        state = page.locator("#deletion-status")
        expect(state).to_be_visible()
        scheduled = container.accounts.deletion(bob.principal)
        assert scheduled is not None
        assert scheduled.purge_after == clock.now() + timedelta(
            days=container.settings.account_deletion_grace_days
        )
        expect(page.locator("#purge-date")).to_have_text(
            scheduled.purge_after.strftime("%d %b %Y, %H:%M UTC")
        )
        expect(page.get_by_role("button", name="Log in and cancel the deletion")).to_be_visible()
        check_accessibility(page, "deletion scheduled")
        assert ctx.request.get("/api/users/me").status == 401, "every session ended"

        page.get_by_label("Your password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in and cancel the deletion").click()
        page.get_by_text("the deletion is cancelled; your account stays").wait_for()
        expect(page.get_by_role("button", name="Delete my account")).to_be_visible()
        assert container.accounts.deletion(bob.principal) is None
        sentences = entries(page)
        assert sentences[0] == "You cancelled the deletion of your account by logging in again."
        assert any(
            s.startswith("You scheduled your account for deletion on this website")
            for s in sentences
        )


def test_a_scheduled_deletion_shows_its_date_and_is_cancelled_from_the_page(
    browser: Any, server: Any, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Still logged in (a deletion scheduled while this session lives on), the page cancels
    through DELETE /api/account/deletion."""
    with member_page(browser, server, container) as (page, bob):
        # Scheduled as the API does, except that this session is kept.
        monkeypatch.setattr(container.accounts.repo, "revoke_credentials", lambda s, uid: None)
        container.accounts.request_deletion(bob.principal, PASSWORD, "api")
        purge = container.accounts.deletion(bob.principal)
        assert purge is not None
        page.goto("/privacy-centre")
        expect(page.locator("#deletion-status")).to_contain_text("scheduled for deletion")
        expect(page.locator("#purge-date")).to_have_text(
            purge.purge_after.strftime("%d %b %Y, %H:%M UTC")
        )
        expect(page.get_by_role("button", name="Delete my account")).to_be_hidden()
        page.get_by_role("button", name="Cancel the deletion").click()
        page.get_by_text("The deletion is cancelled; your account stays.").wait_for()
        assert container.accounts.deletion(bob.principal) is None
        expect(page.get_by_role("button", name="Delete my account")).to_be_visible()
        assert entries(page)[0] == "You cancelled the deletion of your account."


def test_the_last_administrator_is_told_why_they_cannot_delete_their_account(
    page: Any, user: LibraryUser, container: Container
) -> None:
    page.goto("/settings")
    page.get_by_role("link", name="open the privacy centre").click()
    page.wait_for_url(re.compile(r"/privacy-centre$"))
    page.get_by_label("Enter your password to confirm").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete my account").click()
    expect(page.locator("#deletion-error")).to_contain_text(
        "The last administrator cannot be deleted"
    )
    assert container.accounts.deletion(user.principal) is None
