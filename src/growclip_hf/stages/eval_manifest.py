"""The evaluation of a run on the user's own stream, written in the benchmark's manifest format so ``growclip-hf eval``
and the run report read it like the embedded benchmark's.

Retrieval: each chunk's held-out pairs (at most ``data.heldout_pairs``). Zero-shot: the tasks of the ``evaluation``
section, in the CLIP_benchmark convention: a source, its label column, the class names (or the source's ClassLabel
names) and the prompt templates, e.g. ``{"name": "fashion", "source": "org/fashion", "split": "test",
"label_column": "label", "classnames": [...], "templates": ["a photo of a {c}."], "kind": "object"}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets

from ..data import SourceSpec
from ..data.benchmark.writing import png_bytes, write_shards
from ..data.sources import image_with_bytes, load_source
from .stream_plan import ChunkSource, StreamConfigError

PAIR_FEATURES = datasets.Features({"image": datasets.Image(), "caption": datasets.Value("string")})
TASK_FEATURES = datasets.Features(
    {"image": datasets.Image(), "label": datasets.Value("int64"), "label_name": datasets.Value("string")}
)
TASK_KEYS = {"name", "source", "split", "data_dir", "data_files", "revision", "config", "image_column"}
TASK_KEYS |= {"label_column", "classnames", "templates", "kind", "max_images"}
DEFAULT_TEMPLATES = ["a photo of a {c}."]


def _image_cell(value) -> dict:
    """A parquet Image cell with the bytes inline (a local path would not travel with the manifest)."""
    value = image_with_bytes(value)
    if isinstance(value, dict) and value.get("bytes"):
        return {"bytes": value["bytes"], "path": None}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value), "path": None}
    if hasattr(value, "save"):  # a decoded PIL image
        return {"bytes": png_bytes(value.convert("RGB")), "path": None}
    raise StreamConfigError(f"Cannot store an image given as {type(value).__name__}.")


def _first_caption(value) -> str:
    return value if isinstance(value, str) else next(v for v in value if isinstance(v, str) and v)


def _heldout_rows(chunk: ChunkSource, limit: int) -> list[dict]:
    from ..data import open_stream

    spec = chunk.heldout
    rows = []
    for row in open_stream(spec).take(limit):
        try:
            rows.append(
                {"image": _image_cell(row[spec.image_column]), "caption": _first_caption(row[spec.text_column])}
            )
        except (StopIteration, TypeError, OSError):
            continue  # a corrupt or captionless pair is left out of evaluation as it is skipped in training
    return rows


def _task_rows(task: dict, index: int) -> tuple[list[dict], list[str]]:
    where = f"evaluation.zeroshot[{index}]"
    unknown = sorted(set(task) - TASK_KEYS)
    if unknown or "source" not in task or "name" not in task:
        raise StreamConfigError(f"{where} needs name and source; unknown keys {unknown}; known: {sorted(TASK_KEYS)}.")
    image_column, label_column = task.get("image_column", "image"), task.get("label_column", "label")
    files = task.get("data_files")
    spec = SourceSpec(
        task["source"],
        image_column=image_column,
        text_column=label_column,
        split=task.get("split", "test"),
        data_dir=task.get("data_dir"),
        data_files=tuple(files) if isinstance(files, list) else files,
        revision=task.get("revision"),
        config=task.get("config"),
    )
    stream = load_source(spec)
    columns = stream.column_names or []
    missing = [c for c in (image_column, label_column) if columns and c not in columns]
    if missing:
        raise StreamConfigError(f"{where}: column(s) {missing} not in {sorted(columns)} (set image/label_column).")
    classnames = task.get("classnames")
    feature = (stream.features or {}).get(label_column)
    if classnames is None and isinstance(feature, datasets.ClassLabel):
        classnames = list(feature.names)
    if not classnames:
        raise StreamConfigError(f"{where}: give classnames (the label column is not a ClassLabel).")
    rows = []
    for row in stream.take(int(task.get("max_images", 1000))):
        label = row[label_column]
        label = classnames.index(label) if isinstance(label, str) and label in classnames else int(label)
        if not 0 <= label < len(classnames):
            raise StreamConfigError(f"{where}: label {label} has no class name ({len(classnames)} classes given).")
        rows.append({"image": _image_cell(row[image_column]), "label": label, "label_name": classnames[label]})
    return rows, list(classnames)


def write_eval_manifest(
    chunks: list[ChunkSource], zeroshot: list[dict], out: str | Path, heldout_pairs: int = 500
) -> Path:
    """Materialise the held-out pairs and zero-shot images under ``out`` and write ``out/manifest.json``."""
    out = Path(out)
    manifest = {"format_version": 1, "image_column": "image", "text_column": "caption", "chunks": [], "zeroshot": []}
    for index, chunk in enumerate(chunks):
        rows = _heldout_rows(chunk, heldout_pairs)
        if not rows:
            raise StreamConfigError(f"chunk {chunk.name!r} has no usable held-out pairs to evaluate on.")
        files = write_shards(rows, PAIR_FEATURES, out / "chunks" / f"{index:02d}", "test", 1)
        relative = [str(f.relative_to(out)) for f in files]
        manifest["chunks"].append({"name": chunk.name, "train": [], "test": relative, "num_test": len(rows)})
    for index, task in enumerate(zeroshot):
        rows, classnames = _task_rows(task, index)
        files = write_shards(rows, TASK_FEATURES, out / "zeroshot" / f"{index:02d}", "test", 1)
        manifest["zeroshot"].append(
            {
                "name": task["name"],
                "files": [str(f.relative_to(out)) for f in files],
                "classnames": classnames,
                "templates": list(task.get("templates") or DEFAULT_TEMPLATES),
                "kind": task.get("kind", "object"),
            }
        )
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path
