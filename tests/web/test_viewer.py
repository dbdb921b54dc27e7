"""The photo viewer: opened from the timeline, arrows and Esc, zoom, the details panel,
favourite from the keyboard and the original downloaded byte for byte."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from keepsake.app import Container
from tests.web.browser import (
    LibraryUser,
    add_file,
    add_photos,
    check_accessibility,
    gps_jpeg,
    utc,
    wait_for_thumbnails,
)


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
