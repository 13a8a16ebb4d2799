"""Time `growclip-hf eval` on a suite the size of the embedded default benchmark, for a few model sizes.

    .venv/bin/python benchmarks/eval_speed.py [--data MANIFEST] [--threads 2]

Without --data it writes a stand-in suite in the benchmark's format and default-scale shape (6 chunk test splits of
500 images with 3 captions each, 8 zero-shot tasks of 500 images, 64x64) from scikit-learn's real digit images; with
--data it evaluates the real embedded benchmark. Prints one table row per model: seconds to read the suite, to
evaluate (embeddings + all metrics) and to write the report (JSON, markdown, PNGs).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from datasets import Dataset, Features, Image, List, Value  # noqa: E402
from PIL import Image as PILImage  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from growclip_hf import GrowCLIPConfig, GrowCLIPModel, build_processor, train_tokenizer  # noqa: E402
from growclip_hf.evaluation import evaluate_run, load_suite, write_report  # noqa: E402

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MODELS = {
    "tiny (smoke: width 64, 2 layers, patch 16)": (64, 2, 16, 64),
    "small (width 128, 4 layers, patch 8)": (128, 4, 8, 128),
    "medium (width 256, 6 layers, patch 8)": (256, 6, 8, 256),
}


def stand_in_suite(root: Path, chunks: int = 6, per_split: int = 500, tasks: int = 8, size: int = 64) -> Path:
    digits = load_digits()
    pngs = []
    for pixels in digits.images:
        buffer = io.BytesIO()
        grey = (255 - pixels * 255 / 16).astype(np.uint8)
        PILImage.fromarray(grey, mode="L").resize((size, size), PILImage.BILINEAR).convert("RGB").save(buffer, "PNG")
        pngs.append(buffer.getvalue())
    labels = digits.target
    pair = Features({"image": Image(), "caption": Value("string"), "captions": List(Value("string"))})
    manifest = {"image_column": "image", "text_column": "caption", "chunks": [], "zeroshot": []}
    for chunk in range(chunks):
        rows = [(chunk * per_split + i) % len(pngs) for i in range(per_split)]
        captions = [
            [f"{style} {WORDS[labels[r]]}, picture {chunk}-{i}" for style in ("a", "the digit", "handwritten")]
            for i, r in enumerate(rows)
        ]
        name = f"chunk{chunk}-test.parquet"
        Dataset.from_dict(
            {"image": [{"bytes": pngs[r]} for r in rows], "caption": [c[0] for c in captions], "captions": captions},
            features=pair,
        ).to_parquet(str(root / name))
        manifest["chunks"].append(
            {"name": f"chunk{chunk}", "train": [], "test": [name], "num_train": 0, "num_test": per_split}
        )
    labelled = Features({"image": Image(), "label": Value("int64")})
    for task in range(tasks):
        rows = [(task * 97 + i) % len(pngs) for i in range(per_split)]
        name = f"zs{task}.parquet"
        Dataset.from_dict(
            {"image": [{"bytes": pngs[r]} for r in rows], "label": [int(labels[r]) for r in rows]}, features=labelled
        ).to_parquet(str(root / name))
        manifest["zeroshot"].append(
            {
                "name": f"task{task}",
                "files": [name],
                "classnames": list(WORDS),
                "templates": ["a photo of the digit {}.", "a handwritten {}.", "the number {}."],
            }
        )
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root / "manifest.json"


def save_model(path: Path, width: int, layers: int, patch: int, projection: int, tokenizer) -> None:
    tower = {
        "hidden_size": width,
        "intermediate_size": 4 * width,
        "num_hidden_layers": layers,
        "num_attention_heads": max(1, width // 64),
    }
    config = GrowCLIPConfig(
        text_config={**tower, "vocab_size": len(tokenizer), "max_position_embeddings": 32},
        vision_config={**tower, "image_size": 64, "patch_size": patch},
        shared_config={**tower, "num_hidden_layers": 0},
        projection_dim=projection,
    )
    GrowCLIPModel(config).save_pretrained(path)
    build_processor(config, tokenizer).save_pretrained(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="A real benchmark manifest.json (default: a stand-in of the same shape).")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="eval-speed-"))
    manifest = Path(args.data) if args.data else stand_in_suite(work)
    started = time.perf_counter()
    suite = load_suite(manifest)
    read_seconds = time.perf_counter() - started
    texts = [caption for split in suite.retrieval for caption in split.captions[:2000]]
    tokenizer = train_tokenizer(texts, vocab_size=1024, context_length=32)
    images = sum(len(split.images) for split in suite.retrieval) + sum(len(task.images) for task in suite.zeroshot)
    captions = sum(len(split.captions) for split in suite.retrieval)
    print(f"suite: {manifest} | {images} images, {captions} captions, {len(suite.zeroshot)} zero-shot tasks")
    print(f"threads: {torch.get_num_threads()} | suite read + decoded in {read_seconds:.1f} s (once per eval)")
    print("| model | parameters | evaluate (s) | report (s) | total incl. read (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (width, layers, patch, projection) in MODELS.items():
        model_dir = work / name.split()[0]
        save_model(model_dir, width, layers, patch, projection, tokenizer)
        for split in suite.retrieval + suite.zeroshot:  # time the cold path: preprocessing included
            split.images._cache_key = None
        started = time.perf_counter()
        results = evaluate_run(model_dir, suite)
        evaluated = time.perf_counter() - started
        write_report(results, work / f"{model_dir.name}-report")
        reported = time.perf_counter() - started - evaluated
        parameters = results["stages"][0]["parameters"]
        total = read_seconds + evaluated + reported
        print(f"| {name} | {parameters:,} | {evaluated:.1f} | {reported:.1f} | {total:.1f} |")


if __name__ == "__main__":
    main()
