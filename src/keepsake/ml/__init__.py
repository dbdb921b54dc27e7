"""The face engine: detection, landmarks and embeddings behind one small interface.

It imports nothing from the rest of Keepsake (no database, no HTTP) so it can run in any
worker process. Start with `load_analyzer`; models load lazily and nothing is downloaded.
No code here infers age, gender, emotion, ethnicity or any other category of a person.
"""

from keepsake.ml.base import (
    Box,
    DetectedFace,
    FaceAnalyzer,
    InferenceModel,
    InvalidImageError,
    ModelError,
    ModelFormatError,
    ModelNotFoundError,
    ModelTask,
    RgbImage,
)
from keepsake.ml.fake import FunctionFaceAnalyzer
from keepsake.ml.loader import load_analyzer
from keepsake.ml.quality import QualityThresholds, face_quality, is_good_seed

__all__ = [
    "Box",
    "DetectedFace",
    "FaceAnalyzer",
    "FunctionFaceAnalyzer",
    "InferenceModel",
    "InvalidImageError",
    "ModelError",
    "ModelFormatError",
    "ModelNotFoundError",
    "ModelTask",
    "QualityThresholds",
    "RgbImage",
    "face_quality",
    "is_good_seed",
    "load_analyzer",
]
