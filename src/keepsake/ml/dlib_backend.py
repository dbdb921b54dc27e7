"""The default face pipeline: dlib's HOG (or CNN) detector and 5-point landmarks from dlib-bin,
dlib's own aligned 150x150 chip, and dlib's ResNet embedding run on ONNX Runtime.

Embeddings equal dlib's `compute_face_descriptor` (within 1e-5): only the runtime changes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import dlib
import numpy as np
import numpy.typing as npt
from PIL import Image

from keepsake.ml.base import (
    Box,
    DetectedFace,
    FloatArray,
    InferenceModel,
    ModelTask,
    RgbImage,
    check_rgb_image,
    stack_chips,
)
from keepsake.ml.dlib_onnx import INPUT_NAME, ensure_resnet_onnx
from keepsake.ml.model_files import DlibModel, dlib_model_path, file_sha256
from keepsake.ml.ort_session import DEFAULT_THREADS, open_session
from keepsake.ml.quality import chip_sharpness, face_quality

PIPELINE_VERSION = 1
"""Bump when pre- or post-processing changes results (not only when weights change), so that
`model_id` tells stored faces from different code apart."""

# --- detection ------------------------------------------------------------------------------
HOG_WINDOW_PX = 80.0
"""Smallest face (box side, px) dlib's HOG detector finds in the image it scans: its sliding
window is 80x80. To find smaller faces the image is up-sampled first."""

MMOD_WINDOW_PX = 80.0
"""Smallest face (px) dlib's CNN (MMOD) face detector finds in the image it scans: the released
model was trained with 80x80 windows (dlib's dnn_mmod_face_detection_ex.cpp); on the 500 px
group photos it finds none of the 37-53 px faces without up-sampling."""

MIN_FACE_PX = 40.0
"""Smallest face (px of the analysed image) worth looking for at all. Below it an aligned chip
is up-sampled more than ~2.5x and the embedding is unreliable (see quality.py); on the shared
group photos every hand-labelled face is at least 37 px."""

MIN_FACE_FRACTION = 0.04
"""Smallest face worth looking for, as a fraction of the image's long side (58 px on a 1440 px
preview). Faces smaller than that are background faces in a large photo; not scanning for them
saves the costly up-sampling (HOG time grows with the square of the scale: on a 1440 px RGB
photo, 0.28 s at 1x and 1.27 s at 2x on one core)."""

MAX_DETECTION_SCALE = 2.0
"""Largest up-sampling for detection, so a tiny image cannot make the detector scan megapixels."""

HOG_SCORE_THRESHOLD = 0.0
"""Minimum HOG score (SVM margin, unitless) for a detection: dlib's default. On dlib's 43
hand-labelled faces in its group photos, at this scale policy, every true face scores above
0.4 and every false positive below -0.25; the non-face photos (dogs, horses, an eagle, a
giraffe, The Scream) give none."""

HOG_SCORE_CONFIDENT = 1.0
"""HOG score mapped to confidence 1.0 (confidence = score / this, clipped to [0, 1]): 35 of
those 43 faces score above it."""

MMOD_SCORE_THRESHOLD = 0.0
"""Minimum CNN detector confidence (dlib's default)."""

MMOD_SCORE_CONFIDENT = 1.0
"""CNN detector confidence mapped to 1.0."""

# --- recognition ------------------------------------------------------------------------------
CHIP_SIZE = 150
"""Side of dlib's aligned face chip (px); the ResNet input size."""

CHIP_PADDING = 0.25
"""Padding around the face in the chip, as a fraction of the face: dlib's default, the value
the ResNet was trained with."""

DLIB_MATCH_DISTANCE = 0.6
"""Euclidean distance below which two dlib embeddings are the same person. dlib trained the
ResNet to put each identity inside a ball of radius 0.6 (the value is stored in the model
file) and reports 99.38% LFW accuracy at this threshold; bench/lfw.py re-measures it."""

EMBED_BATCH_SIZE = 16
"""Chips per ONNX Runtime call. Measured on one core: 10.5 ms per face one at a time, 8.9 ms in
batches of 8, 7.8 ms in batches of 16. Few photos hold more faces, and the cap bounds memory
(16 chips are 4.3 MB of float32 input)."""


class DetectorKind(StrEnum):
    HOG = "hog"
    CNN = "cnn"


@dataclass(frozen=True, slots=True)
class Detection:
    box: Box
    score: float
    confidence: float


def detection_scale(
    width: int,
    height: int,
    window_px: float,
    min_face_px: float = MIN_FACE_PX,
    min_face_fraction: float = MIN_FACE_FRACTION,
) -> float:
    """The factor to resize an image by before scanning, so the detector's window matches the
    smallest face worth finding: small images are up-sampled (to find small faces), very large
    ones down-sampled (nothing is lost, and detection is faster)."""
    smallest_face = max(min_face_px, min_face_fraction * max(width, height))
    return min(window_px / smallest_face, MAX_DETECTION_SCALE)


def _resized(image: npt.NDArray[np.uint8], scale: float) -> npt.NDArray[np.uint8]:
    if math.isclose(scale, 1.0, abs_tol=0.02):
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(image).resize(size, Image.Resampling.BILINEAR)
    return np.asarray(resized)


def _rect_to_box(rect: Any, scale: float) -> Box:
    # dlib rectangles are inclusive on the right and bottom edge.
    return Box(
        rect.left() / scale,
        rect.top() / scale,
        (rect.right() + 1) / scale,
        (rect.bottom() + 1) / scale,
    )


class HogDetector(InferenceModel[RgbImage, list[Detection]]):
    """dlib's frontal face detector (HOG features and a linear SVM)."""

    task = ModelTask.DETECTION

    def __init__(
        self,
        score_threshold: float = HOG_SCORE_THRESHOLD,
        min_face_px: float = MIN_FACE_PX,
        min_face_fraction: float = MIN_FACE_FRACTION,
    ) -> None:
        super().__init__()
        self.score_threshold = score_threshold
        self.min_face_px = min_face_px
        self.min_face_fraction = min_face_fraction
        self._detector: Any = None
        # dlib's object detector loads each image into scanner state it owns: one call at a time.
        self._run_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return (
            f"hog(min{self.min_face_px:g}px,{self.min_face_fraction:g},t{self.score_threshold:g})"
        )

    def _load(self) -> None:
        self._detector = dlib.get_frontal_face_detector()

    def _predict(self, inputs: RgbImage) -> list[Detection]:
        height, width = inputs.shape[:2]
        scale = detection_scale(
            width, height, HOG_WINDOW_PX, self.min_face_px, self.min_face_fraction
        )
        # HOG runs on grey levels: on dlib's hand-labelled group photos it finds the same 43
        # faces as on RGB, with fewer false positives, in 80% of the time.
        grey = np.asarray(Image.fromarray(inputs).convert("L"))
        scanned = _resized(grey, scale)
        scale = scanned.shape[1] / width
        # Up-sampling is done above with an exact factor rather than with run()'s doubling,
        # which only offers 2x: on a 1440 px photo 1.4x costs about half of what 2x does.
        with self._run_lock:
            rects, scores, _ = self._detector.run(scanned, 0, self.score_threshold)
        return [
            Detection(
                box=_rect_to_box(rect, scale),
                score=float(score),
                confidence=float(np.clip(score / HOG_SCORE_CONFIDENT, 0.0, 1.0)),
            )
            for rect, score in zip(rects, scores, strict=True)
        ]


class MmodDetector(InferenceModel[RgbImage, list[Detection]]):
    """dlib's CNN face detector (max-margin object detection). More robust to pose and light than
    HOG, but slow on a CPU: seconds per 1440 px photo."""

    task = ModelTask.DETECTION

    def __init__(
        self,
        model_path: Path,
        score_threshold: float = MMOD_SCORE_THRESHOLD,
        min_face_px: float = MIN_FACE_PX,
        min_face_fraction: float = MIN_FACE_FRACTION,
    ) -> None:
        super().__init__()
        self.model_path = model_path
        self.score_threshold = score_threshold
        self.min_face_px = min_face_px
        self.min_face_fraction = min_face_fraction
        self._detector: Any = None
        self._sha256: str | None = None
        # dlib's DNN keeps per-call state in the network object: one call at a time.
        self._run_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.model_path)
        return (
            f"mmod@{self._sha256[:12]}(min{self.min_face_px:g}px,{self.min_face_fraction:g},"
            f"t{self.score_threshold:g})"
        )

    def _load(self) -> None:
        self._detector = dlib.cnn_face_detection_model_v1(str(self.model_path))

    def _predict(self, inputs: RgbImage) -> list[Detection]:
        height, width = inputs.shape[:2]
        scale = detection_scale(
            width, height, MMOD_WINDOW_PX, self.min_face_px, self.min_face_fraction
        )
        scanned = _resized(inputs, scale)
        scale = scanned.shape[1] / width
        with self._run_lock:
            found = self._detector(scanned, 0)
        return [
            Detection(
                box=_rect_to_box(item.rect, scale),
                score=float(item.confidence),
                confidence=float(np.clip(item.confidence / MMOD_SCORE_CONFIDENT, 0.0, 1.0)),
            )
            for item in found
            if item.confidence >= self.score_threshold
        ]


