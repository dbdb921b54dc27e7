"""A face pipeline on ONNX Runtime from models the operator supplies in a local directory, in
the shape of insightface's SCRFD detector and ArcFace recogniser. Nothing is downloaded.

Directory contract (file names can be changed in the optional manifest):

    <model_dir>/detector.onnx          SCRFD-style detector
    <model_dir>/recognizer.onnx        ArcFace-style recogniser
    <model_dir>/keepsake-models.json   optional manifest, see `OnnxModelManifest`

Detector: one input, float32 (1, 3, H, W), RGB, (pixel - detector_mean) / detector_std. The
photo is resized to fit H x W keeping its aspect ratio and placed at the top-left corner of a
black canvas. When the model's H and W are symbolic, `detector_input_size` is used. Outputs:
3 x F arrays for F feature strides (F = 3: strides 8, 16, 32; F = 5: also 64, 128), in the
order: the F score arrays, then the F box arrays, then the F landmark arrays. For stride s the
arrays hold one row per anchor, (A, 1) scores (probabilities), (A, 4) box distances and
(A, 10) landmark offsets, optionally with a leading batch axis of 1; A = (H/s) * (W/s) * k
with k anchors per grid point, anchors ordered row by row with the k anchors of a point
together. An anchor at grid point (x, y) is centred at (x * s, y * s); box distances
(left, top, right, bottom) and landmark offsets (dx, dy) are in units of s.

Recogniser: one input, float32 (N, 3, S, S), RGB, (pixel - recognizer_mean) /
recognizer_std, on chips aligned by a similarity transform of the five landmarks (left eye,
right eye, nose, left and right mouth corner) onto insightface's ArcFace template scaled to S;
one output (N, D). Embeddings are L2-normalised, so Euclidean distance d and cosine
similarity c relate by d^2 = 2 - 2c.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from keepsake.ml.align import align_face
from keepsake.ml.base import (
    Box,
    DetectedFace,
    FloatArray,
    InferenceModel,
    ModelFormatError,
    ModelNotFoundError,
    ModelTask,
    RgbImage,
    check_rgb_image,
    stack_chips,
)
from keepsake.ml.model_files import file_sha256
from keepsake.ml.ort_session import DEFAULT_THREADS, open_session
from keepsake.ml.quality import chip_sharpness, face_quality

MANIFEST_NAME = "keepsake-models.json"

PIPELINE_VERSION = 1
"""Bump when pre- or post-processing changes results, so `model_id` changes with it."""

DEFAULT_DETECTOR_INPUT = (640, 640)
"""(width, height) fed to a detector whose input size is symbolic: SCRFD's published size."""

SCRFD_SCORE_THRESHOLD = 0.5
"""Minimum detector probability: insightface's default for SCRFD."""

SCRFD_NMS_IOU = 0.4
"""Intersection over union above which the weaker of two overlapping boxes is dropped:
insightface's default for SCRFD."""

ARCFACE_MATCH_DISTANCE = 1.14
"""Euclidean distance between unit embeddings below which two faces match: cosine similarity
0.35, a common operating point for ArcFace models. Not calibrated by Keepsake for any particular
model: operators set `distance_threshold` in the manifest from their model's documentation."""

_FEATURE_STRIDES = {3: (8, 16, 32), 5: (8, 16, 32, 64, 128)}


