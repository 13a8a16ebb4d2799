"""Samples/s of the full data loader (read, decode, transform, tokenise, collate) with 0, 1 and 2 workers.

Run: .venv/bin/python benchmarks/data_throughput.py [--data DIR] [--batch-size 256] [--repeats 3]
Uses the embedded benchmark at default scale (64x64 PNG images; built into --data when missing) and its largest
chunk, a processor for a 64-pixel model and a 77-token BPE tokenizer trained on the captions. Prints a markdown table
(docs/data.md shows its output). Figures: best and median of --repeats full passes (worker start-up included),
and the best rate after the first batch (start-up excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from growclip_hf import GrowCLIPConfig, build_processor, train_tokenizer  # noqa: E402
from growclip_hf.data import ChunkedStream  # noqa: E402
from growclip_hf.data.benchmark import build_benchmark  # noqa: E402


def _processor(root: Path, manifest: dict):
    captions = [
        c for f in manifest["chunks"][0]["train"] for c in pq.read_table(root / f).column("caption").to_pylist()
    ]
    tokenizer = train_tokenizer(captions, vocab_size=2048, context_length=77)
    config = GrowCLIPConfig(
        text_config={"vocab_size": len(tokenizer), "max_position_embeddings": 77},
        vision_config={"image_size": manifest["image_size"], "patch_size": 8},
    )
    return build_processor(config, tokenizer)


def measure(chunked: ChunkedStream, index: int, processor, workers: int, batch_size: int) -> tuple[float, float]:
    """(samples/s over the whole pass, samples/s after the first batch, i.e. without worker start-up)."""
    loader = chunked.loader(index, processor, batch_size=batch_size, num_workers=workers, shuffle_buffer=1000)
    started = time.perf_counter()
    count, first_at, first_count = 0, None, 0
    for batch in loader:
        count += len(batch["input_ids"])
        if first_at is None:
            first_at, first_count = time.perf_counter(), count
    ended = time.perf_counter()
    return count / (ended - started), (count - first_count) / (ended - first_at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="outputs/benchmark-default", help="Benchmark folder (built if missing).")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    root = Path(args.data)
    if not (root / "manifest.json").exists():
        print(f"building the default-scale benchmark into {root} ...")
        build_benchmark(root, scale="default")
    manifest = json.loads((root / "manifest.json").read_text())
    processor = _processor(root, manifest)
    chunked = ChunkedStream.from_manifest(root, text_column="captions")
    index = max(range(len(chunked)), key=lambda i: chunked.sizes[i])
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    size, pairs = manifest["image_size"], chunked.sizes[index]
    print(f"chunk '{chunked.names[index]}': {pairs} pairs, {size}px PNG, batch {args.batch_size}\n")
    print("| workers | samples/s, whole pass (best) | whole pass (median) | after the first batch (best) |")
    print("| --- | --- | --- | --- |")
    for workers in args.workers:
        runs = [measure(chunked, index, processor, workers, args.batch_size) for _ in range(args.repeats)]
        whole = sorted(run[0] for run in runs)
        steady = max(run[1] for run in runs)
        print(f"| {workers} | {whole[-1]:,.0f} | {whole[len(whole) // 2]:,.0f} | {steady:,.0f} |")


if __name__ == "__main__":
    main()
