"""Every kind of bad input is skipped or repaired, counted by reason, and never crashes the loader."""

import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from growclip_hf.data import (
    BadSample,
    DataQuality,
    ImageTextCollator,
    MissingColumnError,
    SourceSpec,
    TooManyBadSamplesError,
    create_loader,
    open_stream,
)
from growclip_hf.data.captions import choose_caption
from growclip_hf.data.images import decode_rgb

from .data_helpers import encode, fashion_image, pair_rows, png_header_only, tiny_processor, write_parquet


def _reason(value, **kwargs) -> str:
    with pytest.raises(BadSample) as caught:
        decode_rgb(value, **kwargs)
    return caught.value.reason


def test_corrupt_and_truncated_bytes_are_reasons():
    good = encode(fashion_image(1, (64, 64)), "JPEG")
    assert _reason(b"this is not an image at all") == "corrupt"
    assert _reason(good[: len(good) // 2]) == "truncated"
    png = encode(fashion_image(2, (64, 64)), "PNG")
    assert _reason(png[: len(png) - 40]) in {"truncated", "corrupt"}
    assert _reason(b"") == "missing_image"
    assert _reason(None) == "missing_image"
    assert _reason({"bytes": None, "path": None}) == "missing_image"


def test_zero_size_and_decompression_bomb():
    assert _reason(png_header_only(0, 10)) == "zero_size"
    assert _reason(png_header_only(10, 0)) == "zero_size"
    assert _reason(Image.new("RGB", (0, 4))) == "zero_size"
    assert _reason(png_header_only(100_000, 100_000)) == "too_large"  # PIL's own bomb limit
    assert _reason(png_header_only(5_000, 5_000), max_pixels=1_000_000) == "too_large"  # our configurable limit


def test_extreme_aspect_ratio_is_a_reason_not_a_giant_resize():
    from growclip_hf import build_image_processor
    from growclip_hf.data import ClipImageTransform

    transform = ClipImageTransform.from_image_processor(build_image_processor(32))
    with pytest.raises(BadSample) as caught:
        transform.resize_crop(Image.new("RGB", (20_000, 2)))
    assert caught.value.reason == "extreme_aspect_ratio"
    assert transform.resize_crop(Image.new("RGB", (400, 10))).shape == (3, 32, 32)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "P+transparency", "CMYK", "I;16", "1"])
def test_every_mode_becomes_rgb_and_is_counted(mode):
    base = fashion_image(3, (24, 24))
    if mode == "I;16":
        image = Image.fromarray((np.asarray(base.convert("L"), np.uint16) * 257).astype(np.uint16))
        assert image.mode == "I;16"
    elif mode == "P+transparency":
        image = base.convert("P")
        image.info["transparency"] = 0
    else:
        image = base.convert(mode)
    repaired = Counter()
    rgb = decode_rgb(encode(image, "TIFF" if mode in ("CMYK", "I;16") else "PNG"), repaired=repaired)
    assert rgb.mode == "RGB" and rgb.size == (24, 24)
    assert sum(repaired.values()) == 1 and next(iter(repaired)).startswith("mode_")
    if mode in ("L", "I;16"):  # gray levels survive the conversion
        np.testing.assert_allclose(np.asarray(rgb)[..., 0], np.asarray(base.convert("L")), atol=1)


def test_transparency_is_composited_on_white():
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    rgb = np.asarray(decode_rgb(encode(image)))
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[4, 4]) == (255, 255, 255)


@pytest.mark.parametrize("caption", [None, "", "   \n\t", [], ["", "  "], 42])
def test_unusable_captions_are_reasons(caption):
    with pytest.raises(BadSample) as caught:
        choose_caption(caption, np.random.default_rng(0))
    assert caught.value.reason in {"missing_caption", "empty_caption", "bad_caption_type"}


def test_long_captions_are_truncated_with_end_token_and_counted():
    processor = tiny_processor()
    collator = ImageTextCollator(processor.tokenizer, context_length=16)
    repaired = Counter()
    long_caption = "a red coat " * 40
    batch = collator.tokenize([long_caption, "a red coat"], repaired)
    assert batch["input_ids"].shape[1] == 16
    assert batch["input_ids"][0, -1].item() == processor.tokenizer.eos_token_id
    assert batch["attention_mask"][0].sum().item() == 16 and batch["attention_mask"][1].sum().item() < 16
    assert repaired == Counter({"truncated_caption": 1})
    reference = processor.tokenizer([long_caption], truncation=True, max_length=16)["input_ids"][0]
    assert batch["input_ids"][0].tolist() == reference  # same as the tokenizer's own truncation


