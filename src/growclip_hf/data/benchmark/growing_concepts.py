"""A stream whose demand grows: every chunk adds hundreds of new named concepts, each pair rendered afresh.

Why: on the embedded stream a small model is never short of capacity, so no growth can pay (docs/benchmarks.md). Here
chunk ``k`` brings ``concepts_per_chunk`` concepts never seen before (emoji by their Unicode names, optionally Tux
Paint stamps by their descriptions), and the zero-shot task after chunk ``k`` asks for every concept seen so far, so
what the model must hold grows with the stream. Every pair is drawn when it is asked for (the concept's sprite at a
random scale and position, tinted, on a random background colour), so repeated passes never repeat an image and
memorising pairs is not the limit. Held-out renders come from their own random stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from . import assets

SOURCES = ("emoji", "tuxpaint")
TEMPLATES = ("a picture of {}.", "{}.", "an image of {}.", "a drawing of {}.", "a small picture of {}.")
ZEROSHOT_TEMPLATE = "a picture of {}."
SCALES = (0.45, 0.6, 0.75, 0.9)  # of the canvas side; few sizes so that sprites can be cached


@dataclass(frozen=True)
class Concept:
    name: str
    source: str
    key: str  # the emoji's text or the stamp's path


def concept_pool(sources: tuple[str, ...] = ("emoji",), seed: int = 0) -> list[Concept]:
    """Every concept of ``sources`` with a unique name, in an order shuffled by ``seed`` (the order of arrival)."""
    found: dict[str, Concept] = {}
    for source in sources:
        if source == "emoji":
            items = [Concept(e.name, "emoji", e.text) for e in assets.emoji_catalogue()]
        elif source == "tuxpaint":
            items = [Concept(d.phrase, "tuxpaint", d.path) for d in assets.tuxpaint_stamps()]
        else:
            raise ValueError(f"Unknown concept source {source!r}; choose from {SOURCES}.")
        for item in items:
            found.setdefault(item.name, item)
    pool = sorted(found.values(), key=lambda c: c.name)
    order = np.random.default_rng(seed).permutation(len(pool))
    return [pool[i] for i in order]


@lru_cache(maxsize=16384)
def _sprite(concept: Concept, extent: int) -> tuple[np.ndarray, np.ndarray]:
    """(RGB in [0, 1], alpha in [0, 1]) of the concept, its longer side ``extent`` pixels."""
    if concept.source == "emoji":
        image = assets.emoji_sprite(concept.key)  # drawn once at the sprite size, then scaled
    else:
        image = assets.drawing_sprite(concept.key, assets.EMOJI_SPRITE_SIZE)
    scale = extent / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    return rgba[..., :3], rgba[..., 3:]


class GrowingConceptStream:
    """Chunks of new concepts; pairs rendered on demand; zero-shot over the concepts seen so far."""

    def __init__(
        self,
        concepts_per_chunk: int = 250,
        num_chunks: int = 4,
        image_size: int = 32,
        sources: tuple[str, ...] = ("emoji",),
        new_share: float = 0.5,
        seed: int = 0,
    ):
        pool = concept_pool(tuple(sources), seed)
        if concepts_per_chunk * num_chunks > len(pool):
            raise ValueError(f"{num_chunks} chunks of {concepts_per_chunk} concepts need more than {len(pool)}.")
        if not 0.0 < new_share <= 1.0:
            raise ValueError(f"new_share must be in (0, 1], got {new_share}.")
        self.concepts = pool[: concepts_per_chunk * num_chunks]
        self.per_chunk, self.num_chunks, self.image_size, self.new_share = (
            concepts_per_chunk,
            num_chunks,
            image_size,
            new_share,
        )

    def seen(self, chunk: int) -> list[Concept]:
        """Concepts of chunks ``0..chunk``: the classes of the zero-shot task after ``chunk``."""
        return self.concepts[: (chunk + 1) * self.per_chunk]

    def render(self, concept: Concept, rng: np.random.Generator) -> np.ndarray:
        """``uint8 [size, size, 3]``: the sprite at a random scale and position, tinted, on a random colour."""
        size = self.image_size
        extent = max(4, round(size * SCALES[int(rng.integers(len(SCALES)))]))
        rgb, alpha = _sprite(concept, extent)
        height, width = alpha.shape[:2]
        canvas = np.empty((size, size, 3), dtype=np.float32)
        canvas[:] = rng.uniform(0.0, 1.0, size=3)
        top, left = int(rng.integers(0, size - height + 1)), int(rng.integers(0, size - width + 1))
        tinted = np.clip(rgb * rng.uniform(0.8, 1.2, size=3), 0.0, 1.0)
        window = canvas[top : top + height, left : left + width]
        window[:] = alpha * tinted + (1.0 - alpha) * window
        return (canvas * 255.0 + 0.5).astype(np.uint8)

    def sample(self, chunk: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
        """``count`` training pairs of ``chunk``: ``new_share`` of them show its new concepts, the rest earlier ones."""
        new = self.concepts[chunk * self.per_chunk : (chunk + 1) * self.per_chunk]
        old = self.concepts[: chunk * self.per_chunk]
        images, captions = np.empty((count, self.image_size, self.image_size, 3), np.uint8), []
        for index in range(count):
            pool = new if not old or rng.random() < self.new_share else old
            concept = pool[int(rng.integers(len(pool)))]
            images[index] = self.render(concept, rng)
            captions.append(TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(concept.name))
        return images, captions

    def heldout(self, chunk: int, renders_per_concept: int = 2, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
        """Held-out renders of every concept seen after ``chunk`` and their labels (indices into ``seen(chunk)``)."""
        rng = np.random.default_rng([seed, chunk])
        seen = self.seen(chunk)
        labels = np.repeat(np.arange(len(seen)), renders_per_concept)
        images = np.stack([self.render(seen[int(label)], rng) for label in labels])
        return images, labels

    def all_captions(self) -> list[str]:
        """Every caption the stream can produce (to train a tokenizer before training)."""
        return [t.format(c.name) for c in self.concepts for t in (*TEMPLATES, ZEROSHOT_TEMPLATE)]
