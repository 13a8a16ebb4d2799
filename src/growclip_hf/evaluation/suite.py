"""Read the evaluation suite a benchmark ``manifest.json`` describes: per-chunk retrieval test splits, zero-shot tasks.

Manifest (paths relative to it): ``{"chunks": [{"name", "train": [files], "test": [files], "num_train", "num_test"}],
"zeroshot": [{"name", "files", "classnames", "templates", "kind"}]}``; ``kind`` is ``object`` or ``attribute``
(missing: ``object``, see ``kinds.py``). Files are parquet shards; an image cell is a `datasets`
Image value (a dict with ``bytes`` and/or ``path``), raw bytes or a path. A caption cell is a string or a list of
captions of the same image. Column names are parameters; when not given, the manifest's ``image_column`` /
``text_column`` are used, and for retrieval a ``captions`` list column is preferred when the shards have one.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import torch
from PIL import Image

from .embeddings import preprocess_images
from .kinds import DEFAULT_KIND, normalise_kind


@dataclass
class ImageSet:
    """Decoded images, preprocessed once per image-processor configuration and reused across checkpoints."""

    name: str
    images: list[Image.Image]
    _cache_key: str | None = field(default=None, repr=False)
    _cached_pixels: torch.Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.images)

    def pixel_values(self, image_processor) -> torch.Tensor:
        key = image_processor.to_json_string()
        if key != self._cache_key:
            self._cached_pixels = preprocess_images(image_processor, self.images)
            self._cache_key = key
        return self._cached_pixels


@dataclass
class RetrievalSplit:
    """A chunk's test split: images and their captions, ``caption_image_index[c]`` = the image caption c describes."""

    name: str
    images: ImageSet
    captions: list[str]
    caption_image_index: torch.Tensor


@dataclass
class ZeroShotTask:
    name: str
    images: ImageSet
    labels: torch.Tensor
    classnames: list[str]
    templates: list[str]
    kind: str = DEFAULT_KIND


@dataclass
class EvalSuite:
    retrieval: list[RetrievalSplit]
    zeroshot: list[ZeroShotTask]
    manifest_path: Path


def decode_image(value, root: Path) -> Image.Image:
    """A PIL RGB image from a `datasets` Image cell (dict with bytes/path), raw bytes, a path or a PIL image."""
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, Image.Image):
        image = value
    elif isinstance(value, (bytes, bytearray)):
        image = Image.open(io.BytesIO(value))
    elif isinstance(value, str):
        image = Image.open(root / value)
    else:
        raise ValueError(f"Cannot decode an image from a {type(value).__name__} cell.")
    return image.convert("RGB")


def read_rows(files: list[str], root: Path, columns: list[str], limit: int | None = None) -> dict[str, list]:
    """The given columns of parquet shards, in file order, at most ``limit`` rows."""
    result: dict[str, list] = {name: [] for name in columns}
    for file in files:
        table = pq.read_table(root / file, columns=columns)
        if limit is not None:
            table = table.slice(0, limit - len(result[columns[0]]))
        for name in columns:
            result[name].extend(table.column(name).to_pylist())
        if limit is not None and len(result[columns[0]]) >= limit:
            break
    return result


def _captions_of(cell) -> list[str]:
    captions = [cell] if isinstance(cell, str) else list(cell or [])
    if not captions or not all(isinstance(caption, str) and caption for caption in captions):
        raise ValueError(f"Every test image needs at least one non-empty caption, got {cell!r}.")
    return captions


def retrieval_text_column(files: list[str], root: Path, manifest: dict) -> str:
    """All captions of each image when the shards have a ``captions`` list, else the manifest's text column."""
    names = pq.read_schema(root / files[0]).names
    for candidate in ("captions", manifest.get("text_column"), "text", "caption"):
        if candidate in names:
            return candidate
    raise ValueError(f"No caption column in {files[0]} (columns: {names}); pass text_column.")


def load_retrieval_split(chunk: dict, root: Path, image_column: str, text_column: str, limit: int | None):
    rows = read_rows(chunk["test"], root, [image_column, text_column], limit)
    captions, owners = [], []
    for index, cell in enumerate(rows[text_column]):
        for caption in _captions_of(cell):
            captions.append(caption)
            owners.append(index)
    images = ImageSet(f"{chunk['name']}/test", [decode_image(value, root) for value in rows[image_column]])
    return RetrievalSplit(chunk["name"], images, captions, torch.tensor(owners, dtype=torch.long))


def load_zeroshot_task(task: dict, root: Path, image_column: str, label_column: str, limit: int | None):
    rows = read_rows(task["files"], root, [image_column, label_column], limit)
    images = ImageSet(f"zeroshot/{task['name']}", [decode_image(value, root) for value in rows[image_column]])
    labels = torch.tensor(rows[label_column], dtype=torch.long)
    return ZeroShotTask(
        task["name"],
        images,
        labels,
        list(task["classnames"]),
        list(task["templates"]),
        normalise_kind(task.get("kind")),
    )


def load_suite(
    manifest_path: str | Path,
    image_column: str | None = None,
    text_column: str | None = None,
    label_column: str = "label",
    max_per_split: int | None = None,
) -> EvalSuite:
    """Decode every chunk's test split and every zero-shot task of a manifest (``max_per_split`` rows each at most).

    ``image_column`` defaults to the manifest's ``image_column`` (else ``"image"``); ``text_column`` to
    ``retrieval_text_column``'s choice per chunk.
    """
    manifest_path = Path(manifest_path)
    if manifest_path.is_dir():
        manifest_path = manifest_path / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"No benchmark manifest at {manifest_path}; build one with `growclip-hf data build`.")
    manifest = json.loads(manifest_path.read_text())
    root = manifest_path.parent
    image_column = image_column or manifest.get("image_column", "image")
    retrieval = [
        load_retrieval_split(
            chunk,
            root,
            image_column,
            text_column or retrieval_text_column(chunk["test"], root, manifest),
            max_per_split,
        )
        for chunk in manifest.get("chunks", [])
        if chunk.get("test")
    ]
    zeroshot = [
        load_zeroshot_task(task, root, image_column, label_column, max_per_split)
        for task in manifest.get("zeroshot", [])
    ]
    if not retrieval and not zeroshot:
        raise ValueError(f"{manifest_path} lists no chunk test splits and no zero-shot tasks.")
    return EvalSuite(retrieval, zeroshot, manifest_path)
