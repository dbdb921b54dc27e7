"""Timeline latency on a 100,000-asset library: p50/p99 of the first page and of a page
90% deep, through the real HTTP stack (in-process ASGI client), on SQLite by default.

    python bench/timeline.py [--assets 100000] [--runs 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import make_url

from keepsake.app import Container, build_container, create_app
from keepsake.config import Settings
from keepsake.crypto import records
from keepsake.ids import new_id
from keepsake.media.cursor import encode_cursor
from keepsake.storage.models import Asset


def populate(container: Container, owner_id: str, n: int) -> None:
    rng = random.Random(7)
    start = datetime(2005, 1, 1, tzinfo=UTC)
    span = (datetime(2026, 1, 1, tzinfo=UTC) - start).total_seconds()
    cameras = [("Canon", "EOS R6"), ("Apple", "iPhone 15"), ("Nikon", "Z6"), (None, None)]
    columns = [attr.key for attr in Asset.__mapper__.column_attrs]
    rows = []
    for i in range(n):
        make, model = cameras[i % len(cameras)]
        asset = Asset(
            id=new_id(),
            owner_id=owner_id,
            checksum=f"{i:064x}",
            size=3_500_000,
            original_filename=f"IMG_{i:06}.jpg",
            mime_type="image/jpeg",
            width=4000,
            height=3000,
            taken_at=start + timedelta(seconds=rng.random() * span),
            taken_at_offset_minutes=60,
            taken_at_source="exif",
            make=make,
            model=model,
            is_favorite=i % 50 == 0,
            created_at=datetime.now(UTC),
        )
        records.seal_asset(container.keys, asset)  # as stored: metadata sealed, tags keyed
        rows.append({key: getattr(asset, key) for key in columns})
    with container.db.write() as s:
        for chunk in range(0, n, 5000):
            s.execute(insert(Asset), rows[chunk : chunk + 5000])


@contextmanager
def scratch_database(server_url: str | None) -> Iterator[str | None]:
    """A new, empty PostgreSQL database on `server_url`'s server, dropped afterwards (the
    server's own database is left as it was); None (SQLite in the data dir) stays None."""
    if server_url is None:
        yield None
        return
    name = f"keepsake_bench_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url) as url:
        settings = Settings(
            data_dir=Path(tmp), database_url=url, jobs_immediate=True, job_workers=0
        )
        container = build_container(settings)
        user = container.auth.create_user(None, "bench@example.org", "benchmark password")
        t0 = time.perf_counter()
        populate(container, user.id, args.assets)
        print(f"populated {args.assets} assets in {time.perf_counter() - t0:.1f} s")
        with container.db.read() as s:
            s.connection().exec_driver_sql("ANALYZE")
        client = TestClient(create_app(container, start_jobs=False))
        token = client.post(
            "/api/auth/login", json={"email": "bench@example.org", "password": "benchmark password"}
        ).json()["token"]
        client.cookies.clear()
        headers = {"Authorization": f"Bearer {token}"}
        deep_index = int(args.assets * 0.9)
        with container.db.read() as s:
            deep = s.scalars(
                select(Asset)
                .where(Asset.owner_id == user.id)
                .order_by(Asset.taken_at.desc(), Asset.id.desc())
                .offset(deep_index)
                .limit(1)
            ).one()
        deep_cursor = encode_cursor(deep)
        cases = {"first page": {}, "page 90% deep": {"cursor": deep_cursor}}
        results = {}
        for name, params in cases.items():
            for _ in range(10):  # warm up
                client.get("/api/timeline", params={**params, "limit": args.limit}, headers=headers)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                r = client.get(
                    "/api/timeline", params={**params, "limit": args.limit}, headers=headers
                )
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200 and len(r.json()["items"]) == args.limit
            results[name] = times
        db = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"\ntimeline, {args.assets} assets, {args.limit} per page, {db}, "
            f"{args.runs} requests each"
        )
        print(f"{'case':<16} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
        for name, times in results.items():
            print(
                f"{name:<16} {percentile(times, 50):8.2f} {percentile(times, 99):8.2f} "
                f"{statistics.mean(times):8.2f}"
            )
        container.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
