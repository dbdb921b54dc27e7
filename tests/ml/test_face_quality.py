"""Face quality: size, sharpness and confidence combine into a score, and only good faces seed
a new person."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

from keepsake.ml import Box, DetectedFace, QualityThresholds, face_quality, is_good_seed
from keepsake.ml.base import RgbImage
from keepsake.ml.dlib_backend import DlibFaceAnalyzer
from keepsake.ml.quality import (
    QUALITY_SIZE_GOOD_PX,
    QUALITY_SIZE_POOR_PX,
    SHARPNESS_GOOD,
    SHARPNESS_POOR,
    chip_sharpness,
)


def make_face(size: float, sharpness: float, confidence: float) -> DetectedFace:
    return DetectedFace(
        box=Box(10.0, 10.0, 10.0 + size, 10.0 + size),
        landmarks=np.zeros((5, 2), dtype=np.float32),
        confidence=confidence,
        detector_score=confidence,
        quality=face_quality(size, sharpness, confidence),
        sharpness=sharpness,
        embedding=np.zeros(128, dtype=np.float32),
    )


def test_quality_spans_zero_to_one() -> None:
    assert face_quality(QUALITY_SIZE_POOR_PX, SHARPNESS_POOR, 0.0) == 0.0
    assert face_quality(QUALITY_SIZE_GOOD_PX, SHARPNESS_GOOD, 1.0) == 1.0
    assert face_quality(1000.0, 1e6, 5.0) == 1.0


def test_quality_grows_with_size_sharpness_and_confidence() -> None:
    base = face_quality(60.0, 30.0, 0.5)
    assert face_quality(80.0, 30.0, 0.5) > base
    assert face_quality(60.0, 50.0, 0.5) > base
    assert face_quality(60.0, 30.0, 0.9) > base


def test_only_big_sharp_confident_faces_seed_a_cluster() -> None:
    assert is_good_seed(make_face(120.0, 200.0, 0.9))
    assert not is_good_seed(make_face(45.0, 200.0, 0.9))  # too small
    assert not is_good_seed(make_face(120.0, 12.0, 0.9))  # blurred
    assert not is_good_seed(make_face(120.0, 200.0, 0.2))  # doubtful detection
    lenient = QualityThresholds(min_size_px=40.0, min_quality=0.0)
    assert is_good_seed(make_face(45.0, 200.0, 0.9), lenient)


def test_blurring_a_real_chip_lowers_its_sharpness_and_quality(
    analyzer: DlibFaceAnalyzer, photo: Callable[[str], RgbImage]
) -> None:
    image = photo("groups/face_recognition_two_people.jpg")
    face = analyzer.analyze(image)[0]
    chip = analyzer.face_chips(image, [face.box])[0]
    assert chip_sharpness(chip) == face.sharpness
    blurred = np.asarray(Image.fromarray(chip).filter(ImageFilter.GaussianBlur(2)))
    assert chip_sharpness(blurred) < SHARPNESS_POOR < face.sharpness
    assert is_good_seed(face)


def test_flat_chip_has_zero_sharpness() -> None:
    assert chip_sharpness(np.full((150, 150, 3), 128, dtype=np.uint8)) == 0.0