@dataclass(frozen=True, slots=True)
class LandmarkRequest:
    image: RgbImage
    boxes: Sequence[Box]


class FivePointLandmarker(InferenceModel[LandmarkRequest, list[Any]]):
    """dlib's 5-point shape predictor (eye corners and nose base); returns dlib shapes, which
    `dlib.get_face_chip` turns into aligned chips exactly as dlib's recogniser expects."""

    task = ModelTask.LANDMARKS

    def __init__(self, model_path: Path) -> None:
        super().__init__()
        self.model_path = model_path
        self._predictor: Any = None
        self._sha256: str | None = None

    @property
    def model_id(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.model_path)
        return f"sp5@{self._sha256[:12]}"

    def _load(self) -> None:
        self._predictor = dlib.shape_predictor(str(self.model_path))

    def _predict(self, inputs: LandmarkRequest) -> list[Any]:
        shapes = []
        for box in inputs.boxes:
            rect = dlib.rectangle(
                round(box.x1), round(box.y1), round(box.x2) - 1, round(box.y2) - 1
            )
            shapes.append(self._predictor(inputs.image, rect))
        return shapes


class DlibResnetEmbedder(InferenceModel[RgbImage, FloatArray]):
    """dlib's face ResNet converted to ONNX: aligned 150x150 RGB chips in, 128-d vectors out.

    With `mirror`, each chip's embedding is averaged with that of its horizontal flip (a
    test-time augmentation; bench/lfw.py measures whether it helps)."""

    task = ModelTask.RECOGNITION

    def __init__(
        self,
        model_path: Path,
        cache_dir: Path,
        mirror: bool = False,
        threads: int = DEFAULT_THREADS,
        batch_size: int = EMBED_BATCH_SIZE,
    ) -> None:
        super().__init__()
        self.model_path = model_path
        self.cache_dir = cache_dir
        self.mirror = mirror
        self.threads = threads
        self.batch_size = batch_size
        self._session: Any = None
        self._sha256: str | None = None

    @property
    def model_id(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.model_path)
        return f"resnet_v1@{self._sha256[:12]}" + ("+mirror" if self.mirror else "")

    def _load(self) -> None:
        converted = ensure_resnet_onnx(self.model_path, self.cache_dir)
        try:
            session = open_session(converted.path, self.threads)
        except Exception:  # ONNX Runtime's errors derive from Exception only
            if converted.converted:
                raise
            # A cached file that no longer loads (truncated by a full disk, edited by hand) is
            # rebuilt once rather than failing every face job until someone deletes it.
            converted.path.unlink(missing_ok=True)
            converted = ensure_resnet_onnx(self.model_path, self.cache_dir)
            session = open_session(converted.path, self.threads)
        self._sha256 = converted.source_sha256
        self._session = session

    def _run(self, pixels: np.ndarray) -> FloatArray:
        out = self._session.run(None, {INPUT_NAME: pixels})[0]
        return np.asarray(out, dtype=np.float32)

    def _predict(self, inputs: RgbImage) -> FloatArray:
        chips = stack_chips(inputs, CHIP_SIZE)
        parts = []
        for start in range(0, len(chips), self.batch_size):
            # (N, H, W, 3) uint8 -> planar (N, 3, H, W) float32; the graph normalises.
            pixels = chips[start : start + self.batch_size].transpose(0, 3, 1, 2)
            pixels = np.ascontiguousarray(pixels, dtype=np.float32)
            embedding = self._run(pixels)
            if self.mirror:
                flipped = np.ascontiguousarray(pixels[:, :, :, ::-1])
                embedding = (embedding + self._run(flipped)) / np.float32(2.0)
            parts.append(embedding)
        if not parts:
            return np.zeros((0, 128), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)


