"""An in-memory face analyzer for small tests of code that consumes faces (the face job,
clustering): it answers from a plain function, loads no model and needs no photo."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from keepsake.ml.base import DetectedFace, FloatArray, RgbImage, check_rgb_image


class FunctionFaceAnalyzer:
    """A `FaceAnalyzer` whose `analyze` calls `handler(image)`; `embed_chips` returns each chip's
    mean colour repeated over `embedding_dim`, so equal chips get equal embeddings."""

    def __init__(
        self,
        handler: Callable[[RgbImage], list[DetectedFace]],
        model_id: str = "fake",
        embedding_dim: int = 128,
        distance_threshold: float = 0.6,
    ) -> None:
        self._handler = handler
        self.model_id = model_id
        self.embedding_dim = embedding_dim
        self.distance_threshold = distance_threshold
        self.calls = 0

    def load(self) -> None:
        return None

    def analyze(self, image: RgbImage) -> list[DetectedFace]:
        self.calls += 1
        return self._handler(check_rgb_image(image))

    def embed_chips(self, chips: RgbImage | Sequence[RgbImage]) -> FloatArray:
        array = np.asarray(chips, dtype=np.float32)
        if array.ndim == 3:
            array = array[np.newaxis]
        means = array.reshape(len(array), -1).mean(axis=1) / 255.0
        return np.repeat(means[:, None], self.embedding_dim, axis=1).astype(np.float32)
