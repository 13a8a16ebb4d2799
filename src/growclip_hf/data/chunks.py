"""An ordered list of chunks (the growth steps) and the replay policies the continual strategies need.

Replay policies for chunk ``k``:
- ``none``: chunk ``k`` only (fine-tuning; forgetting is the baseline).
- ``all``: chunks ``0..k`` interleaved at random, each pair once per pass (joint training, the upper bound).
- ``reservoir``: chunk ``k`` plus a reservoir of at most N pairs sampled uniformly from chunks ``0..k-1``
  (Algorithm R in stream order, seeded), interleaved in proportion to their sizes.
The reservoir is a pure function of (seed, N, earlier chunks), so a checkpoint need not store its pairs.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import datasets
import numpy as np
from datasets import interleave_datasets

from .sources import SourceSpec, open_stream

IMAGE, TEXT = "image", "text"


class ReplayPolicy(str, Enum):
    NONE = "none"
    ALL = "all"
    RESERVOIR = "reservoir"


class ChunkedStream:
    """Chunks as sources; ``source(k)`` is the `datasets` stream to train on at growth step ``k`` under the policy."""

    def __init__(
        self,
        chunks: list[SourceSpec],
        names: list[str] | None = None,
        replay: ReplayPolicy | str = ReplayPolicy.NONE,
        reservoir_size: int = 1000,
        seed: int = 0,
        sizes: list[int] | None = None,
    ):
        if not chunks:
            raise ValueError("A chunked stream needs at least one chunk.")
        self.chunks = list(chunks)
        self.names = names or [f"chunk_{i}" for i in range(len(chunks))]
        self.replay = ReplayPolicy(replay)
        self.reservoir_size = int(reservoir_size)
        self.seed = int(seed)
        self.sizes = sizes
        self._reservoir: list[dict] = []
        self._reservoir_seen = 0
        self._reservoir_chunks = 0
        self._reservoir_rng = np.random.default_rng([self.seed, 7919])

    @classmethod
    def from_manifest(
        cls, manifest_path: str | Path, split: str = "train", text_column: str | None = None, **kwargs
    ) -> ChunkedStream:
        """The chunks of a benchmark folder built by ``growclip-hf data build`` (``split`` 'train' or 'test').

        ``text_column='captions'`` trains on both wordings of each scene, one sampled per pass.
        """
        manifest_path = Path(manifest_path)
        if manifest_path.is_dir():
            manifest_path = manifest_path / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        root = manifest_path.parent
        image_column = manifest.get("image_column", "image")
        text_column = text_column or manifest.get("text_column", "caption")
        specs = [
            SourceSpec([str(root / f) for f in chunk[split]], image_column, text_column) for chunk in manifest["chunks"]
        ]
        sizes = [chunk[f"num_{split}"] for chunk in manifest["chunks"]]
        return cls(specs, names=[c["name"] for c in manifest["chunks"]], sizes=sizes, **kwargs)

    def __len__(self) -> int:
        return len(self.chunks)

    def chunk_stream(self, index: int) -> datasets.IterableDataset:
        """Chunk ``index`` alone, with its columns renamed to ``image`` and ``text``."""
        spec = self.chunks[index]
        stream = open_stream(spec)
        if spec.image_column != IMAGE:
            stream = stream.rename_column(spec.image_column, IMAGE)
        if spec.text_column != TEXT:
            stream = stream.rename_column(spec.text_column, TEXT)
        return stream

    def source(self, index: int) -> datasets.IterableDataset:
        """What to stream at step ``index`` under the replay policy (columns ``image`` and ``text``)."""
        if not 0 <= index < len(self):
            raise IndexError(f"Chunk {index} does not exist; there are {len(self)}.")
        current = self.chunk_stream(index)
        if index == 0 or self.replay is ReplayPolicy.NONE:
            return current
        if self.replay is ReplayPolicy.ALL:
            streams = [self.chunk_stream(i) for i in range(index + 1)]
            return self._interleave(streams, [self._size(i) for i in range(index + 1)])
        memory = self.reservoir(index)
        replay = datasets.Dataset.from_list(memory, features=current.features).to_iterable_dataset(
            num_shards=max(1, min(current.num_shards, len(memory)))
        )
        return self._interleave([current, replay], [self._size(index), len(memory)])

    def reservoir(self, index: int) -> list[dict]:
        """The reservoir before chunk ``index``: at most N rows, uniform over every row of chunks ``0..index-1``."""
        if index < self._reservoir_chunks:  # asked for an earlier step: rebuild from the start
            self._reservoir, self._reservoir_seen, self._reservoir_chunks = [], 0, 0
            self._reservoir_rng = np.random.default_rng([self.seed, 7919])
        while self._reservoir_chunks < index:
            for row in self.chunk_stream(self._reservoir_chunks):
                self._reservoir_seen += 1
                if len(self._reservoir) < self.reservoir_size:
                    self._reservoir.append(row)
                else:
                    slot = int(self._reservoir_rng.integers(self._reservoir_seen))
                    if slot < self.reservoir_size:
                        self._reservoir[slot] = row
            self._reservoir_chunks += 1
        return list(self._reservoir)

    def loader(self, index: int, processor, **loader_kwargs):
        """A ready ``ImageTextLoader`` over ``source(index)`` for this process (see ``create_loader``)."""
        from .loader import create_loader

        return create_loader(self.source(index), processor, image_column=IMAGE, text_column=TEXT, **loader_kwargs)

    def _size(self, index: int) -> int:
        return self.sizes[index] if self.sizes else 1

    def _interleave(self, streams: list[datasets.IterableDataset], sizes: list[int]) -> datasets.IterableDataset:
        total = float(sum(sizes))
        return interleave_datasets(
            streams,
            probabilities=[size / total for size in sizes],
            seed=self.seed,
            stopping_strategy="all_exhausted_without_replacement",
        )
