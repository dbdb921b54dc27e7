"""Face alignment by a similarity transform (rotation, uniform scale, translation) that maps five
detected landmarks onto a reference layout, then a warp of the image into a square chip.

Used by the ONNX Runtime backend (ArcFace-style recognisers); the dlib backend uses dlib's own
`get_face_chip`, which its ResNet was trained with. Pure numpy and Pillow, no OpenCV.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from keepsake.ml.base import RgbImage

ARCFACE_REFERENCE_112 = np.array(
    [
        [38.2946, 51.6963],  # left eye (image left)
        [73.5318, 51.5014],  # right eye
        [56.0252, 71.7366],  # nose tip
        [41.5493, 92.3655],  # left mouth corner
        [70.7299, 92.2041],  # right mouth corner
    ],
    dtype=np.float64,
)
"""Where ArcFace-family recognisers expect the five landmarks in a 112x112 chip (insightface's
published template; the models were trained on chips aligned this way)."""

Matrix = npt.NDArray[np.float64]


def similarity_transform(source: npt.ArrayLike, target: npt.ArrayLike) -> Matrix:
    """The 2x3 matrix of the similarity transform that best maps `source` points onto `target`
    points in the least-squares sense (Umeyama, 1991, without reflection)."""
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need matching (N, 2) point sets, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float((singular * sign).sum() / variance) if variance > 0 else 1.0
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def warp_affine(image: RgbImage, matrix: Matrix, size: int) -> RgbImage:
    """Warp `image` into a `size` x `size` chip: chip point = matrix @ (image point, 1).

    Points use the convention that pixel centres sit at integer coordinates (as landmark
    detectors report them); Pillow puts them at +0.5, hence the shifts. Outside the image the
    chip is black."""
    forward = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(forward)
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    unshift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    pil_inverse = shift @ inverse @ unshift
    coefficients = tuple(float(v) for v in pil_inverse[:2].reshape(-1))
    chip = Image.fromarray(image).transform(
        (size, size), Image.Transform.AFFINE, coefficients, resample=Image.Resampling.BILINEAR
    )
    return np.asarray(chip, dtype=np.uint8)


def align_face(image: RgbImage, landmarks: npt.ArrayLike, size: int = 112) -> RgbImage:
    """An ArcFace-style aligned chip of `size` px from five landmarks (eyes, nose, mouth)."""
    reference = ARCFACE_REFERENCE_112 * (size / 112.0)
    return warp_affine(image, similarity_transform(landmarks, reference), size)
