"""The month histogram behind the date scrubber and the viewer's neighbours, on SQLite and
on PostgreSQL: local capture months (offsets carry photos across month boundaries), trash
and other users left out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from keepsake.app import Container
from keepsake.web.repository import WebRepository
from keepsake.web.service import Collection, WebService
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.helpers import jpeg_bytes
from tests.web.browser import LibraryUser, add_file, make_user


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Both database tiers (the browser tests in this folder use SQLite only)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keepsake.db'}"
        return
    assert POSTGRES_URL
    name = f"keepsake_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _photo(
    container: Container, owner: LibraryUser, tmp: Path, taken: str, offset: str | None, n: int
) -> str:
    data = jpeg_bytes((48, 32), seed=n, taken=taken, offset=offset)
    return add_file(container, owner, tmp, f"p{n}.jpg", data).id


@pytest.mark.postgres
def test_months_count_local_capture_time_across_month_boundaries(
    container: Container, tmp_path: Path
) -> None:
    ada = make_user(container, "ada@example.org")
    bob = make_user(container, "bob@example.org")
    web = WebService(container.db, WebRepository(), container.media)
    shots = [
        ("2024:06:01 01:30:00", "+02:00"),  # 31 May 23:30 UTC: June where it was taken
        ("2024:05:31 21:00:00", "-08:00"),  # 1 June 05:00 UTC: May where it was taken
        ("2023:03:01 00:30:00", "+14:00"),  # 28 Feb 10:30 UTC: March
        ("2023:12:31 23:59:00", "-14:00"),  # 1 Jan 2024 13:59 UTC: December 2023
        ("2024:06:30 23:59:00", None),  # no offset: the camera's clock, as is
        ("2024:06:15 12:00:00", "+05:30"),
        ("2022:01:01 00:00:00", "+00:00"),
    ]
    ids = [_photo(container, ada, tmp_path, t, o, i) for i, (t, o) in enumerate(shots)]
    trashed = _photo(container, ada, tmp_path, "2021:07:04 12:00:00", "+00:00", 50)
    container.media.trash(ada.principal, [trashed])
    _photo(container, bob, tmp_path, "2020:02:02 12:00:00", "+00:00", 60)

    months = web.months(ada.principal)
    assert [(m.key, m.count) for m in months] == [
        ("2024-06", 3),
        ("2024-05", 1),
        ("2023-12", 1),
        ("2023-03", 1),
        ("2022-01", 1),
    ]
    assert months[0].label == "June 2024" and months[0].token == "2024-06:3"

    container.media.update_asset(ada.principal, ids[1], is_favorite=True)
    assert [(m.key, m.count) for m in web.months(ada.principal, favorites_only=True)] == [
        ("2024-05", 1)
    ]
    assert [(m.key, m.count) for m in web.months(bob.principal)] == [("2020-02", 1)]


@pytest.mark.postgres
def test_neighbours_walk_the_list_the_photo_was_opened_from(
    container: Container, tmp_path: Path
) -> None:
    ada = make_user(container, "ada@example.org")
    web = WebService(container.db, WebRepository(), container.media)
    a, b, c = (
        _photo(container, ada, tmp_path, f"2024:05:0{d} 10:00:00", "+00:00", d) for d in (1, 2, 3)
    )
    asset = lambda asset_id: container.media.asset(ada.principal, asset_id)[0]  # noqa: E731

    near = web.neighbours(ada.principal, asset(b), Collection.TIMELINE)
    assert (near.newer, near.older) == (c, a)
    near = web.neighbours(ada.principal, asset(c), Collection.TIMELINE)
    assert (near.newer, near.older) == (None, b)

    container.media.update_asset(ada.principal, a, is_favorite=True)
    container.media.update_asset(ada.principal, c, is_favorite=True)
    near = web.neighbours(ada.principal, asset(c), Collection.FAVORITES)
    assert (near.newer, near.older) == (None, a)

    album = container.media.create_album(ada.principal, "Two")
    container.media.add_to_album(ada.principal, album.id, [a, c])
    near = web.neighbours(ada.principal, asset(a), Collection.ALBUM, album.id)
    assert (near.newer, near.older) == (c, None)

    container.media.trash(ada.principal, [a, b])
    assert web.neighbours(ada.principal, asset(c), Collection.TIMELINE).older is None
    near = web.neighbours(ada.principal, asset(b), Collection.TRASH)
    assert {near.newer, near.older} - {None} == {a}
