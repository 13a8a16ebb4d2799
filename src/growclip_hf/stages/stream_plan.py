"""A run's stream from ``datasets`` sources: the ``data.chunks`` list or one ``data.stream`` cut into chunks.

Each chunk is a Hub dataset id or local files (parquet, webdataset, imagefolder) with ``load_dataset``'s ``data_dir``,
``data_files``, ``split``, ``revision`` and ``config``. A chunk without a ``test_split`` has ``heldout_fraction`` of
its pairs carved off by content hash (``data.selection``): the growth search and the evaluation use them, training
never sees them. Sizes may be unknown: a chunk's ``size`` is taken from the config, else counted in one pass over the
chunk before training (the steps of a stage follow from it and ``training.epochs_per_stage``, unless
``training.steps_per_stage`` is set).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from ..data import ChunkedStream, SourceSpec, open_stream
from ..data.selection import RowSelection
from ..data.sources import load_source
from ..growth.plan_check import first_line
from .manifest_plan import ChunkPlan

logger = logging.getLogger(__name__)

CHUNK_KEYS = {"name", "source", "data_dir", "data_files", "split", "revision", "config", "image_column", "text_column"}
CHUNK_KEYS |= {"test_split", "size"}
STREAM_KEYS = (CHUNK_KEYS - {"name", "size"}) | {"by", "values", "every", "num_chunks", "names"}
DATA_KEYS = {"chunks", "stream", "image_column", "text_column", "heldout_fraction", "heldout_pairs", "heldout_seed"}
DATA_KEYS |= {"replay", "reservoir_size", "num_workers", "shuffle_buffer", "max_stages"}


class StreamConfigError(ValueError):
    """The ``data`` section cannot define a stream; the message names the setting and the fix."""


@dataclass(frozen=True)
class ChunkSource:
    name: str
    train: SourceSpec
    heldout: SourceSpec
    size: int | None = None


def _spec(entry: dict, defaults: dict, split_key: str = "split") -> SourceSpec:
    files = entry.get("data_files")
    return SourceSpec(
        entry["source"],
        image_column=entry.get("image_column", defaults.get("image_column", "image")),
        text_column=entry.get("text_column", defaults.get("text_column", "caption")),
        split=entry.get(split_key) or "train",
        data_dir=entry.get("data_dir"),
        data_files=tuple(files) if isinstance(files, list) else files,
        revision=entry.get("revision"),
        config=entry.get("config"),
    )


def _with_heldout(name: str, train: SourceSpec, entry: dict, data: dict, rows: RowSelection | None) -> ChunkSource:
    """The chunk's training rows and its held-out rows: its test split, or pairs carved off by content hash."""
    if entry.get("test_split"):
        heldout = replace(_spec(entry, data, split_key="test_split"), rows=rows)
        return ChunkSource(name, replace(train, rows=rows), heldout, entry.get("size"))
    fraction = float(data.get("heldout_fraction", 0.02))
    if not 0 < fraction < 0.5:
        raise StreamConfigError(f"data.heldout_fraction must be in (0, 0.5), got {fraction}.")
    base = rows or RowSelection()
    seed = int(data.get("heldout_seed", 0))
    carve = {"heldout_fraction": fraction, "seed": seed}
    return ChunkSource(
        name,
        replace(train, rows=replace(base, heldout="exclude", **carve)),
        replace(train, rows=replace(base, heldout="only", **carve)),
        entry.get("size"),
    )


def _chunk_list(data: dict) -> list[ChunkSource]:
    chunks = []
    for index, entry in enumerate(data["chunks"]):
        where = f"data.chunks[{index}]"
        if not isinstance(entry, dict) or "source" not in entry:
            raise StreamConfigError(f"{where} needs a source (a Hub dataset id or local files).")
        unknown = sorted(set(entry) - CHUNK_KEYS)
        if unknown:
            raise StreamConfigError(f"{where}: unknown keys {unknown}; known: {sorted(CHUNK_KEYS)}.")
        name = str(entry.get("name", f"chunk_{index}"))
        chunks.append(_with_heldout(name, _spec(entry, data), entry, data, None))
    return chunks


def _stream_values(spec: SourceSpec, column: str) -> list:
    """The sorted distinct values of ``column`` (one pass over that column)."""
    stream = load_source(spec)
    if stream.column_names is not None and column not in stream.column_names:
        raise StreamConfigError(f"data.stream.by: column {column!r} not in {sorted(stream.column_names)}.")
    return sorted({row[column] for row in stream.select_columns([column])})


