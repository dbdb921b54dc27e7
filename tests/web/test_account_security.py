"""The account's security in the browser: changing the password, two-factor login (turn
on, log in with a code, recovery codes) and ending other sessions."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from keepsake.app import Container
from keepsake.auth.totp import code_at, current_step
from keepsake.clock import ManualClock
from tests.web.browser import PASSWORD, LibraryUser, check_accessibility


def _log_out(page: Any) -> None:
    page.locator("summary").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")


def test_two_factor_login_from_turning_it_on_to_logging_in_with_a_code(
    page: Any, user: LibraryUser, container: Container, clock: ManualClock
) -> None:
    page.goto("/settings")
    page.get_by_role("button", name="Turn on two-factor login").click()
    dialog = page.get_by_role("dialog", name="Turn on two-factor login")
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Continue").click()
    secret = page.locator("#tfa-secret")
    expect(secret).not_to_be_empty()
    check_accessibility(page, "two-factor setup")
    key = secret.inner_text().replace(" ", "")
    page.get_by_label("The 6-digit code it shows").fill("000000")
    page.get_by_role("button", name="Turn on", exact=True).click()
    expect(page.locator("#tfa-error")).not_to_be_empty()
    page.get_by_label("The 6-digit code it shows").fill(code_at(key, current_step(clock.now())))
    page.get_by_role("button", name="Turn on", exact=True).click()
    codes = page.locator("#tfa-recovery-list li")
    expect(codes.first).to_be_visible()
    assert codes.count() >= 8
    recovery = codes.first.inner_text()
    assert container.auth.me(user.principal).totp_enabled_at is not None

    _log_out(page)
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    code = page.get_by_label("Two-factor code")
    expect(code).to_be_focused()
    assert "enter a code" in page.get_by_role("alert").inner_text()
    check_accessibility(page, "login asking for a code")
    code.fill("123456")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).not_to_have_text(re.compile("enter a code"))
    clock.advance(timedelta(seconds=30))  # a fresh code: the one above may not be replayed
    code.fill(code_at(key, current_step(clock.now())))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))

    _log_out(page)
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Two-factor code").fill(recovery)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def test_change_password_in_words_and_for_real(
    page: Any, user: LibraryUser, container: Container
) -> None:
    page.goto("/settings")
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill("a brand new secret")
    page.get_by_label("New password again").fill("a brand new secret")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-error")).not_to_be_empty()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Password changed.").wait_for()
    api = page.context.request
    ok = api.post("/api/auth/login", data={"email": user.email, "password": "a brand new secret"})
    assert ok.ok


def test_log_out_another_session(page: Any, user: LibraryUser, browser: Any, server: Any) -> None:
    other = browser.new_context(base_url=server.url, user_agent="Mozilla/5.0 (iPhone) Safari/605")
    try:
        assert other.request.post(
            "/api/auth/login", data={"email": user.email, "password": PASSWORD}
        ).ok
        assert other.request.get("/api/users/me").ok
        page.goto("/settings")
        check_accessibility(page, "settings with sessions")
        page.get_by_role("button", name=re.compile(r"^Log out Safari on iPhone")).click()
        page.get_by_text("That session is logged out.").wait_for()
        assert other.request.get("/api/users/me").status == 401
        assert page.context.request.get("/api/users/me").ok
    finally:
        other.close()
