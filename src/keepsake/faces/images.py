"""Pixels for the face code: a stored preview as an RGB array, an uploaded query photo decoded
in memory only (search by example never writes it anywhere), and the crop of one face."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image, ImageOps

from keepsake.errors import CorruptImage, ImageTooLarge, UnsupportedMedia
from keepsake.media import formats
from keepsake.ml.base import RgbImage

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, RuntimeError)

CROP_MARGIN = 0.3
"""Context around a face crop, as a fraction of the box on each side: enough to show hair and
chin, as people pickers in photo apps do."""

CROP_JPEG_QUALITY = 85


def decode_preview(data: bytes) -> RgbImage:
    """A stored preview (Keepsake's own JPEG) as an RGB array."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            return np.asarray(image.convert("RGB"))
    except _DECODE_ERRORS as error:
        raise CorruptImage(f"The preview cannot be decoded: {error}") from None


def decode_query(data: bytes, *, max_pixels: int, long_side: int) -> RgbImage:
    """An uploaded photo, upright and no larger than `long_side`, decoded from memory.

    The same checks as an upload: the type is sniffed from the content, a decompression bomb
    is refused from the header (`max_pixels`) before any pixel is decoded."""
    formats.register_heif()
    formats.allow_pixels(max_pixels)
    mime = formats.sniff_mime_type(data[: formats.SNIFF_BYTES])
    if mime is None:
        raise UnsupportedMedia("Send a JPEG, PNG, WebP, GIF, TIFF or HEIC photo.")
    try:
        with Image.open(io.BytesIO(data), formats=[formats.SUPPORTED[mime]]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(
                    f"The image is {width} x {height} pixels; the limit is "
                    f"{max_pixels / 1e6:.1f} MP."
                )
            # JPEG decodes at a reduced DCT scale: a 12 MP query never decodes at full size.
            image.draft("RGB", (long_side, long_side))
            upright = ImageOps.exif_transpose(image).convert("RGB")
            upright.thumbnail((long_side, long_side), Image.Resampling.BILINEAR)
            return np.asarray(upright)
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(str(error)) from None
    except _DECODE_ERRORS as error:
        raise CorruptImage(f"The image cannot be decoded: {error}") from None


def crop_jpeg(
    image: RgbImage, box: tuple[float, float, float, float], size: int, margin: float = CROP_MARGIN
) -> bytes:
    """The face in `box` (pixels of `image`) with `margin` around it, as a square-ish JPEG no
    larger than `size` on its long side."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    pad_x, pad_y = (x2 - x1) * margin, (y2 - y1) * margin
    left = max(0, int(x1 - pad_x))
    top = max(0, int(y1 - pad_y))
    right = min(width, int(np.ceil(x2 + pad_x)))
    bottom = min(height, int(np.ceil(y2 + pad_y)))
    if right <= left or bottom <= top:
        left, top, right, bottom = 0, 0, width, height
    crop = Image.fromarray(image[top:bottom, left:right])
    crop.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=CROP_JPEG_QUALITY)
    return out.getvalue()
