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
    assert manifest["format_version"] == 2
    chunks = manifest["chunks"]
    assert len(chunks) >= 6 and len({c["name"] for c in chunks}) == len(chunks)
    assert [c["num_train"] for c in chunks] == sorted(c["num_train"] for c in chunks)
    assert chunks[-1]["num_train"] > chunks[0]["num_train"]
    for chunk in chunks:
        assert chunk["train"] and chunk["test"] and chunk["num_test"] > 0
        assert all((root / f).is_file() for f in chunk["train"] + chunk["test"])
    # the domain shifts: no two chunks teach the same classes
    labels = [frozenset(chunk["labels"]) for chunk in chunks]
    assert all(not (a & b) for i, a in enumerate(labels) for b in labels[i + 1 :])
    assert len(manifest["zeroshot"]) >= 8
    for task in manifest["zeroshot"]:
        assert len(task["classnames"]) >= 2 and task["templates"] and all("{}" in t for t in task["templates"])
        labels = pq.read_table(root / task["files"][0]).column("label").to_pylist()
        assert set(labels) == set(range(len(task["classnames"])))  # every class has images
    card = (root / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and chunks[0]["name"] in card
    assert "GPL-2.0-or-later" in card and "public domain" in card  # Tux Paint and Open Clip Art licences


def test_every_zero_shot_task_has_a_kind_and_the_object_tasks_cover_the_chunks():
    manifest = json.loads((small_benchmark() / "manifest.json").read_text())
    kinds = {task["name"]: task["kind"] for task in manifest["zeroshot"]}
    assert set(kinds.values()) == {"object", "attribute"}
    objects = [name for name, kind in kinds.items() if kind == "object"]
    assert len(objects) >= 2 and {"fashion_mnist", "mnist_digits", "drawing_topic", "emoji_topic"} <= set(objects)
    assert {"count", "position"} <= {name for name, kind in kinds.items() if kind == "attribute"}
    # every class an object task asks for is taught by some chunk, in the words of the class name
    taught = {label for chunk in manifest["chunks"] for label in chunk["labels"]}
    fashion = next(task for task in manifest["zeroshot"] if task["name"] == "fashion_mnist")
    assert set(fashion["classnames"]) <= taught


def test_default_and_large_scales_meet_the_sizes():
    for name in ("default", "large"):
        scale = SCALES[name]
        assert len(scale.train_sizes) >= 6 and list(scale.train_sizes) == sorted(scale.train_sizes)
        assert scale.test_size >= 500 and scale.zeroshot_size >= 500


def _rows(root, files):
    return [row for file in files for row in pq.read_table(root / file).to_pylist()]


def test_captions_name_the_objects_and_test_captions_are_distinct():
    root = small_benchmark()
    manifest = json.loads((root / "manifest.json").read_text())
    for chunk in manifest["chunks"]:
        train, test = _rows(root, chunk["train"]), _rows(root, chunk["test"])
        assert len({r["caption"] for r in test}) / len(test) >= 0.9  # retrieval: one image per caption
        for row in train + test:
            assert len(row["captions"]) == 2 and row["captions"][0] != row["captions"][1]
            meta = json.loads(row["objects"])
            for obj in meta["objects"]:  # the object is the main content of every caption
                named = obj["phrase"] in row["caption"] or obj["label"] in row["caption"]
                topic_only = row["caption"].startswith("a drawing of ") and meta["layout"] == "single"
                assert named or topic_only, row["caption"]
        assert {json.loads(r["objects"])["layout"] for r in test} == {"quad"}
        layouts = [json.loads(r["objects"])["layout"] for r in train]
        assert layouts.count("single") > len(layouts) / 3  # mostly one object
    openings = {r["caption"].split()[0] for r in _rows(root, manifest["chunks"][3]["train"])}
    assert len(openings) >= 4  # several wordings, not one template


def test_images_are_real_objects_on_plain_backgrounds():
    root = small_benchmark()
    manifest = json.loads((root / "manifest.json").read_text())
    for chunk in manifest["chunks"]:
        rows = pq.read_table(root / chunk["train"][0]).to_pylist()[:8]
        arrays = [np.asarray(Image.open(io.BytesIO(r["image"]["bytes"])).convert("RGB"), float) for r in rows]
        assert all(a.shape == (64, 64, 3) for a in arrays)
        assert all(a.std() > 5 for a in arrays)  # something drawn on every canvas
        assert np.std([a.mean() for a in arrays]) > 1  # pictures differ
        corners = np.array([a[[0, 0, -1, -1], [0, -1, 0, -1]].mean() for a in arrays])
        assert ((corners < 40) | (corners > 215)).mean() >= 0.75  # black or white ground, no tints or textures


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
