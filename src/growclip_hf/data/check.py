"""Read a whole source the way the loader would and report what is usable, without training anything."""

from __future__ import annotations

import itertools

import numpy as np

from .captions import choose_caption
from .collate import ImageTextCollator
from .images import DEFAULT_MAX_IMAGE_PIXELS, decode_rgb
from .quality import BadSample, DataQuality
from .sources import SourceSpec, open_stream


def check_source(
    spec: SourceSpec,
    max_samples: int | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    tokenizer=None,
    context_length: int | None = None,
    batch_size: int = 256,
) -> DataQuality:
    """Decode every image and caption (up to ``max_samples``); with a tokenizer, also count over-long captions."""
    quality = DataQuality()
    collator = ImageTextCollator(tokenizer, context_length) if tokenizer is not None else None
    rng = np.random.default_rng(0)
    pending_texts: list[str] = []
    for row in itertools.islice(open_stream(spec), max_samples):
        try:
            text = choose_caption(row.get(spec.text_column), rng)
            decode_rgb(row.get(spec.image_column), max_image_pixels, quality.repaired)
        except BadSample as bad:
            quality.skipped[bad.reason] += 1
            continue
        quality.ok += 1
        if collator is not None:
            pending_texts.append(text)
            if len(pending_texts) >= batch_size:
                collator.tokenize(pending_texts, quality.repaired)
                pending_texts = []
    if collator is not None and pending_texts:
        collator.tokenize(pending_texts, quality.repaired)
    return quality
