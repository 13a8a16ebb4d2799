"""Does a small CLIP learn what things are on a candidate stream? Build a one-chunk Fashion-MNIST stream in one of
several caption/scene styles (or take an existing stream), train the default-size model on it with
``growclip-hf train`` for a fixed number of steps per chunk (one process, fp32, no growth), and print zero-shot top-1
per stage and task with each task's kind and chance level, and the last stage's retrieval.

Styles (``--style``):

- ``scene``: the old embedded stream's grammar: a tinted object with a random colour, size and 3x3 position on a
  random plain background, every attribute named in the caption.
- ``mixed``: the same scenes, but the caption names the object first and each attribute only sometimes
  (``--attribute-share``, default 0.35 per attribute).
- ``object``: the real grayscale image, large, shifted a little, on black; the caption is one of a few object
  templates ("a photo of a sneaker.").
- ``compose``: ``object`` for half of the pairs, the rest 2 objects side by side or a 2x2 grid whose captions name
  the objects in reading order; the retrieval test split is 2x2 grids (distinct captions).

The built one-chunk streams have zero-shot tasks ``fashion_raw`` (held-out images as they are), ``fashion_scene``
(held-out images in the scene grammar), ``colour`` and ``position``.

Or ``--manifest DIR/manifest.json`` trains on the first ``--stages`` chunks of an existing stream (e.g. one that
``growclip-hf data build`` wrote), optionally with ``--strategy er --buffer-size 5000``, and evaluates every stage on
its suite.

Measured (2 shared cores, see docs/data.md for the table):
  .venv/bin/python benchmarks/semantic_probe.py --style object --pairs 20000 --steps 300             # 67.4 %
  .venv/bin/python benchmarks/semantic_probe.py --style mixed --pairs 20000 --steps 300              # 20.8 %
  .venv/bin/python benchmarks/semantic_probe.py --style compose --pairs 20000 --steps 300 --image-size 64 \
      --patch-size 8                                                                                  # 65.6 %
  .venv/bin/growclip-hf data build --scale default --out /tmp/bench
  .venv/bin/python benchmarks/semantic_probe.py --manifest /tmp/bench/manifest.json --stages 6 --steps 150 \
      --image-size 64 --patch-size 8 [--strategy er --buffer-size 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from growclip_hf.data.benchmark import assets  # noqa: E402
from growclip_hf.data.benchmark.writing import PAIR_FEATURES, ZEROSHOT_FEATURES, png_bytes, write_shards  # noqa: E402

# The old stream's scene grammar, kept here to reproduce the comparison: a tinted object of some size at one of 9
# grid positions on a pale or dark plain background.
COLOURS = {
    "red": (214, 39, 40),
    "orange": (255, 127, 14),
    "yellow": (240, 200, 20),
    "green": (44, 160, 44),
    "teal": (23, 160, 160),
    "blue": (31, 90, 220),
    "purple": (148, 80, 189),
    "pink": (240, 120, 190),
    "brown": (140, 86, 60),
    "grey": (128, 128, 128),
    "black": (20, 20, 20),
    "white": (250, 250, 250),
}
PLAIN_BACKGROUNDS = {
    "a white background": (255, 255, 255),
    "a black background": (0, 0, 0),
    "a light grey background": (200, 200, 200),
    "a pale yellow background": (250, 240, 190),
    "a pale blue background": (190, 215, 245),
}
SIZES = {"small": 0.3, "medium": 0.42, "large": 0.56}
POSITIONS = {
    "top left corner": (1, 1),
    "top": (3, 1),
    "top right corner": (5, 1),
    "left": (1, 3),
    "centre": (3, 3),
    "right": (5, 3),
    "bottom left corner": (1, 5),
    "bottom": (3, 5),
    "bottom right corner": (5, 5),
}


@dataclass(frozen=True)
class Placement:
    pixels: np.ndarray
    colour: str
    size: str
    position: str


def _luma(rgb) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def contrasting_colour(background: str, rng) -> str:
    ground = _luma(PLAIN_BACKGROUNDS[background])
    names = [name for name in COLOURS if abs(_luma(COLOURS[name]) - ground) >= 55]
    return names[int(rng.integers(len(names)))]


def render(placement: Placement, background: str, size: int) -> Image.Image:
    """The grayscale object as a mask filled with its colour, scaled and centred on its grid cell."""
    canvas = Image.new("RGB", (size, size), PLAIN_BACKGROUNDS[background])
    extent = max(4, round(SIZES[placement.size] * size))
    mask = Image.fromarray(placement.pixels).resize((extent, extent), Image.BILINEAR)
    column, row = POSITIONS[placement.position]
    left = min(max(0, round(column * size / 6 - extent / 2)), size - extent)
    top = min(max(0, round(row * size / 6 - extent / 2)), size - extent)
    canvas.paste(Image.new("RGB", (extent, extent), COLOURS[placement.colour]), (left, top), mask)
    return canvas


OBJECT_TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "a {}.", "an image of a {}.", "a drawing of a {}.")
ZEROSHOT_TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "a {}.")


def _object_image(split, index, size, rng):
    """The real image, grayscale, 80-100% of the canvas, shifted a little: only the object varies."""
    images, _ = assets.fashion_mnist(split)
    extent = int(round(size * rng.uniform(0.8, 1.0)))
    patch = Image.fromarray(images[index]).resize((extent, extent), Image.BILINEAR)
    canvas = Image.new("L", (size, size), 0)
    left, top = (int(v) for v in rng.integers(0, size - extent + 1, size=2))
    canvas.paste(patch, (left, top))
    return canvas.convert("RGB")


def _cells(count: int, size: int):
    """Boxes (left, top, extent) of ``count`` objects: the whole canvas, two halves, or a 2x2 grid."""
    if count == 1:
        return [(0, 0, size)]
    half = size // 2
    if count == 2:
        return [(0, half // 2, half), (half, half // 2, half)]
    return [(0, 0, half), (half, 0, half), (0, half, half), (half, half, half)][:count]


def _composed(split, indices, size, rng):
    """Real grayscale objects side by side (reading order), each 80-100% of its cell, jittered."""
    images, labels = assets.fashion_mnist(split)
    canvas = Image.new("L", (size, size), 0)
    for index, (left, top, cell) in zip(indices, _cells(len(indices), size), strict=True):
        extent = int(round(cell * rng.uniform(0.8, 1.0)))
        patch = Image.fromarray(images[index]).resize((extent, extent), Image.BILINEAR)
        dx, dy = (int(v) for v in rng.integers(0, cell - extent + 1, size=2))
        canvas.paste(patch, (left + dx, top + dy))
    names = [assets.FASHION_CLASSES[int(labels[i])] for i in indices]
    if len(names) == 1:
        text = OBJECT_TEMPLATES[int(rng.integers(len(OBJECT_TEMPLATES)))].format(names[0])
    elif len(names) == 2:
        text = f"a {names[0]} on the left and a {names[1]} on the right."
    else:
        text = f"top: a {names[0]} and a {names[1]}; bottom: a {names[2]} and a {names[3]}."
    return canvas.convert("RGB"), text.replace("a a", "an a")


def _scene(split, index, size, rng, colour=None, position=None):
    images, labels = assets.fashion_mnist(split)
    name = assets.FASHION_CLASSES[int(labels[index])]
    background = list(PLAIN_BACKGROUNDS)[int(rng.integers(len(PLAIN_BACKGROUNDS)))]
    colour = colour or contrasting_colour(background, rng)
    if colour == "white" or colour == "black":
        background = "a pale blue background"
    position = position or list(POSITIONS)[int(rng.integers(len(POSITIONS)))]
    placement = Placement(images[index], colour, list(SIZES)[int(rng.integers(len(SIZES)))], position)
    return render(placement, background, size), name, placement, background


def _caption(style, name, placement, background, rng, attribute_share):
    if style == "object":
        return OBJECT_TEMPLATES[int(rng.integers(len(OBJECT_TEMPLATES)))].format(name)
    where = f" in the {placement.position}"
    if style == "scene":
        return f"a {placement.size} {placement.colour} {name}{where}, on {background}."
    words = [placement.colour] if rng.random() < attribute_share else []
    words += [placement.size] if rng.random() < attribute_share else []
    text = OBJECT_TEMPLATES[int(rng.integers(len(OBJECT_TEMPLATES)))].format(" ".join([*words, name]))
    if rng.random() < attribute_share:
        text = text[:-1] + where + "."
    return text.replace("a a", "an a").replace("a o", "an o")


def build_style(out: Path, style: str, pairs: int, size: int, seed: int, attribute_share: float) -> Path:
    rng = np.random.default_rng(seed)
    _, labels = assets.fashion_mnist("train")
    order = rng.permutation(len(labels))[:pairs]
    rows = []
    for index in order:
        if style == "compose":
            count = (1, 1, 2, 4)[int(rng.integers(4))]
            extra = [int(i) for i in rng.integers(0, len(labels), size=count - 1)]
            image, caption = _composed("train", [int(index), *extra], size, rng)
        elif style == "object":
            image = _object_image("train", int(index), size, rng)
            name = assets.FASHION_CLASSES[int(labels[index])]
            caption = _caption(style, name, None, None, rng, attribute_share)
        else:
            image, name, placement, background = _scene("train", int(index), size, rng)
            caption = _caption(style, name, placement, background, rng, attribute_share)
        rows.append(
            {
                "image": {"bytes": png_bytes(image), "path": None},
                "caption": caption,
                "captions": [caption],
                "objects": "{}",
            }
        )
    train = write_shards(rows, PAIR_FEATURES, out / "chunk", "train", 4)
    test_rows = rows[:64]
    if style == "compose":
        _, held = assets.fashion_mnist("test")
        test_rows = []
        for _ in range(200):
            image, caption = _composed("test", [int(i) for i in rng.integers(0, 5000, size=4)], size, rng)
            test_rows.append(
                {
                    "image": {"bytes": png_bytes(image), "path": None},
                    "caption": caption,
                    "captions": [caption],
                    "objects": "{}",
                }
            )
    test = write_shards(test_rows, PAIR_FEATURES, out / "chunk", "test", 1)
    _, test_labels = assets.fashion_mnist("test")
    tasks = []
    zs = rng.permutation(len(test_labels))[:500]

    def zeroshot(name, classnames, templates, make):
        task_rows = []
        for i, index in enumerate(zs):
            image, label = make(int(index), i)
            task_rows.append(
                {"image": {"bytes": png_bytes(image), "path": None}, "label": label, "label_name": classnames[label]}
            )
        files = write_shards(task_rows, ZEROSHOT_FEATURES, out / "zeroshot", name, 1)
        tasks.append(
            {
                "name": name,
                "files": [str(f.relative_to(out)) for f in files],
                "classnames": list(classnames),
                "templates": list(templates),
                "num_images": len(task_rows),
            }
        )

    raw = lambda index, i: (_object_image("test", index, size, rng), int(test_labels[index]))  # noqa: E731
    zeroshot("fashion_raw", assets.FASHION_CLASSES, ZEROSHOT_TEMPLATES, raw)
    scene = lambda index, i: (_scene("test", index, size, rng)[0], int(test_labels[index]))  # noqa: E731
    zeroshot("fashion_scene", assets.FASHION_CLASSES, ZEROSHOT_TEMPLATES, scene)
    colours = [c for c in COLOURS if c not in ("white", "black")]
    colour = lambda index, i: (_scene("test", index, size, rng, colour=colours[i % 10])[0], i % 10)  # noqa: E731
    zeroshot("colour", colours[:10], ("a {} object.", "something {}."), colour)
    positions = list(POSITIONS)
    position = lambda index, i: (_scene("test", index, size, rng, position=positions[i % 9])[0], i % 9)  # noqa: E731
    zeroshot("position", positions, ("an object in the {}.", "something at the {}."), position)
    manifest = {
        "format_version": 1,
        "scale": "probe",
        "seed": seed,
        "image_size": size,
        "image_column": "image",
        "text_column": "caption",
        "zeroshot": tasks,
        "chunks": [
            {
                "name": "fashion",
                "train": [str(f.relative_to(out)) for f in train],
                "test": [str(f.relative_to(out)) for f in test],
                "num_train": len(rows),
                "num_test": len(test_rows),
            }
        ],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out / "manifest.json"


def train(manifest: Path, out: Path, args) -> float:
    tower = {
        "hidden_size": args.width,
        "intermediate_size": 4 * args.width,
        "num_hidden_layers": args.layers,
        "num_attention_heads": 4,
    }
    settings = {
        "model": {
            "text_config": {**tower, "max_position_embeddings": 32},
            "vision_config": {**tower, "image_size": args.image_size, "patch_size": args.patch_size},
            "shared_config": {**tower, "num_hidden_layers": 0},
            "projection_dim": args.width,
        },
        "tokenizer": {"vocab_size": 4096, "context_length": 32},
        "training": {
            "batch_size": args.batch_size,
            "steps_per_stage": args.steps,
            "learning_rate": args.lr,
            "warmup_steps": 20,
            "checkpoint_every": 100000,
            "log_every": 50,
            "tracker": None,
            "seed": args.seed,
        },
        "growth": {"policy": "none"},
        "data": {
            "manifest": str(manifest),
            "num_workers": args.workers,
            "shuffle_buffer": 2000,
            "max_stages": args.stages,
        },
    }
    if args.strategy:
        settings["continual"] = {"strategy": args.strategy}
        if args.buffer_size:
            settings["continual"]["buffer_size"] = args.buffer_size
    config = out / "probe_config.json"
    config.write_text(json.dumps(settings, indent=2))
    started = time.perf_counter()
    command = [
        str(Path(sys.executable).parent / "growclip-hf"),
        "train",
        str(config),
        "--output-dir",
        str(out / "run"),
        "--no-report",
    ]
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
    return time.perf_counter() - started


def evaluate(manifest: Path, run: Path) -> dict:
    from growclip_hf.evaluation import evaluate_run, load_suite

    suite = load_suite(manifest)
    return evaluate_run(run, suite)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--style", choices=("scene", "mixed", "object", "compose"), default="object")
    parser.add_argument("--manifest", default=None, help="Train on an existing stream instead of building one.")
    parser.add_argument("--stages", type=int, default=1)
    parser.add_argument("--strategy", default=None, help="seqf (default), jointt, er, ctp or modx")
    parser.add_argument("--buffer-size", type=int, default=None, help="ER's reservoir size")
    parser.add_argument("--pairs", type=int, default=20000)
    parser.add_argument("--attribute-share", type=float, default=0.35)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--patch-size", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="/tmp/semantic_probe")
    args = parser.parse_args()
    out = Path(args.out)
    if (out / "run").exists():
        raise SystemExit(f"{out / 'run'} exists: choose another --out.")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.manifest:
        manifest = Path(args.manifest)
    else:
        manifest = build_style(out / "data", args.style, args.pairs, args.image_size, args.seed, args.attribute_share)
    built = time.perf_counter() - started
    seconds = train(manifest, out, args)
    results = evaluate(manifest, out / "run")
    last = results["stages"][-1]
    kinds = {t["name"]: t.get("kind", "object") for t in json.loads(manifest.read_text())["zeroshot"]}
    print(
        f"\nstyle={args.style if not args.manifest else manifest} pairs={args.pairs} steps={args.steps} "
        f"batch={args.batch_size} image={args.image_size}/p{args.patch_size} width={args.width} "
        f"layers={args.layers}: build {built:.0f} s, train {seconds:.0f} s"
    )
    print("| stage | task | kind | classes | top-1 (%) | chance (%) |\n|---|---|---|---:|---:|---:|")
    for stage in results["stages"]:
        for name, metrics in stage["zeroshot"].items():
            print(
                f"| {stage['name']} | {name} | {kinds[name]} | {metrics['num_classes']} | {metrics['top1']:.1f} "
                f"| {100 / metrics['num_classes']:.1f} |"
            )
    for name, metrics in last["retrieval"].items():
        print(
            f"retrieval {name}: i2t R@1 {metrics['i2t_R@1']:.1f}, t2i R@1 {metrics['t2i_R@1']:.1f}, "
            f"Rm {metrics['Rm']:.1f}"
        )
    (out / "probe_results.json").write_text(
        json.dumps({"args": vars(args), "train_seconds": seconds, "results": results}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
