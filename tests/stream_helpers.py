"""A user's stream on disk: real Fashion-MNIST images (Debian dataset-fashion-mnist) with captions and a year column,
as parquet shards in yearly folders, the layout people keep their own data in."""

import io
from pathlib import Path

import datasets
import numpy as np
from PIL import Image

from growclip_hf.data.benchmark.assets import FASHION_CLASSES, fashion_mnist

FEATURES = datasets.Features(
    {
        "jpg": datasets.Image(),
        "txt": datasets.Value("string"),
        "year": datasets.Value("int64"),
        "label": datasets.ClassLabel(names=list(FASHION_CLASSES)),
    }
)


def _png(pixels: np.ndarray, size: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").resize((size, size)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_yearly_stream(root: Path, years=(2021, 2022), per_year: int = 96, size: int = 32, shards: int = 2) -> Path:
    """``root/{year}/train-0000k.parquet``: each year a different half of the classes (a domain shift)."""
    images, labels = fashion_mnist("test")
    for index, year in enumerate(years):
        classes = [c for c in range(10) if c % len(years) == index]
        picked = np.flatnonzero(np.isin(labels, classes))[:per_year]
        rows = [
            {
                "jpg": {"bytes": _png(images[i], size), "path": None},
                "txt": f"a photo of a {FASHION_CLASSES[labels[i]]}",
                "year": year,
                "label": int(labels[i]),
            }
            for i in picked
        ]
        folder = root / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        bounds = np.linspace(0, len(rows), shards + 1).astype(int)
        for shard in range(shards):
            part = datasets.Dataset.from_list(rows[bounds[shard] : bounds[shard + 1]], features=FEATURES)
            part.to_parquet(str(folder / f"train-{shard:05d}.parquet"))
    return root


def tiny_stream_settings(output_dir: Path) -> dict:
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    return {
        "model": {
            "text_config": {**tower, "max_position_embeddings": 16},
            "vision_config": {**tower, "image_size": 32, "patch_size": 16},
            "projection_dim": 32,
        },
        "tokenizer": {"vocab_size": 300, "context_length": 16, "sample_size": 100},
        "training": {
            "output_dir": str(output_dir),
            "batch_size": 16,
            "steps_per_stage": 4,
            "checkpoint_every": 4,
            "log_every": 1,
            "warmup_steps": 1,
            "ramp_steps": 2,
            "tracker": None,
        },
        "growth": {"policy": "schedule", "schedule": [{"vision_config": {"num_hidden_layers": 2}}]},
        "continual": {"strategy": "seqf"},
    }
