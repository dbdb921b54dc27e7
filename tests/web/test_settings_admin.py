"""Settings (storage, API keys) and administration (accounts, quotas, the job queue with
its failures and retry); administrators only on the admin page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from keepsake.app import Container
from keepsake.jobs.queue import JobResult
from tests.web.browser import (
    PASSWORD,
    LibraryUser,
    add_photos,
    check_accessibility,
    make_user,
    utc,
)


def test_settings_show_storage_and_manage_api_keys(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10, i) for i in range(2)])
    page.goto("/settings")
    check_accessibility(page, "settings")
    assert page.locator("#storage-used").inner_text().startswith("2 photos use ")

    page.get_by_label("Name of the new key").fill("Laptop backup")
    page.get_by_label("It may").select_option("upload")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_label("New API key")).to_have_value(re.compile(r"^ks_"))
    secret = page.get_by_label("New API key").input_value()
    check_accessibility(page, "settings with a new key")
    api = page.context.request
    me = api.get("/api/users/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.ok and me.json()["email"] == user.email

    page.get_by_role("button", name="Revoke Laptop backup").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    page.get_by_text("You have no API keys.").wait_for()
    assert api.get("/api/users/me", headers={"Authorization": f"Bearer {secret}"}).status == 401


def test_admin_adds_an_account_and_sets_a_quota(
    page: Any, user: LibraryUser, container: Container
) -> None:
    page.goto("/admin")
    check_accessibility(page, "admin")
    expect(page.get_by_role("region", name="Background jobs")).to_contain_text("Waiting")
    page.get_by_label("Email").fill("bob@example.org")
    page.get_by_label("First password").fill("short")
    page.get_by_role("button", name="Add account").click()
    assert "at least 8 characters" in page.locator("#user-error").inner_text()
    page.get_by_label("First password").fill(PASSWORD)
    page.get_by_label("Name", exact=True).fill("Bob")
    page.get_by_label("Quota in GB").fill("2.5")
    page.get_by_role("button", name="Add account").click()
    page.get_by_role("cell", name="bob@example.org", exact=True).wait_for()
    page.get_by_text("Added bob@example.org").wait_for()
    bob = next(u for u in container.auth.list_users(None) if u.email == "bob@example.org")
    assert bob.quota_bytes == 2_500_000_000 and not bob.is_admin

    page.get_by_label("Quota of bob@example.org in GB (empty: unlimited)").fill("")
    page.get_by_role("button", name="Save quota of bob@example.org").click()
    page.get_by_text("Quota removed").wait_for()
    bob = next(u for u in container.auth.list_users(None) if u.email == "bob@example.org")
    assert bob.quota_bytes is None


def test_members_are_kept_out_of_administration(
    browser: Any, server: Any, container: Container
) -> None:
    make_user(container, "ada@example.org", "Ada")
    member = make_user(container, "bob@example.org", "Bob")
    ctx = browser.new_context(base_url=server.url)
    try:
        ctx.request.post("/api/auth/login", data={"email": member.email, "password": PASSWORD})
        page = ctx.new_page()
        response = page.goto("/admin")
        assert response.status == 403
        page.get_by_role("heading", name="Not allowed").wait_for()
        page.goto("/settings")
        page.locator("summary").click()
        assert page.get_by_role("link", name="Administration").count() == 0
    finally:
        ctx.close()


def test_admin_sees_a_failed_job_with_its_error_and_retries_it_from_the_keyboard(
    page: Any, user: LibraryUser, container: Container, tmp_path: Path
) -> None:
    add_photos(container, user, tmp_path, [utc(2024, 5, 17, 10)])  # one derive job, done
    broken = {"disk": True}

    def export(name: str) -> JobResult:
        if broken["disk"]:
            raise OSError(f"No space left on device while writing {name}")
        return JobResult.SUCCESS

    container.jobs.register("test.export", export, retries=0)
    container.jobs.enqueue("test.export", "archive-7")
    page.goto("/admin")
    jobs = page.get_by_role("region", name="Background jobs")
    expect(jobs.locator("#jobs-failed")).to_have_text("1")
    expect(jobs.locator("#jobs-done")).to_have_text("1")
    failures = page.get_by_role("table", name="Failed jobs")
    row = failures.get_by_role("row").filter(has_text="test.export")
    expect(row).to_contain_text("archive-7")
    expect(row).to_contain_text("OSError: No space left on device while writing archive-7")
    check_accessibility(page, "admin with a failed job")

    broken["disk"] = False
    row.get_by_role("button", name=re.compile("^Retry test.export")).focus()
    page.keyboard.press("Enter")
    page.get_by_text("Retried test.export: it ran and succeeded.").wait_for()
    expect(page.locator("#jobs-failed")).to_have_text("0")
    expect(page.locator("#jobs-done")).to_have_text("2")
    expect(page.get_by_text("No job has failed.")).to_be_visible()
