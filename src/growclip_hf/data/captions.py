"""Pick one usable caption per sample: several captions per image are sampled (seeded), bad ones are reasons."""

from __future__ import annotations

import numpy as np

from .quality import BadSample


def usable_captions(value) -> list[str]:
    """The non-empty captions in ``value`` (a string or a list of strings), stripped. Raises ``BadSample``."""
    if value is None:
        raise BadSample("missing_caption")
    candidates = [value] if isinstance(value, str) else value
    if not isinstance(candidates, (list, tuple)):
        raise BadSample("bad_caption_type", type(value).__name__)
    captions = [text.strip() for text in candidates if isinstance(text, str) and text.strip()]
    if not captions:
        raise BadSample("empty_caption")
    return captions


def choose_caption(value, rng: np.random.Generator) -> str:
    """One caption from ``value``; with several, the seeded ``rng`` picks, so each pass may see a different one."""
    captions = usable_captions(value)
    return captions[0] if len(captions) == 1 else captions[int(rng.integers(len(captions)))]
