"""Derivatives: right sizes, upright, plain 8-bit RGB whatever came in, and one decode of a
12-MP JPEG at reduced scale."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile

from keepsake.errors import CorruptImage, ImageTooLarge, UnsupportedMedia
from keepsake.media import derive as derive_module
from keepsake.media.derive import Derivatives, make_derivatives

LIMIT = 50_000_000
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)
needs_heic = pytest.mark.skipif(
    not pillow_heif.libheif_info().get("HEIF"), reason="libheif has no HEVC encoder here"
)


def derive(path: Path, **options: Any) -> Derivatives:
    return make_derivatives(path, max_pixels=LIMIT, **options)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def near(pixel: Any, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def halves(size: tuple[int, int], left: Any = RED, right: Any = BLUE, mode: str = "RGB") -> Any:
    """An image whose left half is `left` and right half `right`."""
    image = Image.new(mode, size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return exif.tobytes()


def test_12mp_jpeg_gives_a_1500_preview_and_a_250_thumbnail(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.linear_gradient("L").resize((4000, 3000)).convert("RGB").save(path, quality=90)

    made = derive(path)

    # libjpeg-turbo's 3/8 scale: within PREVIEW_SLACK of 1440, so kept without a resize.
    assert (made.preview_size, made.thumbnail_size) == ((1500, 1125), (333, 250))
    preview, thumbnail = decoded(made.preview), decoded(made.thumbnail)
    assert (preview.format, preview.size, preview.mode) == ("JPEG", (1500, 1125), "RGB")
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (333, 250))
    assert made.thumbnail_mime_type == "image/webp"


def test_a_scaled_decode_far_above_the_preview_size_is_resized_to_it(tmp_path: Path) -> None:
    path = tmp_path / "8mp.jpg"  # 3/8 would give 1224 (too small), 4/8 gives 1632 (too big)
    Image.linear_gradient("L").resize((3264, 2448)).convert("RGB").save(path, quality=90)

    assert derive(path).preview_size == (1440, 1080)


def test_12mp_jpeg_is_decoded_once_at_reduced_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.jpg"
    Image.linear_gradient("L").resize((4000, 3000)).convert("RGB").save(path, quality=90)
    pillow_decodes: list[tuple[int, int]] = []
    turbo_decodes: list[tuple[int, ...]] = []
    prepare = ImageFile.ImageFile.load_prepare
    turbo = derive_module.simplejpeg.decode_jpeg

    def spy_pillow(image: ImageFile.ImageFile) -> None:  # once per decode, before the data
        pillow_decodes.append(image.size)
        prepare(image)

    def spy_turbo(*args: Any, **kwargs: Any) -> Any:
        pixels = turbo(*args, **kwargs)
        turbo_decodes.append(pixels.shape)
        return pixels

    monkeypatch.setattr(ImageFile.ImageFile, "load_prepare", spy_pillow)
    monkeypatch.setattr(derive_module.simplejpeg, "decode_jpeg", spy_turbo)

    derive(path)

    # One decode, at DCT scale 3/8: the smallest that still covers 1440 x 1080.
    assert turbo_decodes == [(1125, 1500, 3)]
    assert pillow_decodes == []


def test_a_jpeg_that_libjpeg_only_warns_about_is_decoded_by_pillow(tmp_path: Path) -> None:
    path = tmp_path / "extraneous.jpg"
    buffer = io.BytesIO()
    halves((1600, 1200)).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    # Stray bytes before the end-of-image marker: libjpeg warns "extraneous bytes before
    # marker", simplejpeg's strict mode refuses, Pillow decodes it as cameras' apps do.
    path.write_bytes(data[:-2] + b"\x00\x00\x00" + data[-2:])

    made = derive(path)

    assert made.preview_size == (1440, 1080)
    assert near(decoded(made.preview).getpixel((100, 540)), RED)


def test_a_grey_jpeg_stays_grey(tmp_path: Path) -> None:
    path = tmp_path / "grey.jpg"
    Image.linear_gradient("L").resize((3000, 2000)).save(path, quality=90)

    made = derive(path)

    assert made.preview_size == (1500, 1000)
    assert decoded(made.preview).mode == "L"


def test_thumbnail_is_made_from_the_preview_without_a_second_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.png"
    Image.linear_gradient("L").resize((2000, 1000)).save(path)
    opened: list[object] = []
    real_open = Image.open

    def counting_open(*args: Any, **kwargs: Any) -> ImageFile.ImageFile:
        opened.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)

    derive(path)

    assert len(opened) == 1


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / "portrait.jpg"
    halves((400, 200)).save(path, quality=95, exif=with_orientation(orientation))

    made = derive(path)
    preview = decoded(made.preview)

    # Stored left half red. Orientation 6 (turn clockwise): red ends on top; 8
    # (counter-clockwise): at the bottom; 3 (half turn): on the right.
    if orientation == 3:
        assert made.preview_size == (400, 200)
        assert near(preview.getpixel((50, 100)), BLUE) and near(preview.getpixel((350, 100)), RED)
    else:
        assert made.preview_size == (200, 400)
        top, bottom = preview.getpixel((100, 50)), preview.getpixel((100, 350))
        expected = (RED, BLUE) if orientation == 6 else (BLUE, RED)
        assert near(top, expected[0]) and near(bottom, expected[1])
    assert decoded(made.thumbnail).size == (
        made.thumbnail_size[0],
        made.thumbnail_size[1],
    )


@pytest.mark.parametrize(("name", "fmt"), [("a.png", "PNG"), ("a.webp", "WEBP"), ("a.tif", "TIFF")])
def test_orientation_is_applied_for_other_containers(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / name
    halves((400, 200)).save(path, fmt, exif=with_orientation(6))

    preview = decoded(derive(path).preview)

    assert preview.size == (200, 400)
    assert near(preview.getpixel((100, 50)), RED) and near(preview.getpixel((100, 350)), BLUE)


def test_small_images_are_never_upscaled(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    halves((300, 200)).save(path)

    made = derive(path)

    assert (made.preview_size, made.thumbnail_size) == ((300, 200), (300, 200))


def test_panorama_thumbnail_keeps_a_bounded_long_side(tmp_path: Path) -> None:
    path = tmp_path / "pano.jpg"
    halves((8000, 1000)).save(path)

    made = derive(path)

    assert made.preview_size == (1440, 180)
    assert made.thumbnail_size == (1000, 125)  # short side cannot reach 250: capped at 4:1


def test_thumbnail_can_be_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    halves((800, 600)).save(path)

    made = derive(path, thumbnail_format="JPEG", thumbnail_size=150, preview_size=600)

    assert made.thumbnail_mime_type == "image/jpeg"
    assert decoded(made.thumbnail).format == "JPEG"
    assert (made.preview_size, made.thumbnail_size) == ((600, 450), (200, 150))


def _cmyk_jpeg(path: Path) -> None:
    Image.new("CMYK", (200, 100), (0, 255, 255, 0)).save(path)  # red in CMYK


def _transparent_palette_png(path: Path) -> None:
    image = halves((200, 100), left=1, right=2, mode="P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    image.save(path, transparency=2)  # the right half is see-through


def _grey_alpha_png(path: Path) -> None:
    image = Image.new("LA", (200, 100), (0, 0))  # transparent black
    image.paste((0, 255), (0, 0, 100, 100))  # opaque black on the left
    image.save(path)


def _sixteen_bit_png(path: Path) -> None:
    Image.new("I;16", (200, 100), 32768).save(path)  # mid-grey in 16 bits


def _rgba_webp(path: Path) -> None:
    image = Image.new("RGBA", (200, 100), (0, 0, 255, 0))
    image.paste((255, 0, 0, 255), (0, 0, 100, 100))
    image.save(path, lossless=True)


def _animated_gif(path: Path) -> None:
    first, second = Image.new("RGB", (200, 100), RED), Image.new("RGB", (200, 100), BLUE)
    first.save(path, save_all=True, append_images=[second])


def _bilevel_tiff(path: Path) -> None:
    halves((200, 100), left=0, right=1, mode="1").save(path)


def _heic(path: Path) -> None:
    halves((200, 100), right=WHITE).save(path, quality=90)


@pytest.mark.parametrize(
    ("name", "make", "left", "right"),
    [
        ("cmyk.jpg", _cmyk_jpeg, RED, RED),
        ("palette.png", _transparent_palette_png, RED, WHITE),
        ("grey-alpha.png", _grey_alpha_png, (0, 0, 0), WHITE),
        ("16-bit.png", _sixteen_bit_png, (128, 128, 128), (128, 128, 128)),
        ("alpha.webp", _rgba_webp, RED, WHITE),
        ("animated.gif", _animated_gif, RED, RED),
        ("bilevel.tif", _bilevel_tiff, (0, 0, 0), WHITE),
        pytest.param("photo.heic", _heic, RED, WHITE, marks=needs_heic),
    ],
)
def test_every_mode_becomes_rgb_on_white(
    tmp_path: Path,
    name: str,
    make: Any,
    left: tuple[int, int, int],
    right: tuple[int, int, int],
) -> None:
    path = tmp_path / name
    make(path)

    made = derive(path)

    for data in (made.preview, made.thumbnail):
        image = decoded(data).convert("RGB")
        assert image.mode == "RGB"
        width, height = image.size
        assert near(image.getpixel((width // 4, height // 2)), left)
        assert near(image.getpixel((width * 3 // 4, height // 2)), right)


def test_rgb_colour_profile_is_kept_in_both_derivatives(tmp_path: Path) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "tagged.jpg"
    halves((400, 300)).save(path, icc_profile=profile)

    made = derive(path)

    assert decoded(made.preview).info.get("icc_profile") == profile
    assert decoded(made.thumbnail).info.get("icc_profile") == profile


def test_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    data = io.BytesIO()
    Image.effect_noise((800, 600), 60).convert("RGB").save(data, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])

    with pytest.raises(CorruptImage):
        derive(path)


def test_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.png"
    Image.new("RGB", (3000, 2000)).save(path)

    def no_decode(*_args: object) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load_prepare", no_decode)
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge):
        make_derivatives(path, max_pixels=5_000_000)
    assert time.perf_counter() - started < 0.05


def test_unsupported_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.bmp"
    Image.new("RGB", (10, 10)).save(path)

    with pytest.raises(UnsupportedMedia):
        derive(path)


def test_preview_of_a_jpeg_with_mpf_images_shows_the_first(tmp_path: Path) -> None:
    path = tmp_path / "portrait.jpg"
    first, depth = Image.new("RGB", (400, 300), RED), Image.new("RGB", (400, 300), BLUE)
    first.save(path, "MPO", save_all=True, append_images=[depth])

    preview = decoded(derive(path).preview)

    assert near(preview.getpixel((200, 150)), RED)


# Pillow parses EXIF itself when a JPEG has no JFIF resolution, and warns when it cannot;
# in production that is one log line, under pytest an error, so it is silenced here only.
@pytest.mark.filterwarnings("ignore:(Possibly c|C)orrupt EXIF data:UserWarning")
def test_damaged_exif_does_not_stop_the_derivatives(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x00" * 20  # 65,535 entries
    halves((400, 300)).save(path, exif=exif)

    made = derive(path)

    assert made.preview_size == (400, 300)


def test_derivatives_made_in_parallel_threads_equal_those_made_alone(tmp_path: Path) -> None:
    paths = []
    for index, (fmt, suffix) in enumerate([("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")] * 2):
        path = tmp_path / f"{index}.{suffix}"
        halves((900 + 100 * index, 600)).save(path, fmt, exif=with_orientation(1 + index))
        paths.append(path)
    alone = [derive(path) for path in paths]

    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(derive, paths))

    assert together == alone
