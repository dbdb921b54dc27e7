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


# --- the complete People pages ---------------------------------------------------------------


def _library(
    container: Container, user: LibraryUser, tmp_path: Path, shots: list[tuple[str, ...]]
) -> dict[str, str]:
    """Photos with these faces, face recognition on, and every person named after who they
    are (found from their photos): {name: person id}."""
    for i, faces in enumerate(shots):
        add_file(container, user, tmp_path, f"shot-{i}.jpg", photo(*faces, seed=i))
    container.faces.set_enabled(user.principal, True)
    in_photo = {a.id: set(shots[i]) for i, a in enumerate(user.assets)}
    named = {}
    for summary in container.faces.people(user.principal):
        pid = summary.person.id
        faces = container.faces.person_faces(user.principal, pid)
        [who] = set.intersection(*(in_photo[v.face.asset_id] for v in faces))
        container.faces.update_person(user.principal, pid, name=who.capitalize())
        named[who.capitalize()] = pid
    return named


def _names(page: Any) -> list[str]:
    return [n.strip() for n in page.locator(".person-name").all_inner_texts()]


def test_people_together_merge_with_undo_and_hiding_from_the_keyboard(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    shots = [("anna", "ben"), ("anna",), ("anna", "ben"), ("ben",), ("cleo",), ("cleo",)]
    people = _library(container, user, tmp_path, shots)
    assert set(people) == {"Anna", "Ben", "Cleo"}
    page.goto("/people")
    assert sorted(_names(page)) == ["Anna", "Ben", "Cleo"]

    # Photos with both Anna and Ben: ticked with the keyboard.
    page.get_by_role("checkbox", name=re.compile("^Select Anna")).focus()
    page.keyboard.press("Space")
    page.get_by_role("checkbox", name=re.compile("^Select Ben")).focus()
    page.keyboard.press("Space")
    expect(page.locator("#people-count")).to_have_text("2 people selected")
    page.get_by_role("button", name="Show photos with all of them").click()
    results = page.get_by_role("region", name="Photos with Anna and Ben")
    expect(results.locator(".tile")).to_have_count(2)
    expect(page.locator("#results-note")).to_contain_text("2 photos")
    both = {
        a.id for a, faces in zip(user.assets, shots, strict=True) if {"anna", "ben"} <= set(faces)
    }
    shown = {results.locator(".tile").nth(i).get_attribute("data-id") for i in range(2)}
    assert shown == both
    check_accessibility(page, "people with results")

    # Merge Ben into Anna by mistake, then undo it.
    page.get_by_role("button", name="Merge into one person").click()
    dialog = page.get_by_role("dialog", name="Merge people")
    dialog.get_by_role("radio", name="Anna").check()
    dialog.get_by_role("button", name="Merge").click()
    page.get_by_text("Merged into one person.").wait_for()
    assert sorted(_names(page)) == ["Anna", "Cleo"]
    assert len(container.faces.people(user.principal)) == 2
    undo = page.get_by_role("region", name="Last merge")
    expect(undo).to_contain_text("Merged Ben into Anna.")
    check_accessibility(page, "people after a merge")
    # The server remembers the merge: the bar is there after a reload, and on a new tab.
    page.reload()
    expect(page.get_by_role("region", name="Last merge")).to_contain_text("Merged Ben into Anna.")
    other = page.context.new_page()
    other.goto("/people")
    expect(other.get_by_role("region", name="Last merge")).to_be_visible()
    other.close()
    undo.get_by_role("button", name="Undo the last merge").click()
    page.get_by_text("Merge undone: 2 people as before.").wait_for()
    assert sorted(_names(page)) == ["Anna", "Ben", "Cleo"]
    expect(page.get_by_role("region", name="Last merge")).to_be_hidden()
    page.reload()
    page.locator(".person-card").first.wait_for()
    expect(page.get_by_role("region", name="Last merge")).to_be_hidden()
    ben = next(p for p in container.faces.people(user.principal) if p.person.name == "Ben")
    assert ben.person.id == people["Ben"] and ben.face_count == 3

    # Hide Cleo, find her among the hidden people, show her again.
    page.get_by_role("checkbox", name=re.compile("^Select Cleo")).check()
    page.get_by_role("button", name="Hide from People").click()
    page.get_by_text("1 person hidden from People.").wait_for()
    assert sorted(_names(page)) == ["Anna", "Ben"]
    page.get_by_role("link", name="Show hidden people").click()
    page.get_by_role("checkbox", name=re.compile("^Select Cleo")).check()
    page.get_by_role("button", name="Show in People").click()
    page.get_by_text("1 person shown in People again.").wait_for()
    page.goto("/people")
    assert sorted(_names(page)) == ["Anna", "Ben", "Cleo"]


def test_search_by_example_photo_finds_the_person_and_their_photos(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    _library(container, user, tmp_path, [("anna",), ("ben",), ("ben",), ("anna", "cleo")])
    page.goto("/people")
    page.get_by_role("button", name="Find similar faces").click()
    expect(page.locator("#example-error")).to_have_text("Choose a photo with the face to look for.")
    page.get_by_label("A photo with the face to look for").set_input_files(
        files=[{"name": "who.jpg", "mimeType": "image/jpeg", "buffer": photo("ben", seed=40)}]
    )
    page.get_by_role("button", name="Find similar faces").click()
    results = page.get_by_role("region", name="Like the faces in who.jpg")
    faces = results.get_by_role("list", name="Faces found in your photo")
    expect(faces.get_by_role("link").first).to_have_text("Ben")
    assert re.search(r"Ben \(distance 0\.\d\d\)", faces.inner_text())
    expect(results.locator(".tile")).to_have_count(2)
    ben_photos = {user.assets[1].id, user.assets[2].id}
    assert {t.get_attribute("data-id") for t in results.locator(".tile").all()} == ben_photos
    check_accessibility(page, "search by example")

    # A photo without a face says so, in words.
    page.get_by_label("A photo with the face to look for").set_input_files(
        files=[{"name": "wall.jpg", "mimeType": "image/jpeg", "buffer": photo(seed=41)}]
    )
    page.get_by_role("button", name="Find similar faces").click()
    expect(page.locator("#results-note")).to_contain_text("No face was found in this photo")


def test_person_page_review_rename_split_remove_and_merge_into(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    shots = [("anna",), ("anna",), ("anna",), ("ben",), ("ben",), ("anna_lookalike",)]
    people = _library(container, user, tmp_path, shots)
    anna = people["Anna"]
    page.goto(f"/people/{anna}")
    page.locator("#person-grid .tile img").first.wait_for()
    check_accessibility(page, "person page")

    # "Is this Anna?": the look-alike is suggested; answering from the keyboard.
    review = page.get_by_role("region", name="Is this Anna?")
    expect(review.locator(".review-card")).to_have_count(1)
    review.get_by_role("button", name=re.compile("face 1 is not Anna$")).focus()
    page.keyboard.press("Enter")
    page.get_by_text("Noted: never suggested again").wait_for()
    assert not [
        v
        for v in container.faces.unassigned(user.principal)
        if v.suggestion and v.suggestion[0] == anna
    ]

    # Rename.
    page.get_by_role("button", name="Rename").click()
    page.get_by_role("textbox", name="Name").fill("Anna Maria")
    page.get_by_role("dialog").get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Anna Maria", level=1).wait_for()

    # Split one face off to a new person.
    faces = page.get_by_role("list", name="Faces")
    expect(faces.get_by_role("checkbox")).to_have_count(3)
    faces.get_by_role("checkbox", name="Face 1", exact=True).check()
    expect(page.locator("#faces-count")).to_have_text("1 face selected")
    page.get_by_role("button", name="Move to another person").click()
    dialog = page.get_by_role("dialog", name="Move the faces to…")
    check_accessibility(page, "move dialog")
    dialog.get_by_label("Name of the new person (optional)").fill("Annie")
    dialog.get_by_role("button", name="Move").click()
    page.get_by_text("Moved 1 face to Annie.").wait_for()
    expect(page.get_by_role("list", name="Faces").get_by_role("checkbox")).to_have_count(2)
    by_name = {p.person.name: p for p in container.faces.people(user.principal)}
    assert by_name["Annie"].face_count == 1 and by_name["Anna Maria"].face_count == 2

    # Take a wrong face out.
    page.get_by_role("list", name="Faces").get_by_role(
        "checkbox", name="Face 2", exact=True
    ).check()
    page.get_by_role("button", name="Not Anna Maria").click()
    page.get_by_text(re.compile("Took 1 face out of Anna Maria")).wait_for()
    assert len(container.faces.person_faces(user.principal, anna)) == 1

    # Merge Annie back in (several could be ticked), then undo.
    page.get_by_role("button", name="Merge others into Anna Maria").click()
    merge = page.get_by_role("dialog", name="Merge into Anna Maria")
    merge.get_by_role("button", name="Merge").click()
    expect(merge.locator("#merge-error")).to_have_text("Tick at least one person to merge.")
    merge.get_by_role("checkbox", name=re.compile("^Annie")).check()
    merge.get_by_role("button", name="Merge").click()
    page.get_by_text("Merged into Anna Maria.").wait_for()
    assert len(container.faces.person_faces(user.principal, anna)) == 2
    expect(page.get_by_role("region", name="Last merge")).to_contain_text(
        "Merged Annie into Anna Maria."
    )
    # Still there after a reload, and on the People page too.
    page.reload()
    expect(page.get_by_role("region", name="Last merge")).to_contain_text(
        "Merged Annie into Anna Maria."
    )
    page.goto("/people")
    expect(page.get_by_role("region", name="Last merge")).to_contain_text(
        "Merged Annie into Anna Maria."
    )
    page.go_back()
    page.get_by_role("button", name="Undo the last merge").click()
    page.get_by_text("Merge undone").wait_for()
    assert len(container.faces.person_faces(user.principal, anna)) == 1
    assert "Annie" in {p.person.name for p in container.faces.people(user.principal)}
    expect(page.get_by_role("region", name="Last merge")).to_be_hidden()


def test_person_page_asks_is_this_x_from_the_server_closest_first_and_pages_on(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    # Fourteen look-alikes of Anna, taken out of the person they made by themselves: in no
    # person now, each close enough to Anna for Anna's page to ask about it.
    shots = [("anna",)] * 3 + [("anna_lookalike",)] * 14
    for i, faces in enumerate(shots):
        add_file(container, user, tmp_path, f"shot-{i}.jpg", photo(*faces, seed=i))
    container.faces.set_enabled(user.principal, True)
    anna = ""
    for summary in container.faces.people(user.principal):
        pid = summary.person.id
        faces = container.faces.person_faces(user.principal, pid)
        if summary.face_count == 3:
            anna = pid
            container.faces.update_person(user.principal, pid, name="Anna")
        else:
            for view in faces:
                container.faces.remove_face(user.principal, pid, view.face.id)
    expected = container.faces.person_suggestions(user.principal, anna, limit=100).faces
    assert len(expected) == 14
    page.goto(f"/people/{anna}")
    review = page.get_by_role("region", name="Is this Anna?")
    cards = review.locator(".review-card")
    expect(cards).to_have_count(12)
    shown = [cards.nth(i).get_attribute("data-face") for i in range(12)]
    assert shown == [v.face.id for v in expected[:12]], "closest first"
    expect(review).to_contain_text("The 12 closest faces")
    check_accessibility(page, "person page with questions")
    # Answering all twelve brings the last two.
    for left in range(11, -1, -1):
        cards.first.get_by_role("button", name=re.compile("is not Anna$")).click()
        expect(cards).to_have_count(left or 2)
    assert {cards.nth(i).get_attribute("data-face") for i in range(2)} == {
        v.face.id for v in expected[12:]
    }
    for left in (1, 0):
        cards.first.get_by_role("button", name=re.compile("is Anna$")).click()
        expect(cards).to_have_count(left)
    expect(review).to_be_hidden()
    assert len(container.faces.person_faces(user.principal, anna)) == 5
    page.reload()
    page.locator("#person-grid .tile img").first.wait_for()
    expect(page.get_by_role("region", name="Is this Anna?")).to_be_hidden()
