"""How usable a detected face is: a quality score in [0, 1] from its size, its sharpness and the
detector's confidence, and the stricter test a face must pass to seed a new cluster (person).

All sizes are in pixels of the analysed image (the ~1440 px preview the face job uses), and
sharpness is the variance of the Laplacian of the aligned chip's grey levels. The calibration
figures quoted below come from the shared test photos (LFW subset and group photos); see
docs/models.md for how to re-run them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keepsake.ml.base import DetectedFace, RgbImage

# How the figures below were measured: 19 large (>= 150 px), sharp faces from the shared
# known_people and group photos were embedded at full size, then (a) the photo was down-scaled
# so the face measured 30..130 px, or (b) the aligned chip was blurred with a Gaussian of
# sigma 0.5..3 px; "drift" is the median Euclidean distance of the degraded embedding from the
# full-size one (the match threshold is 0.6). Size 40 px: drift 0.25; 60 px: 0.16; 80 px: 0.11;
# 100 px: 0.08. Chip blur sigma 1 px: sharpness 45, drift 0.11; sigma 1.5: sharpness 18, drift
# 0.21; sigma 2: sharpness 9, drift 0.27. Unblurred chips of these faces: sharpness 77..1400.

# --- size ---------------------------------------------------------------------------------
QUALITY_SIZE_POOR_PX = 40.0
"""Face size (geometric mean of box width and height, px) that scores 0: drift 0.25, and the
smallest face the detector is asked to find (dlib_backend.MIN_FACE_PX)."""

QUALITY_SIZE_GOOD_PX = 100.0
"""Face size (px) that scores 1: drift 0.08; the face then fills dlib's 150 px chip (whose face
region is about 100 px wide) without up-sampling."""

# --- sharpness ----------------------------------------------------------------------------
SHARPNESS_POOR = 10.0
"""Variance of the Laplacian (grey levels squared, over the chip's central two thirds) that
scores 0: a chip blurred with sigma 2 px, drift 0.27, as bad as a 40 px face."""

SHARPNESS_GOOD = 60.0
"""Variance of the Laplacian that scores 1: between sigma 1 px blur (45, drift 0.11) and the
sharpness of a 80 px face (83, drift 0.11). LFW's 150x150 photos have a median of 43."""

# --- weights ------------------------------------------------------------------------------
# Size and sharpness decide whether an embedding can be trusted; the detector's confidence
# mostly separates faces from face-like texture, which the detection threshold already did.
_WEIGHT_SIZE = 0.4
_WEIGHT_SHARPNESS = 0.4
_WEIGHT_CONFIDENCE = 0.2

# --- seeding a cluster ----------------------------------------------------------------------
SEED_MIN_SIZE_PX = 60.0
"""A face must be at least this big (px) to start a new person (drift 0.16, a quarter of the
match threshold). Smaller faces still join an existing person when they match, but a cluster
grown from a thumbnail-sized face attracts strangers."""

SEED_MIN_SHARPNESS = 20.0
"""Variance of the Laplacian a seed needs: about a sigma 1.5 px blur, drift 0.2."""

SEED_MIN_CONFIDENCE = 0.5
"""Normalised detector confidence a seed needs: for dlib's HOG a score of 0.5, which 40 of the
43 hand-labelled faces in dlib's group photos exceed and no false positive measured reaches
(all below -0.25)."""

SEED_MIN_QUALITY = 0.5
"""Overall quality a seed needs, on top of the three floors above."""


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """The seeding floors as one value, so configuration can override them together."""

    min_size_px: float = SEED_MIN_SIZE_PX
    min_sharpness: float = SEED_MIN_SHARPNESS
    min_confidence: float = SEED_MIN_CONFIDENCE
    min_quality: float = SEED_MIN_QUALITY


DEFAULT_THRESHOLDS = QualityThresholds()


def _ramp(value: float, poor: float, good: float) -> float:
    return float(np.clip((value - poor) / (good - poor), 0.0, 1.0))


def chip_sharpness(chip: RgbImage) -> float:
    """Variance of the 4-neighbour Laplacian of the chip's grey levels, over its central part.

    The border of an aligned chip is mostly background (dlib's chips have 25% padding), whose
    texture says nothing about whether the face is in focus, so only the centre is measured."""
    grey = chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    rows, cols = grey.shape
    top, left = rows // 6, cols // 6
    centre = grey[top : rows - top, left : cols - left]
    laplacian = (
        centre[:-2, 1:-1] + centre[2:, 1:-1] + centre[1:-1, :-2] + centre[1:-1, 2:]
    ) - 4.0 * centre[1:-1, 1:-1]
    return float(laplacian.var())


def face_quality(size_px: float, sharpness: float, confidence: float) -> float:
    """Quality in [0, 1]: a weighted mean of the size, sharpness and confidence scores."""
    return (
        _WEIGHT_SIZE * _ramp(size_px, QUALITY_SIZE_POOR_PX, QUALITY_SIZE_GOOD_PX)
        + _WEIGHT_SHARPNESS * _ramp(sharpness, SHARPNESS_POOR, SHARPNESS_GOOD)
        + _WEIGHT_CONFIDENCE * float(np.clip(confidence, 0.0, 1.0))
    )


def is_good_seed(face: DetectedFace, thresholds: QualityThresholds = DEFAULT_THRESHOLDS) -> bool:
    """Whether `face` is good enough to start a new cluster (a new person) on its own."""
    return (
        face.box.size >= thresholds.min_size_px
        and face.sharpness >= thresholds.min_sharpness
        and face.confidence >= thresholds.min_confidence
        and face.quality >= thresholds.min_quality
    )
