"""Open any image-text source as a `datasets` streaming IterableDataset with undecoded images.

A source is a Hub dataset id (online use only), local parquet files, webdataset ``.tar`` shards, or an imagefolder
(images plus ``metadata.jsonl``/``.csv``). Images stay undecoded bytes so that a corrupt one becomes a counted skip in
the worker instead of an exception inside `datasets`.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets import Image as ImageFeature
from datasets import load_dataset


class MissingColumnError(ValueError):
    """A configured column is not in the source; raised at start, naming what is there."""


@dataclass(frozen=True)
class SourceSpec:
    """Where the pairs are and which columns hold the image and the caption(s)."""

    source: str | list[str]
    image_column: str = "image"
    text_column: str = "caption"
    split: str = "train"


def _expand(source: str | list[str]) -> list[str]:
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files: list[str] = []
    for path in map(str, paths):
        matches = sorted(glob.glob(path)) if any(ch in path for ch in "*?[") else [path]
        files.extend(matches)
    return files


def detect_kind(source: str | list[str]) -> tuple[str, list[str] | str]:
    """``(builder, location)``: parquet / webdataset with files, imagefolder with a folder, hub with an id."""
    files = _expand(source)
    if len(files) == 1 and Path(files[0]).is_dir():
        folder = Path(files[0])
        parquet = sorted(str(p) for p in folder.rglob("*.parquet"))
        tars = sorted(str(p) for p in folder.rglob("*.tar"))
        if parquet:
            return "parquet", parquet
        if tars:
            return "webdataset", tars
        return "imagefolder", str(folder)
    if files and all(Path(f).is_file() for f in files):
        suffixes = {Path(f).suffix for f in files}
        if suffixes == {".parquet"}:
            return "parquet", files
        if suffixes == {".tar"}:
            return "webdataset", files
        raise ValueError(f"Cannot tell the format of {files[:3]}: expected .parquet or .tar files.")
    if isinstance(source, str) and not Path(source).exists() and source.count("/") <= 1 and "*" not in source:
        return "hub", source
    raise FileNotFoundError(f"No data found at {source!r}.")


def open_stream(spec: SourceSpec) -> datasets.IterableDataset:
    """The source as a streaming IterableDataset whose image column is undecoded, after checking the columns."""
    kind, location = detect_kind(spec.source)
    if kind == "hub":
        stream = load_dataset(location, split=spec.split, streaming=True)
    elif kind == "imagefolder":
        stream = load_dataset("imagefolder", data_dir=location, split=spec.split, streaming=True)
    else:
        stream = load_dataset(kind, data_files={spec.split: location}, split=spec.split, streaming=True)
    return prepare_stream(stream, spec.image_column, spec.text_column)


def prepare_stream(stream: datasets.IterableDataset, image_column: str, text_column: str) -> datasets.IterableDataset:
    """Check the columns, keep only them, and turn off image decoding (the pipeline decodes and counts failures)."""
    columns = stream.column_names
    if columns is None:  # features unknown until read: look at the first row
        columns = list(next(iter(stream.take(1))).keys())
    missing = [name for name in (image_column, text_column) if name not in columns]
    if missing:
        raise MissingColumnError(
            f"Column(s) {missing} not found in the source; available columns: {sorted(columns)}. "
            "Pass --image-column / --text-column (or image_column= / text_column=)."
        )
    stream = stream.select_columns([image_column, text_column])
    features = stream.features
    if features is not None and isinstance(features.get(image_column), ImageFeature):
        stream = stream.cast_column(image_column, ImageFeature(decode=False))
    return stream
