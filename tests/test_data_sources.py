"""Parquet, webdataset shards and an imagefolder with metadata all stream the same pairs through the loader."""

import io
import json
import tarfile

import pytest

from growclip_hf.data import SourceSpec, create_loader
from growclip_hf.data.sources import detect_kind

from .data_helpers import caption_for, encode, fashion_image, pair_rows, tiny_processor, write_parquet

COUNT = 24


def _write_webdataset(folder, num_shards=2):
    folder.mkdir()
    for shard in range(num_shards):
        with tarfile.open(folder / f"shard-{shard:04d}.tar", "w") as tar:
            for index in range(shard, COUNT, num_shards):
                for suffix, data in (("png", encode(fashion_image(index))), ("txt", caption_for(index).encode())):
                    info = tarfile.TarInfo(f"sample{index:05d}.{suffix}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return SourceSpec(str(folder / "*.tar"), image_column="png", text_column="txt")


def _write_imagefolder(folder):
    (folder / "train").mkdir(parents=True)
    with open(folder / "train" / "metadata.jsonl", "w") as metadata:
        for index in range(COUNT):
            fashion_image(index).save(folder / "train" / f"{index:05d}.png")
            metadata.write(json.dumps({"file_name": f"{index:05d}.png", "text": caption_for(index)}) + "\n")
    return SourceSpec(str(folder), image_column="image", text_column="text")


def _write_parquet(folder):
    write_parquet(pair_rows(COUNT), folder, num_shards=2)
    return SourceSpec(str(folder / "*.parquet"))


@pytest.mark.parametrize("kind", ["parquet", "webdataset", "imagefolder"])
def test_every_local_format_streams_the_same_pairs(tmp_path, kind):
    spec = {"parquet": _write_parquet, "webdataset": _write_webdataset, "imagefolder": _write_imagefolder}[kind](
        tmp_path / kind
    )
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
