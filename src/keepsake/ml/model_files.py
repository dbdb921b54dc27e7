"""Where dlib's model files live on this machine, and which of them Keepsake may use.

The weights come from the `face_recognition_models` package on PyPI. Its `__init__` imports
`pkg_resources`, which setuptools 81 removed, so the package is located with
`importlib.util.find_spec` (which does not run `__init__` for a top-level package) and its files
are read by path. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
from enum import StrEnum
from pathlib import Path

from keepsake.ml.base import ModelError, ModelNotFoundError

MODELS_PACKAGE = "face_recognition_models"
"""The PyPI distribution that ships dlib's model files (public domain / CC0, by Davis King)."""


class DlibModel(StrEnum):
    """The dlib model files Keepsake uses; docs/models.md has source and licence of each."""

    LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
    RESNET = "dlib_face_recognition_resnet_model_v1.dat"
    MMOD_DETECTOR = "mmod_human_face_detector.dat"


FORBIDDEN_MODEL_FILES = frozenset({"shape_predictor_68_face_landmarks.dat"})
"""Trained on iBUG 300-W, whose licence excludes commercial use: never load it."""


class ForbiddenModelError(ModelError):
    """Raised when code asks for a model file whose licence Keepsake cannot accept."""


def packaged_models_dir() -> Path:
    """The `models/` folder of the installed `face_recognition_models` package.

    Raises `ModelNotFoundError` when the package is not installed."""
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "models"
        if candidate.is_dir():
            return candidate
    raise ModelNotFoundError(
        f"the {MODELS_PACKAGE!r} package is not installed (pip install {MODELS_PACKAGE}), "
        "or pass a model directory that holds the dlib .dat files"
    )


def dlib_model_path(model: DlibModel | str, model_dir: Path | None = None) -> Path:
    """The path of one dlib model file, from `model_dir` when given, else from the package."""
    name = str(model)
    if name in FORBIDDEN_MODEL_FILES:
        raise ForbiddenModelError(
            f"{name} is trained on a data set whose licence forbids commercial use; "
            "Keepsake uses the 5-point landmark model instead"
        )
    allowed = {m.value for m in DlibModel}
    if name not in allowed:
        raise ModelNotFoundError(f"{name!r} is not a dlib model Keepsake knows: {sorted(allowed)}")
    directory = model_dir if model_dir is not None else packaged_models_dir()
    path = directory / name
    if not path.is_file():
        raise ModelNotFoundError(f"model file {path} does not exist")
    return path


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks so a large model never sits in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
