"""`keepsake serve` with a naive derive step: the baseline pipeline of bench/ingest.py.

Everything else is Keepsake's own (upload, hashing, storage, encryption, jobs); only the
making of previews and thumbnails is replaced by what a first version would do with
Pillow: decode the original at full size, then `thumbnail()` once per size.

    python bench/naive_serve.py serve --port 8001     (any `keepsake` arguments)
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from keepsake.cli.main import app
from keepsake.media import derive

JPEG_QUALITY = 85


def naive_derivatives(
    path: Path,
    *,
    thumbnail_size: int = 250,
    preview_size: int = 1440,
    max_pixels: int,
    thumbnail_format: derive.ThumbnailFormat = "WEBP",
) -> derive.Derivatives:
    Image.MAX_IMAGE_PIXELS = max_pixels
    with Image.open(path) as original:
        image = ImageOps.exif_transpose(original.convert("RGB"))  # full-size decode
    made = []
    # The thumbnail's box: a 4:3 photo's short side comes out at `thumbnail_size`.
    for size, fmt in ((preview_size, "JPEG"), (thumbnail_size * 4 // 3, thumbnail_format)):
        copy = image.copy()
        copy.thumbnail((size, size))
        buffer = io.BytesIO()
        copy.save(buffer, fmt, quality=JPEG_QUALITY)
        made.append((buffer.getvalue(), copy.size))
    (preview, preview_box), (thumbnail, thumbnail_box) = made
    return derive.Derivatives(
        preview=preview,
        preview_size=preview_box,
        thumbnail=thumbnail,
        thumbnail_mime_type=f"image/{thumbnail_format.lower()}",
        thumbnail_size=thumbnail_box,
    )


if __name__ == "__main__":
    derive.make_derivatives = naive_derivatives  # type: ignore[assignment]
    app()
