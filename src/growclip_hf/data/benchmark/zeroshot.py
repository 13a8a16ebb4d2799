"""The zero-shot classification suite: held-out images, class names, prompt templates and a kind per task.

``kind`` says what a task measures: ``object`` (what the thing is) or ``attribute`` (how many, where). The object
tasks are the benchmark's headline; the attribute tasks show whether layout words were learnt as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import assets
from .pools import DIGIT_WORDS, Item, Pool, drawing_pool, fashion_pool, gray_sprite, mnist_pool
from .scenes import COUNT_WORDS, POSITIONS, render
from .topics import TOPICS

KINDS = ("object", "attribute")


@dataclass(frozen=True)
class ZeroShotTask:
    name: str
    kind: str
    classnames: tuple[str, ...]
    templates: tuple[str, ...]
    # (rng, label index, image size) -> image showing that class
    make_image: Callable[[np.random.Generator, int, int], Image.Image]


def _by_label(pool: Pool, label_of: Callable[[object], str], classes: tuple[str, ...]) -> dict[int, list]:
    """The pool's zero-shot entries grouped by class index (labels read without decoding the images)."""
    groups: dict[int, list] = {index: [] for index in range(len(classes))}
    for entry in pool.splits["zeroshot"]:
        groups[classes.index(label_of(entry))].append(entry)
    return groups


def _single(pool: Pool, entries: list, rng: np.random.Generator, size: int) -> Image.Image:
    item = pool.make(entries[int(rng.integers(len(entries)))], size)
    return render([item], "single", size, rng)


def build_tasks() -> list[ZeroShotTask]:
    fashion, digits, drawings = fashion_pool(), mnist_pool(), drawing_pool(tuple(TOPICS))
    _, fashion_labels = assets.fashion_mnist("test")
    _, digit_labels = assets.mnist_digits()
    fashion_classes, topic_keys = tuple(assets.FASHION_CLASSES), tuple(TOPICS)
    fashion_groups = _by_label(fashion, lambda e: fashion_classes[int(fashion_labels[e[1]])], fashion_classes)
    digit_groups = _by_label(digits, lambda e: DIGIT_WORDS[int(digit_labels[e])], DIGIT_WORDS)
    emoji = Pool({"zeroshot": [e for e in drawings.splits["zeroshot"] if e[0] == "emoji"]}, drawings.make)
    drawn = Pool({"zeroshot": [e for e in drawings.splits["zeroshot"] if e[0] != "emoji"]}, drawings.make)
    emoji_groups = _by_label(emoji, lambda e: e[3], topic_keys)
    drawn_groups = _by_label(drawn, lambda e: e[3], topic_keys)
    clipart = Pool({"zeroshot": [e for e in drawings.splits["zeroshot"] if e[0] == "clip-art"]}, drawings.make)
    styles = (fashion, digits, emoji, clipart)
    held_out = (fashion, digits, drawings)

    def sklearn_digit(rng, label, size):
        images, labels = assets.sklearn_digits()
        index = int(rng.choice(np.flatnonzero(labels == label)))
        sprite = gray_sprite(np.kron(images[index], np.ones((4, 4), np.uint8)))
        return render([Item(sprite, "", DIGIT_WORDS[label], "handwriting", flippable=False)], "single", size, rng)

    def layout_scene(rng, layout, size, where="centre"):
        pool = held_out[int(rng.integers(len(held_out)))]
        count = {"single": 1, "side": 1, "pair": 2, "quad": 4}[layout]
        return render([pool.draw("zeroshot", rng, size) for _ in range(count)], layout, size, rng, where)

    return [
        ZeroShotTask(
            "fashion_mnist",
            "object",
            fashion_classes,
            ("a photo of a {}.", "a picture of a {}.", "a {}."),
            lambda rng, label, size: _single(fashion, fashion_groups[label], rng, size),
        ),
        ZeroShotTask(
            "mnist_digits",
            "object",
            DIGIT_WORDS,
            ("a handwritten {}.", "a picture of a handwritten {}.", "the digit {} written by hand."),
            lambda rng, label, size: _single(digits, digit_groups[label], rng, size),
        ),
        ZeroShotTask(
            "sklearn_digits",
            "object",
            DIGIT_WORDS,
            ("a handwritten {}.", "a picture of a handwritten {}.", "the digit {} written by hand."),
            sklearn_digit,
        ),
        ZeroShotTask(
            "drawing_topic",
            "object",
            tuple(TOPICS.values()),
            ("a picture of {}.", "{}.", "a drawing of {}."),
            lambda rng, label, size: _single(drawn, drawn_groups[label], rng, size),
        ),
        ZeroShotTask(
            "emoji_topic",
            "object",
            tuple(TOPICS.values()),
            ("a picture of {}.", "{}.", "an emoji of {}."),
            lambda rng, label, size: _single(emoji, emoji_groups[label], rng, size),
        ),
        ZeroShotTask(
            "count",
            "attribute",
            tuple(COUNT_WORDS.values()),
            ("{}.", "a picture of {}."),
            lambda rng, label, size: layout_scene(rng, ("single", "pair", "quad")[label], size),
        ),
        ZeroShotTask(
            "position",
            "attribute",
            tuple(POSITIONS.values()),
            ("an object {}.", "a picture of something {}."),
            lambda rng, label, size: layout_scene(rng, "side", size, list(POSITIONS)[label]),
        ),
        ZeroShotTask(
            "picture_style",
            "attribute",
            ("a photo", "a handwritten digit", "an emoji", "a clip-art drawing"),
            ("{}.", "a picture: {}."),
            lambda rng, label, size: render([styles[label].draw("zeroshot", rng, size)], "single", size, rng),
        ),
    ]