def _cut_stream(data: dict) -> list[ChunkSource]:
    stream = data["stream"]
    if not isinstance(stream, dict) or "source" not in stream:
        raise StreamConfigError("data.stream needs a source (a Hub dataset id or local files).")
    unknown = sorted(set(stream) - STREAM_KEYS)
    if unknown:
        raise StreamConfigError(f"data.stream: unknown keys {unknown}; known: {sorted(STREAM_KEYS)}.")
    spec = _spec(stream, data)
    if ("by" in stream) == ("every" in stream):
        raise StreamConfigError("data.stream needs exactly one of `by` (a column, e.g. year) or `every` (pairs).")
    if "every" in stream:
        every, count = int(stream["every"]), stream.get("num_chunks")
        if every <= 0 or not count:
            raise StreamConfigError("data.stream with `every: N` needs N > 0 and `num_chunks`.")
        selections = [RowSelection(skip=k * every, take=every) for k in range(int(count))]
        names = stream.get("names") or [f"pairs_{k * every}-{(k + 1) * every - 1}" for k in range(int(count))]
    else:
        column = stream["by"]
        values = stream.get("values") or _stream_values(spec, column)
        groups = [tuple(v) if isinstance(v, list) else (v,) for v in values]
        selections = [RowSelection(column=column, values=group) for group in groups]
        names = stream.get("names") or [f"{column}={'+'.join(map(str, group))}" for group in groups]
    return [
        _with_heldout(str(name), spec, {**stream, "size": stream.get("every")}, data, rows)
        for name, rows in zip(names, selections, strict=True)
    ]


def stream_chunks(data: dict) -> list[ChunkSource]:
    """The chunks a ``data`` section defines, checked for unknown keys (nothing is read except `by` values)."""
    unknown = sorted(set(data) - DATA_KEYS - {"manifest"})
    if unknown:
        raise StreamConfigError(f"data: unknown settings {unknown}; known: {sorted(DATA_KEYS)}.")
    if ("chunks" in data) == ("stream" in data):
        raise StreamConfigError("data needs exactly one of `chunks` (a list) or `stream` (one source cut by a column).")
    chunks = _chunk_list(data) if "chunks" in data else _cut_stream(data)
    if not chunks:
        raise StreamConfigError("data defines no chunks.")
    return chunks


def check_chunk(chunk: ChunkSource) -> None:
    """Open the chunk and read one pair, so a wrong id, revision, folder or column stops the run before training."""
    for role, spec in (("training pairs", chunk.train), ("held-out pairs", chunk.heldout)):
        try:
            next(iter(open_stream(spec).take(1)))
        except StopIteration:
            fix = "check its data_dir / data_files / values"
            if role == "held-out pairs" and chunk.heldout.rows is not None:
                fix = "raise data.heldout_fraction or give the chunk a test_split"
            raise StreamConfigError(f"chunk {chunk.name!r} has no {role} ({fix}).") from None
        except (ValueError, FileNotFoundError, OSError) as error:
            raise StreamConfigError(f"chunk {chunk.name!r} ({spec.source}): {first_line(error)}") from None


def count_pairs(spec: SourceSpec) -> int:
    """Pairs of a chunk, counted in one pass (images are not decoded)."""
    return sum(1 for _ in open_stream(spec))


def sample_captions(chunks: list[ChunkSource], limit: int) -> list[str]:
    """At most ``limit`` training captions, spread evenly over the chunks (what a new tokenizer learns from)."""
    per_chunk = max(1, limit // len(chunks))
    captions: list[str] = []
    for chunk in chunks:
        for row in open_stream(chunk.train).take(per_chunk):
            text = row[chunk.train.text_column]
            captions.extend([text] if isinstance(text, str) else [t for t in text or [] if isinstance(t, str)])
    return captions


class StreamPlan(ChunkPlan):
    """The stage plan of a ``data.chunks`` / ``data.stream`` config."""

    def __init__(self, chunks: list[ChunkSource], sizes: list[int], processor, replay="none", **kwargs):
        options = {key: kwargs.pop(key) for key in ("reservoir_size", "seed") if key in kwargs}
        names = [chunk.name for chunk in chunks]
        train = ChunkedStream([c.train for c in chunks], names=names, replay=replay, sizes=sizes, **options)
        heldout = ChunkedStream([c.heldout for c in chunks], names=names)
        super().__init__(train, sizes, processor, heldout=heldout, **kwargs)
        self.sources = chunks


def chunk_sizes(chunks: list[ChunkSource], cache: Path | None = None, write: bool = True) -> list[int]:
    """Each chunk's training pairs: from the config, from ``cache`` (a resumed run), else counted. Only one process
    may ``write`` the cache (the others read it after a barrier); the write is atomic, so a reader never sees half."""
    known = json.loads(cache.read_text()) if cache is not None and cache.is_file() else {}
    sizes = []
    for chunk in chunks:
        size = chunk.size or known.get(chunk.name)
        if size is None:
            logger.info("Counting the pairs of chunk %s (give data.chunks[].size to skip this pass)", chunk.name)
            size = count_pairs(chunk.train)
        if size <= 0:
            raise StreamConfigError(f"chunk {chunk.name!r} has no training pairs.")
        sizes.append(int(size))
    if cache is not None and write:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(cache.name + ".partial")
        partial.write_text(json.dumps(dict(zip([c.name for c in chunks], sizes, strict=True)), indent=1))
        os.replace(partial, cache)
    return sizes
