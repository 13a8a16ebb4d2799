"""The training data loader: a stream, its workers, collation, bad-sample accounting and a checkpointable position.

torchdata's ``StatefulDataLoader`` is used because it snapshots every worker's stream state in step with the batches
the main process has actually received (prefetched batches included) and restores each worker's state on resume;
doing that by hand for several workers' round-robin order is where resume bugs live.
"""

from __future__ import annotations

import logging
import warnings

import datasets
from torchdata.stateful_dataloader import StatefulDataLoader

from .collate import QUALITY_KEY, ImageTextCollator
from .quality import DataQuality
from .sharding import process_rank_and_world_size, shard_for_process
from .sources import SourceSpec, open_stream
from .stream import ImageTextStream
from .transforms import ClipImageTransform

logger = logging.getLogger(__name__)


class ImageTextLoader:
    """Iterate batches of ``pixel_values`` / ``input_ids`` / ``attention_mask``; ``state_dict()`` resumes exactly.

    Skipped and repaired samples are summed in ``quality``, logged every ``log_every`` batches and at the end of a
    pass; once ``min_samples_to_judge`` samples were seen, more than ``max_bad_share`` skipped stops the run with
    ``TooManyBadSamplesError``.
    """

    def __init__(
        self,
        stream: ImageTextStream,
        collator: ImageTextCollator,
        batch_size: int = 64,
        num_workers: int = 0,
        max_bad_share: float = 0.05,
        min_samples_to_judge: int = 200,
        snapshot_every_n_steps: int = 16,
        log_every: int = 500,
        prefetch_factor: int | None = None,
    ):
        self.stream = stream
        self.max_bad_share = max_bad_share
        self.min_samples_to_judge = min_samples_to_judge
        self.log_every = log_every
        self.quality = DataQuality()
        with warnings.catch_warnings():  # torchdata 0.11 calls a deprecated torch API in its constructor
            warnings.filterwarnings("ignore", message=".*set_vital.*")
            self.dataloader = StatefulDataLoader(
                stream,
                batch_size=batch_size,
                collate_fn=collator,
                num_workers=num_workers,
                snapshot_every_n_steps=snapshot_every_n_steps,
                prefetch_factor=prefetch_factor if num_workers else None,
                persistent_workers=False,
            )

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def __iter__(self):
        for step, batch in enumerate(self.dataloader, start=1):
            self.quality.merge(batch.pop(QUALITY_KEY))
            self.quality.check(self.max_bad_share, self.min_samples_to_judge)
            if self.log_every and step % self.log_every == 0:
                self.quality.log()
            if batch:
                batch["pixel_values"] = self.stream.transform.normalize_batch(batch["pixel_values"])
                yield batch
        self.quality.log()
        self.quality.check(self.max_bad_share, min_samples=1)

    def state_dict(self) -> dict:
        return {"dataloader": self.dataloader.state_dict(), "quality": self.quality.to_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.dataloader.load_state_dict(state["dataloader"])
        self.quality = DataQuality.from_dict(state["quality"])


def create_loader(
    source: SourceSpec | datasets.IterableDataset,
    processor,
    image_column: str | None = None,
    text_column: str | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    shuffle_buffer: int = 1000,
    seed: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    context_length: int | None = None,
    max_bad_share: float = 0.05,
    **loader_kwargs,
) -> ImageTextLoader:
    """One call from a source and the model's processor to a loader for this process (sharded by rank).

    ``source`` is a ``SourceSpec`` (opened and checked here) or an already prepared `datasets` stream whose columns
    are ``image_column`` / ``text_column``.
    """
    rank, world_size = process_rank_and_world_size(rank, world_size)
    if isinstance(source, SourceSpec):
        image_column, text_column = source.image_column, source.text_column
        source = open_stream(source)
    elif image_column is None or text_column is None:
        raise ValueError("Pass image_column and text_column with a prepared stream.")
    source = shard_for_process(source, rank, world_size)
    stream = ImageTextStream(
        source,
        ClipImageTransform.from_image_processor(processor.image_processor),
        image_column=image_column,
        text_column=text_column,
        shuffle_buffer=shuffle_buffer,
        seed=seed,
        rank=rank,
    )
    collator = ImageTextCollator(processor.tokenizer, context_length)
    return ImageTextLoader(
        stream, collator, batch_size=batch_size, num_workers=num_workers, max_bad_share=max_bad_share, **loader_kwargs
    )