def test_missing_column_fails_at_start_naming_what_exists(tmp_path):
    write_parquet(pair_rows(4), tmp_path, num_shards=1)
    with pytest.raises(MissingColumnError) as caught:
        open_stream(SourceSpec(str(tmp_path), image_column="jpg", text_column="caption"))
    message = str(caught.value)
    assert "'jpg'" in message and "caption" in message and "captions" in message and "image" in message


def _dirty_rows() -> tuple[list[dict], Counter]:
    """Good pairs mixed with one of every bad kind; returns the rows and the skip counts they must produce."""
    rows = pair_rows(40)
    jpeg = encode(fashion_image(50, (64, 64)), "JPEG")
    bad = {
        "corrupt": {"bytes": b"\x00garbage", "path": None},
        "truncated": {"bytes": jpeg[: len(jpeg) // 2], "path": None},
        "zero_size": {"bytes": png_header_only(0, 12), "path": None},
        "too_large": {"bytes": png_header_only(90_000, 90_000), "path": None},
        "missing_image": None,
    }
    for offset, (_reason_name, image) in enumerate(bad.items()):
        rows[3 + 5 * offset]["image"] = image
    for offset, caption in enumerate([None, "", "   "]):
        rows[4 + 5 * offset]["caption"] = caption
    expected = Counter({reason: 1 for reason in bad})
    expected.update({"missing_caption": 1, "empty_caption": 2})
    rows[30]["image"] = {"bytes": encode(fashion_image(30).convert("RGBA")), "path": None}
    rows[31]["image"] = {"bytes": encode(fashion_image(31).convert("L")), "path": None}
    rows[32]["caption"] = "a very long caption " * 30
    return rows, expected


@pytest.mark.parametrize("num_workers", [0, 2])
def test_loader_skips_counts_and_repairs_without_crashing(tmp_path, num_workers):
    rows, expected = _dirty_rows()
    write_parquet(rows, tmp_path, num_shards=4)
    loader = create_loader(
        SourceSpec(str(tmp_path)), tiny_processor(), batch_size=8, num_workers=num_workers, max_bad_share=0.5
    )
    seen = sum(len(batch["input_ids"]) for batch in loader)
    assert seen == 40 - sum(expected.values())
    assert loader.quality.ok == seen and loader.quality.skipped == expected
    assert loader.quality.repaired == Counter({"mode_RGBA": 1, "mode_L": 1, "truncated_caption": 1})


def test_too_many_bad_samples_stop_the_run_with_a_clear_error(tmp_path):
    rows = pair_rows(30)
    for row in rows[:12]:
        row["image"] = {"bytes": b"broken", "path": None}
    write_parquet(rows, tmp_path, num_shards=2)
    loader = create_loader(SourceSpec(str(tmp_path)), tiny_processor(), batch_size=4, max_bad_share=0.2)
    with pytest.raises(TooManyBadSamplesError, match=r"corrupt.*raise max_bad_share"):
        for _ in loader:
            pass


def test_quality_counts_round_trip():
    quality = DataQuality(ok=5, skipped=Counter({"corrupt": 2}), repaired=Counter({"mode_L": 1}))
    again = DataQuality.from_dict(json.loads(json.dumps(quality.to_dict())))
    assert again == quality and again.bad_share == pytest.approx(2 / 7)


def test_pixels_of_repaired_images_equal_their_rgb_version(tmp_path):
    """A grayscale image goes through the whole loader to the same pixels as its RGB conversion."""
    rows = pair_rows(1)
    gray = fashion_image(0).convert("L")
    rows[0]["image"] = {"bytes": encode(gray), "path": None}
    write_parquet(rows, tmp_path, num_shards=1)
    processor = tiny_processor()
    batch = next(iter(create_loader(SourceSpec(str(tmp_path)), processor, batch_size=1)))
    expected = processor.image_processor(images=gray.convert("RGB"), return_tensors="pt")["pixel_values"]
    assert np.allclose(batch["pixel_values"].numpy(), expected.numpy(), atol=1e-5)


def test_decoding_real_jpeg_photo_round_trip():
    from skimage import data

    photo = Image.fromarray(data.chelsea())
    decoded = decode_rgb(encode(photo, "JPEG"))
    assert decoded.size == photo.size and np.abs(np.asarray(decoded, float) - np.asarray(photo, float)).mean() < 4
