"""Photos per second for the whole face step (detect, landmarks, align, embed) on ~1440 px
photos with several faces, Keepsake's pipeline against the `face_recognition` library's
`face_locations` + `face_encodings` on the same decoded images in the same run.

    python bench/faces_throughput.py [--runs 3] [--workers 2]

The test photos are built from the shared photos (KEEPSAKE_TESTDATA, default
../shared/testdata beside the checkout): grids of LFW faces and group photos resized to a
1440 px long side. `face_recognition` is only a baseline here (pip install --no-deps
face_recognition); it is not a Keepsake dependency. Faces found by each are compared box by
box, and the embeddings of faces both found are compared by Euclidean distance.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import statistics
import sys
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

try:
    from keepsake.ml.base import Box
    from keepsake.ml.dlib_backend import MIN_FACE_FRACTION, DlibFaceAnalyzer, HogDetector
except ModuleNotFoundError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from keepsake.ml.base import Box
    from keepsake.ml.dlib_backend import MIN_FACE_FRACTION, DlibFaceAnalyzer, HogDetector

REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("KEEPSAKE_TESTDATA", REPO.parent / "shared" / "testdata"))
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
LONG_SIDE = 1440
MATCH_IOU = 0.3
QUIET_LOAD = 0.5  # one-minute load average below which the machine counts as idle

GROUP_PHOTOS = [
    "groups/face_recognition_two_people.jpg",
    "groups/dlib_examples_faces/bald_guys.jpg",
    "groups/dlib_examples_faces/2008_002506.jpg",
    "groups/dlib_examples_faces/2008_001322.jpg",
    "groups/dlib_examples_faces/2008_002079.jpg",
    "groups/dlib_examples_faces/2009_004587.jpg",
    "known_people/face_recognition_knn_examples/test/obama_and_biden.jpg",
    "known_people/face_recognition_knn_examples/test/kit_with_rose.jpg",
]
GRIDS = [(4, 3), (4, 3), (6, 4), (6, 4)]  # (columns, rows) of LFW photos, 1440 px wide


def build_crowd(faces_dir: Path) -> np.ndarray:
    """A 1440x960 grid of 12x8 LFW photos: 96 faces of about 50 px, below the 58 px (4% of the
    long side) that Keepsake scans for by default."""
    lfw = sorted((faces_dir / "lfw").glob("*/*.jpg"))
    tile, columns, rows = LONG_SIDE // 12, 12, 8
    canvas = Image.new("RGB", (tile * columns, tile * rows))
    for index in range(columns * rows):
        with Image.open(lfw[(7 * index) % len(lfw)]) as face:
            position = ((index % columns) * tile, (index // columns) * tile)
            canvas.paste(face.convert("RGB").resize((tile, tile)), position)
    return np.asarray(canvas)


def small_faces_check(faces_dir: Path) -> None:
    """Detection only, one run: what the default scale policy gives up on small faces."""
    crowd = build_crowd(faces_dir)
    face_recognition = _face_recognition()
    print(f"\nsmall faces: {crowd.shape[1]}x{crowd.shape[0]} grid of 96 LFW photos, faces ~50 px")
    started = time.process_time()
    found = len(face_recognition.face_locations(crowd))
    print(
        f"  face_recognition face_locations (2x up-sampling)   {found:3d} faces  "
        f"{time.process_time() - started:5.2f} CPU s"
    )
    for label, fraction in (
        ("default, smallest face 58 px", MIN_FACE_FRACTION),
        ("min_face_fraction=0.028, 40 px", 40 / LONG_SIDE),
    ):
        detector = HogDetector(min_face_fraction=fraction)
        detector.load()
        started = time.process_time()
        found = len(detector.predict(crowd))
        print(
            f"  keepsake HOG, {label:34}  {found:3d} faces  "
            f"{time.process_time() - started:5.2f} CPU s"
        )


def _fit(image: Image.Image, long_side: int) -> Image.Image:
    scale = long_side / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.BICUBIC)


def build_photos(faces_dir: Path) -> list[tuple[str, np.ndarray]]:
    photos = []
    lfw = sorted((faces_dir / "lfw").glob("*/*.jpg"))
    offset = 0
    for columns, rows in GRIDS:
        tile = LONG_SIDE // columns
        canvas = Image.new("RGB", (tile * columns, tile * rows))
        for index in range(columns * rows):
            with Image.open(lfw[(offset + index) % len(lfw)]) as face:
                canvas.paste(
                    face.convert("RGB").resize((tile, tile)),
                    ((index % columns) * tile, (index // columns) * tile),
                )
        offset += columns * rows
        photos.append((f"LFW grid {columns}x{rows}", np.asarray(canvas)))
    for name in GROUP_PHOTOS:
        with Image.open(faces_dir / name) as image:
            photos.append((Path(name).name, np.asarray(_fit(image.convert("RGB"), LONG_SIDE))))
    return photos


# --- workers ---------------------------------------------------------------------------------
# Fork-started workers inherit the decoded photos; each builds its own analyzer once.
_PHOTOS: list[tuple[str, np.ndarray]] = []
_ANALYZER: DlibFaceAnalyzer | None = None


def _init_worker(cache: Path) -> None:
    global _ANALYZER
    _ANALYZER = DlibFaceAnalyzer(cache_dir=cache)
    _ANALYZER.load()


def _keepsake_job(index: int) -> tuple[int, list[tuple[Box, np.ndarray]], float]:
    assert _ANALYZER is not None
    started = time.process_time()
    faces = _ANALYZER.analyze(_PHOTOS[index][1])
    return index, [(f.box, f.embedding) for f in faces], time.process_time() - started


def _face_recognition() -> Any:
    """Import the baseline library. Its model package's __init__ needs `pkg_resources`, gone
    from setuptools 81; give it the one function it uses when the real one is missing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pkg_resources  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")

        def resource_filename(package: str, name: str) -> str:
            spec = importlib.util.find_spec(package)
            assert spec is not None and spec.submodule_search_locations
            return str(Path(next(iter(spec.submodule_search_locations))) / name)

        shim.resource_filename = resource_filename  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources' own deprecation notice
        import face_recognition  # type: ignore[import-untyped,import-not-found,unused-ignore]

    return face_recognition


