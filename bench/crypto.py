"""What encryption at rest costs: upload and download throughput and thumbnail latency with
`encryption_at_rest` off and on, measured in the same run on the same 12-MP photos.

Each run builds a fresh installation (SQLite, local blobs) per mode, the two modes taking
turns so that drift in the machine affects both alike, and goes through the services the
HTTP routes call: upload is `MediaService.ingest` of a staged file (hash, probe, EXIF, seal
the metadata, store the original), download reads every original whole, and a range
request reads 64 KiB from the middle; the thumbnail is `derive_asset` (read the original,
decode, encode, store thumbnail and preview) and reading the thumbnail back. Upload and
download are then measured again through the HTTP stack (uvicorn on loopback, httpx), which
is what a client sees. Figures are medians over the runs. The goal: encryption costs under
20% of upload and download throughput.

    python bench/crypto.py [--count 12] [--runs 5] [--photos bench/.cache/photos]
"""

from __future__ import annotations

import argparse
import io
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))
from keepsake.app import Container, build_container, create_app
from keepsake.auth.access import Principal, Scope
from keepsake.config import Settings
from keepsake.crypto.keys import new_user_key
from keepsake.crypto.streaming import EncryptingReader, decrypt_range
from photos import generate

MB = 1_000_000
PASSWORD = "bench password 1"  # noqa: S105 (a throwaway account in a temp dir)
RANGE = 64 * 1024


def one_run(photos: list[Path], encrypted: bool, scratch: Path) -> dict[str, float]:
    data_dir = scratch / ("on" if encrypted else "off")
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(
        data_dir=data_dir,
        encryption_at_rest=encrypted,
        jobs_immediate=False,  # derivatives are timed on their own, below
        job_workers=0,
    )
    container = build_container(settings)
    try:
        user = container.auth.create_user(None, "bench@example.org", PASSWORD)
        principal = Principal(user.id, False, frozenset({Scope.FULL}))
        media = container.media
        total = sum(p.stat().st_size for p in photos)

        ids, upload_s = [], 0.0
        for path in photos:
            staged = media.new_staging_path()
            shutil.copyfile(path, staged)
            started = time.perf_counter()
            ingested = media.ingest(principal, staged, path.name)
            upload_s += time.perf_counter() - started
            staged.unlink(missing_ok=True)
            ids.append(ingested.asset.id)

        started = time.perf_counter()
        for asset_id in ids:
            _asset, blob = media.original(principal, asset_id)
            for _chunk in blob.chunks():
                pass
        download_s = time.perf_counter() - started

        range_ms = []
        for asset_id in ids:
            started = time.perf_counter()
            _asset, blob = media.original(principal, asset_id)
            middle = blob.size // 2
            got = sum(len(c) for c in blob.chunks(middle, middle + RANGE))
            range_ms.append((time.perf_counter() - started) * 1000)
            assert got == RANGE

        derive_ms, thumb_ms = [], []
        for asset_id in ids:
            started = time.perf_counter()
            media.derive_asset(asset_id)
            derive_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            blob = media.read_derived(principal, asset_id, "thumbnail")
            b"".join(blob.chunks())
            thumb_ms.append((time.perf_counter() - started) * 1000)
        http = over_http(container, photos, ids)
    finally:
        container.close()
    return {
        "upload MB/s": total / MB / upload_s,
        "download MB/s": total / MB / download_s,
        "64 KiB range ms": statistics.median(range_ms),
        "derive ms/photo": statistics.median(derive_ms),
        "thumbnail read ms": statistics.median(thumb_ms),
        **http,
    }


def over_http(container: Container, photos: list[Path], ids: list[str]) -> dict[str, float]:
    """The same through the real HTTP stack (uvicorn on loopback, httpx): what a client sees.
    Uploads go to a second account, so that they are not de-duplicated."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(container, start_jobs=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    total = sum(p.stat().st_size for p in photos)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            owner = login(client, "bench@example.org")
            container.auth.create_user(None, "bench2@example.org", PASSWORD)
            other = login(client, "bench2@example.org")
            started = time.perf_counter()
            for path in photos:
                with path.open("rb") as f:
                    r = client.post("/api/assets", files={"file": (path.name, f)}, headers=other)
                r.raise_for_status()
            upload_s = time.perf_counter() - started
            started = time.perf_counter()
            for asset_id in ids:
                with client.stream("GET", f"/api/assets/{asset_id}/original", headers=owner) as r:
                    for _chunk in r.iter_raw():
                        pass
            download_s = time.perf_counter() - started
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return {
        "HTTP upload MB/s": total / MB / upload_s,
        "HTTP download MB/s": total / MB / download_s,
    }


def login(client: httpx.Client, email: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def crypto_only(size: int = 64 * MB) -> dict[str, float]:
    """The streaming AEAD alone, in memory: the ceiling encryption puts on throughput."""
    key, data = new_user_key(), bytes(size)
    started = time.perf_counter()
    reader, parts = EncryptingReader(key, io.BytesIO(data), b"bench"), []
    while chunk := reader.read(1 << 20):
        parts.append(chunk)
    encrypt = size / MB / (time.perf_counter() - started)
    sealed = memoryview(b"".join(parts))

    def read(lo: int, hi: int) -> Iterator[memoryview]:
        for at in range(lo, hi, 1 << 20):
            yield sealed[at : min(hi, at + (1 << 20))]

    started = time.perf_counter()
    for _ in decrypt_range(key, read, len(sealed), b"bench"):
        pass
    decrypt = size / MB / (time.perf_counter() - started)
    return {"encrypt MB/s": encrypt, "decrypt MB/s": decrypt}


def median_of(runs: list[dict[str, float]], name: str) -> float:
    return statistics.median(r[name] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--photos", type=Path, default=Path(__file__).parent / ".cache/photos")
    args = parser.parse_args()
    photos = generate(args.photos, args.count)[: args.count]
    total = sum(p.stat().st_size for p in photos) / MB
    print(f"{len(photos)} photos, {total:.1f} MB; {args.runs} runs per mode, modes alternating")

    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="keepsake-bench-crypto-") as tmp:
        for run in range(args.runs):
            for encrypted in (False, True) if run % 2 == 0 else (True, False):
                results[encrypted].append(one_run(photos, encrypted, Path(tmp)))

    names = list(results[False][0])
    print(f"\n{'median over runs':<22}{'off':>10}{'on':>10}{'cost':>9}")
    costs: dict[str, float] = {}
    for name in names:
        off, on = median_of(results[False], name), median_of(results[True], name)
        higher_is_better = name.endswith("MB/s")
        cost = (off - on) / off if higher_is_better else (on - off) / off
        costs[name] = cost
        print(f"{name:<22}{off:>10.1f}{on:>10.1f}{cost:>8.1%}")
    print("\nstreaming AEAD alone, in memory:", end="")
    for name, value in crypto_only().items():
        print(f"  {name} {value:.0f}", end="")
    print()
    for level, up, down in (
        ("services", "upload MB/s", "download MB/s"),
        ("HTTP", "HTTP upload MB/s", "HTTP download MB/s"),
    ):
        verdict = "met" if max(costs[up], costs[down]) < 0.20 else "NOT met"
        print(f"goal (< 20% cost on upload and download throughput), {level}: {verdict}")


if __name__ == "__main__":
    main()
