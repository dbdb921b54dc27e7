"""The photo viewer: opened from the timeline, arrows and Esc, zoom, the details panel,
favourite from the keyboard, the original downloaded byte for byte, and the people in a
photo: correcting who a face is, and drawing a face detection missed (mouse and keyboard).
Faces come from the fake engine of the faces tests (coloured squares)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from keepsake.app import Container, build_container
from keepsake.clock import ManualClock
from keepsake.storage.models import Face
from tests.conftest import make_settings
from tests.faces.conftest import fake_analyzer, photo
from tests.web.browser import (
    PASSWORD,
    BrowserErrors,
    LibraryUser,
    add_file,
    add_photos,
    check_accessibility,
    gps_jpeg,
    utc,
    wait_for_thumbnails,
)

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def container(
    tmp_path: Path, database_url: str, clock: ManualClock, settings_overrides: dict[str, Any]
) -> Iterator[Container]:
    c = build_container(
        make_settings(tmp_path / "data", database_url, **settings_overrides),
        clock=clock,
        face_analyzer=fake_analyzer(),
    )
    yield c
    c.close()


def test_viewer_opens_from_the_timeline_and_walks_it_with_the_keyboard(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    older, middle = add_photos(container, user, tmp_path, [utc(2024, 5, 1, 9), utc(2024, 5, 2, 9)])
    newest = add_file(container, user, tmp_path, "alps.jpg", gps_jpeg(46.5586, 7.8955))
    page.goto("/")
    wait_for_thumbnails(page, 3)
    page.locator(f'.tile[data-id="{middle.id}"] .tile-link').click()
    page.wait_for_url(re.compile(rf"/photos/{middle.id}\?in=timeline$"))
    page.wait_for_function("() => document.getElementById('photo').naturalWidth > 0")
    check_accessibility(page, "viewer")

    page.keyboard.press("ArrowRight")  # older
    page.wait_for_url(re.compile(rf"/photos/{older.id}"))
    page.keyboard.press("ArrowRight")  # nothing older: stays
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(rf"/photos/{middle.id}"))
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(rf"/photos/{newest.id}"))
    details = page.get_by_role("complementary", name="Details")
    text = details.inner_text()
    assert "Friday 17 May 2024, 10:30 (UTC+02:00)" in text
    assert "Canon EOS R6" in text
    assert "46.55860, 7.89550" in text
    assert "120 × 80 pixels" in text  # noqa: RUF001

    # Arrows replace the history entry, so Esc (Back) lands on the timeline at once.
    page.keyboard.press("Escape")
    page.wait_for_url(re.compile(r"/$"))
    page.locator(".tile").first.wait_for()


def test_zoom_details_toggle_and_favourite_from_the_keyboard(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    [photo] = add_photos(container, user, tmp_path, [utc(2024, 5, 1, 9)], size=(640, 480))
    page.goto(f"/photos/{photo.id}")
    zoom = page.locator("#zoom-level")
    page.keyboard.press("+")
    assert zoom.inner_text() == "150%"
    page.get_by_role("button", name="Zoom in (plus key)").click()
    assert zoom.inner_text() == "200%"
    assert "scale(2)" in (page.locator("#frame").get_attribute("style") or "")
    page.keyboard.press("Escape")  # first Esc leaves the zoom, not the photo
    assert zoom.inner_text() == "100%"
    assert "/photos/" in page.url

    page.keyboard.press("i")
    assert page.locator("#info").is_hidden()
    assert page.get_by_role("button", name="Details (I)").get_attribute("aria-expanded") == "false"
    page.keyboard.press("i")
    assert page.locator("#info").is_visible()

    page.keyboard.press("f")
    page.get_by_text("Added to favourites").wait_for()
    assert page.get_by_role("button", name="Favourite (F)").get_attribute("aria-pressed") == "true"
    asset, _ = container.media.asset(user.principal, photo.id)
    assert asset.is_favorite


def test_download_original_is_byte_identical(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    data = gps_jpeg(60.39, 5.32)
    photo = add_file(container, user, tmp_path, "bergen.jpg", data)
    page.goto(f"/photos/{photo.id}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download original").click()
    assert download.value.suggested_filename == "bergen.jpg"
    assert Path(download.value.path()).read_bytes() == data


@pytest.mark.parametrize("settings_overrides", [{"trash_retention_days": 7}])
def test_the_viewers_delete_question_names_the_servers_own_trash_period(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    [photo] = add_photos(container, user, tmp_path, [utc(2024, 5, 1, 9)])
    assert container.settings.trash_retention_days == 7
    page.goto(f"/photos/{photo.id}")
    page.keyboard.press("Delete")
    dialog = page.get_by_role("dialog", name="Delete this photo?")
    expect(dialog).to_contain_text("restore it for the next 7 days")
    expect(dialog).not_to_contain_text("30 days")
    dialog.get_by_role("button", name="Cancel").click()
    assert container.media.list_trash(user.principal) == []


def test_the_viewer_keeps_its_level_one_heading_on_a_phone(
    browser: Any, server: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    [photo] = add_photos(container, user, tmp_path, [utc(2024, 5, 1, 9)])
    ctx = browser.new_context(
        base_url=server.url, viewport=PHONE, is_mobile=True, has_touch=True, locale="en-GB"
    )
    try:
        ctx.request.post("/api/auth/login", data={"email": user.email, "password": PASSWORD})
        phone = ctx.new_page()
        errors = BrowserErrors(phone)
        phone.goto(f"/photos/{photo.id}")
        phone.wait_for_function("() => document.getElementById('photo').naturalWidth > 0")
        # Out of sight on the narrow bar, still the page's heading for a screen reader.
        heading = phone.get_by_role("heading", level=1)
        expect(heading).to_have_count(1)
        expect(heading).to_have_text(photo.original_filename)
        box = heading.bounding_box()
        assert box is not None, "rendered, not display: none"
        assert box["width"] <= 1 and box["height"] <= 1, "out of sight on the narrow bar"
        violations = Axe().run(phone).response["violations"]
        assert "page-has-heading-one" not in [v["id"] for v in violations], violations
        check_accessibility(phone, "viewer on a phone")
        errors.check()
    finally:
        ctx.close()


def test_delete_from_the_viewer_moves_on_and_restore_from_trash_viewer(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    first, second = add_photos(container, user, tmp_path, [utc(2024, 5, 1, 9), utc(2024, 5, 2, 9)])
    page.goto(f"/photos/{second.id}")
    page.keyboard.press("Delete")
    page.get_by_role("dialog", name="Delete this photo?").get_by_role(
        "button", name="Move to trash"
    ).click()
    page.wait_for_url(re.compile(rf"/photos/{first.id}"))
    assert [a.id for a in container.media.list_trash(user.principal)] == [second.id]

    page.goto(f"/photos/{second.id}?in=trash")
    assert "This photo is in the trash" in page.locator("#info").inner_text()
    check_accessibility(page, "viewer of a trashed photo")
    page.get_by_role("button", name="Restore from the trash").click()
    page.wait_for_url(re.compile(r"/trash$"))
    assert container.media.list_trash(user.principal) == []


def _manual_faces(container: Container, asset_id: str) -> list[Face]:
    with container.db.read() as s:
        return list(s.query(Face).filter(Face.asset_id == asset_id, Face.source == "manual").all())


def test_draw_a_missed_face_with_the_keyboard_and_the_mouse_then_correct_it(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    shot = add_file(container, user, tmp_path, "party.jpg", photo("anna", size=(800, 600)))
    container.faces.set_enabled(user.principal, True)
    page.goto(f"/photos/{shot.id}")
    page.wait_for_function("() => document.getElementById('photo').naturalWidth > 0")
    people_here = page.get_by_role("list", name="People in this photo")
    expect(people_here.locator(".face-item")).to_have_count(1)

    # Keyboard: the box starts in the middle; arrows move it, Shift and arrows resize it.
    page.get_by_role("button", name="Add a face that was missed").focus()
    page.keyboard.press("Enter")
    box = page.get_by_role("group", name="New face box")
    expect(box).to_be_focused()
    check_accessibility(page, "viewer, drawing a face")
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    for _ in range(5):
        page.keyboard.press("Shift+ArrowRight")
    expect(page.locator("#draw-where")).to_have_text(
        "Box 31% from the left, 38% from the top, 24% wide, 25% high."
    )
    page.keyboard.press("Escape")  # leaves drawing, not the photo
    assert "/photos/" in page.url
    expect(box).to_be_hidden()
    page.get_by_role("button", name="Add a face that was missed").click()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    for _ in range(5):
        page.keyboard.press("Shift+ArrowRight")
    page.get_by_label("Whose face is in the box? (optional)").fill("Dora")
    page.keyboard.press("Enter")
    page.get_by_text("Face added: Dora.").wait_for()
    [drawn] = _manual_faces(container, shot.id)
    # 800 x 600: a box 18.75% of the width (25% of the height) in the middle, moved left
    # by 10% and widened by 5%.
    assert (drawn.x1, drawn.y1, drawn.x2, drawn.y2) == pytest.approx((245, 225, 435, 375), abs=1)
    expect(people_here.get_by_role("link", name="Dora")).to_be_visible()

    # Mouse: drag over the face.
    page.get_by_role("button", name="Add a face that was missed").click()
    layer = page.locator("#draw-layer").bounding_box()
    assert layer
    page.mouse.move(layer["x"] + 0.1 * layer["width"], layer["y"] + 0.1 * layer["height"])
    page.mouse.down()
    page.mouse.move(layer["x"] + 0.3 * layer["width"], layer["y"] + 0.4 * layer["height"], steps=5)
    page.mouse.up()
    expect(page.get_by_label("Whose face is in the box? (optional)")).to_be_focused()
    page.get_by_role("button", name="Save the face").click()
    page.get_by_text("Face added.", exact=True).wait_for()
    boxes = sorted((f.x1, f.y1, f.x2, f.y2) for f in _manual_faces(container, shot.id))
    assert len(boxes) == 2
    assert boxes[0] == pytest.approx((80, 60, 240, 240), abs=6)
    expect(people_here.locator(".face-item")).to_have_count(3)

    # Correct Dora: she is Eve.
    dora = people_here.locator(".face-item", has=page.get_by_role("link", name="Dora"))
    dora.get_by_role("button", name=re.compile("^Change")).click()
    dora.get_by_label("Who is this instead?").fill("Eve")
    dora.get_by_label("Who is this instead?").press("Enter")
    page.get_by_text("Saved: this is Eve.").wait_for()
    expect(people_here.get_by_role("link", name="Eve")).to_be_visible()
    expect(people_here.get_by_role("link", name="Dora")).to_have_count(0)
    check_accessibility(page, "viewer after corrections")
