"""Face boxes: overlap, matching new detections to stored faces, and moving boxes between the
photo as displayed and as stored (EXIF orientation), which XMP face regions need."""

from __future__ import annotations

from collections.abc import Callable, Sequence

BoxTuple = tuple[float, float, float, float]
"""(x1, y1, x2, y2): top-left corner and bottom-right edge, in pixels or fractions."""

MATCH_IOU = 0.5
"""Intersection over union above which a new box is the same face as a stored one. The usual
detection-matching criterion (PASCAL VOC); boxes of one face from two runs of the same model
overlap ~1.0, from HOG versus a hand-drawn box typically 0.6-0.8, and two neighbouring faces
in a group photo under 0.1."""


def iou(a: BoxTuple, b: BoxTuple) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_boxes(
    stored: Sequence[BoxTuple], found: Sequence[BoxTuple], threshold: float = MATCH_IOU
) -> list[tuple[int, int]]:
    """Pairs (stored index, found index) of the same face, best overlaps first, each box in at
    most one pair."""
    candidates = sorted(
        ((iou(s, f), i, j) for i, s in enumerate(stored) for j, f in enumerate(found)),
        reverse=True,
    )
    used_stored: set[int] = set()
    used_found: set[int] = set()
    pairs = []
    for overlap, i, j in candidates:
        if overlap < threshold:
            break
        if i in used_stored or j in used_found:
            continue
        used_stored.add(i)
        used_found.add(j)
        pairs.append((i, j))
    return pairs


# EXIF orientation -> how a point (x, y), as fractions of the stored image, moves on display.
Move = Callable[[float, float], tuple[float, float]]
_TO_DISPLAY: dict[int, Move] = {
    1: lambda x, y: (x, y),
    2: lambda x, y: (1 - x, y),
    3: lambda x, y: (1 - x, 1 - y),
    4: lambda x, y: (x, 1 - y),
    5: lambda x, y: (y, x),
    6: lambda x, y: (1 - y, x),
    7: lambda x, y: (1 - y, 1 - x),
    8: lambda x, y: (y, 1 - x),
}
# Every orientation undoes itself, except the two quarter turns, which undo each other.
_INVERSE = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}


def _moved(box: BoxTuple, orientation: int) -> BoxTuple:
    move = _TO_DISPLAY.get(orientation, _TO_DISPLAY[1])
    xa, ya = move(box[0], box[1])
    xb, yb = move(box[2], box[3])
    return min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)


def stored_to_display(box: BoxTuple, orientation: int | None) -> BoxTuple:
    """A box in fractions of the stored image -> fractions of the image as displayed."""
    return _moved(box, orientation or 1)


def display_to_stored(box: BoxTuple, orientation: int | None) -> BoxTuple:
    """A box in fractions of the displayed image -> fractions of the stored image."""
    return _moved(box, _INVERSE.get(orientation or 1, 1))


def swaps_sides(orientation: int | None) -> bool:
    """Whether the orientation turns the image a quarter (width and height swap on display)."""
    return (orientation or 1) in (5, 6, 7, 8)
