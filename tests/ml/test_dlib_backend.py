"""The dlib pipeline on real photos: who is the same person, how many faces a photo holds,
and which photos hold none."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keepsake.ml import DetectedFace, FaceAnalyzer, InvalidImageError, load_analyzer
from keepsake.ml.base import Box, RgbImage
from keepsake.ml.dlib_backend import DLIB_MATCH_DISTANCE, DlibFaceAnalyzer, detection_scale

Photo = Callable[[str], RgbImage]

SAME_PERSON = [
    ("Joseph_Estrada/Joseph_Estrada_0002.jpg", "Joseph_Estrada/Joseph_Estrada_0004.jpg"),
    ("Jake_Gyllenhaal/Jake_Gyllenhaal_0001.jpg", "Jake_Gyllenhaal/Jake_Gyllenhaal_0003.jpg"),
    ("Adel_Al-Jubeir/Adel_Al-Jubeir_0001.jpg", "Adel_Al-Jubeir/Adel_Al-Jubeir_0002.jpg"),
    ("Cate_Blanchett/Cate_Blanchett_0002.jpg", "Cate_Blanchett/Cate_Blanchett_0003.jpg"),
]
DIFFERENT_PEOPLE = [
    ("George_Clooney/George_Clooney_0001.jpg", "Hugh_Grant/Hugh_Grant_0001.jpg"),
    ("Cate_Blanchett/Cate_Blanchett_0002.jpg", "Elena_Bovina/Elena_Bovina_0001.jpg"),
    ("Jake_Gyllenhaal/Jake_Gyllenhaal_0001.jpg", "Joseph_Estrada/Joseph_Estrada_0002.jpg"),
    ("Adel_Al-Jubeir/Adel_Al-Jubeir_0001.jpg", "Barbra_Streisand/Barbra_Streisand_0001.jpg"),
]

NONFACE = [
    "dlib_examples_faces_dogs.jpg",
    "dlib_test_ffmpeg_dog.jpg",
    "dlib_test_ffmpeg_eagle.jpg",
    "dlib_test_ffmpeg_giraffe.jpg",
    "dlib_test_ffmpeg_horses.jpg",
    # The Scream is a painted face, the hard negative: HOG at this scale policy finds nothing.
    "dlib_test_ffmpeg_scream.jpg",
]


def centre_face(faces: list[DetectedFace], image: RgbImage) -> DetectedFace:
    """LFW photos show their person in the centre; others may appear at the edges."""
    assert faces, "no face found"
    height, width = image.shape[:2]

    def off_centre(face: DetectedFace) -> float:
        x = (face.box.x1 + face.box.x2) / 2 - width / 2
        y = (face.box.y1 + face.box.y2) / 2 - height / 2
        return float(np.hypot(x, y))

    return min(faces, key=off_centre)


def lfw_embedding(analyzer: FaceAnalyzer, photo: Photo, name: str) -> np.ndarray:
    image = photo("lfw/" + name)
    return centre_face(analyzer.analyze(image), image).embedding


def iou(a: Box, b: Box) -> float:
    width = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    height = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = width * height
    return inter / (a.width * a.height + b.width * b.height - inter)


@pytest.mark.parametrize(("first", "second"), SAME_PERSON)
def test_same_person_is_closer_than_the_match_threshold(
    analyzer: DlibFaceAnalyzer, photo: Photo, first: str, second: str
) -> None:
    distance = np.linalg.norm(
        lfw_embedding(analyzer, photo, first) - lfw_embedding(analyzer, photo, second)
    )
    assert distance < DLIB_MATCH_DISTANCE


@pytest.mark.parametrize(("first", "second"), DIFFERENT_PEOPLE)
def test_different_people_are_farther_than_the_match_threshold(
    analyzer: DlibFaceAnalyzer, photo: Photo, first: str, second: str
) -> None:
    distance = np.linalg.norm(
        lfw_embedding(analyzer, photo, first) - lfw_embedding(analyzer, photo, second)
    )
    assert distance > DLIB_MATCH_DISTANCE


def test_group_photo_with_two_people_gives_two_faces(
    analyzer: DlibFaceAnalyzer, photo: Photo
) -> None:
    faces = analyzer.analyze(photo("groups/face_recognition_two_people.jpg"))
    assert len(faces) == 2
    distance = np.linalg.norm(faces[0].embedding - faces[1].embedding)
    assert distance > DLIB_MATCH_DISTANCE
    assert faces[0].box.size >= faces[1].box.size  # largest first


def test_every_hand_labelled_face_in_dlib_group_photos_is_found(
    analyzer: DlibFaceAnalyzer, faces_dir: Path, photo: Photo
) -> None:
    folder = "groups/dlib_examples_faces/"
    labelled = 0
    # dlib's own hand-labelled test data, not untrusted input.
    labels = ET.parse(faces_dir / folder / "testing.xml")  # noqa: S314
    for element in labels.getroot().iter("image"):
        truth = [
            Box(
                float(b.get("left", 0)),
                float(b.get("top", 0)),
                float(b.get("left", 0)) + float(b.get("width", 0)),
                float(b.get("top", 0)) + float(b.get("height", 0)),
            )
            for b in element.iter("box")
            if b.get("ignore") != "1"
        ]
        faces = analyzer.analyze(photo(folder + element.get("file", "")))
        assert len(faces) >= len(truth) > 1
        for box in truth:
            assert max(iou(box, face.box) for face in faces) > 0.3, f"missed {box}"
        labelled += len(truth)
    assert labelled >= 20


@pytest.mark.parametrize("name", NONFACE)
def test_photos_without_human_faces_give_no_faces(
    analyzer: DlibFaceAnalyzer, photo: Photo, name: str
) -> None:
    assert analyzer.analyze(photo("nonface/" + name)) == []


def test_faces_carry_landmarks_quality_and_a_float32_embedding(
    analyzer: DlibFaceAnalyzer, photo: Photo
) -> None:
    face = analyzer.analyze(photo("groups/face_recognition_two_people.jpg"))[0]
    assert face.embedding.shape == (128,)
    assert face.embedding.dtype == np.float32
    assert face.landmarks.shape == (5, 2)
    x, y = face.landmarks[:, 0], face.landmarks[:, 1]
    assert (x > face.box.x1).all() and (x < face.box.x2).all()
    assert (y > face.box.y1).all() and (y < face.box.y2).all()
    assert 0.0 <= face.confidence <= 1.0
    assert 0.0 <= face.quality <= 1.0
    assert face.quality > 0.8  # a large, sharp, frontal face
    assert face.sharpness > 0


def test_boxes_found_on_a_preview_map_back_to_the_original(
    analyzer: DlibFaceAnalyzer, photo: Photo
) -> None:
    original = photo("groups/face_recognition_two_people.jpg")
    height, width = original.shape[:2]
    preview = np.asarray(Image.fromarray(original).resize((width // 2, height // 2)))
    scale = preview.shape[1] / width
    on_original = sorted(analyzer.analyze(original), key=lambda f: f.box.x1)
    on_preview = sorted(analyzer.analyze(preview), key=lambda f: f.box.x1)
    assert len(on_preview) == len(on_original) == 2
    for big, small in zip(on_original, on_preview, strict=True):
        mapped = small.to_original(scale)
        assert iou(mapped.box, big.box) > 0.6
        assert np.abs(mapped.landmarks - big.landmarks).max() < 0.1 * big.box.width


def test_mirror_averaging_averages_chip_and_flipped_chip(
    analyzer: DlibFaceAnalyzer, model_cache: Path, photo: Photo
) -> None:
    mirrored = DlibFaceAnalyzer(cache_dir=model_cache, mirror=True)
    image = photo("lfw/Hugh_Grant/Hugh_Grant_0001.jpg")
    chips = analyzer.face_chips(image, [centre_face(analyzer.analyze(image), image).box])
    expected = (analyzer.embed_chips(chips) + analyzer.embed_chips(chips[:, :, ::-1])) / 2
    assert np.abs(mirrored.embed_chips(chips) - expected).max() < 1e-6
    assert mirrored.model_id != analyzer.model_id


def test_model_id_names_every_model_and_setting(
    analyzer: DlibFaceAnalyzer, model_cache: Path
) -> None:
    assert analyzer.model_id.startswith("dlib-v1:hog")
    assert "sp5@" in analyzer.model_id and "resnet_v1@55533b28a958" in analyzer.model_id
    cnn = load_analyzer("dlib", cache_dir=model_cache, detector="cnn")
    assert cnn.model_id != analyzer.model_id and "mmod@" in cnn.model_id
    same = load_analyzer("dlib", cache_dir=model_cache, threads=2)
    assert same.model_id == analyzer.model_id


def test_cnn_detector_finds_the_face(model_cache: Path, photo: Photo) -> None:
    cnn = load_analyzer("dlib", cache_dir=model_cache, detector="cnn")
    image = photo("lfw/George_Clooney/George_Clooney_0001.jpg")
    face = centre_face(cnn.analyze(image), image)
    assert abs((face.box.x1 + face.box.x2) / 2 - 75) < 20
    assert face.embedding.shape == (128,)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), dtype=np.uint8),
        np.zeros((10, 10, 4), dtype=np.uint8),
        np.zeros((10, 10, 3), dtype=np.float32),
        np.zeros((0, 10, 3), dtype=np.uint8),
        [[[0, 0, 0]]],
    ],
)
def test_images_that_are_not_rgb_uint8_are_rejected(
    analyzer: DlibFaceAnalyzer, bad: object
) -> None:
    with pytest.raises(InvalidImageError):
        analyzer.analyze(bad)  # type: ignore[arg-type]


def test_a_flipped_view_is_accepted(analyzer: DlibFaceAnalyzer, photo: Photo) -> None:
    image = photo("groups/face_recognition_two_people.jpg")
    assert len(analyzer.analyze(image[:, ::-1])) == 2


def test_small_images_are_upsampled_and_large_ones_reduced_for_detection() -> None:
    assert detection_scale(150, 150, 80) == 2.0
    assert detection_scale(500, 375, 80) == 2.0
    assert 1.3 < detection_scale(1440, 960, 80) < 1.5
    assert detection_scale(4000, 3000, 80) == pytest.approx(0.5)
