"""docs/models.md cannot drift from the model files and identifiers the code uses."""

from __future__ import annotations

from pathlib import Path

from keepsake.ml.dlib_backend import DlibFaceAnalyzer
from keepsake.ml.model_files import FORBIDDEN_MODEL_FILES, DlibModel, dlib_model_path, file_sha256

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def test_models_doc_lists_every_model_file_with_its_checksum() -> None:
    text = DOC.read_text(encoding="utf-8")
    for model in DlibModel:
        path = dlib_model_path(model)
        assert f"`{model.value}`" in text
        assert file_sha256(path) in text, f"{model.value}: checksum in docs is stale"
        assert f"{path.stat().st_size:,} B" in text
    for name in FORBIDDEN_MODEL_FILES:
        assert f"`{name}`" in text


def test_models_doc_shows_the_current_default_model_id(tmp_path: Path) -> None:
    analyzer = DlibFaceAnalyzer(cache_dir=tmp_path)
    assert f"`{analyzer.model_id}`" in DOC.read_text(encoding="utf-8")
