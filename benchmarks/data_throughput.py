"""Samples/s of the full data loader (read, decode, transform, tokenise, collate) with 0, 1 and 2 workers.

Run: .venv/bin/python benchmarks/data_throughput.py [--data DIR] [--batch-size 256] [--repeats 3] [--jpeg-224]
Uses the embedded benchmark at default scale (64x64 PNG images; built into --data when missing) and its largest
chunk, a processor for a 64-pixel model and a 77-token BPE tokenizer trained on the captions. Prints a markdown table
(docs/data.md shows its output). Figures: best and median of --repeats full passes (worker start-up included),
and the best rate after the first batch (start-up excluded).

``--jpeg-224`` measures what real sizes are fed with instead: every chunk's pairs written once as webdataset ``.tar``
shards of 224x224 JPEG images (quality 90, upscaled from the benchmark's images) read through ``create_loader``
with a 224-pixel CLIP processor, and adds decoded pairs/s per worker (per process for 0 workers).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import tarfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from growclip_hf import GrowCLIPConfig, build_processor, train_tokenizer  # noqa: E402
from growclip_hf.data import ChunkedStream, SourceSpec, create_loader  # noqa: E402
from growclip_hf.data.benchmark import build_benchmark  # noqa: E402


def _processor(root: Path, manifest: dict, image_size: int | None = None):
    captions = [
        c for f in manifest["chunks"][0]["train"] for c in pq.read_table(root / f).column("caption").to_pylist()
    ]
    tokenizer = train_tokenizer(captions, vocab_size=2048, context_length=77)
    config = GrowCLIPConfig(
        text_config={"vocab_size": len(tokenizer), "max_position_embeddings": 77},
        vision_config={"image_size": image_size or manifest["image_size"], "patch_size": 8},
    )
    return build_processor(config, tokenizer)


def write_jpeg_shards(root: Path, manifest: dict, out: Path, size: int = 224, shards: int = 4) -> Path:
    """Every chunk's training pairs as webdataset shards of ``size`` px JPEG images (``key.jpg`` + ``key.txt``),
    written once."""

    if any(out.glob("*.tar")):
        return out
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        tars = [stack.enter_context(tarfile.open(out / f"pairs-{k:05d}.tar", "w")) for k in range(shards)]
        _write_pairs(root, [file for chunk in manifest["chunks"] for file in chunk["train"]], tars, size)
    return out


def _write_pairs(root: Path, files: list[str], tars: list, size: int) -> None:
    from PIL import Image

    count = 0
    for file in files:
        table = pq.read_table(root / file)
        image_column = next(name for name in table.column_names if name.startswith("image"))
        columns = (table.column(image_column).to_pylist(), table.column("captions").to_pylist())
        for image, captions in zip(*columns, strict=True):
            picture = Image.open(io.BytesIO(image["bytes"])).convert("RGB").resize((size, size), Image.BICUBIC)
            jpeg = io.BytesIO()
            picture.save(jpeg, format="JPEG", quality=90)
            caption = captions[0] if isinstance(captions, list) else captions
            for suffix, data in (("jpg", jpeg.getvalue()), ("txt", caption.encode())):
                info = tarfile.TarInfo(f"{count:07d}.{suffix}")
                info.size = len(data)
                tars[count % len(tars)].addfile(info, io.BytesIO(data))
            count += 1


def measure_loader(make_loader) -> tuple[float, float]:
    """(pairs/s over the whole pass, pairs/s after the first batch, i.e. without worker start-up)."""
    started = time.perf_counter()
    count, first_at, first_count = 0, None, 0
    for batch in make_loader():
        count += len(batch["input_ids"])
        if first_at is None:
            first_at, first_count = time.perf_counter(), count
    ended = time.perf_counter()
    return count / (ended - started), (count - first_count) / max(ended - first_at, 1e-9)


def measure(chunked: ChunkedStream, index: int, processor, workers: int, batch_size: int) -> tuple[float, float]:
    """(samples/s over the whole pass, samples/s after the first batch, i.e. without worker start-up)."""
    return measure_loader(
        lambda: chunked.loader(index, processor, batch_size=batch_size, num_workers=workers, shuffle_buffer=1000)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="outputs/benchmark-default", help="Benchmark folder (built if missing).")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jpeg-224", action="store_true", help="224 px JPEG webdataset shards instead (see above)")
    parser.add_argument("--shards", default=None, help="where the JPEG shards go (default: DATA/jpeg-224)")
    args = parser.parse_args()
    root = Path(args.data)
    if not (root / "manifest.json").exists():
        print(f"building the default-scale benchmark into {root} ...")
        build_benchmark(root, scale="default")
    manifest = json.loads((root / "manifest.json").read_text())
    chunked = ChunkedStream.from_manifest(root, text_column="captions")
    index = max(range(len(chunked)), key=lambda i: chunked.sizes[i])
    torch.set_num_threads(1)
    if args.jpeg_224:
        shards = write_jpeg_shards(root, manifest, Path(args.shards or root / "jpeg-224"))
        jpeg_table(shards, _processor(root, manifest, image_size=224), args)
        return
    processor = _processor(root, manifest)
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


def jpeg_table(shards: Path, processor, args) -> None:
    """Decoded 224 px pairs/s through create_loader, in total and per worker."""
    spec = SourceSpec(str(shards / "*.tar"), image_column="jpg", text_column="txt")
    count = 0
    for path in shards.glob("*.tar"):
        with tarfile.open(path) as tar:
            count += sum(1 for member in tar.getmembers() if member.name.endswith(".jpg"))
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(
        f"{count} pairs in {len(list(shards.glob('*.tar')))} webdataset shards, 224px JPEG, batch {args.batch_size}\n"
    )
    print("| workers | pairs/s, whole pass (best) | whole pass (median) | after the first batch (best) | per worker |")
    print("| --- | --- | --- | --- | --- |")
    for workers in args.workers:
        runs = [
            measure_loader(
                lambda workers=workers: create_loader(
                    spec, processor, batch_size=args.batch_size, num_workers=workers, shuffle_buffer=256
                )
            )
            for _ in range(args.repeats)
        ]
        whole = sorted(run[0] for run in runs)
        steady = max(run[1] for run in runs)
        per = steady / max(workers, 1)
        print(f"| {workers} | {whole[-1]:,.0f} | {whole[len(whole) // 2]:,.0f} | {steady:,.0f} | {per:,.0f} |")


if __name__ == "__main__":
    main()
