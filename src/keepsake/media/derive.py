"""Makes a photo's preview (for viewing and face detection) and thumbnail (for grids).

One decode per photo: a JPEG is decoded at a reduced DCT scale, just above the preview's
size, and never at full size; the preview is resized from that, and the thumbnail from the
preview. Orientation is applied to the reduced image, and every image mode is brought to
8-bit RGB (or grey) on a white background, so what comes out is a plain JPEG and WebP that
any browser shows upright, in sRGB or tagged with the original's RGB colour profile.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import simplejpeg
from PIL import ExifTags, Image, ImageCms

from keepsake.errors import CorruptImage, ImageTooLarge
from keepsake.media import exif, formats

ThumbnailFormat = Literal["WEBP", "JPEG"]

# Preview: JPEG (universal, fast to encode: about 8 ms for 1440 x 1080). Quality 85 is
# where artefacts stop being visible at screen size; `optimize` would save 2 % of bytes
# for twice the encode time, progressive 5 % for six times.
PREVIEW_JPEG_QUALITY: Final = 85

# Thumbnail: WebP at quality 75, method 2. Measured on 333 x 250 thumbnails of the face
# test photos: 9.7 KB in 6.1 ms, against 15.7 KB in 0.5 ms for JPEG quality 80, 11.8 KB
# in 3.4 ms for WebP method 0 and 9.3 KB in 12.9 ms for method 4 (grainy bench photos:
# 11.0 KB in 7.1 ms against 15.9 KB in 0.6 ms for JPEG). Grids load hundreds of
# thumbnails per page, so a third fewer bytes is worth about 6 ms once per photo, 4 % of
# a derive; callers can still ask for JPEG.
THUMBNAIL_WEBP_QUALITY: Final = 75
THUMBNAIL_WEBP_METHOD: Final = 2
THUMBNAIL_JPEG_QUALITY: Final = 80

# A panorama's thumbnail keeps the short side but its long side is capped at this many
# times the short side, so a 10:1 strip does not become a 2,500-pixel "thumbnail".
THUMBNAIL_MAX_ASPECT: Final = 4.0

# Resampling. Preview: a JPEG decoded at 1/2 scale (2000 x 1500 for 12 MP) is resized to
# 1440 x 1080. Pillow's bilinear is a triangle filter widened to the reduction, so it is
# antialiased; for that 1.4x step it looks like bicubic and takes 30 ms instead of 48 ms
# (Lanczos: 69 ms) on this machine, and the preview is on the ingest's critical path.
# Thumbnail: Lanczos after an integer box reduction (reducing_gap 2),
# 9 ms instead of 24 ms for Lanczos alone, no visible difference at 250 px.
PREVIEW_RESAMPLE: Final = Image.Resampling.BILINEAR
THUMBNAIL_RESAMPLE: Final = Image.Resampling.LANCZOS
REDUCING_GAP: Final = 2.0

# JPEG previews come from libjpeg-turbo's scaled decode, which scales the DCT by any n/8
# (Pillow's draft() offers 1/2, 1/4 and 1/8 only): a 4000 x 3000 photo decodes straight to
# 1500 x 1125 in 70 ms, where draft() gives 2000 x 1500 in 75 ms that then takes 40 ms to
# resize. A scaled decode up to this much larger than the preview size is kept as it is.
PREVIEW_SLACK: Final = 1.1

# Transparent images are shown on white, as a browser shows them on a light page.
BACKGROUND: Final = (255, 255, 255)

# An embedded RGB colour profile is copied into the derivatives (browsers colour-manage
# them; a phone's Display P3 profile is 536 bytes) unless it is larger than this, in
# which case the pixels are converted to sRGB instead.
MAX_EMBEDDED_ICC_BYTES: Final = 8 * 1024

_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, struct.error, RuntimeError)


@dataclass(frozen=True, slots=True)
class Derivatives:
    """The encoded preview (JPEG) and thumbnail of one photo, with their sizes (w, h)."""

    preview: bytes  # JPEG
    preview_size: tuple[int, int]
    thumbnail: bytes
    thumbnail_mime_type: str
    thumbnail_size: tuple[int, int]


def make_derivatives(
    path: Path,
    *,
    thumbnail_size: int = 250,
    preview_size: int = 1440,
    max_pixels: int,
    thumbnail_format: ThumbnailFormat = "WEBP",
) -> Derivatives:
    """Decode the image at `path` once and encode its preview and thumbnail.

    The preview's long side is `preview_size`, the thumbnail's short side `thumbnail_size`
    (its long side capped at THUMBNAIL_MAX_ASPECT times that); neither is ever upscaled.
    Animated images give their first frame. Raises UnsupportedMedia, ImageTooLarge (checked
    from the header, before decoding) or CorruptImage.
    """
    formats.register_heif()
    formats.allow_pixels(max_pixels)
    header = formats.read_header(path)
    formats.check_pixels(header, max_pixels)
    orientation = exif.read_orientation(path)
    try:
        preview, icc, oriented = _decode_preview(path, header.format, preview_size)
        if not oriented:
            preview = _oriented(preview, orientation)
        preview, icc = _color_managed(preview, icc)
        preview = _on_background(preview)
        thumbnail = _resized(preview, _thumbnail_box(preview.size, thumbnail_size))
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(str(error)) from None
    except _DECODE_ERRORS as error:
        raise CorruptImage(f"The {header.format} image cannot be decoded: {error}") from None
    thumbnail_quality = (
        THUMBNAIL_WEBP_QUALITY if thumbnail_format == "WEBP" else THUMBNAIL_JPEG_QUALITY
    )
    return Derivatives(
        preview=_encode(preview, "JPEG", PREVIEW_JPEG_QUALITY, icc),
        preview_size=preview.size,
        thumbnail=_encode(thumbnail, thumbnail_format, thumbnail_quality, icc),
        thumbnail_mime_type=f"image/{thumbnail_format.lower()}",
        thumbnail_size=thumbnail.size,
    )


def fit_within(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """`size` scaled so its long side is at most `long_side`, keeping the aspect ratio."""
    width, height = size
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _thumbnail_box(size: tuple[int, int], short_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(
        1.0,
        short_side / min(width, height),
        THUMBNAIL_MAX_ASPECT * short_side / max(width, height),
    )
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decode_preview(
    path: Path, fmt: str, preview_size: int
) -> tuple[Image.Image, bytes | None, bool]:
    """The one decode: at reduced scale where the format allows, then resized to the preview.

    Returns the preview, the embedded colour profile, and whether the decoder has already
    turned the image upright.
    """
    with Image.open(path, formats=["JPEG", "MPO"] if fmt == "JPEG" else [fmt]) as image:
        target = fit_within(image.size, preview_size)
        icc = image.info.get("icc_profile")
        icc = icc if isinstance(icc, bytes) and icc else None
        if fmt == "JPEG" and (scaled := _scaled_jpeg(path, image.mode, target)) is not None:
            return scaled, icc, False
        # JPEG: the decoder scales the DCT by 1/2, 1/4 or 1/8 to the smallest size not below
        # `target`, so a 12 MP photo decodes to 2000 x 1500 and never at full size.
        # HEIF: an embedded thumbnail is used if one is at least `target`. Others: no-op.
        image.draft("RGB", target)
        preview = _resized(_normalized(image), target, PREVIEW_RESAMPLE)
        if preview is image:  # small enough already: detach it from the file
            preview = image.copy()
        # libheif applies HEIF's rotation; Pillow's TIFF loader applies the orientation
        # tag and then deletes it (and only then: older Pillows did not).
        oriented = fmt == "HEIF" or (
            fmt == "TIFF" and ExifTags.Base.Orientation not in getattr(image, "tag_v2", {})
        )
    return preview, icc, oriented


def _scaled_jpeg(path: Path, mode: str, target: tuple[int, int]) -> Image.Image | None:
    """A YCbCr or grey JPEG decoded by libjpeg-turbo at the smallest n/8 scale that is not
    below `target`, resized to it only if more than PREVIEW_SLACK larger. None when the
    file is for Pillow to decode: CMYK, or anything libjpeg-turbo only warns about (Pillow
    accepts those, and decides what is corrupt)."""
    if mode not in ("RGB", "L"):
        return None
    width, height = target
    try:
        pixels = simplejpeg.decode_jpeg(
            path.read_bytes(),
            colorspace="RGB" if mode == "RGB" else "GRAY",
            fastdct=True,
            fastupsample=True,
            min_width=width,
            min_height=height,
        )
    except ValueError:
        return None
    decoded = Image.fromarray(pixels if mode == "RGB" else pixels[:, :, 0])
    if max(decoded.size) > PREVIEW_SLACK * max(target):
        return _resized(decoded, target, PREVIEW_RESAMPLE)
    return decoded


def _normalized(image: Image.Image) -> Image.Image:
    """The decoded first frame as RGB, RGBA or L, 8 bits per channel."""
    mode = image.mode
    if mode in ("RGB", "RGBA", "L"):
        image.load()
        return image
    if mode == "CMYK":
        return _cmyk_to_rgb(image)
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("LA", "PA", "La", "RGBa"):
        return image.convert("RGBA")
    if mode == "1":
        return image.convert("L")
    if mode.startswith(("I", "F")):
        return _to_8_bit(image)
    return image.convert("RGB")


def _to_8_bit(image: Image.Image) -> Image.Image:
    # 16-bit and 32-bit greyscale: Pillow's convert("L") clips at 255 instead of scaling,
    # which would turn a 16-bit scan white. Scale the range the data declares instead.
    wide = image.convert("I") if image.mode != "F" else image
    _low, high = wide.getextrema()
    if not isinstance(high, int | float) or high <= 255:
        return wide.convert("L")
    top = 65535 if high <= 65535 else high
    return wide.point(lambda value: value * (255 / top)).convert("L")


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    # Print files carry the CMYK profile they were separated with; converting through it
    # gives the colours the photographer saw. Without one, Pillow's naive formula.
    icc = image.info.get("icc_profile")
    if isinstance(icc, bytes) and icc[16:20] == b"CMYK":
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
        else:
            if converted is not None:
                return converted
    return image.convert("RGB")


def _resized(
    image: Image.Image, size: tuple[int, int], resample: Image.Resampling = THUMBNAIL_RESAMPLE
) -> Image.Image:
    if image.size == size:
        return image
    return image.resize(size, resample, reducing_gap=REDUCING_GAP)


def _oriented(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def _color_managed(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """The image and the profile to embed in its derivatives (None: plain sRGB)."""
    if icc is None or image.mode not in ("RGB", "RGBA") or icc[16:20] != b"RGB ":
        return image, None  # CMYK was converted to sRGB already; grey needs no profile
    if len(icc) <= MAX_EMBEDDED_ICC_BYTES:
        return image, icc
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image, None
    return (converted if converted is not None else image), None


def _srgb() -> ImageCms.ImageCmsProfile:
    # Made per call: LittleCMS profile handles are not safe to share between threads.
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _on_background(image: Image.Image) -> Image.Image:
    if image.mode != "RGBA":
        return image
    flat = Image.new("RGB", image.size, BACKGROUND)
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def _encode(image: Image.Image, fmt: str, quality: int, icc: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality}
    if icc:
        options["icc_profile"] = icc
    if fmt == "WEBP":
        options["method"] = THUMBNAIL_WEBP_METHOD
    image.save(buffer, fmt, **options)
    return buffer.getvalue()