def _library_job(index: int) -> tuple[int, list[tuple[Box, np.ndarray]], float]:
    face_recognition = _face_recognition()
    image = _PHOTOS[index][1]
    started = time.process_time()
    locations = face_recognition.face_locations(image)  # HOG, up-sampled once (its default)
    encodings = face_recognition.face_encodings(image, locations)  # 5-point model, 1 jitter
    cpu = time.process_time() - started
    return (
        index,
        [
            (Box(float(left), float(top), float(right + 1), float(bottom + 1)), np.asarray(enc))
            for (top, right, bottom, left), enc in zip(locations, encodings, strict=True)
        ],
        cpu,
    )


def _warm_library(_: int) -> None:
    face_recognition = _face_recognition()
    face_recognition.face_encodings(np.zeros((64, 64, 3), dtype=np.uint8))


@dataclass
class Run:
    wall: float  # seconds for all photos
    cpu: float  # CPU seconds spent in the face step, summed over processes
    faces: list[list[tuple[Box, np.ndarray]]]


def timed(pool: Any, job: Callable[[int], Any], count: int) -> Run:
    started = time.perf_counter()
    results = sorted(pool.map(job, range(count), chunksize=1), key=lambda r: r[0])
    wall = time.perf_counter() - started
    return Run(wall, sum(cpu for _, _, cpu in results), [faces for _, faces, _ in results])


def wait_for_quiet(max_wait: float) -> None:
    """Other work on the machine skews wall-clock figures; wait a little for it to finish."""
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] > QUIET_LOAD and time.monotonic() < deadline:
        time.sleep(5)


def iou(a: Box, b: Box) -> float:
    width = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    height = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = width * height
    return inter / (a.width * a.height + b.width * b.height - inter)


