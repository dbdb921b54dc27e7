"""Browser tests: Debian's Chromium driven by Playwright against the real app under uvicorn.

Locally they skip when /usr/bin/chromium is absent; in CI (CI=true) they must run, so a
missing browser fails them instead. The browser starts once per session; every test gets
a fresh server, database and browser context. Pages run under the app's own strict
Content-Security-Policy, and any script error or CSP violation fails the test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keepsake.app import Container
from tests.helpers import LiveServer
from tests.web.browser import (
    CHROMIUM,
    PASSWORD,
    BrowserErrors,
    LibraryUser,
    launch_chromium,
    make_user,
    new_context,
)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """Browser tests prove the pages; the database tiers are proven by the API tests."""
    yield f"sqlite:///{tmp_path / 'keepsake.db'}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def server(container: Container) -> Iterator[LiveServer]:
    with LiveServer(container) as live:
        yield live


@pytest.fixture
def context(browser: Any, server: LiveServer) -> Iterator[Any]:
    ctx = new_context(browser, server)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    p = context.new_page()
    errors = BrowserErrors(p)
    yield p
    errors.check()


@pytest.fixture
def user(container: Container, context: Any) -> LibraryUser:
    """The first account (an administrator), logged in in the browser context."""
    owner = make_user(container, "ada@example.org", "Ada Lovelace")
    response = context.request.post(
        "/api/auth/login", data={"email": owner.email, "password": PASSWORD}
    )
    assert response.ok, response.text()
    return owner
