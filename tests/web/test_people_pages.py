"""People in the browser: turning face recognition on with its consent, naming, merging,
"is this …?" and turning it off again (which deletes the faces). Faces come from the fake
engine of the faces tests, which reads coloured squares as faces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from keepsake.app import Container, build_container
from keepsake.clock import ManualClock
from tests.conftest import make_settings
from tests.faces.conftest import face_rows, fake_analyzer, photo
from tests.web.browser import LibraryUser, add_file, check_accessibility


@pytest.fixture
def container(tmp_path: Path, database_url: str, clock: ManualClock) -> Iterator[Container]:
    c = build_container(
        make_settings(tmp_path / "data", database_url), clock=clock, face_analyzer=fake_analyzer()
    )
    yield c
    c.close()


def test_people_from_consent_to_naming_merging_and_turning_off(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    shots = [("anna",), ("anna", "ben"), ("ben",), ("cleo",), ("cleo",), ("anna_lookalike",)]
    for i, faces in enumerate(shots):
        add_file(container, user, tmp_path, f"group-{i}.jpg", photo(*faces, seed=i))

    page.goto("/people")
    check_accessibility(page, "people, face recognition off")
    assert "Find and group faces" in page.locator("main").inner_text()
    page.get_by_role("button", name="I agree: turn on face recognition").click()
    page.get_by_role("button", name="Turn off face recognition").wait_for()
    cards = page.locator(".person-card")
    expect(cards.first).to_be_visible()
    people_before = cards.count()
    assert people_before >= 3
    check_accessibility(page, "people")

    # Name the first person on their page.
    cards.first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/people/[0-9a-f-]+$"))
    page.locator("#person-grid .tile img").first.wait_for()
    check_accessibility(page, "person")
    page.get_by_role("button", name="Add a name").click()
    page.get_by_role("textbox", name="Name").fill("Anna")
    page.get_by_role("dialog").get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Anna").wait_for()
    page.goto("/people")
    expect(page.locator(".person-name").first).to_have_text("Anna")

    # "Is this …?": answering removes the question.
    review = page.locator(".review-card")
    if review.count():
        review.first.get_by_role("button", name=re.compile("^No")).click()
        page.get_by_text("Noted: never suggested again").wait_for()

    # Merge the last two people into one.
    cards.nth(people_before - 1).locator(".person-check").check()
    cards.nth(people_before - 2).locator(".person-check").check()
    page.get_by_role("button", name="Merge into one person").click()
    check_accessibility(page, "merge dialog")
    page.get_by_role("dialog").get_by_role("button", name="Merge").click()
    page.get_by_text("Merged into one person.").wait_for()
    assert page.locator(".person-card").count() == people_before - 1

    # The viewer shows who is in a photo; an unnamed face gets a name there.
    page.goto(f"/photos/{user.assets[5].id}")  # the look-alike: in no person yet
    people_here = page.get_by_role("list", name="People in this photo")
    expect(people_here).to_be_visible()
    check_accessibility(page, "viewer with faces")
    assert page.locator(".face-box").count() == 1
    page.get_by_label("Who is this?").fill("Cleo")
    page.get_by_role("button", name="Save").click()
    expect(people_here.get_by_role("link", name="Cleo")).to_be_visible()
    page.get_by_role("button", name="Not Cleo").click()
    expect(page.get_by_label("Who is this?")).to_be_visible()

    # Off: every face is deleted, and the page asks for consent again.
    page.goto("/people")
    page.get_by_role("button", name="Turn off face recognition").click()
    page.get_by_role("dialog").get_by_role("button", name="Turn off and delete").click()
    page.get_by_role("button", name="I agree: turn on face recognition").wait_for()
    page.get_by_text(re.compile(r"Face recognition is off; \d+ face templates? deleted")).wait_for()
    assert face_rows(container, user.id) == 0
