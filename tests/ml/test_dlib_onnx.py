"""The ONNX conversion of dlib's ResNet: same embeddings as dlib, cached by checksum."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

import dlib
import numpy as np
import onnx
import pytest

from keepsake.ml.base import ModelFormatError, RgbImage
from keepsake.ml.dlib_backend import DlibFaceAnalyzer, DlibResnetEmbedder
from keepsake.ml.dlib_format import DlibReader, read_metric_network
from keepsake.ml.dlib_onnx import ConvertedModel, cached_onnx_name, ensure_resnet_onnx
from keepsake.ml.model_files import DlibModel, dlib_model_path

Photo = Callable[[str], RgbImage]

DLIB_EQUALITY_TOLERANCE = 1e-5

PHOTOS = [
    "lfw/George_Clooney/George_Clooney_0001.jpg",
    "lfw/Cate_Blanchett/Cate_Blanchett_0002.jpg",
    "lfw/Hugh_Grant/Hugh_Grant_0001.jpg",
    "lfw/Jake_Gyllenhaal/Jake_Gyllenhaal_0003.jpg",
    "groups/face_recognition_two_people.jpg",
    "groups/dlib_examples_faces/2008_002506.jpg",
]


def test_onnx_embeddings_equal_dlib_compute_face_descriptor(
    photo: Photo, analyzer: DlibFaceAnalyzer
) -> None:
    recogniser = dlib.face_recognition_model_v1(str(dlib_model_path(DlibModel.RESNET)))
    predictor = dlib.shape_predictor(str(dlib_model_path(DlibModel.LANDMARKS_5)))
    compared = 0
    for name in PHOTOS:
        image = photo(name)
        faces = analyzer.analyze(image)
        assert faces, f"no face found in {name}"
        for face in faces:
            box = face.box
            rect = dlib.rectangle(
                round(box.x1), round(box.y1), round(box.x2) - 1, round(box.y2) - 1
            )
            expected = np.array(recogniser.compute_face_descriptor(image, predictor(image, rect)))
            difference = np.abs(face.embedding - expected).max()
            assert difference < DLIB_EQUALITY_TOLERANCE, f"{name}: differs by {difference}"
            compared += 1
    assert compared >= 8


def test_batched_and_single_chip_embeddings_agree(photo: Photo, analyzer: DlibFaceAnalyzer) -> None:
    chips = []
    for name in PHOTOS[:4]:
        image = photo(name)
        chips.append(analyzer.face_chips(image, [analyzer.analyze(image)[0].box])[0])
    batch = analyzer.embed_chips(np.stack(chips))
    assert batch.shape == (4, 128)
    assert batch.dtype == np.float32
    for chip, row in zip(chips, batch, strict=True):
        assert np.abs(analyzer.embed_chips(chip)[0] - row).max() < 1e-6
    assert analyzer.embed_chips([]).shape == (0, 128)


def test_second_load_uses_the_cache_without_converting(
    model_cache: Path, resnet_onnx: ConvertedModel
) -> None:
    before = resnet_onnx.path.stat().st_mtime_ns
    again = ensure_resnet_onnx(dlib_model_path(DlibModel.RESNET), model_cache)
    assert again.converted is False
    assert again.path == resnet_onnx.path
    assert again.path.stat().st_mtime_ns == before
    assert again.path.name == cached_onnx_name(resnet_onnx.source_sha256)
    assert not list(model_cache.glob(".converting-*"))


def test_a_corrupt_cached_model_is_rebuilt_on_load(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = ensure_resnet_onnx(dlib_model_path(DlibModel.RESNET), cache)
    first.path.write_bytes(first.path.read_bytes()[:1000])  # e.g. a disk that filled up
    embedder = DlibResnetEmbedder(dlib_model_path(DlibModel.RESNET), cache)
    embedder.load()
    assert first.path.stat().st_size > 20_000_000
    chip = np.zeros((150, 150, 3), dtype=np.uint8)
    assert embedder.predict(chip[np.newaxis]).shape == (1, 128)


def test_changed_model_file_gets_its_own_cache_entry(tmp_path: Path) -> None:
    source = tmp_path / DlibModel.RESNET.value
    shutil.copyfile(dlib_model_path(DlibModel.RESNET), source)
    original = ensure_resnet_onnx(source, tmp_path / "cache")
    data = bytearray(source.read_bytes())
    data[0x200] ^= 0x01  # one bit of a weight in the first convolution
    source.write_bytes(bytes(data))
    changed = ensure_resnet_onnx(source, tmp_path / "cache")
    assert original.converted and changed.converted
    assert changed.path != original.path
    assert changed.source_sha256 != original.source_sha256


def test_converted_graph_is_valid_onnx_with_dlib_threshold(resnet_onnx: ConvertedModel) -> None:
    model = onnx.load(str(resnet_onnx.path))
    onnx.checker.check_model(model)
    props = {p.key: p.value for p in model.metadata_props}
    assert math.isclose(float(props["distance_threshold"]), 0.6, rel_tol=1e-6)
    assert props["source_sha256"] == resnet_onnx.source_sha256
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Conv") == 29  # the 29 convolutions of dlib's ResNet


def test_parser_reads_the_face_resnet_layers() -> None:
    net = read_metric_network(dlib_model_path(DlibModel.RESNET).read_bytes())
    assert net.input.rows == net.input.cols == 150
    assert np.allclose(net.input.means, (122.782, 117.001, 104.298), atol=1e-3)
    assert math.isclose(net.distance_threshold, 0.6, rel_tol=1e-6)
    assert math.isclose(net.loss_margin, 0.04, rel_tol=1e-6)


def test_other_dlib_files_are_rejected_with_a_format_error() -> None:
    with pytest.raises(ModelFormatError):
        read_metric_network(dlib_model_path(DlibModel.MMOD_DETECTOR).read_bytes())
    with pytest.raises(ModelFormatError):
        read_metric_network(b"\x01\x01\x01")


def test_reader_decodes_dlib_primitives() -> None:
    # -5 as an int; 0.6 as mantissa 10066330 * 2**-24; '1'; "ab"; a 1x1x1x2 tensor.
    data = (
        b"\x81\x05"
        + b"\x03\x9a\x99\x99\x81\x18"
        + b"1"
        + b"\x01\x02ab"
        + b"\x01\x02\x01\x01\x01\x01\x01\x01\x01\x02"
        + np.array([1.5, -2.0], dtype="<f4").tobytes()
    )
    reader = DlibReader(data)
    assert reader.read_int() == -5
    assert math.isclose(reader.read_float(), 0.6, rel_tol=1e-6)
    assert reader.read_bool() is True
    assert reader.read_str() == "ab"
    tensor = reader.read_tensor()
    assert tensor.shape == (1, 1, 1, 2)
    assert tensor.ravel().tolist() == [1.5, -2.0]
    assert reader.at_end
    with pytest.raises(ModelFormatError, match="end of data"):
        reader.read_int()
