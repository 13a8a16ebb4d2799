"""Write rows as `datasets`-readable parquet shards, byte for byte the same for the same rows."""

from __future__ import annotations

import io
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

PAIR_FEATURES = datasets.Features(
    {
        "image": datasets.Image(),
        "caption": datasets.Value("string"),
        "captions": datasets.List(datasets.Value("string")),
        "objects": datasets.Value("string"),
    }
)
ZEROSHOT_FEATURES = datasets.Features(
    {"image": datasets.Image(), "label": datasets.Value("int64"), "label_name": datasets.Value("string")}
)


def png_bytes(image: Image.Image) -> bytes:
    """PNG: lossless and deterministic (no timestamps), so rebuilt shards are byte-identical."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def write_shards(rows: list[dict], features: datasets.Features, folder: Path, stem: str, num_shards: int) -> list[Path]:
    """Split ``rows`` into ``num_shards`` contiguous parquet files ``{stem}-00000-of-0000N.parquet``."""
    folder.mkdir(parents=True, exist_ok=True)
    num_shards = max(1, min(num_shards, len(rows)))
    bounds = [round(i * len(rows) / num_shards) for i in range(num_shards + 1)]
    schema = features.arrow_schema
    paths = []
    for shard in range(num_shards):
        part = rows[bounds[shard] : bounds[shard + 1]]
        table = pa.Table.from_pylist(part, schema=schema)
        path = folder / f"{stem}-{shard:05d}-of-{num_shards:05d}.parquet"
        pq.write_table(table, path, compression="zstd", row_group_size=256)
        paths.append(path)
    return paths
