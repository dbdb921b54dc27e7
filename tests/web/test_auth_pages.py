"""First-run setup, login and logout in the browser."""

from __future__ import annotations

import re
from typing import Any

from keepsake.app import Container
from tests.web.browser import PASSWORD, LibraryUser, check_accessibility, make_user


def test_first_run_setup_creates_the_admin_and_opens_an_empty_library(
    page: Any, container: Container
) -> None:
    page.goto("/")
    page.wait_for_url("**/setup")
    check_accessibility(page, "setup")
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill("not the same")
    page.get_by_role("button", name="Create administrator account").click()
    assert page.locator("#password2-error").inner_text() == "The two passwords differ."
    assert container.auth.needs_setup()

    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator account").click()
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_role("heading", name="Your library is empty").wait_for()
    assert page.get_by_role("link", name="Upload photos").is_visible()
    check_accessibility(page, "empty timeline")
    [admin] = container.auth.list_users(None)
    assert admin.is_admin and admin.display_name == "Ada Lovelace"

    page.goto("/setup")  # setup is over once an account exists
    page.wait_for_url(re.compile(r"/$"))


def test_login_explains_a_wrong_password_then_goes_where_the_user_was_going(
    page: Any, container: Container
) -> None:
    make_user(container, "ada@example.org", "Ada")
    page.goto("/albums")
    page.wait_for_url("**/login?next=%2Falbums")
    check_accessibility(page, "login")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").filter(has_text="Wrong email or password").wait_for()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url("**/albums")
    page.get_by_role("heading", name="No albums yet").wait_for()


def test_logout_ends_the_session(page: Any, user: LibraryUser) -> None:
    page.goto("/settings")
    page.get_by_role("group").or_(page.locator("summary")).first.click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    page.goto("/")
    page.wait_for_url("**/login?next=%2F")
    assert page.context.request.get("/api/users/me").status == 401


def test_unknown_pages_and_missing_photos_are_explained_in_words(
    page: Any, user: LibraryUser
) -> None:
    response = page.goto("/no-such-page")
    assert response.status == 404
    page.get_by_role("heading", name="Page not found").wait_for()
    check_accessibility(page, "404 page")
    response = page.goto("/photos/00000000-0000-0000-0000-000000000000")
    assert response.status == 404
    assert "No such asset." in page.locator("main").inner_text()
