"""The public surface of `keepsake.ml`: what the face job may rely on, and what it must never
get (no personal attributes beyond where a face is and what it looks like to the matcher)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import sys
from pathlib import Path

import numpy as np

import keepsake.ml
from keepsake.ml import Box, DetectedFace, FaceAnalyzer, FunctionFaceAnalyzer, load_analyzer


def test_detected_face_carries_no_personal_attributes() -> None:
    # Keepsake never infers age, gender, emotion, ethnicity or any other category of a person;
    # adding such a field to DetectedFace must be a deliberate, reviewed change to this test.
    names = {field.name for field in dataclasses.fields(DetectedFace)}
    assert names == {
        "box",
        "landmarks",
        "confidence",
        "detector_score",
        "quality",
        "sharpness",
        "embedding",
    }


def test_ml_imports_nothing_else_from_keepsake() -> None:
    package_dir = Path(keepsake.ml.__file__).parent
    for module in pkgutil.iter_modules([str(package_dir)]):
        importlib.import_module(f"keepsake.ml.{module.name}")
    for source in package_dir.glob("*.py"):
        for line in source.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import keepsake", "from keepsake")):
                assert stripped.startswith(("from keepsake.ml", "import keepsake.ml")), (
                    f"{source.name}: {stripped}"
                )
    assert "keepsake.ml" in sys.modules


def test_function_analyzer_is_a_face_analyzer_for_small_tests() -> None:
    face = DetectedFace(
        box=Box(1.0, 2.0, 11.0, 12.0),
        landmarks=np.zeros((5, 2), dtype=np.float32),
        confidence=1.0,
        detector_score=1.0,
        quality=1.0,
        sharpness=100.0,
        embedding=np.ones(128, dtype=np.float32),
    )
    analyzer = FunctionFaceAnalyzer(lambda image: [face] if image.mean() > 0 else [])
    assert isinstance(analyzer, FaceAnalyzer)
    assert analyzer.analyze(np.ones((4, 4, 3), dtype=np.uint8)) == [face]
    assert analyzer.analyze(np.zeros((4, 4, 3), dtype=np.uint8)) == []
    assert analyzer.calls == 2
    chips = np.stack([np.full((150, 150, 3), 51, np.uint8), np.full((150, 150, 3), 51, np.uint8)])
    embeddings = analyzer.embed_chips(chips)
    assert embeddings.shape == (2, 128)
    assert np.allclose(embeddings[0], embeddings[1])


def test_building_an_analyzer_loads_no_model(tmp_path: Path) -> None:
    analyzer = load_analyzer("dlib", cache_dir=tmp_path / "cache")
    assert isinstance(analyzer, FaceAnalyzer)
    assert not (tmp_path / "cache").exists()  # nothing converted until first use


def test_box_maps_to_original_coordinates() -> None:
    box = Box(10.0, 20.0, 30.0, 60.0)
    assert box.to_original(0.5) == Box(20.0, 40.0, 60.0, 120.0)
    assert box.width == 20.0 and box.height == 40.0
    assert box.clipped(25, 50) == Box(10.0, 20.0, 25.0, 50.0)
    x1, y1, x2, y2 = box
    assert (x1, y1, x2, y2) == (10.0, 20.0, 30.0, 60.0)
