"""A stateful stream of decoded, transformed image-caption samples with an exact-resume shuffle buffer.

`datasets`' own shuffle buffer loses its contents on resume, so the buffer lives here: ``state_dict()`` holds the
source position (``datasets``' own ``IterableDataset.state_dict()``), the buffered raw rows and the random generator's
state, taken between two samples, so a resumed stream yields exactly what the uninterrupted one would.
"""

from __future__ import annotations

import copy
from collections import Counter

import datasets
import numpy as np
import torch

from .captions import choose_caption
from .collate import QUALITY_KEY
from .images import DEFAULT_MAX_IMAGE_PIXELS, decode_rgb
from .quality import BadSample
from .transforms import ClipImageTransform


class ImageTextStream(torch.utils.data.IterableDataset):
    """Yields ``{"pixel_values": uint8 [3, H, W], "text": str, "_quality": counts since the last sample}``.

    Pixels stay uint8 until the loader normalises whole batches in the main process: a quarter of the bytes to move
    between processes, and one vectorised operation instead of one per sample.

    Rows the pipeline cannot use are skipped and counted by reason; the counts travel with the next sample (or a
    count-only item at the end) so that the main process sees every one of them. DataLoader workers each read their
    own shards (``datasets`` assigns them) with their own buffer and generator, seeded by (seed, epoch, rank, worker).
    """

    def __init__(
        self,
        source: datasets.IterableDataset,
        transform: ClipImageTransform,
        image_column: str = "image",
        text_column: str = "caption",
        shuffle_buffer: int = 1000,
        seed: int = 0,
        rank: int = 0,
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    ):
        super().__init__()
        self.source = source
        self.transform = transform
        self.image_column = image_column
        self.text_column = text_column
        self.shuffle_buffer = max(1, int(shuffle_buffer))
        self.seed = int(seed)
        self.rank = int(rank)
        self.max_image_pixels = max_image_pixels
        self.epoch = 0
        self._buffer: list[dict] = []
        self._rng: np.random.Generator | None = None
        self._resume: dict | None = None

    def set_epoch(self, epoch: int) -> None:
        """A new pass: new buffer order and caption choices, same seed."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict:
        if self._rng is None:  # not started: resuming from here means starting this epoch, or the pending resume
            return copy.deepcopy(self._resume) if self._resume else {"epoch": self.epoch, "started": False}
        return {
            "epoch": self.epoch,
            "started": True,
            "source": self.source.state_dict(),
            "buffer": list(self._buffer),
            "rng": copy.deepcopy(self._rng.bit_generator.state),
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self._resume = copy.deepcopy(state) if state.get("started") else None

    def _start(self) -> None:
        worker = torch.utils.data.get_worker_info()
        worker_id = worker.id if worker is not None else 0
        self.source.set_epoch(self.epoch)
        resume, self._resume = self._resume, None
        if resume:
            self.source.load_state_dict(resume["source"])
            self._buffer = list(resume["buffer"])
            self._rng = np.random.default_rng()
            self._rng.bit_generator.state = resume["rng"]
        else:
            self._buffer = []
            self._rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker_id])

    def __iter__(self):
        self._start()
        pending = {"skipped": Counter(), "repaired": Counter()}
        rows = iter(self.source)
        while True:
            row = self._next_buffered_row(rows)
            if row is None:
                break
            sample = self._process(row, pending)
            if sample is not None:
                sample[QUALITY_KEY] = {"skipped": dict(pending["skipped"]), "repaired": dict(pending["repaired"])}
                pending = {"skipped": Counter(), "repaired": Counter()}
                yield sample
        if pending["skipped"] or pending["repaired"]:
            yield {QUALITY_KEY: {"skipped": dict(pending["skipped"]), "repaired": dict(pending["repaired"])}}
        self._rng = None

    def _next_buffered_row(self, rows) -> dict | None:
        """Fill the buffer, then hand out a random buffered row and put the next incoming one in its place."""
        buffer = self._buffer
        while len(buffer) < self.shuffle_buffer:
            incoming = next(rows, None)
            if incoming is None:
                break
            buffer.append(incoming)
        if not buffer:
            return None
        index = int(self._rng.integers(len(buffer)))
        buffer[index], buffer[-1] = buffer[-1], buffer[index]
        return buffer.pop()

    def _process(self, row: dict, pending: dict) -> dict | None:
        try:
            text = choose_caption(row.get(self.text_column), self._rng)
            image = decode_rgb(row.get(self.image_column), self.max_image_pixels, pending["repaired"])
            pixels = self.transform.resize_crop(image)
        except BadSample as bad:
            pending["skipped"][bad.reason] += 1
            return None
        return {"pixel_values": pixels, "text": text}
