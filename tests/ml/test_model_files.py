"""Model file lookup: the dlib weights are found by path, without running the package's
`__init__` (which needs the removed `pkg_resources`), and the 68-point model is refused."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from keepsake.ml.base import ModelNotFoundError
from keepsake.ml.model_files import (
    MODELS_PACKAGE,
    DlibModel,
    ForbiddenModelError,
    dlib_model_path,
    file_sha256,
    packaged_models_dir,
)


def test_models_are_found_when_pkg_resources_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry makes `import pkg_resources` raise ImportError, as on setuptools >= 81;
    # the package's __init__ would fail on it, so lookup must not run it.
    monkeypatch.setitem(sys.modules, "pkg_resources", None)
    monkeypatch.delitem(sys.modules, MODELS_PACKAGE, raising=False)
    with pytest.raises(ImportError):
        importlib.import_module(MODELS_PACKAGE)
    monkeypatch.delitem(sys.modules, MODELS_PACKAGE, raising=False)

    for model in DlibModel:
        path = dlib_model_path(model)
        assert path.is_file()
        assert path.stat().st_size > 100_000
    assert MODELS_PACKAGE not in sys.modules


def test_68_point_landmark_model_is_refused() -> None:
    with pytest.raises(ForbiddenModelError, match="commercial"):
        dlib_model_path("shape_predictor_68_face_landmarks.dat")


def test_unknown_model_name_is_refused() -> None:
    with pytest.raises(ModelNotFoundError):
        dlib_model_path("some_other_model.dat")


def test_model_dir_overrides_the_package(tmp_path: Path) -> None:
    (tmp_path / DlibModel.LANDMARKS_5.value).write_bytes(b"weights")
    assert dlib_model_path(DlibModel.LANDMARKS_5, tmp_path) == tmp_path / DlibModel.LANDMARKS_5
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        dlib_model_path(DlibModel.RESNET, tmp_path)


def test_missing_package_gives_an_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="pip install face_recognition_models"):
        packaged_models_dir()


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"abc" * 1_000_000)
    import hashlib

    assert file_sha256(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()
