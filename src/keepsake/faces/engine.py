"""The face analyzer of this process: one per process, built on first use from the settings
and kept, so a worker that never meets a user with face recognition on never loads a model."""

from __future__ import annotations

import threading
from collections.abc import Callable

from keepsake.config import Settings
from keepsake.ml import FaceAnalyzer, load_analyzer


def analyzer_factory(settings: Settings) -> Callable[[], FaceAnalyzer]:
    """How to build the configured analyzer; the converted ONNX model is cached in
    `data_dir/models` (nothing is downloaded: the weights come from installed packages or
    `face_model_dir`)."""

    def build() -> FaceAnalyzer:
        return load_analyzer(
            settings.face_backend,
            cache_dir=settings.data_dir / "models",
            detector=settings.face_detector,
            model_dir=settings.face_model_dir,
        )

    return build


class AnalyzerProvider:
    """Lazily builds one analyzer and hands the same one to every caller (thread-safe)."""

    def __init__(self, factory: Callable[[], FaceAnalyzer]) -> None:
        self._factory = factory
        self._analyzer: FaceAnalyzer | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, analyzer: FaceAnalyzer) -> AnalyzerProvider:
        """A provider of an analyzer built elsewhere (tests, benchmarks)."""
        provider = cls(lambda: analyzer)
        provider._analyzer = analyzer
        return provider

    def get(self) -> FaceAnalyzer:
        if self._analyzer is None:
            with self._lock:
                if self._analyzer is None:
                    self._analyzer = self._factory()
        return self._analyzer

    @property
    def model_id(self) -> str:
        return self.get().model_id
