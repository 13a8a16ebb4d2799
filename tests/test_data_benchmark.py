"""The embedded benchmark: structure the issue asks for, real content, datasets-readable, byte-identical per seed."""

import hashlib
import io
import json

import datasets
import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from growclip_hf.data import ChunkedStream
from growclip_hf.data.benchmark import SCALES, build_benchmark

from .data_helpers import small_benchmark, tiny_processor


def _digests(root) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_manifest_has_growing_shifting_chunks_and_a_zero_shot_suite():
    root = small_benchmark()
    manifest = json.loads((root / "manifest.json").read_text())
    chunks = manifest["chunks"]
    assert len(chunks) >= 6 and len({c["name"] for c in chunks}) == len(chunks)
    assert [c["num_train"] for c in chunks] == sorted(c["num_train"] for c in chunks)
    assert chunks[-1]["num_train"] > chunks[0]["num_train"]
    for chunk in chunks:
        assert chunk["train"] and chunk["test"] and chunk["num_test"] > 0
        assert all((root / f).is_file() for f in chunk["train"] + chunk["test"])
    assert len(manifest["zeroshot"]) >= 8
    for task in manifest["zeroshot"]:
        assert len(task["classnames"]) >= 2 and task["templates"] and all("{}" in t for t in task["templates"])
        labels = pq.read_table(root / task["files"][0]).column("label").to_pylist()
        assert set(labels) == set(range(len(task["classnames"])))  # every class has images
    card = (root / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and chunks[0]["name"] in card


def test_default_and_large_scales_meet_the_sizes():
    for name in ("default", "large"):
        scale = SCALES[name]
        assert len(scale.train_sizes) >= 6 and list(scale.train_sizes) == sorted(scale.train_sizes)
        assert scale.test_size >= 500 and scale.zeroshot_size >= 500


def test_captions_are_distinct_varied_and_instance_specific():
    root = small_benchmark()
    manifest = json.loads((root / "manifest.json").read_text())
    for chunk in manifest["chunks"]:
        rows = [r for f in chunk["train"] + chunk["test"] for r in pq.read_table(root / f).to_pylist()]
        captions = [r["caption"] for r in rows]
        assert len(set(captions)) / len(captions) >= 0.9
        assert all(len(r["captions"]) == 2 and r["captions"][0] != r["captions"][1] for r in rows)
        for row in rows[:20]:  # every object's attributes are named in its caption
            for obj in json.loads(row["objects"])["objects"]:
                assert obj["size"] in row["caption"] and obj["position"] in row["caption"]
                assert obj["colour"] is None or obj["colour"] in row["caption"]
    openings = {
        r["caption"].split()[0] for f in manifest["chunks"][3]["train"] for r in pq.read_table(root / f).to_pylist()
    }
    assert len(openings) >= 4  # several wordings, not one template


def test_images_are_real_varied_scenes():
    root = small_benchmark()
    manifest = json.loads((root / "manifest.json").read_text())
    for chunk in manifest["chunks"]:
        rows = pq.read_table(root / chunk["train"][0]).to_pylist()[:8]
        arrays = [np.asarray(Image.open(io.BytesIO(r["image"]["bytes"])).convert("RGB"), float) for r in rows]
        assert all(a.shape == (64, 64, 3) for a in arrays)
        assert all(a.std() > 5 for a in arrays)  # something drawn on every canvas
        assert np.std([a.mean() for a in arrays]) > 1  # scenes differ


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path):
    first = small_benchmark()
    again = tmp_path / "again"
    build_benchmark(again, scale="small", seed=0)
    assert _digests(first) == _digests(again)
    other = tmp_path / "other"
    build_benchmark(other, scale="small", seed=1)
    different = [name for name, digest in _digests(other).items() if digest != _digests(first).get(name)]
    assert any(name.endswith(".parquet") for name in different)


def test_datasets_streams_the_chunks_and_the_loader_trains_on_them():
    root = small_benchmark()
    manifest = json.loads((root / "manifest.json").read_text())
    files = [str(root / f) for f in manifest["chunks"][0]["test"]]
    stream = datasets.load_dataset("parquet", data_files={"test": files}, split="test", streaming=True)
    first = next(iter(stream))
    assert isinstance(first["image"], Image.Image) and isinstance(first["caption"], str)
    chunked = ChunkedStream.from_manifest(root, text_column="captions")
    loader = chunked.loader(5, tiny_processor(image_size=32), batch_size=32, num_workers=2)
    assert sum(len(b["input_ids"]) for b in loader) == manifest["chunks"][5]["num_train"]
    assert loader.quality.num_skipped == 0
