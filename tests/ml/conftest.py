"""Fixtures for the face engine tests: the shared real photos and one converted model per run."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keepsake.ml.base import RgbImage
from keepsake.ml.dlib_backend import DlibFaceAnalyzer
from keepsake.ml.dlib_onnx import ConvertedModel, ensure_resnet_onnx
from keepsake.ml.model_files import DlibModel, dlib_model_path

REPO_ROOT = Path(__file__).resolve().parents[2]


def testdata_root() -> Path:
    """`KEEPSAKE_TESTDATA`, else the `shared/testdata` folder beside the checkout."""
    configured = os.environ.get("KEEPSAKE_TESTDATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    path = testdata_root() / "faces"
    if not path.is_dir():
        pytest.skip(
            f"real face photos not found at {path}: set KEEPSAKE_TESTDATA to the folder that "
            "holds faces/ (see shared/testdata/faces/README.md)"
        )
    return path


def load_rgb(path: Path) -> RgbImage:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="session")
def photo(faces_dir: Path) -> Callable[[str], RgbImage]:
    """Load a shared photo as RGB by its path under faces/, e.g. "lfw/X/X_0001.jpg"."""

    @functools.cache
    def load(name: str) -> RgbImage:
        image = load_rgb(faces_dir / name)
        image.setflags(write=False)  # shared between tests: nobody may change it
        return image

    return load


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def resnet_onnx(model_cache: Path) -> ConvertedModel:
    """The ResNet converted once for the whole run (about half a second)."""
    return ensure_resnet_onnx(dlib_model_path(DlibModel.RESNET), model_cache)


@pytest.fixture(scope="session")
def analyzer(model_cache: Path, resnet_onnx: ConvertedModel) -> DlibFaceAnalyzer:
    analyzer = DlibFaceAnalyzer(cache_dir=model_cache)
    analyzer.load()
    return analyzer
