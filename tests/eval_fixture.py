"""A tiny benchmark in the embedded benchmark's on-disk format, from REAL images (scikit-learn's handwritten digits),
plus a two-stage run folder of small GrowCLIP models, for the evaluation tests.

Format (issue 4, section 5): parquet shards and ``manifest.json`` ``{"chunks": [{"name", "train", "test", "num_train",
"num_test"}], "zeroshot": [{"name", "kind", "files", "classnames", "templates"}]}``, paths relative to the manifest.
Retrieval test rows hold a LIST of captions per image.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset, Features, Image, Sequence, Value
from PIL import Image as PILImage
from sklearn.datasets import load_digits

from growclip_hf import GrowCLIPConfig, GrowCLIPModel, build_processor, train_tokenizer

from .helpers import perturb_

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEMPLATES = ["a photo of the digit {}.", "a handwritten {c}."]
IMAGE_SIZE = 32


def digit_png(pixels: np.ndarray, size: int = IMAGE_SIZE) -> bytes:
    """An 8x8 scikit-learn digit (0-16 ink) as a PNG: dark ink on white, upscaled."""
    grey = (255 - pixels * 255 / 16).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(grey, mode="L").resize((size, size), PILImage.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


def digit_captions(label: int, index: int) -> list[str]:
    return [f"a handwritten {DIGIT_NAMES[label]} digit", f"the number {label} written by hand, sample {index}"]


def _write(rows: dict, features: Features, path: Path) -> str:
    Dataset.from_dict(rows, features=features).to_parquet(str(path))
    return path.name


def build_digits_benchmark(root: Path, per_chunk_test: int = 40, per_task: int = 60) -> Path:
    """Two chunks (digits 0-4, then 5-9) with train/test splits and two zero-shot tasks: which digit (kind
    ``object``) and odd/even (kind ``attribute``)."""
    root.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    images, labels = digits.images[order], digits.target[order]
    pair_features = Features({"image": Image(), "text": Value("string")})
    test_features = Features({"image": Image(), "text": Sequence(Value("string"))})
    chunks, used = [], np.zeros(len(labels), dtype=bool)
    for name, wanted in (("digits-low", range(0, 5)), ("digits-high", range(5, 10))):
        rows = np.flatnonzero(np.isin(labels, list(wanted)) & ~used)[: per_chunk_test + 20]
        used[rows] = True
        test, train = rows[:per_chunk_test], rows[per_chunk_test:]
        train_file = _write(
            {
                "image": [{"bytes": digit_png(images[i])} for i in train],
                "text": [digit_captions(labels[i], i)[0] for i in train],
            },
            pair_features,
            root / f"{name}-train.parquet",
        )
        test_file = _write(
            {
                "image": [{"bytes": digit_png(images[i])} for i in test],
                "text": [digit_captions(labels[i], i) for i in test],
            },
            test_features,
            root / f"{name}-test.parquet",
        )
        chunks.append(
            {"name": name, "train": [train_file], "test": [test_file], "num_train": len(train), "num_test": len(test)}
        )
    held_out = np.flatnonzero(~used)[:per_task]
    label_features = Features({"image": Image(), "label": Value("int64")})
    digit_file = _write(
        {"image": [{"bytes": digit_png(images[i])} for i in held_out], "label": [int(labels[i]) for i in held_out]},
        label_features,
        root / "zs-digit.parquet",
    )
    parity_file = _write(
        {"image": [{"bytes": digit_png(images[i])} for i in held_out], "label": [int(labels[i]) % 2 for i in held_out]},
        label_features,
        root / "zs-parity.parquet",
    )
    manifest = {
        "chunks": chunks,
        "zeroshot": [
            {
                "name": "digit",
                "kind": "object",
                "files": [digit_file],
                "classnames": list(DIGIT_NAMES),
                "templates": TEMPLATES,
            },
            {  # odd or even: a property of the digit, not which digit it is
                "name": "parity",
                "kind": "attribute",
                "files": [parity_file],
                "classnames": ["even", "odd"],
                "templates": TEMPLATES,
            },
        ],
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root / "manifest.json"


def fixture_tokenizer():
    texts = [caption for label in range(10) for index in range(30) for caption in digit_captions(label, index)]
    texts += [template.format(name, c=name) for template in TEMPLATES for name in (*DIGIT_NAMES, "even", "odd")]
    return train_tokenizer(texts * 2, vocab_size=400, context_length=24)


def small_config(vocab_size: int, hidden: int = 32, projection_dim: int = 24) -> GrowCLIPConfig:
    tower = {"hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": 2, "num_attention_heads": 4}
    return GrowCLIPConfig(
        text_config={**tower, "vocab_size": vocab_size, "max_position_embeddings": 24},
        vision_config={**tower, "image_size": IMAGE_SIZE, "patch_size": 8},
        shared_config={**tower, "num_hidden_layers": 0},
        projection_dim=projection_dim,
    )


def train_briefly(model: GrowCLIPModel, processor, pairs: list[tuple[bytes, str]], steps: int, seed: int) -> None:
    """A few contrastive steps on real digit pairs, so that the model's predictions are not all one class."""
    generator = torch.Generator().manual_seed(seed)
    images = [PILImage.open(io.BytesIO(png)).convert("RGB") for png, _ in pairs]
    pixels = processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
    tokens = processor.tokenizer([text for _, text in pairs], padding=True, return_tensors="pt")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        batch = torch.randperm(len(pairs), generator=generator)[:64]
        loss = model(
            input_ids=tokens["input_ids"][batch],
            attention_mask=tokens["attention_mask"][batch],
            pixel_values=pixels[batch],
            return_loss=True,
        ).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def save_model(path: Path, config: GrowCLIPConfig, tokenizer, pairs, steps: int, seed: int) -> Path:
    torch.manual_seed(seed)
    model = perturb_(GrowCLIPModel(config), seed=seed, scale=0.05)
    processor = build_processor(config, tokenizer)
    train_briefly(model, processor, pairs, steps, seed)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def training_pairs(count: int = 400, seed: int = 1) -> list[tuple[bytes, str]]:
    """Digit images with their class caption, drawn from all of scikit-learn's digits (overlap with test rows is
    fine here: the tests compare metric implementations, not generalisation)."""
    digits = load_digits()
    rows = np.random.default_rng(seed).permutation(len(digits.target))[:count]
    return [(digit_png(digits.images[i]), digit_captions(digits.target[i], i)[0]) for i in rows]


def build_run(root: Path) -> Path:
    """``stage-0`` and a wider ``stage-1`` (larger projection too) plus a ``growth_log.jsonl`` with samples seen."""
    tokenizer, pairs = fixture_tokenizer(), training_pairs()
    save_model(root / "stage-0", small_config(len(tokenizer)), tokenizer, pairs, steps=60, seed=0)
    wider = small_config(len(tokenizer), hidden=48, projection_dim=32)
    save_model(root / "stage-1", wider, tokenizer, pairs, steps=30, seed=1)
    records = [
        {"stage": 0, "samples_seen": 1200, "event": "stage_end"},
        {"stage": 1, "samples_seen": 1500, "event": "growth", "params_after": 107809},
        {"stage": 1, "samples_seen": 2600, "event": "stage_end"},
    ]
    (root / "growth_log.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    return root


@pytest.fixture(scope="session")
def digits_manifest(tmp_path_factory) -> Path:
    return build_digits_benchmark(tmp_path_factory.mktemp("digits-benchmark"))


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("run"))
