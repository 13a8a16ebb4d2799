"""Chunks as the stage loop consumes them: loaders per stage and process, sizes, the growth search's data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.parquet as pq

from ..data import ChunkedStream, create_loader
from ..models.tokenization import train_tokenizer
from ..training.batching import FullBatches, concat_batches


def read_manifest(path: str | Path) -> tuple[dict, Path]:
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"No benchmark manifest at {path}; build one with `growclip-hf data build --out DIR`.")
    return json.loads(path.read_text(encoding="utf-8")), path.parent


def train_captions(manifest_path: str | Path) -> list[str]:
    """Every training caption of every chunk (the fixed vocabulary is learnt before training, as CLIP's BPE is)."""
    manifest, root = read_manifest(manifest_path)
    column = manifest.get("text_column", "caption")
    captions: list[str] = []
    for chunk in manifest["chunks"]:
        for file in chunk["train"]:
            captions.extend(
                str(c) for c in pq.read_table(root / file, columns=[column]).column(column).to_pylist() if c
            )
    return captions


def tokenizer_for_manifest(manifest_path: str | Path, vocab_size: int = 4096, context_length: int = 32):
    return train_tokenizer(train_captions(manifest_path), vocab_size=vocab_size, context_length=context_length)


class ChunkPlan:
    """Stages = chunks of a ``ChunkedStream`` (optionally the first ``max_stages``), read through a replay policy.

    ``heldout`` holds each chunk's held-out pairs (its test split, or pairs carved from it) for the growth search;
    without it they are read from the head of the chunk's own stream before the stage trains on it.
    ``context_length`` is the model's position table: longer captions are cut to it and counted.
    """

    def __init__(
        self,
        chunks: ChunkedStream,
        sizes: list[int],
        processor,
        heldout: ChunkedStream | None = None,
        context_length: int | None = None,
        num_workers: int = 0,
        shuffle_buffer: int = 1000,
        max_stages: int | None = None,
    ):
        self.chunks = chunks
        self.heldout = heldout
        self.names = list(chunks.names)
        self.sizes = list(sizes)
        self.replay = chunks.replay.value
        self.reservoir_size = chunks.reservoir_size
        self.processor = processor
        self.context_length = context_length
        self.num_workers = num_workers
        self.shuffle_buffer = shuffle_buffer
        self.num_stages = min(len(self.sizes), max_stages or len(self.sizes))

    @property
    def pad_token_id(self) -> int:
        return self.processor.tokenizer.pad_token_id

    def train_pairs(self, stage: int) -> int:
        """Pairs in one pass over what stage ``stage`` streams (its chunk plus any replay)."""
        if self.replay == "all":
            return sum(self.sizes[: stage + 1])
        if self.replay == "reservoir":
            return self.sizes[stage] + min(self.reservoir_size, sum(self.sizes[:stage]))
        return self.sizes[stage]

    def loader(self, stage: int, rank: int, world_size: int, batch_size: int, seed: int) -> FullBatches:
        loader = self.chunks.loader(
            stage,
            self.processor,
            batch_size=batch_size,
            num_workers=self.num_workers,
            shuffle_buffer=self.shuffle_buffer,
            seed=seed,
            rank=rank,
            world_size=world_size,
            context_length=self.context_length,
        )
        return FullBatches(loader, batch_size, self.pad_token_id)

    def _batches(self, stream, batch_size: int, seed: int) -> FullBatches:
        loader = create_loader(
            stream,
            self.processor,
            image_column="image",
            text_column="text",
            batch_size=batch_size,
            shuffle_buffer=1,
            seed=seed,
            rank=0,
            world_size=1,
            context_length=self.context_length,
        )
        return FullBatches(loader, batch_size, self.pad_token_id)

    def search_data(self, stage: int, batch_size: int, num_batches: int, heldout_pairs: int, seed: int):
        """Proxy micro-batches from the new chunk and a held-out batch, in stream order.

        Both are unseen when the growth decision is taken: the proxy batches are the head of the chunk, read before
        the stage trains on it; the held-out batch comes from the chunk's held-out pairs when the plan has them
        (never trained on), else from the chunk's head after the proxy batches.
        """
        batches = self._batches(self.chunks.chunk_stream(stage), batch_size, seed)
        proxy = [next(batches) for _ in range(num_batches)]
        if self.heldout is not None:
            batches = self._batches(self.heldout.chunk_stream(stage), min(batch_size, heldout_pairs), seed)
        heldout_parts = [next(batches) for _ in range(math.ceil(heldout_pairs / batches.batch_size))]
        heldout = concat_batches(heldout_parts, self.pad_token_id)
        heldout = {key: value[:heldout_pairs] for key, value in heldout.items()}
        return proxy, heldout


class ManifestPlan(ChunkPlan):
    """The chunks of a benchmark manifest (``growclip-hf data build``), sizes from the manifest."""

    def __init__(
        self,
        manifest_path: str | Path,
        processor,
        replay: str = "none",
        reservoir_size: int = 1000,
        seed: int = 0,
        num_workers: int = 0,
        shuffle_buffer: int = 1000,
        max_stages: int | None = None,
        context_length: int | None = None,
    ):
        manifest, _ = read_manifest(manifest_path)
        chunks = ChunkedStream.from_manifest(manifest_path, replay=replay, reservoir_size=reservoir_size, seed=seed)
        super().__init__(
            chunks,
            [chunk["num_train"] for chunk in manifest["chunks"]],
            processor,
            context_length=context_length,
            num_workers=num_workers,
            shuffle_buffer=shuffle_buffer,
            max_stages=max_stages,
        )