@dataclass(frozen=True, slots=True)
class OnnxModelManifest:
    """The optional `keepsake-models.json`; every field has a default."""

    detector: str = "detector.onnx"
    recognizer: str = "recognizer.onnx"
    detector_input_size: tuple[int, int] = DEFAULT_DETECTOR_INPUT
    detector_mean: float = 127.5
    detector_std: float = 128.0
    detector_score_threshold: float = SCRFD_SCORE_THRESHOLD
    detector_nms_threshold: float = SCRFD_NMS_IOU
    recognizer_mean: float = 127.5
    recognizer_std: float = 127.5
    distance_threshold: float = ARCFACE_MATCH_DISTANCE

    @classmethod
    def load(cls, model_dir: Path) -> OnnxModelManifest:
        path = model_dir / MANIFEST_NAME
        if not path.is_file():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelFormatError(f"cannot read {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ModelFormatError(f"{path} must hold a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ModelFormatError(f"{path}: unknown keys {sorted(unknown)}")
        if "detector_input_size" in raw:
            width, height = raw["detector_input_size"]
            raw["detector_input_size"] = (int(width), int(height))
        return cls(**raw)


@dataclass(frozen=True, slots=True)
class _Candidate:
    box: Box
    score: float
    landmarks: FloatArray


def _nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices of the boxes kept, best first."""
    order = list(np.argsort(-scores, kind="stable"))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        if not order:
            break
        rest = np.array(order)
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / (areas[best] + areas[rest] - inter + 1e-9)
        order = [int(i) for i, overlap in zip(rest, iou, strict=True) if overlap <= iou_threshold]
    return keep


class ScrfdDetector(InferenceModel[RgbImage, list[_Candidate]]):
    """An SCRFD-style face detector with five landmarks (see the module docstring)."""

    task = ModelTask.DETECTION

    def __init__(self, path: Path, manifest: OnnxModelManifest, threads: int) -> None:
        super().__init__()
        self.path = path
        self.manifest = manifest
        self.threads = threads
        self._session: Any = None
        self._input_name = ""
        self._input_size = manifest.detector_input_size
        self._sha256: str | None = None

    @property
    def model_id(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path)
        m = self.manifest
        return (
            f"det@{self._sha256[:12]}({m.detector_input_size[0]}x{m.detector_input_size[1]},"
            f"t{m.detector_score_threshold:g},nms{m.detector_nms_threshold:g})"
        )

    def _load(self) -> None:
        session = open_session(self.path, self.threads)
        inputs = session.get_inputs()
        outputs = session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelFormatError(f"{self.path}: expected one (1, 3, H, W) input")
        if len(outputs) not in (9, 15):
            raise ModelFormatError(
                f"{self.path}: expected 9 or 15 outputs (scores, boxes and landmarks per "
                f"stride), found {len(outputs)}"
            )
        height, width = inputs[0].shape[2], inputs[0].shape[3]
        if isinstance(height, int) and isinstance(width, int):
            self._input_size = (width, height)
        self._input_name = inputs[0].name
        self._session = session

    def _blob(self, image: RgbImage) -> tuple[np.ndarray, float]:
        width, height = self._input_size
        img_h, img_w = image.shape[:2]
        scale = min(width / img_w, height / img_h)
        new_w, new_h = max(1, int(img_w * scale)), max(1, int(img_h * scale))
        resized = np.asarray(
            Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR)
        )
        canvas = np.zeros((height, width, 3), dtype=np.float32)
        canvas[:new_h, :new_w] = resized
        canvas = (canvas - self.manifest.detector_mean) / self.manifest.detector_std
        return canvas.transpose(2, 0, 1)[np.newaxis].astype(np.float32), new_h / img_h

    def _predict(self, inputs: RgbImage) -> list[_Candidate]:
        blob, scale = self._blob(inputs)
        outputs = self._session.run(None, {self._input_name: blob})
        strides = _FEATURE_STRIDES[len(outputs) // 3]
        levels = len(strides)
        width, height = self._input_size
        all_boxes, all_scores, all_points = [], [], []
        for level, stride in enumerate(strides):
            scores, distances, offsets = (
                np.asarray(outputs[level + k * levels], dtype=np.float32) for k in range(3)
            )
            if scores.ndim == 3:  # exported with a batch axis
                scores, distances, offsets = scores[0], distances[0], offsets[0]
            grid_h, grid_w = height // stride, width // stride
            anchors = scores.shape[0] // (grid_h * grid_w)
            if anchors < 1 or anchors * grid_h * grid_w != scores.shape[0]:
                raise ModelFormatError(
                    f"{self.path}: stride {stride} has {scores.shape[0]} anchors for a "
                    f"{grid_w}x{grid_h} grid"
                )
            ys, xs = np.mgrid[:grid_h, :grid_w]
            centres = (np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride).astype(np.float32)
            centres = np.repeat(centres, anchors, axis=0)
            selected = np.flatnonzero(scores.reshape(-1) >= self.manifest.detector_score_threshold)
            if selected.size == 0:
                continue
            c = centres[selected]
            d = distances[selected] * stride
            boxes = np.stack(
                [c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]],
                axis=1,
            )
            points = offsets[selected].reshape(-1, 5, 2) * stride + c[:, None, :]
            all_boxes.append(boxes / scale)
            all_points.append(points / scale)
            all_scores.append(scores.reshape(-1)[selected])
        if not all_boxes:
            return []
        boxes_arr = np.concatenate(all_boxes).astype(np.float32)
        scores_arr = np.concatenate(all_scores).astype(np.float32)
        points_arr = np.concatenate(all_points).astype(np.float32)
        keep = _nms(boxes_arr, scores_arr, self.manifest.detector_nms_threshold)
        return [
            _Candidate(
                box=Box(*(float(v) for v in boxes_arr[i])),
                score=float(scores_arr[i]),
                landmarks=points_arr[i],
            )
            for i in keep
        ]


class ArcFaceRecognizer(InferenceModel[RgbImage, FloatArray]):
    """An ArcFace-style recogniser: aligned (N, S, S, 3) chips in, unit (N, D) embeddings out."""

    task = ModelTask.RECOGNITION

    def __init__(self, path: Path, manifest: OnnxModelManifest, threads: int) -> None:
        super().__init__()
        self.path = path
        self.manifest = manifest
        self.threads = threads
        self._session: Any = None
        self._input_name = ""
        self.chip_size = 112
        self.embedding_dim = 0
        self._sha256: str | None = None

    @property
    def model_id(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path)
        return f"rec@{self._sha256[:12]}"

    def _load(self) -> None:
        session = open_session(self.path, self.threads)
        inputs, outputs = session.get_inputs(), session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else []
        if len(shape) != 4 or not isinstance(shape[2], int) or shape[2] != shape[3]:
            raise ModelFormatError(f"{self.path}: expected one (N, 3, S, S) input, got {shape}")
        if (
            len(outputs) != 1
            or len(outputs[0].shape) != 2
            or not isinstance(outputs[0].shape[1], int)
        ):
            raise ModelFormatError(f"{self.path}: expected one (N, D) output")
        self.chip_size = int(shape[2])
        self.embedding_dim = int(outputs[0].shape[1])
        self._input_name = inputs[0].name
        self._session = session

    def _predict(self, inputs: RgbImage) -> FloatArray:
        chips = stack_chips(inputs, self.chip_size)
        if len(chips) == 0:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        blob = (chips.astype(np.float32) - self.manifest.recognizer_mean) / (
            self.manifest.recognizer_std
        )
        blob = np.ascontiguousarray(blob.transpose(0, 3, 1, 2), dtype=np.float32)
        raw = np.asarray(self._session.run(None, {self._input_name: blob})[0], np.float32)
        norms = np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        unit: FloatArray = (raw / norms).astype(np.float32)
        return unit


class OnnxFaceAnalyzer:
    """Detect (SCRFD-style) -> align to the ArcFace template -> embed (ArcFace-style)."""

    def __init__(self, model_dir: Path, threads: int = DEFAULT_THREADS) -> None:
        if not model_dir.is_dir():
            raise ModelNotFoundError(f"model directory {model_dir} does not exist")
        self.model_dir = model_dir
        self.manifest = OnnxModelManifest.load(model_dir)
        detector_path = model_dir / self.manifest.detector
        recognizer_path = model_dir / self.manifest.recognizer
        for path in (detector_path, recognizer_path):
            if not path.is_file():
                raise ModelNotFoundError(f"model file {path} does not exist")
        self.detector = ScrfdDetector(detector_path, self.manifest, threads)
        self.recognizer = ArcFaceRecognizer(recognizer_path, self.manifest, threads)
        self.distance_threshold = self.manifest.distance_threshold

    @property
    def model_id(self) -> str:
        return f"onnx-v{PIPELINE_VERSION}:{self.detector.model_id}/{self.recognizer.model_id}"

    @property
    def embedding_dim(self) -> int:
        """The recogniser's output size (loads the recogniser to read it)."""
        self.recognizer.load()
        return self.recognizer.embedding_dim

    @property
    def chip_size(self) -> int:
        self.recognizer.load()
        return self.recognizer.chip_size

    def load(self) -> None:
        self.detector.load()
        self.recognizer.load()

    def analyze(self, image: RgbImage) -> list[DetectedFace]:
        image = check_rgb_image(image)
        candidates = self.detector.predict(image)
        if not candidates:
            return []
        size = self.chip_size
        chips = np.stack([align_face(image, c.landmarks, size) for c in candidates])
        embeddings = self.recognizer.predict(chips)
        faces = []
        for candidate, chip, embedding in zip(candidates, chips, embeddings, strict=True):
            sharpness = chip_sharpness(chip)
            confidence = float(np.clip(candidate.score, 0.0, 1.0))
            faces.append(
                DetectedFace(
                    box=candidate.box,
                    landmarks=candidate.landmarks.astype(np.float32),
                    confidence=confidence,
                    detector_score=candidate.score,
                    quality=face_quality(candidate.box.size, sharpness, confidence),
                    sharpness=sharpness,
                    embedding=embedding.copy(),  # not a view pinning the whole batch
                )
            )
        faces.sort(key=lambda face: face.box.size, reverse=True)
        return faces

    def embed_chips(self, chips: RgbImage | Sequence[RgbImage]) -> FloatArray:
        return self.recognizer.predict(stack_chips(chips, self.chip_size))
