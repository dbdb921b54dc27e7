"""Albums (create from a timeline selection, open, set the cover, remove, rename, delete)
and the trash (restore, empty)."""

from __future__ import annotations

import re
import time
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


def _shown(page: Any) -> list[str]:
    ids: list[str] = tiles(page).evaluate_all("els => els.map((el) => el.dataset.id)")
    return ids


def _saved(container: Container, user: LibraryUser, album_id: str, want: list[str]) -> None:
    """Until the album's order on the server is `want` (the page saves in the background)."""
    deadline = time.monotonic() + 5
    while True:
        _, assets = container.media.album(user.principal, album_id)
        if [a.id for a in assets] == want or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [a.id for a in assets] == want


def test_arrange_an_album_by_dragging_by_keyboard_and_by_date(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    p0, p1, p2, p3 = (
        p.id
        for p in add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(4)])
    )
    album = container.media.create_album(user.principal, "Arranged")
    container.media.add_to_album(user.principal, album.id, [p0, p1, p2, p3])
    page.goto(f"/albums/{album.id}")
    wait_for_thumbnails(page, 4)
    order = page.get_by_label("Order")
    assert order.input_value() == "newest_first"
    assert _shown(page) == [p3, p2, p1, p0]
    check_accessibility(page, "album with its order")
    status = page.locator("#album-order-status")

    # With the mouse: the newest photo dropped on the right half of the third goes after it.
    target = tiles(page).nth(2)
    box = target.bounding_box()
    tiles(page).nth(0).drag_to(
        target, target_position={"x": box["width"] * 0.8, "y": box["height"] / 2}
    )
    assert _shown(page) == [p2, p1, p3, p0]
    status.filter(has_text="IMG_0003.jpg moved to position 3 of 4.").wait_for()
    assert order.input_value() == "manual"
    _saved(container, user, album.id, [p2, p1, p3, p0])

    # From the keyboard: Alt+arrows on a photo move it, and it keeps the focus.
    page.locator(f'.tile[data-id="{p0}"] .tile-link').focus()
    page.keyboard.press("Alt+ArrowLeft")
    page.keyboard.press("Alt+ArrowLeft")
    assert _shown(page) == [p2, p0, p1, p3]
    status.filter(has_text="IMG_0000.jpg moved to position 2 of 4.").wait_for()
    assert page.evaluate("document.activeElement.closest('.tile').dataset.id") == p0
    page.keyboard.press("Alt+Home")
    assert _shown(page) == [p0, p2, p1, p3]
    _saved(container, user, album.id, [p0, p2, p1, p3])

    # Or select one photo and move it with the buttons.
    tiles(page).nth(3).hover()
    tiles(page).nth(3).locator(".tile-check").check()
    check_accessibility(page, "album with a photo selected to move")
    page.get_by_role("button", name="Move earlier").click()
    assert _shown(page) == [p0, p2, p3, p1]
    status.filter(has_text="IMG_0003.jpg moved to position 3 of 4.").wait_for()
    page.get_by_role("button", name="Clear selection").click()
    assert page.get_by_role("button", name="Move earlier").is_hidden()
    _saved(container, user, album.id, [p0, p2, p3, p1])

    page.reload()
    wait_for_thumbnails(page, 4)
    assert _shown(page) == [p0, p2, p3, p1]
    assert order.input_value() == "manual"

    # By date, and back to the hand-made order, which was kept.
    order.select_option("oldest_first")
    status.filter(has_text="Photos in oldest first.").wait_for()
    assert _shown(page) == [p0, p1, p2, p3]
    assert container.media.album(user.principal, album.id)[0].sort_order == "oldest_first"
    page.reload()
    wait_for_thumbnails(page, 4)
    assert order.input_value() == "oldest_first"
    assert _shown(page) == [p0, p1, p2, p3]
    order.select_option("manual")
    status.filter(has_text="Photos in your order.").wait_for()
    assert _shown(page) == [p0, p2, p3, p1]
