"""Streaming image-text data for GrowCLIP: sources, robust decoding, exact resume, chunked streams, the benchmark."""

from .chunks import ChunkedStream, ReplayPolicy
from .collate import ImageTextCollator
from .loader import ImageTextLoader, create_loader
from .quality import BadSample, DataQuality, TooManyBadSamplesError
from .sharding import process_rank_and_world_size, shard_for_process
from .sources import MissingColumnError, SourceSpec, open_stream
from .stream import ImageTextStream
from .transforms import ClipImageTransform

__all__ = [
    "BadSample",
    "ChunkedStream",
    "ClipImageTransform",
    "DataQuality",
    "ImageTextCollator",
    "ImageTextLoader",
    "ImageTextStream",
    "MissingColumnError",
    "ReplayPolicy",
    "SourceSpec",
    "TooManyBadSamplesError",
    "create_loader",
    "open_stream",
    "process_rank_and_world_size",
    "shard_for_process",
]