def compare(
    ours: list[list[tuple[Box, np.ndarray]]], theirs: list[list[tuple[Box, np.ndarray]]]
) -> tuple[int, int, int, list[float]]:
    both = only_ours = only_theirs = 0
    distances = []
    for mine, lib in zip(ours, theirs, strict=True):
        used: set[int] = set()
        for box, embedding in mine:
            scores = [(iou(box, other[0]), j) for j, other in enumerate(lib) if j not in used]
            best = max(scores, default=(0.0, -1))
            if best[0] > MATCH_IOU:
                used.add(best[1])
                both += 1
                distances.append(float(np.linalg.norm(embedding - lib[best[1]][1])))
            else:
                only_ours += 1
        only_theirs += len(lib) - len(used)
    return both, only_ours, only_theirs, distances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per pipeline (median)")
    parser.add_argument("--workers", type=int, default=2, help="Keepsake worker processes")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="ONNX model cache")
    parser.add_argument(
        "--max-wait", type=float, default=120, help="seconds to wait for an idle machine"
    )
    args = parser.parse_args()
    faces_dir = TESTDATA / "faces"
    if not faces_dir.is_dir():
        raise SystemExit(f"shared photos not found at {faces_dir}; set KEEPSAKE_TESTDATA")

    _PHOTOS.extend(build_photos(faces_dir))
    count = len(_PHOTOS)
    pixels = statistics.mean(p.shape[0] * p.shape[1] for _, p in _PHOTOS) / 1e6
    print(f"{count} photos, long side {LONG_SIDE} px, mean {pixels:.2f} Mpx; {os.cpu_count()} CPUs")
    # Converting the model is a one-off cost, not part of the face step.
    DlibFaceAnalyzer(cache_dir=args.cache).embedder.load()

    context = multiprocessing.get_context("fork")
    wait_for_quiet(args.max_wait)
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, list[Run]]] = []
    with context.Pool(1) as pool:
        pool.map(_warm_library, [0])
        rows.append(
            (
                "face_recognition 1.3 (1 process)",
                [timed(pool, _library_job, count) for _ in range(args.runs)],
            )
        )
    for workers in sorted({1, args.workers}):
        with context.Pool(workers, initializer=_init_worker, initargs=(args.cache,)) as pool:
            pool.map(_keepsake_job, range(min(count, workers)))  # warm every worker
            runs = [timed(pool, _keepsake_job, count) for _ in range(args.runs)]
        rows.append((f"keepsake dlib+onnx ({workers} process{'es' * (workers > 1)})", runs))
    load_after = os.getloadavg()[0]

    def median_wall(runs: list[Run]) -> float:
        return statistics.median(r.wall for r in runs)

    def median_cpu(runs: list[Run]) -> float:
        return statistics.median(r.cpu for r in runs)

    base_wall, base_cpu = median_wall(rows[0][1]), median_cpu(rows[0][1])
    print(
        f"\nmedian of {args.runs} runs over {count} photos; load average {load_before:.2f} before, "
        f"{load_after:.2f} after\n"
    )
    print(
        f"{'pipeline':36}{'photos/s':>9}{'ms/photo':>9}{'CPU ms/photo':>13}{'faces':>6}"
        f"{'speed-up':>9}{'per CPU s':>10}   wall per run (s)"
    )
    for label, runs in rows:
        wall, cpu = median_wall(runs), median_cpu(runs)
        print(
            f"{label:36}{count / wall:9.2f}{1000 * wall / count:9.0f}{1000 * cpu / count:13.0f}"
            f"{sum(len(f) for f in runs[-1].faces):6d}{base_wall / wall:8.1f}x"
            f"{base_cpu / cpu:9.1f}x   " + " ".join(f"{r.wall:.1f}" for r in runs)
        )
    print(
        "speed-up: wall-clock photos/s against face_recognition; per CPU s: the same for CPU time "
        "per photo (one core's worth, unaffected by other load on the machine)"
    )
    library_faces, keepsake_faces = rows[0][1][-1].faces, rows[-1][1][-1].faces
    both, only_ours, only_theirs, distances = compare(keepsake_faces, library_faces)
    print(
        f"\nfaces found by both: {both}; only by keepsake: {only_ours}; "
        f"only by face_recognition: {only_theirs}"
    )
    if distances:
        print(
            "embedding distance keepsake vs face_recognition on faces found by both: "
            f"median {statistics.median(distances):.3f}, max {max(distances):.3f} "
            "(differences come from slightly different detector boxes at a different scan scale;"
            " on the same box the embeddings agree within 1e-5)"
        )
    print("\nper photo (faces keepsake / face_recognition):")
    for (name, photo), mine, lib in zip(_PHOTOS, keepsake_faces, library_faces, strict=True):
        print(f"  {name:40} {photo.shape[1]}x{photo.shape[0]}  {len(mine):3d} / {len(lib):3d}")
    small_faces_check(faces_dir)


if __name__ == "__main__":
    main()
