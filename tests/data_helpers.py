"""Small real-image fixtures for the data tests: Fashion-MNIST items and scikit-image photos, parquet writers."""

from __future__ import annotations

import functools
import io
import json
import struct
import tarfile
import tempfile
import zlib
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from growclip_hf import GrowCLIPConfig, build_processor, train_tokenizer
from growclip_hf.data import SourceSpec
from growclip_hf.data.benchmark import assets, build_benchmark

COLOURS = ("red", "green", "blue", "orange", "purple", "teal")
PAIR_FEATURES = datasets.Features(
    {
        "image": datasets.Image(),
        "caption": datasets.Value("string"),
        "captions": datasets.List(datasets.Value("string")),
    }
)


def fashion_image(index: int, size: tuple[int, int] = (40, 48)) -> Image.Image:
    """Fashion-MNIST test item ``index`` coloured and resized (non-square, so the transform resizes and crops)."""
    images, _ = assets.fashion_mnist("test")
    gray = images[index].astype(np.float32) / 255.0
    colour = np.array([(index * 53) % 256, (index * 97) % 256, (index * 29) % 256], np.float32)
    rgb = (gray[..., None] * colour + (1 - gray[..., None]) * 255).astype(np.uint8)
    return Image.fromarray(rgb).resize(size, Image.BICUBIC)


def caption_for(index: int) -> str:
    _, labels = assets.fashion_mnist("test")
    return f"item {index}: a {COLOURS[index % len(COLOURS)]} {assets.FASHION_CLASSES[labels[index]]}"


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def pair_rows(count: int, start: int = 0) -> list[dict]:
    """Unique pairs; ``captions`` holds two wordings so that per-pass caption sampling is exercised."""
    rows = []
    for index in range(start, start + count):
        caption = caption_for(index)
        rows.append(
            {
                "image": {"bytes": encode(fashion_image(index)), "path": None},
                "caption": caption,
                "captions": [caption, f"{caption}, seen again"],
            }
        )
    return rows


def write_parquet(rows: list[dict], folder: Path, num_shards: int = 4, features=PAIR_FEATURES) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [round(i * len(rows) / num_shards) for i in range(num_shards + 1)]
    paths = []
    for shard in range(num_shards):
        path = folder / f"train-{shard:05d}-of-{num_shards:05d}.parquet"
        table = pa.Table.from_pylist(rows[bounds[shard] : bounds[shard + 1]], schema=features.arrow_schema)
        pq.write_table(table, path, row_group_size=8)
        paths.append(str(path))
    return paths


def write_webdataset(folder: Path, count: int, num_shards: int = 2):
    """``count`` pairs in ``num_shards`` tar shards (``sampleNNNNN.png`` + ``.txt``); the spec that reads them."""
    folder.mkdir(parents=True)
    for shard in range(num_shards):
        with tarfile.open(folder / f"shard-{shard:04d}.tar", "w") as tar:
            for index in range(shard, count, num_shards):
                for suffix, data in (("png", encode(fashion_image(index))), ("txt", caption_for(index).encode())):
                    info = tarfile.TarInfo(f"sample{index:05d}.{suffix}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return SourceSpec(str(folder / "*.tar"), image_column="png", text_column="txt")


def write_imagefolder(folder: Path, count: int):
    """``count`` PNG files in ``folder/train`` with a ``metadata.jsonl`` of captions; the spec that reads them."""
    (folder / "train").mkdir(parents=True)
    with open(folder / "train" / "metadata.jsonl", "w") as metadata:
        for index in range(count):
            fashion_image(index).save(folder / "train" / f"{index:05d}.png")
            metadata.write(json.dumps({"file_name": f"{index:05d}.png", "text": caption_for(index)}) + "\n")
    return SourceSpec(str(folder), image_column="image", text_column="text")


def write_parquet_pairs(folder: Path, count: int):
    """``count`` pairs in two parquet shards; the spec that reads them."""
    write_parquet(pair_rows(count), folder, num_shards=2)
    return SourceSpec(str(folder / "*.parquet"))


FORMAT_WRITERS = {"parquet": write_parquet_pairs, "webdataset": write_webdataset, "imagefolder": write_imagefolder}


@functools.lru_cache(maxsize=4)
def tiny_processor(image_size: int = 32, context_length: int = 16):
    """A real processor: tokenizer trained on the fixture captions, CLIP image processor at ``image_size``."""
    texts = [caption_for(i) for i in range(200)] + [assets.FASHION_CLASSES[i] for i in range(10)]
    tokenizer = train_tokenizer(texts * 2, vocab_size=400, context_length=context_length)
    tower = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 4}
    config = GrowCLIPConfig(
        text_config={**tower, "vocab_size": len(tokenizer), "max_position_embeddings": context_length},
        vision_config={**tower, "image_size": image_size, "patch_size": 8},
        projection_dim=16,
    )
    return build_processor(config, tokenizer)


@functools.lru_cache(maxsize=1)
def small_benchmark() -> Path:
    """The benchmark at ``small`` scale, built once per test session."""
    out = Path(tempfile.mkdtemp(prefix="growclip-bench-")) / "small"
    build_benchmark(out, scale="small", seed=0)
    return out


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (valid checksums) but carries no real pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
