"""The web checklist walked in a real browser, page by page: axe on every page (error
pages and a failed login included), no sideways scrolling on a phone with the navigation
in reach, the skip link, dialogs that keep and give back the keyboard focus, empty pages
that say what to do next, thumbnails from the browser's cache, and whole folders dropped
onto the upload page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keepsake.app import Container
from tests.helpers import LiveServer, jpeg_bytes
from tests.web.browser import (
    DESKTOP,
    DROP_FOLDERS,
    PHONE,
    LibraryUser,
    add_photos,
    browser_page,
    check_accessibility,
    make_user,
    tiles,
    utc,
    wait_for_thumbnails,
)

# Pages whose answer is an error on purpose; the rest must answer 200.
ERROR_PAGES = {"/no-such-page": 404, "/photos/00000000-0000-0000-0000-000000000000": 404}


def _library(container: Container, owner: LibraryUser, tmp: Path) -> dict[str, str]:
    """A library with something on every page; the pages to visit, by name."""
    photos = add_photos(
        container, owner, tmp, [utc(2024, 5, 17 - i, 10, 0) for i in range(6)], size=(120, 80)
    )
    container.media.update_asset(owner.principal, photos[0].id, is_favorite=True)
    album = container.media.create_album(owner.principal, "A summer by the sea, long name")
    container.media.add_to_album(owner.principal, album.id, [p.id for p in photos[:4]])
    container.media.trash(owner.principal, [photos[-1].id])
    link = container.links.create(owner.principal, album_id=album.id)
    return {
        "timeline": "/",
        "favourites": "/favorites",
        "albums": "/albums",
        "album": f"/albums/{album.id}",
        "viewer": f"/photos/{photos[1].id}",
        "viewer from an album": f"/photos/{photos[1].id}?in=album:{album.id}",
        "trash": "/trash",
        "trash viewer": f"/photos/{photos[-1].id}?in=trash",
        "people": "/people",
        "sharing": "/shared",
        "partners": "/shared/partner",
        "upload": "/upload",
        "settings": "/settings",
        "admin": "/admin",
        "privacy centre": "/privacy-centre",
        "404 page": "/no-such-page",
        "missing photo": "/photos/00000000-0000-0000-0000-000000000000",
        "public link": f"/s/{link.token}",
    }


def _sideways(page: Any) -> int:
    return int(page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth"))


def _check_nav_in_reach(page: Any, what: str) -> None:
    """Every main navigation link, and the account menu, can be seen and reached."""
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Photos", "Albums", "People", "Sharing", "Upload", "Trash"):
        link = nav.get_by_role("link", name=name)
        link.scroll_into_view_if_needed()
        box = link.bounding_box()
        assert box is not None and box["width"] > 0, f"{what}: {name} link hidden"
        assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1, (
            f"{what}: {name} link out of reach at x={box['x']}"
        )
    assert page.locator("details.usermenu summary").is_visible(), f"{what}: account menu hidden"


def test_every_page_passes_axe_and_fits_a_phone_without_sideways_scrolling(
    browser: Any, server: LiveServer, container: Container, tmp_path: Path
) -> None:
    owner = make_user(container, "ada@example.org", "Ada Lovelace-Byron of Ockham")
    paths = _library(container, owner, tmp_path)
    for viewport in (DESKTOP, PHONE):
        with browser_page(browser, server, owner, viewport) as page:
            for what, path in paths.items():
                label = f"{what} at {viewport['width']}px"
                response = page.goto(path)
                assert response.status == ERROR_PAGES.get(path, 200), label
                page.wait_for_load_state("networkidle")
                check_accessibility(page, label)
                overflow = _sideways(page)
                assert overflow <= 0, f"{label} scrolls sideways by {overflow}px"
                if viewport is not PHONE or path.startswith("/s/"):
                    continue
                if what.endswith("viewer") or what.startswith("viewer"):
                    # The viewer fills the screen; its way back is in the corner.
                    box = page.locator("#viewer-close").bounding_box()
                    assert box is not None and box["x"] >= 0 and box["y"] >= 0, label
                else:
                    _check_nav_in_reach(page, label)
        # Logged out: the login page (with its error shown) and a link's unknown token.
        with browser_page(browser, server, None, viewport) as page:
            page.goto("/login")
            page.get_by_label("Email").fill("ada@example.org")
            page.get_by_label("Password").fill("not my password")
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("alert").filter(has_text="Wrong email or password").wait_for()
            check_accessibility(page, f"login with an error at {viewport['width']}px")
            assert _sideways(page) <= 0
            response = page.goto("/s/" + "x" * 43)
            assert response.status == 404
            check_accessibility(page, "a link that does not work")
            assert _sideways(page) <= 0


def test_setup_with_an_error_passes_axe_on_a_phone(
    browser: Any, server: LiveServer, container: Container
) -> None:
    with browser_page(browser, server, None, PHONE) as page:
        page.goto("/")
        page.wait_for_url("**/setup")
        page.get_by_label("Email").fill("not an address")
        page.get_by_role("button", name="Create administrator account").click()
        page.wait_for_selector("[aria-invalid='true']")
        check_accessibility(page, "setup with an error")
        assert _sideways(page) <= 0
    assert container.auth.needs_setup()


def test_the_skip_link_is_the_first_stop_and_lands_on_the_content(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, 0)])
    for path in ("/", "/albums", "/upload", "/settings", "/trash", "/no-such-page"):
        page.goto(path)
        page.keyboard.press("Tab")
        skip = page.locator(":focus")
        assert skip.inner_text() == "Skip to content", path
        box = skip.bounding_box()
        assert box is not None and box["y"] >= 0 and box["height"] > 10, f"{path}: skip link unseen"
        assert skip.evaluate("e => getComputedStyle(e).outlineStyle") != "none", path
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main", path


def _focus_inside(page: Any, dialog_id: str) -> bool:
    return bool(
        page.evaluate(
            "id => document.getElementById(id).contains(document.activeElement)", dialog_id
        )
    )


def test_dialogs_keep_the_focus_inside_and_give_it_back_on_close(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(3)])
    page.goto("/")
    wait_for_thumbnails(page, 3)
    page.locator(".tile-link").first.focus()
    page.keyboard.press("x")
    delete = page.get_by_role("region", name="Selected photos").get_by_role("button", name="Delete")
    delete.focus()
    page.keyboard.press("Enter")
    page.get_by_role("dialog", name="Delete 1 photo?").wait_for()
    assert _focus_inside(page, "confirm-dialog")
    for presses in range(1, 7):  # round the dialog's two buttons, both ways
        page.keyboard.press("Tab" if presses < 4 else "Shift+Tab")
        assert _focus_inside(page, "confirm-dialog"), f"focus left the dialog after {presses}"
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="hidden")
    assert page.evaluate("() => document.activeElement.dataset.action") == "trash"
    assert container.media.list_trash(user.principal) == []

    # Add to album: Tab goes round its controls only; Escape gives the focus back.
    page.get_by_role("region", name="Selected photos").get_by_role(
        "button", name="Add to album"
    ).focus()
    page.keyboard.press("Enter")
    page.get_by_role("dialog", name="Add to album").get_by_role(
        "radio", name="New album"
    ).wait_for()
    for presses in range(1, 9):
        page.keyboard.press("Tab" if presses < 5 else "Shift+Tab")
        assert _focus_inside(page, "album-dialog"), f"focus left the album dialog ({presses})"
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="hidden")
    assert page.evaluate("() => document.activeElement.dataset.action") == "album"

    # The account menu: Escape closes it and leaves the focus on its button.
    page.locator("details.usermenu summary").focus()
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Settings").wait_for()
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.tagName") == "SUMMARY"


def test_settings_dialogs_keep_and_return_the_focus(page: Any, user: LibraryUser) -> None:
    page.goto("/settings")
    opener = page.get_by_role("button", name="Turn on two-factor login")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Turn on two-factor login")
    dialog.get_by_label("Password").wait_for()
    dialog_id = dialog.evaluate("d => d.id")
    for presses in range(1, 9):
        page.keyboard.press("Tab" if presses < 5 else "Shift+Tab")
        assert _focus_inside(page, dialog_id), f"focus left the dialog after {presses}"
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == (
        "Turn on two-factor login"
    )


@pytest.mark.parametrize("settings_overrides", [{"trash_retention_days": 7}])
def test_the_delete_question_names_the_servers_own_trash_period(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, 0)])
    days = container.settings.trash_retention_days
    page.goto("/")
    wait_for_thumbnails(page, 1)
    page.locator(".tile-link").first.focus()
    page.keyboard.press("x")
    page.get_by_role("region", name="Selected photos").get_by_role("button", name="Delete").click()
    text = page.locator("#confirm-text").inner_text()
    assert days == 7 and "for the next 7 days" in text, text


EMPTY_PAGES = {
    # page: (heading of its empty state, what it offers to do next)
    "/": ("Your library is empty", "Upload photos"),
    "/favorites": ("No favourites yet", "Go to your photos"),
    "/albums": ("No albums yet", "New album"),
    "/trash": ("The trash is empty", "Go to your photos"),
    "/shared/partner": ("No one shares their timeline with you", "Sharing"),
}


def test_every_empty_page_says_what_to_do_next(page: Any, user: LibraryUser) -> None:
    for path, (heading, action) in EMPTY_PAGES.items():
        page.goto(path)
        page.get_by_role("heading", name=heading).wait_for()
        main = page.locator("main")
        offered = main.get_by_role("link", name=action).or_(main.get_by_role("button", name=action))
        assert offered.first.is_visible(), f"{path}: nothing offers “{action}”"
        check_accessibility(page, f"empty {path}")
    page.goto("/people")
    main = page.locator("main")
    assert main.get_by_role("button").or_(main.get_by_role("link")).first.is_visible()
    page.goto("/shared")
    assert "share" in page.locator("main").inner_text().lower()


def test_thumbnails_come_from_the_browser_cache_the_second_time(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    photos = add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(4)])
    seen: list[str] = []
    page.on(
        "response",
        lambda r: (
            seen.append(r.headers.get("cache-control", ""))
            if "/thumbnail" in r.url and r.status == 200
            else None
        ),
    )
    page.goto("/")
    wait_for_thumbnails(page, 4)
    assert seen and all("immutable" in c and "max-age=31536000" in c for c in seen), seen
    urls = set(tiles(page).locator("img").evaluate_all("imgs => imgs.map(i => i.src)"))
    assert urls == {f"{page.url.rstrip('/')}/api/assets/{p.id}/thumbnail" for p in photos}

    page.goto("/albums")
    page.goto("/")
    wait_for_thumbnails(page, 4)
    fetched = page.evaluate(
        """() => performance.getEntriesByType('resource')
             .filter(e => e.name.includes('/thumbnail'))
             .map(e => [e.name, e.transferSize])"""
    )
    assert len(fetched) >= 4
    assert all(size == 0 for _, size in fetched), f"fetched again from the server: {fetched}"


def _file(data: bytes, modified: int = 1_700_000_000_000) -> dict[str, Any]:
    import base64

    return {"data": base64.b64encode(data).decode(), "type": "image/jpeg", "modified": modified}


def test_a_file_that_cannot_be_read_is_reported_and_its_folder_still_uploads(
    page: Any, user: LibraryUser, container: Container
) -> None:
    gone = {**_file(b""), "unreadable": True}
    tree = {
        "Trip": {
            "IMG_0001.jpg": _file(jpeg_bytes((64, 48), seed=1)),
            "IMG_0002.jpg": gone,
            "IMG_0003.jpg": _file(jpeg_bytes((64, 48), seed=3)),
        }
    }
    page.goto("/upload")
    page.evaluate(DROP_FOLDERS, {"tree": tree, "batch": 10})
    page.wait_for_selector("#upload-summary[data-state='finished']")
    items = page.locator(".upload-item")
    statuses = dict(
        zip(
            items.locator(".name").all_inner_texts(),
            items.locator(".upload-status").all_inner_texts(),
            strict=True,
        )
    )
    assert set(statuses) == {"Trip/IMG_0001.jpg", "Trip/IMG_0002.jpg", "Trip/IMG_0003.jpg"}
    assert statuses["Trip/IMG_0002.jpg"] == (
        "Not uploaded: the file could not be read (The file is gone.)"
    )
    assert statuses["Trip/IMG_0001.jpg"].startswith("Uploaded.")
    assert statuses["Trip/IMG_0003.jpg"].startswith("Uploaded.")
    assert "2 uploaded, 1 failed" in page.locator("#overall-text").inner_text()
    check_accessibility(page, "upload with a failed file")
    items_in_library, _ = container.media.timeline(user.principal)
    assert len(items_in_library) == 2


def test_dropped_folders_upload_every_photo_inside_them(
    page: Any, user: LibraryUser, container: Container
) -> None:
    # Two cameras' folders, each holding an IMG_0001.jpg of the same size and time.
    # JPEG readers ignore bytes after the end-of-image marker: pad both to one length.
    a, b = jpeg_bytes((64, 48), seed=1), jpeg_bytes((64, 48), seed=2)
    same_size = [a + b"\0" * (len(b) - len(a)), b + b"\0" * (len(a) - len(b))]
    assert len(same_size[0]) == len(same_size[1])
    tree = {
        "Holiday": {
            "day 1": {
                f"IMG_{i:04d}.jpg": _file(jpeg_bytes((64, 48), seed=10 + i)) for i in range(5)
            },
            "phone": {"IMG_0001.jpg": _file(same_size[0])},
            "camera": {"IMG_0001.jpg": _file(same_size[1])},
            ".DS_Store": _file(b"\0\0\0\1Bud1"),
        },
        "loose.jpg": _file(jpeg_bytes((64, 48), seed=40)),
    }
    page.goto("/upload")
    page.evaluate(DROP_FOLDERS, {"tree": tree, "batch": 2})
    page.wait_for_selector("#upload-summary[data-state='finished']")
    names = page.locator(".upload-item .name").all_inner_texts()
    assert sorted(names) == sorted(
        [f"Holiday/day 1/IMG_{i:04d}.jpg" for i in range(5)]
        + ["Holiday/phone/IMG_0001.jpg", "Holiday/camera/IMG_0001.jpg", "loose.jpg"]
    )
    statuses = page.locator(".upload-item .upload-status").all_inner_texts()
    assert all(s.startswith("Uploaded.") for s in statuses), statuses
    assert "8 of 8 files finished" in page.locator("#overall-text").inner_text()
    items, _ = container.media.timeline(user.principal)
    assert len(items) == 8


def test_selected_photos_download_as_their_originals(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    photos = add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(3)])
    page.goto("/")
    wait_for_thumbnails(page, 3)
    downloads: list[Any] = []
    page.on("download", lambda d: downloads.append(d))
    for i in (0, 2):
        page.locator(".tile-link").nth(i).focus()
        page.keyboard.press("x")
    chosen = {tiles(page).nth(i).get_attribute("data-id") for i in (0, 2)}
    page.get_by_role("region", name="Selected photos").get_by_role(
        "button", name="Download"
    ).click()
    page.get_by_text("Downloading 2 originals").wait_for()
    for _ in range(40):
        if len(downloads) == 2:
            break
        page.wait_for_timeout(100)
    by_id = {p.id: p for p in photos}
    names = sorted(d.suggested_filename for d in downloads)
    assert names == sorted(by_id[i].original_filename for i in chosen if i)
    for d in downloads:
        asset = next(p for p in photos if p.original_filename == d.suggested_filename)
        assert Path(d.path()).stat().st_size == asset.size
