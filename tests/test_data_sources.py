"""Parquet, webdataset shards and an imagefolder with metadata all stream the same pairs through the loader."""

import pytest

from growclip_hf.data import create_loader
from growclip_hf.data.sources import detect_kind

from .data_helpers import FORMAT_WRITERS, caption_for, fashion_image, tiny_processor

COUNT = 24


@pytest.mark.parametrize("kind", ["parquet", "webdataset", "imagefolder"])
def test_every_local_format_streams_the_same_pairs(tmp_path, kind):
    spec = FORMAT_WRITERS[kind](tmp_path / kind, COUNT)
    assert detect_kind(spec.source)[0] == kind
    processor = tiny_processor(context_length=48)
    loader = create_loader(spec, processor, batch_size=8, num_workers=0, shuffle_buffer=4)
    texts, pixel_sums = [], {}
    for batch in loader:
        for ids, mask, pixels in zip(batch["input_ids"], batch["attention_mask"], batch["pixel_values"], strict=True):
            text = processor.tokenizer.decode(ids[mask.bool()], skip_special_tokens=True)
            texts.append(text)
            pixel_sums[text] = float(pixels.sum())
    assert sorted(texts) == sorted(caption_for(i) for i in range(COUNT))
    expected = processor.image_processor(images=fashion_image(5), return_tensors="pt")["pixel_values"]
    assert pixel_sums[caption_for(5)] == pytest.approx(float(expected.sum()), abs=1e-2)  # image stays with caption
    assert loader.quality.ok == COUNT and not loader.quality.skipped


def test_hub_ids_and_missing_paths_are_told_apart(tmp_path):
    assert detect_kind("someone/some-dataset") == ("hub", "someone/some-dataset")
    with pytest.raises(FileNotFoundError):
        detect_kind(str(tmp_path / "nothing" / "here" / "*.parquet"))
