"""Albums (create from a timeline selection, open, set the cover, remove, rename, delete)
and the trash (restore, empty)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from keepsake.app import Container
from tests.web.browser import (
    LibraryUser,
    add_photos,
    check_accessibility,
    tiles,
    utc,
    wait_for_thumbnails,
)


def _select(page: Any, n: int) -> list[str]:
    chosen = []
    for i in range(n):
        tile = tiles(page).nth(i)
        tile.hover()
        tile.locator(".tile-check").check()
        chosen.append(tile.get_attribute("data-id"))
    return chosen


def test_create_an_album_from_the_timeline_and_set_its_cover(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(4)])
    page.goto("/")
    wait_for_thumbnails(page, 4)
    chosen = _select(page, 3)
    page.get_by_role("button", name="Add to album").click()
    dialog = page.get_by_role("dialog", name="Add to album")
    dialog.get_by_label("Name of the new album").wait_for()
    check_accessibility(page, "add to album dialog")
    dialog.get_by_label("Name of the new album").fill("Summer")
    dialog.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("Added 3 photos to Summer").wait_for()
    [(album, count)] = container.media.albums(user.principal)
    assert (album.name, count) == ("Summer", 3)

    # A second selection goes into the same album, chosen from the list.
    page.get_by_role("button", name="Clear selection").click()
    tiles(page).nth(3).hover()
    tiles(page).nth(3).locator(".tile-check").check()
    page.get_by_role("button", name="Add to album").click()
    dialog.get_by_label("Summer (3 photos)").check()
    dialog.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("Added 1 photo to Summer").wait_for()

    page.goto("/albums")
    check_accessibility(page, "albums")
    page.get_by_role("link", name=re.compile("Summer")).click()
    page.wait_for_url(f"**/albums/{album.id}")
    wait_for_thumbnails(page, 4)
    check_accessibility(page, "album")
    assert page.locator("#album-count").inner_text() == "4 photos"
    target = tiles(page).nth(2)
    target.hover()
    target.locator(".tile-check").check()
    page.get_by_role("button", name="Set as cover").click()
    page.get_by_text("Cover changed").wait_for()
    album_now, _ = container.media.album(user.principal, album.id)
    assert album_now.cover_asset_id == target.get_attribute("data-id")
    assert target.locator(".tile-cover").inner_text() == "Cover"
    assert set(chosen) <= {a.id for a in container.media.album(user.principal, album.id)[1]}


def test_album_page_remove_rename_and_delete(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    photos = add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(3)])
    album = container.media.create_album(user.principal, "Trip")
    container.media.add_to_album(user.principal, album.id, [p.id for p in photos])
    page.goto(f"/albums/{album.id}")
    wait_for_thumbnails(page, 3)
    _select(page, 1)
    page.get_by_role("button", name="Remove from album").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove from album").click()
    page.get_by_text("Removed 1 photo from the album").wait_for()
    assert page.locator("#album-count").inner_text() == "2 photos"
    assert len(container.media.album(user.principal, album.id)[1]) == 2
    assert len(container.media.timeline(user.principal)[0]) == 3  # still in the library

    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Name", exact=True).fill("Road trip")
    page.get_by_role("dialog").get_by_role("button", name="Rename").click()
    page.get_by_role("heading", name="Road trip").wait_for()
    assert container.media.album(user.principal, album.id)[0].name == "Road trip"

    page.get_by_role("button", name="Delete album").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete album").click()
    page.wait_for_url("**/albums")
    page.get_by_role("heading", name="No albums yet").wait_for()


def test_new_album_from_the_albums_page(page: Any, user: LibraryUser) -> None:
    page.goto("/albums")
    page.get_by_role("button", name="New album").click()
    page.get_by_role("dialog").get_by_role("button", name="Create").click()
    assert page.locator("#new-album-error").inner_text() == "Give the album a name."
    page.get_by_label("Name").fill("Birthdays")
    page.get_by_role("dialog").get_by_role("button", name="Create").click()
    page.get_by_role("heading", name="Birthdays").wait_for()
    page.get_by_role("heading", name="This album is empty").wait_for()
    check_accessibility(page, "empty album")


def test_trash_restore_and_empty(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    photos = add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(4)])
    page.goto("/trash")
    page.get_by_role("heading", name="The trash is empty").wait_for()
    check_accessibility(page, "empty trash")
    container.media.trash(user.principal, [p.id for p in photos[:3]])
    page.goto("/trash")
    wait_for_thumbnails(page, 3)
    check_accessibility(page, "trash")
    assert page.locator("#trash-count").inner_text().startswith("3 photos")
    restored = _select(page, 1)
    page.get_by_role("region", name="Selected photos").get_by_role("button", name="Restore").click()
    page.get_by_text("Restored 1 photo to your library").wait_for()
    assert page.locator("#trash-count").inner_text().startswith("2 photos")
    assert restored[0] in {a.id for a in container.media.timeline(user.principal)[0]}

    page.get_by_role("button", name="Empty trash").click()
    page.get_by_role("dialog", name="Empty the trash?").get_by_role(
        "button", name="Delete for good"
    ).click()
    page.get_by_role("heading", name="The trash is empty").wait_for()
    assert container.media.list_trash(user.principal) == []
    assert len(container.media.timeline(user.principal)[0]) == 2
