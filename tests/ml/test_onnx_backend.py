"""The ONNX Runtime backend, run end to end on tiny SCRFD- and ArcFace-shaped models that the
tests build with `onnx.helper`, so loading, letterboxing, decoding, suppression, alignment and
normalisation all really execute.

The tiny detector's scores are its fixed score map times the mean of (normalised red minus
normalised blue) over its input: a red photo yields faces, a blue one none, which proves channel order and
normalisation reach the model. Its box and landmark outputs are constants that place one face
at a known spot; the tiny recogniser returns each chip's mean normalised colour times a fixed
matrix, so the expected embedding of a uniformly coloured photo is known exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from keepsake.ml import FaceAnalyzer, ModelFormatError, ModelNotFoundError, load_analyzer
from keepsake.ml.onnx_backend import MANIFEST_NAME, OnnxFaceAnalyzer

INPUT = 64  # detector input side, px
ANCHORS = 2
STRIDES = (8, 16, 32)
RECOGNIZER_WEIGHTS = np.array(
    [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]], dtype=np.float32
)
RED = (230, 60, 40)
BLUE = (20, 60, 230)
PHOTO_W, PHOTO_H = 256, 192  # letterboxed into 64x48: scale 0.25


def _anchor(stride: int, x: int, y: int, k: int) -> int:
    return (y * (INPUT // stride) + x) * ANCHORS + k


def _detector_outputs() -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    outputs = {}
    for stride in STRIDES:
        count = (INPUT // stride) ** 2 * ANCHORS
        scores = np.full((count, 1), 0.05, dtype=np.float32)
        boxes = np.ones((count, 4), dtype=np.float32)
        points = np.zeros((count, 10), dtype=np.float32)
        outputs[stride] = (scores, boxes, points)
    # Face 1: stride 16, grid point (2, 2), centre (32, 32), box (16, 16)-(48, 48) in the input.
    scores, boxes, points = outputs[16]
    best = _anchor(16, 2, 2, 0)
    scores[best] = 0.6
    points[best] = [-0.25, -0.25, 0.25, -0.25, 0.0, 0.05, -0.2, 0.3, 0.2, 0.3]
    # A weaker, overlapping duplicate of face 1 that suppression must drop.
    duplicate = _anchor(16, 2, 2, 1)
    scores[duplicate] = 0.5
    boxes[duplicate] = [1.1, 1.1, 1.0, 1.0]
    # Face 2: stride 8, grid point (1, 1), centre (8, 8), box (2, 2)-(14, 14) in the input.
    scores, boxes, points = outputs[8]
    small = _anchor(8, 1, 1, 0)
    scores[small] = 0.6
    boxes[small] = 0.75
    points[small] = [-0.2, -0.2, 0.2, -0.2, 0.0, 0.0, -0.15, 0.25, 0.15, 0.25]
    return outputs


def build_detector(path: Path, *, symbolic_input: bool = False, batched: bool = False) -> None:
    input_shape: list[int | str] = [1, 3, "H", "W"] if symbolic_input else [1, 3, INPUT, INPUT]
    nodes = [
        helper.make_node("Slice", ["image", "c0", "c1", "axis1"], ["red"]),
        helper.make_node("Slice", ["image", "c2", "c3", "axis1"], ["blue"]),
        helper.make_node("Sub", ["red", "blue"], ["red_minus_blue"]),
        helper.make_node("ReduceMean", ["red_minus_blue"], ["mean"], keepdims=1),
        helper.make_node("Reshape", ["mean", "shape11"], ["r"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0], np.int64), "c0"),
        numpy_helper.from_array(np.array([1], np.int64), "c1"),
        numpy_helper.from_array(np.array([2], np.int64), "c2"),
        numpy_helper.from_array(np.array([3], np.int64), "c3"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([1, 1], np.int64), "shape11"),
    ]
    names: dict[str, list[str]] = {"score": [], "bbox": [], "kps": []}
    outputs = []
    for stride, (scores, boxes, points) in _detector_outputs().items():
        for kind, value in (("score", scores), ("bbox", boxes), ("kps", points)):
            const, out = f"{kind}{stride}_const", f"{kind}_{stride}"
            inits.append(numpy_helper.from_array(value, const))
            produced = f"{out}_2d" if batched else out
            if kind == "score":
                nodes.append(helper.make_node("Mul", ["r", const], [produced]))
            else:
                nodes.append(helper.make_node("Identity", [const], [produced]))
            shape: list[int] = list(value.shape)
            if batched:
                inits.append(numpy_helper.from_array(np.array([1, *shape], np.int64), out + "_s"))
                nodes.append(helper.make_node("Reshape", [produced, out + "_s"], [out]))
                shape = [1, *shape]
            names[kind].append(out)
            outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, shape))
    order = names["score"] + names["bbox"] + names["kps"]
    outputs.sort(key=lambda info: order.index(info.name))
    graph = helper.make_graph(
        nodes,
        "tiny_scrfd",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, input_shape)],
        outputs,
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def build_recognizer(path: Path) -> None:
    nodes = [
        helper.make_node("ReduceMean", ["data"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["means", "weights"], ["fc1"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_arcface",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", 4])],
        initializer=[numpy_helper.from_array(RECOGNIZER_WEIGHTS, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    build_detector(tmp_path / "detector.onnx")
    build_recognizer(tmp_path / "recognizer.onnx")
    return tmp_path


def uniform_photo(colour: tuple[int, int, int]) -> np.ndarray:
    return np.tile(np.array(colour, dtype=np.uint8), (PHOTO_H, PHOTO_W, 1))


def expected_embedding(colour: tuple[int, int, int]) -> np.ndarray:
    normalised = (np.array(colour, dtype=np.float32) - 127.5) / 127.5
    raw = normalised @ RECOGNIZER_WEIGHTS
    return raw / np.linalg.norm(raw)


def test_onnx_backend_decodes_boxes_landmarks_and_embeddings(model_dir: Path) -> None:
    analyzer = load_analyzer("onnx", cache_dir=model_dir, model_dir=model_dir)
    assert isinstance(analyzer, FaceAnalyzer)
    faces = analyzer.analyze(uniform_photo(RED))
    assert len(faces) == 2  # the duplicate was suppressed
    big, small = faces
    # Input coordinates / 0.25 = photo coordinates.
    assert np.allclose(big.box, (64, 64, 192, 192), atol=1e-3)
    assert np.allclose(small.box, (8, 8, 56, 56), atol=1e-3)
    eyes_and_nose = np.array([[112.0, 112.0], [144.0, 112.0], [128.0, 131.2]])
    assert np.allclose(big.landmarks[:3], eyes_and_nose, atol=1e-3)
    # The photo fills 48 of the 64 input rows; the black padding has red minus blue = 0.
    red_minus_blue = (RED[0] - RED[2]) / 128.0 * 48 / 64
    assert big.detector_score == pytest.approx(0.6 * red_minus_blue, rel=1e-3)
    assert big.confidence == pytest.approx(big.detector_score)
    assert big.embedding.shape == (4,)
    assert np.allclose(big.embedding, expected_embedding(RED), atol=1e-4)
    assert analyzer.embedding_dim == 4


def test_onnx_backend_feeds_rgb_so_a_blue_photo_has_no_faces(model_dir: Path) -> None:
    analyzer = OnnxFaceAnalyzer(model_dir)
    assert analyzer.analyze(uniform_photo(BLUE)) == []


@pytest.mark.parametrize("batched", [False, True])
def test_symbolic_input_size_comes_from_the_manifest(tmp_path: Path, batched: bool) -> None:
    build_detector(tmp_path / "det.onnx", symbolic_input=True, batched=batched)
    build_recognizer(tmp_path / "rec.onnx")
    manifest = {
        "detector": "det.onnx",
        "recognizer": "rec.onnx",
        "detector_input_size": [INPUT, INPUT],
        "distance_threshold": 0.9,
    }
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    analyzer = OnnxFaceAnalyzer(tmp_path)
    faces = analyzer.analyze(uniform_photo(RED))
    assert [tuple(np.round(f.box)) for f in faces] == [(64, 64, 192, 192), (8, 8, 56, 56)]
    assert analyzer.distance_threshold == 0.9
    assert "64x64" in analyzer.model_id


def test_embed_chips_normalises_and_checks_the_chip_size(model_dir: Path) -> None:
    analyzer = OnnxFaceAnalyzer(model_dir)
    chips = np.stack([uniform_photo(RED)[:112, :112], uniform_photo(BLUE)[:112, :112]])
    embeddings = analyzer.embed_chips(chips)
    assert np.allclose(embeddings[0], expected_embedding(RED), atol=1e-5)
    assert np.allclose(embeddings[1], expected_embedding(BLUE), atol=1e-5)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0)
    with pytest.raises(ValueError, match="112"):
        analyzer.embed_chips(np.zeros((1, 150, 150, 3), dtype=np.uint8))


def test_model_id_changes_when_a_model_file_changes(model_dir: Path) -> None:
    before = OnnxFaceAnalyzer(model_dir).model_id
    build_detector(model_dir / "detector.onnx", batched=True)
    assert OnnxFaceAnalyzer(model_dir).model_id != before


def test_missing_model_files_and_bad_manifests_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        OnnxFaceAnalyzer(tmp_path / "absent")
    with pytest.raises(ModelNotFoundError, match=r"detector\.onnx"):
        OnnxFaceAnalyzer(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({"detectr": "x.onnx"}))
    with pytest.raises(ModelFormatError, match="detectr"):
        OnnxFaceAnalyzer(tmp_path)
    with pytest.raises(ValueError, match="model_dir"):
        load_analyzer("onnx", cache_dir=tmp_path)


def test_a_detector_with_the_wrong_outputs_is_refused_at_load(model_dir: Path) -> None:
    build_recognizer(model_dir / "detector.onnx")  # one output instead of nine
    analyzer = OnnxFaceAnalyzer(model_dir)
    with pytest.raises(ModelFormatError, match="9 or 15 outputs"):
        analyzer.load()
