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
from datasets.utils.file_utils import xopen

from .selection import RowSelection, apply_selection


class MissingColumnError(ValueError):
    """A configured column is not in the source; raised at start, naming what is there."""


@dataclass(frozen=True)
class SourceSpec:
    """Where the pairs are and which columns hold the image and the caption(s).

    ``data_dir``, ``data_files``, ``revision`` and ``config`` (the configuration's name) mean what they mean to
    ``datasets.load_dataset``; ``rows`` narrows the source to a chunk (a column's values, a slice, held-out pairs).
    """

    source: str | list[str]
    image_column: str = "image"
    text_column: str = "caption"
    split: str = "train"
    data_dir: str | None = None
    data_files: str | tuple | None = None
    revision: str | None = None
    config: str | None = None
    rows: RowSelection | None = None

    @property
    def uses_load_dataset_options(self) -> bool:
        return any(value is not None for value in (self.data_dir, self.data_files, self.revision, self.config))


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


def load_source(spec: SourceSpec) -> datasets.IterableDataset:
    """The raw stream of a source, all columns, images undecoded (no checks, no row selection)."""
    return _undecoded(_load(spec))


def _undecoded(stream: datasets.IterableDataset) -> datasets.IterableDataset:
    """The stream without `datasets`' own decoding. Streams from the Hub come with a threaded, asyncio-driven decoding
    step that a cast does not remove: it hands out PIL images (resume state that cannot be serialised) in a racy
    order, and leaves pending tasks behind when a pass stops early. ``decode(False)`` replaces that step."""
    return stream.decode(False) if stream.features is not None else stream


def _load(spec: SourceSpec) -> datasets.IterableDataset:
    if spec.uses_load_dataset_options:
        # A Hub id or a local folder, with load_dataset's own selection of folders, files, revision and config.
        files = list(spec.data_files) if isinstance(spec.data_files, tuple) else spec.data_files
        return load_dataset(
            str(spec.source),
            name=spec.config,
            data_dir=spec.data_dir,
            data_files=files,
            revision=spec.revision,
            split=spec.split,
            streaming=True,
        )
    kind, location = detect_kind(spec.source)
    if kind == "hub":
        return load_dataset(location, split=spec.split, streaming=True)
    if kind == "imagefolder":
        return load_dataset("imagefolder", data_dir=location, split=spec.split, streaming=True)
    return load_dataset(kind, data_files={spec.split: location}, split=spec.split, streaming=True)


def open_stream(spec: SourceSpec) -> datasets.IterableDataset:
    """The source as a streaming IterableDataset whose image column is undecoded, after checking the columns."""
    return prepare_stream(load_source(spec), spec.image_column, spec.text_column, spec.rows)


class _ImageBytes:
    """Read an image stored as a file reference into its bytes, so that a row is its content wherever it is read
    from: held-out hashes, resume state and training then agree between a Hub repository and its local copy."""

    def __init__(self, image_column: str):
        self.image_column = image_column

    def __call__(self, row: dict) -> dict:
        row[self.image_column] = image_with_bytes(row[self.image_column])
        return row


def image_with_bytes(value):
    """An undecoded image cell (``{"bytes", "path"}``) with its bytes read from its local or remote (``hf://``) path
    when it holds only the path; any other value as it is. A file that cannot be read stays a reference: decoding
    then fails and the sample is counted as skipped."""
    if isinstance(value, dict) and not value.get("bytes") and value.get("path"):
        try:
            with xopen(value["path"], "rb") as file:
                return {"bytes": file.read(), "path": value["path"]}
        except OSError:
            return value
    return value


def prepare_stream(
    stream: datasets.IterableDataset, image_column: str, text_column: str, rows: RowSelection | None = None
) -> datasets.IterableDataset:
    """Check the columns, turn off image decoding (the pipeline decodes and counts failures), select the chunk's
    rows, and keep only the image and text columns."""
    columns = stream.column_names
    if columns is None:  # features unknown until read: look at the first row
        columns = list(next(iter(stream.take(1))).keys())
    wanted = [image_column, text_column] + ([rows.column] if rows is not None and rows.column else [])
    missing = [name for name in wanted if name not in columns]
    if missing:
        raise MissingColumnError(
            f"Column(s) {missing} not found in the source; available columns: {sorted(columns)}. "
            "Pass --image-column / --text-column (or image_column= / text_column=)."
        )
    stream = _undecoded(stream)
    if isinstance((stream.features or {}).get(image_column), ImageFeature) or stream.features is None:
        stream = stream.map(_ImageBytes(image_column))
    if rows is not None:
        stream = apply_selection(stream, rows, image_column, text_column)
    return stream.select_columns([image_column, text_column])
