"""Similarity-transform alignment used by the ONNX backend."""

from __future__ import annotations

import numpy as np
import pytest

from keepsake.ml.align import (
    ARCFACE_REFERENCE_112,
    align_face,
    similarity_transform,
    warp_affine,
)


def test_similarity_transform_recovers_rotation_scale_and_shift() -> None:
    angle, scale, shift = np.deg2rad(20.0), 1.7, np.array([5.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = ARCFACE_REFERENCE_112
    target = source @ (scale * rotation).T + shift
    matrix = similarity_transform(source, target)
    assert np.allclose(matrix[:, :2], scale * rotation, atol=1e-9)
    assert np.allclose(matrix[:, 2], shift, atol=1e-9)


def test_similarity_transform_never_mirrors() -> None:
    source = ARCFACE_REFERENCE_112
    mirrored = source * np.array([-1.0, 1.0])
    matrix = similarity_transform(source, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_warp_moves_a_marked_pixel_where_the_transform_says() -> None:
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    image[40, 30] = 255  # x = 30, y = 40
    matrix = np.array([[1.0, 0.0, -20.0], [0.0, 1.0, -10.0]])  # shift by (-20, -10)
    chip = warp_affine(image, matrix, 32)
    row, col = np.unravel_index(chip[:, :, 0].argmax(), chip.shape[:2])
    assert (int(row), int(col)) == (30, 10)
    assert chip[30, 10, 0] == 255


def test_aligned_chip_puts_the_eyes_on_the_template() -> None:
    image = np.zeros((200, 200, 3), dtype=np.uint8)
    landmarks = ARCFACE_REFERENCE_112 * 1.5 + np.array([20.0, 15.0])
    for x, y in np.round(landmarks).astype(int):
        image[y - 1 : y + 2, x - 1 : x + 2] = 255
    chip = align_face(image, landmarks, 112)
    for x, y in np.round(ARCFACE_REFERENCE_112).astype(int):
        assert chip[y - 1 : y + 2, x - 1 : x + 2].max() > 100


def test_bad_point_sets_are_refused() -> None:
    with pytest.raises(ValueError):
        similarity_transform(np.zeros((5, 2)), np.zeros((4, 2)))
