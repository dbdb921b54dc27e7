"""Clustering quality on a folder-per-identity face set: Keepsake's clustering (full re-cluster,
and incremental with faces arriving in random order) against DBSCAN (eps 0.5, min_samples 3,
the approach of Immich and PhotoPrism) and dlib's Chinese whispers (threshold 0.5), all on the
same embeddings in the same run.

    python bench/cluster.py [DIR] [--orders 10] [--distance 0.55]

DIR holds one folder per person (default: the shared LFW subset). One face per photo is used:
the one nearest the centre (LFW photos show their person there; others at the edges have no
label). Prints pairwise precision / recall / F1 and BCubed precision / recall / F1; faces a
method leaves unassigned count as singletons. Embeddings are cached in bench/.cache.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

try:
    from keepsake.faces.clustering import (
        DEFAULT_PARAMS,
        ClusterParams,
        FaceSet,
        KnownFaces,
        NewFaces,
        cluster,
        place_new_faces,
    )
    from keepsake.ml.dlib_backend import DlibFaceAnalyzer
    from keepsake.ml.quality import is_good_seed
except ModuleNotFoundError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from keepsake.faces.clustering import (
        DEFAULT_PARAMS,
        ClusterParams,
        FaceSet,
        KnownFaces,
        NewFaces,
        cluster,
        place_new_faces,
    )
    from keepsake.ml.dlib_backend import DlibFaceAnalyzer
    from keepsake.ml.quality import is_good_seed

CACHE = Path(__file__).resolve().parent / ".cache"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = (
    Path(os.environ.get("KEEPSAKE_TESTDATA", REPO.parent / "shared" / "testdata")) / "faces" / "lfw"
)


@dataclass(frozen=True)
class Faces:
    embeddings: np.ndarray
    labels: np.ndarray  # identity (folder) per face
    seeds: np.ndarray
    missing: int


def embed(directory: Path, cache_dir: Path) -> Faces:
    files = sorted(p for p in directory.glob("*/*") if p.suffix.lower() in {".jpg", ".png"})
    if not files:
        raise SystemExit(f"{directory}: no <person>/<photo>.jpg files")
    analyzer = DlibFaceAnalyzer(cache_dir=cache_dir)
    digest = hashlib.sha256(
        (analyzer.model_id + "\n" + "\n".join(str(f) for f in files)).encode()
    ).hexdigest()[:16]
    cached = cache_dir / f"cluster-{digest}.npz"
    if cached.exists():
        data = np.load(cached)
        return Faces(data["embeddings"], data["labels"], data["seeds"], int(data["missing"]))
    embeddings, labels, seeds, missing = [], [], [], 0
    for path in files:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
        found = analyzer.analyze(rgb)
        if not found:
            missing += 1
            continue
        height, width = rgb.shape[:2]
        face = min(
            found,
            key=lambda f: np.hypot(
                (f.box.x1 + f.box.x2 - width) / 2, (f.box.y1 + f.box.y2 - height) / 2
            ),
        )
        embeddings.append(face.embedding)
        labels.append(path.parent.name)
        seeds.append(is_good_seed(face))
    result = Faces(np.array(embeddings), np.array(labels), np.array(seeds), missing)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(
        cached,
        embeddings=result.embeddings,
        labels=result.labels,
        seeds=result.seeds,
        missing=missing,
    )
    return result


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    b_precision: float
    b_recall: float
    b_f1: float
    clusters: int
    unassigned: int


def score(truth: np.ndarray, predicted: np.ndarray) -> Score:
    """Pairwise and BCubed scores; predicted -1 means unassigned (a singleton)."""
    n = len(truth)
    predicted = np.where(predicted < 0, -1 - np.arange(n), predicted)
    same_t = truth[:, None] == truth[None, :]
    same_p = predicted[:, None] == predicted[None, :]
    upper = np.triu_indices(n, 1)
    tp = int((same_t & same_p)[upper].sum())
    fp = int((~same_t & same_p)[upper].sum())
    fn = int((same_t & ~same_p)[upper].sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    both = (same_t & same_p).sum(axis=1)
    b_precision = float(np.mean(both / same_p.sum(axis=1)))
    b_recall = float(np.mean(both / same_t.sum(axis=1)))
    return Score(
        precision,
        recall,
        _f1(precision, recall),
        b_precision,
        b_recall,
        _f1(b_precision, b_recall),
        len({p for p in predicted.tolist() if p >= 0}),
        int((predicted < 0).sum()),
    )


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def keepsake_full(faces: Faces, params: ClusterParams) -> np.ndarray:
    return cluster(FaceSet.free(faces.embeddings, seeds=faces.seeds), params)


def keepsake_incremental(faces: Faces, params: ClusterParams, order: list[int]) -> np.ndarray:
    """Faces arrive one photo at a time in `order`, as the face job delivers them."""
    dim = faces.embeddings.shape[1]
    stored: list[int] = []
    people: list[int] = []
    for face in order:
        known = KnownFaces(
            faces.embeddings[stored].reshape(-1, dim),
            np.array(stored, dtype=np.int64),
            faces.seeds[stored].astype(bool),
            np.array(people, dtype=np.int64),
        )
        placed = place_new_faces(
            known,
            NewFaces(faces.embeddings[[face]], np.array([face]), faces.seeds[[face]]),
            params,
        )
        stored.append(face)
        people.append(int(placed.new_labels[0]))
        for position, person in placed.known_changes.items():
            people[position] = person
    labels = np.full(len(faces.embeddings), -1, dtype=np.int64)
    labels[stored] = people
    return labels


def chinese_whispers(faces: Faces, threshold: float) -> np.ndarray:
    import dlib

    vectors = [dlib.vector(e.astype(np.float64).tolist()) for e in faces.embeddings]
    return np.array(dlib.chinese_whispers_clustering(vectors, threshold), dtype=np.int64)


def dbscan(faces: Faces, eps: float, min_samples: int) -> np.ndarray:
    from sklearn.cluster import DBSCAN

    return np.asarray(DBSCAN(eps=eps, min_samples=min_samples).fit(faces.embeddings).labels_)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, nargs="?", default=DEFAULT_DIR)
    parser.add_argument("--orders", type=int, default=10, help="random arrival orders")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--distance", type=float, default=DEFAULT_PARAMS.distance)
    parser.add_argument("--min-faces", type=int, default=DEFAULT_PARAMS.min_faces)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    if not args.directory.is_dir():
        raise SystemExit(f"{args.directory} is not a folder (set KEEPSAKE_TESTDATA or pass DIR)")
    started = time.perf_counter()
    faces = embed(args.directory, args.cache)
    people = len(set(faces.labels.tolist()))
    print(
        f"{args.directory}: {people} people, {len(faces.labels)} faces "
        f"({faces.missing} photos without a face, {int((~faces.seeds).sum())} faces not "
        f"good enough to seed) in {time.perf_counter() - started:.1f} s"
    )
    params = ClusterParams(distance=args.distance, min_faces=args.min_faces)
    rows: list[tuple[str, Score]] = []
    rows.append(("DBSCAN eps 0.5, min_samples 3", score(faces.labels, dbscan(faces, 0.5, 3))))
    rows.append(("Chinese whispers 0.5 (dlib)", score(faces.labels, chinese_whispers(faces, 0.5))))
    rows.append(
        (
            f"Keepsake full re-cluster {params.distance:g}",
            score(faces.labels, keepsake_full(faces, params)),
        )
    )
    no_gate = cluster(FaceSet.free(faces.embeddings), params)
    rows.append(("  the same without the quality gate on seeds", score(faces.labels, no_gate)))
    rng = random.Random(args.seed)
    incremental = []
    for _ in range(args.orders):
        order = list(range(len(faces.labels)))
        rng.shuffle(order)
        incremental.append(score(faces.labels, keepsake_incremental(faces, params, order)))
    mean = Score(
        *(float(np.mean([getattr(s, f) for s in incremental])) for f in Score.__dataclass_fields__)
    )
    worst = min(incremental, key=lambda s: s.b_f1)
    rows.append((f"Keepsake incremental, mean of {args.orders} orders", mean))
    rows.append(("Keepsake incremental, worst order", worst))

    columns = ["pair P", "pair R", "pair F1", "B3 P", "B3 R", "B3 F1"]
    header = f"{'method':44} " + " ".join(f"{c:>7}" for c in columns)
    header += f" {'people':>6} {'alone':>6}"
    print(header)
    print("-" * len(header))
    for name, s in rows:
        print(
            f"{name:44} {s.precision:7.4f} {s.recall:7.4f} {s.f1:7.4f} {s.b_precision:7.4f} "
            f"{s.b_recall:7.4f} {s.b_f1:7.4f} {s.clusters:6.0f} {s.unassigned:6.0f}"
        )
    cw = rows[1][1].b_f1
    full = rows[2][1]
    print()
    print(
        f"goal: full re-cluster pairwise precision >= 0.99: {full.precision:.4f} "
        f"{'met' if full.precision >= 0.99 else 'NOT met'}; BCubed F1 >= Chinese whispers' "
        f"({cw:.4f}): {full.b_f1:.4f} {'met' if full.b_f1 >= cw else 'NOT met'}; incremental "
        f"within 0.01: mean {mean.b_f1:.4f}, worst {worst.b_f1:.4f} "
        f"{'met' if worst.b_f1 >= cw - 0.01 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
