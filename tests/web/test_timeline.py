"""The timeline in the browser: months filled as they come near the screen, cursor pages
within a month, the "Jump to" list and the scrubber, selecting many, keyboard use."""

from __future__ import annotations

import re
from datetime import timedelta
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


def _months_back(count: int, per_month: int) -> list:
    times = []
    for m in range(count):
        year, month = 2024 - (m // 12), 12 - (m % 12)
        for i in range(per_month):
            times.append(utc(year, month, 10 + i, 12, 0))
    return times


def test_scrolling_loads_older_months_in_cursor_pages(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    # 24 months of one photo, and one month of 5 photos in pages of 2 (three requests).
    times = _months_back(24, 1) + [utc(2022, 11, 20 + i, 9, 0) for i in range(5)]
    add_photos(container, user, tmp_path, times)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/timeline" in r.url else None)
    page.goto("/?page_size=2")
    wait_for_thumbnails(page, 3)
    first_screen = tiles(page).count()
    assert 3 <= first_screen < len(times), "months far below the screen load later"
    for _ in range(80):
        if tiles(page).count() == len(times):
            break
        page.mouse.wheel(0, 600)  # a person's scrolling, not a jump past months
        page.wait_for_timeout(60)
    assert tiles(page).count() == len(times)
    november = page.locator("#m-2022-11 .tile")
    assert november.count() == 5
    assert any("cursor=" in url for url in requests), "pages after the first use the cursor"
    assert page.locator("#m-2022-11 .day-title").first.inner_text() == "Thu 24 Nov"


def test_jump_to_a_month_and_the_scrubber(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    add_photos(container, user, tmp_path, _months_back(30, 1))
    page.goto("/")
    wait_for_thumbnails(page, 2)
    check_accessibility(page, "timeline")
    page.get_by_label("Jump to").select_option(label="March 2023")
    heading = page.get_by_role("heading", name="March 2023")
    heading.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#m-2023-03 .tile img').length === 1")
    box = heading.bounding_box()
    assert box is not None and 0 <= box["y"] < 800
    assert page.evaluate("() => document.activeElement.id") == "h-2023-03"
    wait_for_thumbnails(page, 3)

    # The scrubber: a drag to its bottom shows the oldest month.
    page.evaluate("() => window.scrollTo(0, 0)")
    rail = page.locator("#scrubber").bounding_box()
    assert rail is not None
    x = rail["x"] + rail["width"] / 2
    page.mouse.move(x, rail["y"] + 5)
    page.mouse.down()
    page.mouse.move(x, rail["y"] + rail["height"] - 1, steps=5)
    assert page.locator("#scrubber-label").inner_text() == "July 2022"
    page.mouse.up()
    page.locator("#m-2022-07 .tile").first.wait_for()
    assert page.evaluate("() => window.scrollY") > 2000


def test_select_many_to_favourite_and_delete(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    assets = add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(4)])
    page.goto("/")
    wait_for_thumbnails(page, 4)
    first, second = tiles(page).nth(0), tiles(page).nth(1)
    first.hover()
    first.locator(".tile-check").check()
    # Once something is selected a click on a photo selects it instead of opening it.
    second.locator(".tile-link").click()
    assert page.url.endswith("/")
    bar = page.get_by_role("region", name="Selected photos")
    assert bar.locator("#selection-count").inner_text() == "2 photos selected"
    check_accessibility(page, "timeline with a selection")
    bar.get_by_role("button", name="Favourite").click()
    page.get_by_text("Added 2 photos to favourites").wait_for()
    chosen = [first.get_attribute("data-id"), second.get_attribute("data-id")]
    assert page.locator(".tile .tile-star").count() == 2
    items, _ = container.media.timeline(user.principal, favorites_only=True)
    assert sorted(a.id for a in items) == sorted(chosen)

    bar.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete 2 photos?")
    check_accessibility(page, "delete confirmation")
    dialog.get_by_role("button", name="Move to trash").click()
    page.get_by_text("Moved 2 photos to the trash").wait_for()
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 2")
    assert bar.is_hidden()
    assert sorted(a.id for a in container.media.list_trash(user.principal)) == sorted(chosen)
    assert len(assets) == 4

    page.get_by_role("button", name="Undo").click()
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 4")
    assert container.media.list_trash(user.principal) == []


def test_the_grid_works_from_the_keyboard(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(3)])
    page.goto("/")
    wait_for_thumbnails(page, 3)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.locator(".tile-link").first.focus()
    page.keyboard.press("ArrowRight")
    focused = page.evaluate("() => document.activeElement.closest('.tile').dataset.id")
    assert focused == tiles(page).nth(1).get_attribute("data-id")
    page.keyboard.press("x")
    assert page.locator("#selection-count").inner_text() == "1 photo selected"
    page.keyboard.press("Escape")
    assert page.locator("#selection-bar").is_hidden()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/photos/{focused}\?in=timeline$"))


def test_favourites_page_and_empty_state(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    [asset] = add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, 0)])
    page.goto("/favorites")
    page.get_by_role("heading", name="No favourites yet").wait_for()
    check_accessibility(page, "empty favourites")
    container.media.update_asset(user.principal, asset.id, is_favorite=True)
    page.goto("/favorites")
    wait_for_thumbnails(page, 1)
    assert tiles(page).first.get_attribute("data-id") == asset.id


def test_a_phone_sized_screen_has_no_sideways_scrolling(
    browser: Any, server: Any, container: Container, tmp_path: Path
) -> None:
    from tests.web.browser import PASSWORD, BrowserErrors, make_user

    owner = make_user(container, "ada@example.org", "Ada")
    add_photos(
        container,
        owner,
        tmp_path,
        [utc(2024, 5, 17, 10, 0) - timedelta(days=i) for i in range(12)],
        size=(64, 96),
    )
    ctx = browser.new_context(
        base_url=server.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        ctx.request.post("/api/auth/login", data={"email": owner.email, "password": PASSWORD})
        phone = ctx.new_page()
        errors = BrowserErrors(phone)
        for path in ("/", "/upload", "/albums", "/trash", "/settings", "/admin"):
            phone.goto(path)
            overflow = phone.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        phone.goto("/")
        wait_for_thumbnails(phone, 6)
        assert phone.get_by_role("navigation", name="Main").is_visible()
        check_accessibility(phone, "timeline on a phone")
        errors.check()
    finally:
        ctx.close()
