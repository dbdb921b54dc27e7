"""The vocabulary every face backend shares: a detected face, its box, the errors, and the two
small interfaces a backend implements (one model class per model, one analyzer per pipeline)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import ClassVar, Generic, NamedTuple, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

RgbImage = npt.NDArray[np.uint8]
"""An RGB image, shape (H, W, 3), dtype uint8, channels in R, G, B order."""

FloatArray = npt.NDArray[np.float32]


class ModelError(Exception):
    """Base class for every error raised by `keepsake.ml`."""


class ModelNotFoundError(ModelError, FileNotFoundError):
    """A model file the configuration asks for is not on this machine (nothing is downloaded)."""


class ModelFormatError(ModelError, ValueError):
    """A model file exists but does not have the structure this code expects."""


class InvalidImageError(ModelError, ValueError):
    """The image handed to an analyzer is not an RGB uint8 array of shape (H, W, 3)."""


class Box(NamedTuple):
    """An axis-aligned box in pixel coordinates: (x1, y1) is the top-left corner, (x2, y2) the
    bottom-right edge (exclusive), so `x2 - x1` is the width in pixels."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def size(self) -> float:
        """The geometric mean of width and height, in pixels: one number for "how big"."""
        return float(np.sqrt(max(self.width, 0.0) * max(self.height, 0.0)))

    def scaled(self, factor: float) -> Box:
        return Box(self.x1 * factor, self.y1 * factor, self.x2 * factor, self.y2 * factor)

    def to_original(self, scale: float) -> Box:
        """Map a box found on a resized copy back to the original image.

        `scale` is the factor the original was resized by (`analysed_size / original_size`,
        e.g. 0.36 for a 4000 px photo analysed as a 1440 px preview)."""
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        return self.scaled(1.0 / scale)

    def clipped(self, width: int, height: int) -> Box:
        """The part of the box inside an image of the given size."""
        return Box(
            min(max(self.x1, 0.0), float(width)),
            min(max(self.y1, 0.0), float(height)),
            min(max(self.x2, 0.0), float(width)),
            min(max(self.y2, 0.0), float(height)),
        )


@dataclass(frozen=True, slots=True, eq=False)
class DetectedFace:
    """One face found in an image, in that image's pixel coordinates.

    `landmarks` are five (x, y) points whose meaning depends on the backend: dlib's 5-point
    model gives the two corners of each eye and the base of the nose; SCRFD-style detectors give
    the eye centres, the nose tip and the mouth corners. Only alignment uses them.

    `confidence` is the detector's certainty mapped to [0, 1] so that backends compare;
    `detector_score` is the raw number the detector produced (an SVM margin for dlib's HOG).
    `quality` in [0, 1] combines size, sharpness and confidence (see `keepsake.ml.quality`).
    `embedding` is compared by Euclidean distance against the analyzer's `distance_threshold`.
    A face cut by the photo's edge can have a box reaching past it; `Box.clipped` trims it.
    """

    box: Box
    landmarks: FloatArray
    confidence: float
    detector_score: float
    quality: float
    sharpness: float
    embedding: FloatArray

    def to_original(self, scale: float) -> DetectedFace:
        """The same face with box and landmarks mapped back to the original image, when the
        analysed image was the original resized by `scale` (see `Box.to_original`)."""
        box = self.box.to_original(scale)
        landmarks = (self.landmarks / np.float32(scale)).astype(np.float32)
        return replace(self, box=box, landmarks=landmarks)


class ModelTask(StrEnum):
    DETECTION = "detection"
    LANDMARKS = "landmarks"
    RECOGNITION = "recognition"


InT = TypeVar("InT")
OutT = TypeVar("OutT")


class InferenceModel(ABC, Generic[InT, OutT]):
    """One model: declares its task and identity, loads on first use, predicts through `_predict`.

    Loading is lazy so that building an analyzer is cheap (a worker that never sees a photo
    with consent never pays for loading weights) and thread-safe so that two jobs starting at
    once load the weights once."""

    task: ClassVar[ModelTask]

    def __init__(self) -> None:
        self._loaded = False
        self._load_lock = threading.Lock()

    @property
    @abstractmethod
    def model_id(self) -> str:
        """A short string that changes whenever the model (weights or behaviour) changes."""

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> None:
        if self._loaded:
            return
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def predict(self, inputs: InT) -> OutT:
        self.load()
        return self._predict(inputs)

    @abstractmethod
    def _load(self) -> None: ...

    @abstractmethod
    def _predict(self, inputs: InT) -> OutT: ...


@runtime_checkable
class FaceAnalyzer(Protocol):
    """A complete face pipeline: detect, align, embed. What the face job calls."""

    @property
    def model_id(self) -> str:
        """Identifies the whole model set; stored with every face so a change is detectable."""
        ...

    @property
    def embedding_dim(self) -> int: ...

    @property
    def distance_threshold(self) -> float:
        """Euclidean distance (embedding units) below which two faces are the same person."""
        ...

    def load(self) -> None:
        """Load every model now instead of on the first call (e.g. at worker start)."""
        ...

    def analyze(self, image: RgbImage) -> list[DetectedFace]:
        """Every face in `image` (RGB uint8, shape (H, W, 3)), largest first."""
        ...

    def embed_chips(self, chips: RgbImage | Sequence[RgbImage]) -> FloatArray:
        """Embeddings, shape (N, embedding_dim), for aligned face chips this backend produced."""
        ...


def check_rgb_image(image: object) -> RgbImage:
    """Return `image` as a C-contiguous RGB uint8 array or raise `InvalidImageError`."""
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImageError(
            f"expected an RGB uint8 array of shape (H, W, 3), got {image.dtype} {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidImageError(f"empty image of shape {image.shape}")
    # dlib and ONNX Runtime read the buffer directly; a view (crop, flip) must be copied first.
    return np.ascontiguousarray(image)


def stack_chips(chips: RgbImage | Sequence[RgbImage], size: int) -> RgbImage:
    """Stack chips into one (N, size, size, 3) uint8 array, checking every shape."""
    if isinstance(chips, np.ndarray) and chips.ndim == 3:
        chips = chips[np.newaxis]
    array = np.ascontiguousarray(np.asarray(chips))
    if array.size == 0:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[1:] != (size, size, 3):
        raise InvalidImageError(
            f"expected uint8 chips of shape (N, {size}, {size}, 3), got {array.dtype} {array.shape}"
        )
    return array
