"""The sharing pages in a real browser: an album's share dialog (people and public links),
the Sharing page, a shared album as its member sees it, partner sharing, the public link
page opened with no login (password, photos, download, revocation, expiry), and sharing a
timeline selection as a new album. axe on every page; the dialog from the keyboard."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from keepsake.app import Container
from keepsake.clock import ManualClock
from tests.helpers import LiveServer, jpeg_bytes
from tests.web.browser import (
    LibraryUser,
    add_file,
    add_photos,
    browser_page,
    check_accessibility,
    make_user,
    tiles,
    utc,
    wait_for_thumbnails,
)

LINK_PASSWORD = "open sesame 42"


def _album(container: Container, owner: LibraryUser, tmp: Path, name: str, n: int = 3) -> str:
    photos = add_photos(container, owner, tmp, [utc(2024, 5, 17, 10, i) for i in range(n)])
    album = container.media.create_album(owner.principal, name)
    container.media.add_to_album(owner.principal, album.id, [p.id for p in photos])
    return album.id


def _open_share_dialog(page: Any) -> Any:
    page.get_by_role("button", name="Share", exact=True).click()
    dialog = page.get_by_role("dialog", name=re.compile("^Share "))
    dialog.get_by_label("Email of a Keepsake user").wait_for()
    return dialog


def test_share_an_album_with_a_user_who_finds_it_under_sharing(
    page: Any,
    user: LibraryUser,
    container: Container,
    tmp_path: Path,
    browser: Any,
    server: LiveServer,
) -> None:
    album_id = _album(container, user, tmp_path, "Holiday")
    grace = make_user(container, "grace@example.org", "Grace Hopper")
    page.goto(f"/albums/{album_id}")
    dialog = _open_share_dialog(page)
    dialog.get_by_text("Not shared with anyone yet.").wait_for()
    check_accessibility(page, "share dialog")

    # An address with no account is said in words, next to the field.
    dialog.get_by_label("Email of a Keepsake user").fill("nobody@example.org")
    dialog.get_by_role("button", name="Share", exact=True).click()
    dialog.get_by_text("No Keepsake account on this server has this email address.").wait_for()
    assert dialog.get_by_label("Email of a Keepsake user").get_attribute("aria-invalid") == "true"

    dialog.get_by_label("Email of a Keepsake user").fill(grace.email)
    dialog.get_by_label("Role", exact=True).select_option("contributor")
    dialog.get_by_role("button", name="Share", exact=True).click()
    dialog.get_by_label("Role of Grace Hopper").wait_for()
    [(share, who)] = container.sharing.album_shares(user.principal, album_id)
    assert (who.id, share.role) == (grace.id, "contributor")
    check_accessibility(page, "share dialog with a member")

    dialog.get_by_label("Role of Grace Hopper").select_option("viewer")
    page.get_by_text("Grace Hopper is now a viewer").wait_for()
    [(share, _)] = container.sharing.album_shares(user.principal, album_id)
    assert share.role == "viewer"
    dialog.get_by_role("button", name="Done").click()

    page.goto("/shared")
    page.get_by_role("link", name="Manage sharing of Holiday").wait_for()
    assert "Grace Hopper (viewer)" in page.locator("#by-me-title + ul").inner_text()
    check_accessibility(page, "Sharing page, owner")

    with browser_page(browser, server, login=grace) as other:
        other.goto("/shared")
        card = other.get_by_role("link", name=re.compile("Holiday"))
        assert "From Ada Lovelace" in card.inner_text()
        assert "Viewer" in card.inner_text()
        check_accessibility(other, "Sharing page, member")
        other.goto("/albums")
        other.get_by_role("heading", name="Shared with you").wait_for()
        check_accessibility(other, "albums with one shared with me")
        other.get_by_role("link", name=re.compile("Holiday")).click()
        other.wait_for_url(f"**/shared/albums/{album_id}")
        wait_for_thumbnails(other, 3)
        check_accessibility(other, "shared album")
        assert "Shared by Ada Lovelace" in other.locator("#shared-count").inner_text()

        # The photo view, from the keyboard: arrows move, Escape goes back to the tile.
        other.locator(".tile-link").first.focus()
        other.keyboard.press("Enter")
        view = other.get_by_role("dialog")
        view.get_by_text("1 of 3").wait_for()
        check_accessibility(other, "shared photo view")
        other.keyboard.press("ArrowRight")
        view.get_by_text("2 of 3").wait_for()
        assert "Ada Lovelace" in view.locator("#photo-view-facts").inner_text()
        other.keyboard.press("Escape")
        view.wait_for(state="hidden")
        focused = other.evaluate("() => document.activeElement.closest('.tile').dataset.id")
        assert focused == tiles(other).nth(1).get_attribute("data-id")

        # Revoked: from the next request on, the album is gone for them.
        page.goto(f"/albums/{album_id}")
        dialog = _open_share_dialog(page)
        dialog.get_by_role("button", name="Stop sharing with Grace Hopper").click()
        page.get_by_role("dialog", name="Stop sharing with Grace Hopper?").get_by_role(
            "button", name="Stop sharing"
        ).click()
        dialog.get_by_text("Not shared with anyone yet.").wait_for()
        assert container.sharing.album_shares(user.principal, album_id) == []
        response = other.goto(f"/shared/albums/{album_id}")
        assert response.status == 404
        other.goto("/shared")
        other.get_by_text("No one shares an album with you yet.").wait_for()


def test_password_link_opened_without_login_shows_photos_downloads_originals_until_revoked(
    page: Any,
    user: LibraryUser,
    container: Container,
    tmp_path: Path,
    browser: Any,
    server: LiveServer,
) -> None:
    originals = {}
    for i in range(2):
        data = jpeg_bytes((160, 120), seed=i, taken=f"2024:05:17 10:0{i}:00")
        originals[add_file(container, user, tmp_path, f"party-{i}.jpg", data).id] = data
    album = container.media.create_album(user.principal, "Party")
    container.media.add_to_album(user.principal, album.id, list(originals))

    page.goto(f"/albums/{album.id}")
    dialog = _open_share_dialog(page)
    dialog.get_by_text("New link").click()
    dialog.get_by_label("Password (optional)").fill("short")
    dialog.get_by_role("button", name="Create link").click()
    dialog.get_by_text("Use 8 characters or more, or leave it empty.").wait_for()
    dialog.get_by_label("Password (optional)").fill(LINK_PASSWORD)
    hide = dialog.locator("#link-form").get_by_label("Hide file names, camera and place")
    assert hide.is_checked()
    dialog.locator("#link-form").get_by_label("Allow downloading originals").check()
    assert not hide.is_checked()  # originals carry their metadata: hiding goes off
    dialog.get_by_label("Note for yourself (optional)").fill("for the guests")
    dialog.get_by_role("button", name="Create link").click()
    url = dialog.get_by_label("Link to send")
    url.wait_for()
    address = url.input_value()
    assert re.fullmatch(re.escape(server.url) + r"/s/[A-Za-z0-9_-]{43}", address)
    dialog.get_by_text(re.compile("for the guests.*password.*originals offered")).wait_for()
    check_accessibility(page, "share dialog with a new link")
    [info] = container.links.links(user.principal, album.id)
    assert info.link.password_hash is not None and info.link.allow_download

    with browser_page(browser, server) as stranger:
        stranger.goto(address)
        stranger.get_by_role("heading", name="This link has a password").wait_for()
        check_accessibility(stranger, "link password prompt")
        stranger.get_by_label("Password").fill("not the password")
        stranger.get_by_role("button", name="Show the photos").click()
        stranger.get_by_text("That is not the password of this link.").wait_for()
        stranger.get_by_label("Password").fill(LINK_PASSWORD)
        stranger.get_by_role("button", name="Show the photos").click()
        stranger.get_by_role("heading", name="Party").wait_for()
        wait_for_thumbnails(stranger, 2)
        assert stranger.locator("#public-summary").inner_text() == "2 photos"
        check_accessibility(stranger, "link photos")
        # Nothing of the owner's account: no name, no address, no note, no navigation.
        html = stranger.content()
        for secret in ("Ada", "ada@example.org", "for the guests", "/albums"):
            assert secret not in html
        assert stranger.locator(".topbar").count() == 0

        first = tiles(stranger).first
        asset_id = first.get_attribute("data-id")
        first.locator(".tile-link").click()
        view = stranger.get_by_role("dialog")
        view.get_by_role("heading", name=re.compile(r"party-\d\.jpg")).wait_for()
        check_accessibility(stranger, "link photo view")
        with stranger.expect_download() as caught:
            view.get_by_role("link", name="Download original").click()
        download = caught.value
        assert Path(download.path()).read_bytes() == originals[asset_id]
        stranger.keyboard.press("Escape")

        # A reload keeps the link session: no second password.
        stranger.reload()
        wait_for_thumbnails(stranger, 2)

        # The owner revokes it; the stranger's next request finds nothing.
        page.get_by_role("button", name=re.compile("^Revoke for the guests")).click()
        page.get_by_role("dialog", name="Revoke this link?").get_by_role(
            "button", name="Revoke link"
        ).click()
        dialog.get_by_text("No active links.").wait_for()
        assert container.links.links(user.principal, album.id)[0].state == "revoked"
        response = stranger.goto(address)
        assert response.status == 404
        stranger.get_by_role("heading", name="This link does not work").wait_for()
        check_accessibility(stranger, "revoked link")


def test_link_hiding_metadata_offers_no_originals_and_expires(
    user: LibraryUser,
    container: Container,
    clock: ManualClock,
    tmp_path: Path,
    browser: Any,
    server: LiveServer,
) -> None:
    album_id = _album(container, user, tmp_path, "Quiet", n=2)
    created = container.links.create(
        user.principal, album_id=album_id, expires_at=clock.now() + timedelta(days=2)
    )
    with browser_page(browser, server) as stranger:
        stranger.goto(f"/s/{created.token}")
        stranger.get_by_role("heading", name="Quiet").wait_for()
        wait_for_thumbnails(stranger, 2)
        assert "link works until" in stranger.locator("#public-summary").inner_text()
        assert stranger.get_by_role("button", name="Download all originals").is_hidden()
        stranger.locator(".tile-link").first.click()
        view = stranger.get_by_role("dialog")
        view.get_by_text("1 of 2").wait_for()
        facts = view.locator("#photo-view-facts").inner_text()
        assert "Taken" in facts
        assert "IMG_" not in facts and "File" not in facts
        assert view.get_by_role("link", name="Download original").is_hidden()
        assert "IMG_" not in stranger.content()
        stranger.keyboard.press("Escape")

        clock.advance(timedelta(days=3))
        response = stranger.goto(f"/s/{created.token}")
        assert response.status == 404
        stranger.get_by_role("heading", name="This link does not work").wait_for()
        response = stranger.goto("/s/" + "x" * 43)
        assert response.status == 404
        assert response.headers["x-robots-tag"] == "noindex, nofollow"


def test_share_dialog_works_from_the_keyboard(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    album_id = _album(container, user, tmp_path, "Keys", n=1)
    grace = make_user(container, "grace@example.org", "Grace Hopper")
    page.goto(f"/albums/{album_id}")
    page.get_by_role("button", name="Share", exact=True).focus()
    page.keyboard.press("Enter")
    page.get_by_role("dialog", name="Share “Keys”").wait_for()
    assert page.evaluate("() => document.activeElement.id") == "share-email"
    page.keyboard.type(grace.email)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "share-role"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Share"
    page.keyboard.press("Enter")
    page.get_by_label("Role of Grace Hopper").wait_for()
    assert len(container.sharing.album_shares(user.principal, album_id)) == 1
    # The page behind the modal dialog is inert: tabbing reaches the dialog's controls only
    # (past the last one the browser's own controls, which a page reads as <body>).
    reached = set()
    for _ in range(16):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate(
                """() => { const el = document.activeElement;
                   return el === document.body ? 'body'
                     : el.closest('#share-dialog') ? el.id || el.textContent.trim()
                     : 'OUTSIDE ' + el.outerHTML.slice(0, 80); }"""
            )
        )
    assert not [r for r in reached if r.startswith("OUTSIDE")], reached
    assert "Done" in reached and "link-copy" not in reached  # copying waits for a link
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="hidden")
    assert page.evaluate("() => document.activeElement.id") == "share-album"


def test_timeline_selection_shared_as_a_new_album(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(3)])
    page.goto("/")
    wait_for_thumbnails(page, 3)
    for i in range(2):
        tiles(page).nth(i).hover()
        tiles(page).nth(i).locator(".tile-check").check()
    page.get_by_role("region", name="Selected photos").get_by_role("button", name="Share").click()
    ask = page.get_by_role("dialog", name="Share as a new album")
    ask.get_by_role("button", name="Create and share").click()
    ask.get_by_text("Give the new album a name.").wait_for()
    check_accessibility(page, "share selection dialog")
    ask.get_by_label("Album name").fill("Picnic")
    ask.get_by_role("button", name="Create and share").click()
    page.get_by_role("dialog", name="Share “Picnic”").wait_for()
    [(album, count)] = container.media.albums(user.principal)
    assert (album.name, count) == ("Picnic", 2)
    assert page.url.endswith(f"/albums/{album.id}")  # the dialog's flag leaves the address


def test_partner_sharing_from_the_sharing_page(
    page: Any,
    user: LibraryUser,
    container: Container,
    tmp_path: Path,
    browser: Any,
    server: LiveServer,
) -> None:
    add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(2)])
    grace = make_user(container, "grace@example.org", "Grace Hopper")
    page.goto("/shared")
    check_accessibility(page, "Sharing page, nothing shared")
    page.get_by_label("Partner's email").fill("nobody@example.org")
    page.get_by_role("button", name="Share my timeline").click()
    page.get_by_text("No Keepsake account on this server has this email address.").wait_for()
    page.get_by_label("Partner's email").fill(grace.email)
    page.get_by_role("button", name="Share my timeline").click()
    page.locator("#partner-status").get_by_text("Grace Hopper").wait_for()
    check_accessibility(page, "Sharing page, sharing the timeline")
    outgoing, _ = container.sharing.partner_status(user.principal)
    assert outgoing is not None and outgoing.partner.id == grace.id

    with browser_page(browser, server, login=grace) as other:
        other.goto("/shared")
        other.get_by_role("link", name="See their photos").click()
        other.wait_for_url("**/shared/partner")
        wait_for_thumbnails(other, 2)
        assert tiles(other).first.locator(".tile-owner").inner_text() == "Ada Lovelace"
        check_accessibility(other, "partners' photos")
        other.goto("/shared")
        other.get_by_role("button", name="Stop").click()
        other.get_by_role("dialog", name="Stop seeing Ada Lovelace's photos?").get_by_role(
            "button", name="Stop"
        ).click()
        other.get_by_text("Sharing their photos with you").wait_for(state="detached")
        assert container.sharing.partner_status(user.principal) == (None, [])


def test_the_owner_sees_contributors_photos_read_only_and_a_contributor_adds_and_removes(
    page: Any,
    user: LibraryUser,
    container: Container,
    tmp_path: Path,
    browser: Any,
    server: LiveServer,
) -> None:
    album_id = _album(container, user, tmp_path, "Reunion", n=1)
    grace = make_user(container, "grace@example.org", "Grace Hopper")
    container.sharing.share_album(user.principal, album_id, grace.email, "contributor")
    theirs = add_photos(container, grace, tmp_path, [utc(2024, 6, 1, 9, i) for i in range(2)])

    # The contributor adds photos from her timeline: the shared album is offered.
    with browser_page(browser, server, login=grace) as other:
        other.goto("/")
        wait_for_thumbnails(other, 2)
        for i in range(2):
            tiles(other).nth(i).hover()
            tiles(other).nth(i).locator(".tile-check").check()
        bar = other.get_by_role("region", name="Selected photos")
        bar.get_by_role("button", name="Add to album").click()
        ask = other.get_by_role("dialog", name="Add to album")
        ask.get_by_label("Reunion (shared by Ada Lovelace)").check()
        check_accessibility(other, "add to album with a shared album")
        ask.get_by_role("button", name="Add").click()
        other.get_by_text("Added 2 photos to Reunion").wait_for()
        view = container.sharing.owner_album(user.principal, album_id)
        assert {a.id for a in view.assets} >= {p.id for p in theirs}

    # The owner's album page: her photos load through the members' routes, marked as hers,
    # and open read-only.
    page.goto(f"/albums/{album_id}")
    wait_for_thumbnails(page, 3)
    assert page.locator(".tile-missing").count() == 0
    assert page.locator(".tile-theirs").count() == 2
    srcs = page.eval_on_selector_all(".tile-theirs img", "els => els.map(e => e.src)")
    assert all(f"/api/shared/albums/{album_id}/assets/" in s for s in srcs)
    check_accessibility(page, "album with contributors' photos")
    page.locator(".tile-theirs .tile-link").first.click()
    photo = page.get_by_role("dialog")
    photo.get_by_text("1 of 2").wait_for()
    assert "Grace Hopper" in photo.locator("#photo-view-facts").inner_text()
    page.wait_for_function("() => document.getElementById('photo-view-img').naturalWidth > 0")
    assert photo.get_by_role("button", name="Remove from album").count() == 0
    check_accessibility(page, "contributor's photo, read-only")
    page.keyboard.press("Escape")
    photo.wait_for(state="hidden")
    # Reading them is in the contributor's ledger.
    entries, _ = container.ledger.entries(grace.principal, action="share.accessed")
    assert any(e.actor == f"user:{user.id}" for e in entries)

    # The contributor takes one of hers out again, from the shared album's photo view.
    with browser_page(browser, server, login=grace) as other:
        other.goto(f"/shared/albums/{album_id}")
        wait_for_thumbnails(other, 3)
        mine = other.locator(f'.tile[data-id="{theirs[0].id}"] .tile-link')
        mine.click()
        other.get_by_role("button", name="Remove from album").click()
        other.get_by_role("dialog", name=re.compile("^Remove ")).get_by_role(
            "button", name="Remove from album"
        ).click()
        other.get_by_text(re.compile("Removed .* from the album")).wait_for()
        other.wait_for_function("() => document.querySelectorAll('.tile').length === 2")
        # Not the owner's photo: no way to remove it.
        other.keyboard.press("Escape")
        other.locator(f'.tile[data-id="{theirs[1].id}"]').wait_for()
    view = container.sharing.owner_album(user.principal, album_id)
    assert theirs[0].id not in {a.id for a in view.assets}
    assert container.media.asset(grace.principal, theirs[0].id)[0].trashed_at is None


def test_a_links_options_are_changed_from_the_share_dialog(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    album_id = _album(container, user, tmp_path, "Garden", n=1)
    created = container.links.create(user.principal, album_id=album_id, label="for Gran")
    page.goto(f"/albums/{album_id}")
    dialog = _open_share_dialog(page)
    dialog.get_by_role("button", name=re.compile("^Change for Gran")).click()
    form = dialog.locator("#link-edit-form")
    form.get_by_label("New password").fill("short")
    form.get_by_role("button", name="Save changes").click()
    form.get_by_text("Use 8 characters or more").wait_for()
    check_accessibility(page, "changing a link")
    form.get_by_label("New password").fill(LINK_PASSWORD)
    form.get_by_label("Allow downloading originals").check()
    assert not form.get_by_label("Hide file names, camera and place").is_checked()
    form.get_by_label("Note for yourself").fill("for Grandad")
    form.get_by_role("button", name="Save changes").click()
    page.get_by_text("Link changed").wait_for()
    info = container.links.link(user.principal, created.info.link.id)
    link = info.link
    assert link.password_hash is not None and link.allow_download and not link.hide_metadata
    assert link.label == "for Grandad"
    assert "password" in dialog.locator("#link-list").inner_text()

    # Removing the password, and an expiry in the past is refused in words.
    dialog.get_by_role("button", name=re.compile("^Change for Grandad")).click()
    form.get_by_label("Remove the password").check()
    form.get_by_label("Expires after").fill("2001-01-01")
    form.get_by_role("button", name="Save changes").click()
    form.get_by_text("Choose today or a later day").wait_for()
    form.get_by_label("Expires after").fill("")
    form.get_by_role("button", name="Save changes").click()
    page.get_by_text("Link changed").last.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#link-list').textContent.includes('no password')"
    )
    assert container.links.link(user.principal, link.id).link.password_hash is None