class DlibFaceAnalyzer:
    """Detect (HOG or CNN) -> 5 landmarks -> dlib's aligned chip -> ResNet embedding on ONNX."""

    embedding_dim = 128
    distance_threshold = DLIB_MATCH_DISTANCE
    chip_size = CHIP_SIZE

    def __init__(
        self,
        cache_dir: Path,
        detector: DetectorKind | str = DetectorKind.HOG,
        model_dir: Path | None = None,
        mirror: bool = False,
        threads: int = DEFAULT_THREADS,
        min_face_px: float = MIN_FACE_PX,
        min_face_fraction: float = MIN_FACE_FRACTION,
    ) -> None:
        kind = DetectorKind(detector)
        self.detector: InferenceModel[RgbImage, list[Detection]]
        if kind is DetectorKind.HOG:
            self.detector = HogDetector(
                min_face_px=min_face_px, min_face_fraction=min_face_fraction
            )
        else:
            self.detector = MmodDetector(
                dlib_model_path(DlibModel.MMOD_DETECTOR, model_dir),
                min_face_px=min_face_px,
                min_face_fraction=min_face_fraction,
            )
        self.landmarker = FivePointLandmarker(dlib_model_path(DlibModel.LANDMARKS_5, model_dir))
        self.embedder = DlibResnetEmbedder(
            dlib_model_path(DlibModel.RESNET, model_dir), cache_dir, mirror=mirror, threads=threads
        )
        self._model_id: str | None = None

    @property
    def model_id(self) -> str:
        if self._model_id is None:
            parts = (self.detector.model_id, self.landmarker.model_id, self.embedder.model_id)
            self._model_id = f"dlib-v{PIPELINE_VERSION}:" + "/".join(parts)
        return self._model_id

    def load(self) -> None:
        self.detector.load()
        self.landmarker.load()
        self.embedder.load()

    def analyze(self, image: RgbImage) -> list[DetectedFace]:
        image = check_rgb_image(image)
        detections = self.detector.predict(image)
        if not detections:
            return []
        shapes = self.landmarker.predict(LandmarkRequest(image, [d.box for d in detections]))
        chips = [dlib.get_face_chip(image, shape, CHIP_SIZE, CHIP_PADDING) for shape in shapes]
        embeddings = self.embedder.predict(np.stack(chips))
        faces = []
        for detection, shape, chip, embedding in zip(
            detections, shapes, chips, embeddings, strict=True
        ):
            points = np.array(
                [(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)],
                dtype=np.float32,
            )
            sharpness = chip_sharpness(chip)
            faces.append(
                DetectedFace(
                    box=detection.box,
                    landmarks=points,
                    confidence=detection.confidence,
                    detector_score=detection.score,
                    quality=face_quality(detection.box.size, sharpness, detection.confidence),
                    sharpness=sharpness,
                    embedding=embedding.copy(),  # not a view pinning the whole batch
                )
            )
        faces.sort(key=lambda face: face.box.size, reverse=True)
        return faces

    def face_chips(self, image: RgbImage, boxes: Sequence[Box]) -> RgbImage:
        """dlib's aligned chips (N, 150, 150, 3) for given boxes, e.g. a box the user drew."""
        image = check_rgb_image(image)
        if not boxes:
            return np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
        shapes = self.landmarker.predict(LandmarkRequest(image, list(boxes)))
        return np.stack([dlib.get_face_chip(image, s, CHIP_SIZE, CHIP_PADDING) for s in shapes])

    def embed_chips(self, chips: RgbImage | Sequence[RgbImage]) -> FloatArray:
        return self.embedder.predict(stack_chips(chips, CHIP_SIZE))
