"""Face verification accuracy on a Labeled Faces in the Wild style folder, by the standard LFW
10-fold protocol, for plain and mirror-averaged embeddings in the same run.

    python bench/lfw.py DIR PAIRS             # DIR/<Name>/<Name>_0001.jpg, PAIRS: pairs.txt
    python bench/lfw.py DIR --make-pairs OUT  # write a pairs file for DIR first, then evaluate

Prints: accuracy at dlib's fixed threshold 0.6 and at the threshold chosen by 10-fold cross
validation (mean and standard deviation over folds), TAR at FAR = 0.1%, and how many images
had no face found (those fall back to the average face box of the images where one was found,
scaled to the image, and still go through landmarks, alignment and embedding).
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

try:
    from keepsake.ml.base import Box
    from keepsake.ml.dlib_backend import DLIB_MATCH_DISTANCE, DlibFaceAnalyzer
except ModuleNotFoundError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from keepsake.ml.base import Box
    from keepsake.ml.dlib_backend import DLIB_MATCH_DISTANCE, DlibFaceAnalyzer

FOLDS = 10
FAR_TARGET = 0.001
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class Pair:
    first: str  # image path relative to DIR
    second: str
    same: bool
    fold: int


def image_name(person: str, number: int) -> str:
    return f"{person}/{person}_{number:04d}.jpg"


def make_pairs(directory: Path, out: Path, seed: int) -> None:
    """All same-person pairs (trimmed to a multiple of 10) and as many seeded random
    different-person pairs, in the standard format: a "10<TAB>P" header, then per fold P
    matched lines "name n1 n2" and P mismatched lines "name1 n1 name2 n2"."""
    rng = random.Random(seed)
    people = {
        p.name: sorted(int(f.stem.rsplit("_", 1)[1]) for f in p.glob(f"{p.name}_*.jpg"))
        for p in sorted(directory.iterdir())
        if p.is_dir()
    }
    same = [
        (name, a, b)
        for name, numbers in people.items()
        for a, b in itertools.combinations(numbers, 2)
    ]
    rng.shuffle(same)
    per_fold = len(same) // FOLDS
    if per_fold == 0:
        raise SystemExit(f"{directory}: fewer than {FOLDS} same-person pairs")
    names = sorted(people)
    different: set[tuple[str, int, str, int]] = set()
    while len(different) < per_fold * FOLDS:
        first, second = rng.sample(names, 2)
        different.add((first, rng.choice(people[first]), second, rng.choice(people[second])))
    different_list = sorted(different)
    rng.shuffle(different_list)
    lines = [f"{FOLDS}\t{per_fold}"]
    for fold in range(FOLDS):
        chunk = slice(fold * per_fold, (fold + 1) * per_fold)
        lines += [f"{n}\t{a}\t{b}" for n, a, b in same[chunk]]
        lines += [f"{n1}\t{a}\t{n2}\t{b}" for n1, a, n2, b in different_list[chunk]]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(
        f"wrote {out}: {FOLDS} folds x ({per_fold} same + {per_fold} different) pairs "
        f"from {len(people)} people ({len(same)} same-person pairs available, seed {seed})"
    )


def read_pairs(path: Path) -> list[Pair]:
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line]
    folds, per_fold = int(rows[0][0]), int(rows[0][1])
    pairs = []
    for index, row in enumerate(rows[1:]):
        fold = index // (2 * per_fold)
        if len(row) == 3:
            pairs.append(
                Pair(image_name(row[0], int(row[1])), image_name(row[0], int(row[2])), True, fold)
            )
        elif len(row) == 4:
            pairs.append(
                Pair(image_name(row[0], int(row[1])), image_name(row[2], int(row[3])), False, fold)
            )
        else:
            raise SystemExit(f"{path}: bad line {index + 2}: {row}")
    if fold + 1 != folds:
        raise SystemExit(f"{path}: header says {folds} folds, found {fold + 1}")
    return pairs


def embed_images(
    analyzer: DlibFaceAnalyzer, directory: Path, names: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """Plain and mirror-averaged embeddings of the centre face of each image."""
    images = {}
    boxes: dict[str, Box] = {}
    for name in names:
        with Image.open(directory / name) as img:
            image = np.asarray(img.convert("RGB"))
        images[name] = image
        faces = analyzer.analyze(image)
        if faces:
            height, width = image.shape[:2]
            boxes[name] = min(
                faces,
                key=lambda f: np.hypot(
                    (f.box.x1 + f.box.x2 - width) / 2, (f.box.y1 + f.box.y2 - height) / 2
                ),
            ).box
    missing = [name for name in names if name not in boxes]
    # Fallback: the mean face box (relative to image size) of the images where one was found.
    relative = np.mean(
        [np.array(boxes[n]) / np.tile(images[n].shape[1::-1], 2).astype(float) for n in boxes],
        axis=0,
    )
    for name in missing:
        size = np.tile(images[name].shape[1::-1], 2).astype(float)
        boxes[name] = Box(*(float(v) for v in relative * size))
    plain, mirror = {}, {}
    for name in names:
        chip = analyzer.face_chips(images[name], [boxes[name]])
        both = analyzer.embed_chips(np.concatenate([chip, chip[:, :, ::-1]]))
        plain[name] = both[0]
        mirror[name] = (both[0] + both[1]) / 2
    return plain, mirror, missing


def accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((distances < threshold) == same))


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    candidates = np.arange(0.2, 1.2, 0.0005)
    scores = [accuracy(distances, same, t) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def tar_at_far(same_d: np.ndarray, diff_d: np.ndarray, far: float) -> tuple[float, float]:
    """TAR at the largest threshold whose false accept rate is at most `far`."""
    diff_sorted = np.sort(diff_d)
    allowed = int(np.floor(far * len(diff_sorted)))  # false accepts we may have
    threshold = float(diff_sorted[allowed]) if allowed < len(diff_sorted) else np.inf
    return float(np.mean(same_d < threshold)), threshold


@dataclass
class Report:
    fixed: list[float]
    cross: list[float]
    thresholds: list[float]
    tar: float
    tar_threshold: float
    tar_all: float
    tar_all_threshold: float
    negatives_all: int


def evaluate(pairs: list[Pair], embeddings: dict[str, np.ndarray]) -> Report:
    distances = np.array(
        [np.linalg.norm(embeddings[p.first] - embeddings[p.second]) for p in pairs]
    )
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    fixed, cross, thresholds = [], [], []
    for fold in range(folds.max() + 1):
        test = folds == fold
        threshold = best_threshold(distances[~test], same[~test])
        thresholds.append(threshold)
        cross.append(accuracy(distances[test], same[test], threshold))
        fixed.append(accuracy(distances[test], same[test], DLIB_MATCH_DISTANCE))
    tar, tar_threshold = tar_at_far(distances[same], distances[~same], FAR_TARGET)
    # The pairs file has few negatives, too few to resolve FAR = 0.1%; every pair of images
    # of different people gives a finer estimate.
    names = sorted(embeddings)
    person = {n: n.split("/")[0] for n in names}
    matrix = np.stack([embeddings[n] for n in names])
    all_d = np.linalg.norm(matrix[:, None, :] - matrix[None, :, :], axis=2)
    upper = np.triu_indices(len(names), k=1)
    is_same = np.array([person[names[i]] == person[names[j]] for i, j in zip(*upper, strict=True)])
    tar_all, tar_all_threshold = tar_at_far(
        all_d[upper][is_same], all_d[upper][~is_same], FAR_TARGET
    )
    return Report(
        fixed,
        cross,
        thresholds,
        tar,
        tar_threshold,
        tar_all,
        tar_all_threshold,
        int((~is_same).sum()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="LFW-style folder: <Name>/<Name>_0001.jpg")
    parser.add_argument("pairs", type=Path, nargs="?", help="pairs file in LFW's format")
    parser.add_argument("--make-pairs", type=Path, metavar="OUT", help="write a pairs file first")
    parser.add_argument("--seed", type=int, default=20240601, help="seed for --make-pairs")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="ONNX model cache")
    parser.add_argument("--detector", choices=["hog", "cnn"], default="hog")
    args = parser.parse_args()
    pairs_path: Path | None = args.pairs
    if args.make_pairs:
        make_pairs(args.directory, args.make_pairs, args.seed)
        pairs_path = args.make_pairs
    if pairs_path is None:
        parser.error("give PAIRS or --make-pairs OUT")

    pairs = read_pairs(pairs_path)
    names = sorted({p.first for p in pairs} | {p.second for p in pairs})
    analyzer = DlibFaceAnalyzer(cache_dir=args.cache, detector=args.detector)
    analyzer.load()
    started = time.perf_counter()
    plain, mirror, missing = embed_images(analyzer, args.directory, names)
    elapsed = time.perf_counter() - started

    n_same = sum(p.same for p in pairs)
    print(f"\nmodel: {analyzer.model_id}")
    print(
        f"pairs: {len(pairs)} ({n_same} same, {len(pairs) - n_same} different) in "
        f"{max(p.fold for p in pairs) + 1} folds; {len(names)} images embedded in {elapsed:.1f} s"
    )
    print(
        f"no face found: {len(missing)} of {len(names)} images ({len(missing) / len(names):.1%})"
        " -> fell back to the mean face box of the others, then landmarks and alignment as usual"
    )
    for name in missing:
        print(f"  {name}")
    reports = {"plain": evaluate(pairs, plain), "mirror-averaged": evaluate(pairs, mirror)}
    print()
    header = f"{'':44}" + "".join(f"{k:>20}" for k in reports)
    print(header)

    def row(label: str, values: list[str]) -> None:
        print(f"{label:44}" + "".join(f"{v:>20}" for v in values))

    r = list(reports.values())
    row(
        f"accuracy at fixed threshold {DLIB_MATCH_DISTANCE}",
        [f"{np.mean(x.fixed):.2%} ± {np.std(x.fixed):.2%}" for x in r],
    )
    row(
        "accuracy at 10-fold cross-validated threshold",
        [f"{np.mean(x.cross):.2%} ± {np.std(x.cross):.2%}" for x in r],
    )
    row(
        "  chosen thresholds (min..max over folds)",
        [f"{min(x.thresholds):.3f}..{max(x.thresholds):.3f}" for x in r],
    )
    row(
        f"TAR at FAR={FAR_TARGET:.1%} (pairs file)",
        [f"{x.tar:.2%} @ {x.tar_threshold:.3f}" for x in r],
    )
    row(
        f"TAR at FAR={FAR_TARGET:.1%} (all image pairs)",
        [f"{x.tar_all:.2%} @ {x.tar_all_threshold:.3f}" for x in r],
    )
    negatives = len(pairs) - n_same
    print(
        f"\nThe pairs file has {negatives} different-person pairs, so FAR={FAR_TARGET:.1%} "
        f"there means no false accept at all (resolution {1 / negatives:.2%}); the all-pairs "
        f"line uses every pair of images of different people ({r[0].negatives_all} pairs)."
    )


if __name__ == "__main__":
    main()
