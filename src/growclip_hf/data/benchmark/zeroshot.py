"""The zero-shot classification suite: held-out images, class names and prompt templates per task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import assets
from .pools import DIGIT_WORDS, EMOJI_GROUP_NAMES, Pool, emoji_pool, fashion_pool, mnist_pool
from .scenes import (
    COLOURS,
    COUNT_WORDS,
    PLAIN_BACKGROUNDS,
    POSITIONS,
    SIZES,
    TEXTURE_BACKGROUNDS,
    Placement,
    background_image,
    contrasting_colour,
    render,
    sprite_from_gray,
)


@dataclass(frozen=True)
class ZeroShotTask:
    name: str
    classnames: tuple[str, ...]
    templates: tuple[str, ...]
    # (rng, label index, image size, textures) -> image showing that class
    make_image: Callable[[np.random.Generator, int, int, dict], Image.Image]


def _scene(rng, pool: Pool, image_size, textures, *, count=1, colour=None, size=None, position=None, background=None):
    """A held-out scene with the asked attribute fixed and the others random."""
    backgrounds = list(PLAIN_BACKGROUNDS)
    background = background or backgrounds[int(rng.integers(len(backgrounds)))]
    cells = list(POSITIONS)
    chosen = [position] if position else [cells[i] for i in rng.choice(len(cells), size=count, replace=False)]
    placements = []
    for cell in chosen:
        sprite = pool.draw("zeroshot", rng)
        tint = colour or (contrasting_colour(background, rng) if sprite.tintable else None)
        placements.append(
            Placement(
                sprite, tint if sprite.tintable else None, size or list(SIZES)[int(rng.integers(3))], cell, "upright"
            )
        )
    return render(placements, background_image(background, image_size, rng, textures))


def build_tasks() -> list[ZeroShotTask]:
    fashion_all = fashion_pool(tuple(range(10)))
    fashion_by_class = {label: fashion_pool((label,)) for label in range(10)}
    digits = mnist_pool()
    digit_pool_by_class = {
        d: Pool({"zeroshot": [i for i in digits.splits["zeroshot"] if assets.mnist_digits()[1][i] == d]}, digits.make)
        for d in range(10)
    }
    emoji_by_group = {name: emoji_pool((group,)) for group, name in EMOJI_GROUP_NAMES.items()}
    group_names = tuple(EMOJI_GROUP_NAMES.values())
    colours, sizes, positions = tuple(COLOURS), tuple(SIZES), tuple(POSITIONS)
    backgrounds = tuple(PLAIN_BACKGROUNDS) + tuple(TEXTURE_BACKGROUNDS)

    def sklearn_digit(rng, label, image_size, textures):
        images, labels = assets.sklearn_digits()
        index = int(rng.choice(np.flatnonzero(labels == label)))
        sprite = sprite_from_gray(np.kron(images[index], np.ones((4, 4), np.uint8)), "digit", str(label))
        pool = Pool({"zeroshot": [0]}, lambda _: sprite)
        return _scene(rng, pool, image_size, textures, size="large")

    def lfw(rng, label, image_size, textures):
        crops, labels = assets.lfw_subset()
        index = int(rng.choice([i for i in range(50, 200) if labels[i] == 1 - label]))
        patch = Image.fromarray(crops[index]).convert("RGB").resize((image_size, image_size), Image.BICUBIC)
        return patch

    return [
        ZeroShotTask(
            "fashion_mnist",
            tuple(assets.FASHION_CLASSES),
            ("a photo of a {}.", "a {} on a plain background.", "a small {}.", "a large {}."),
            lambda rng, label, s, t: _scene(rng, fashion_by_class[label], s, t),
        ),
        ZeroShotTask(
            "mnist_digits",
            DIGIT_WORDS,
            ("a handwritten {}.", "the digit {} written by hand.", "a picture of the number {}."),
            lambda rng, label, s, t: _scene(rng, digit_pool_by_class[label], s, t),
        ),
        ZeroShotTask("sklearn_digits", DIGIT_WORDS, ("a handwritten {}.", "a blurry digit {}."), sklearn_digit),
        ZeroShotTask(
            "emoji_group",
            group_names,
            ("a {}.", "an emoji of a {}.", "a picture of a {}."),
            lambda rng, label, s, t: _scene(rng, emoji_by_group[group_names[label]], s, t),
        ),
        ZeroShotTask(
            "colour",
            colours,
            ("a {} object.", "something {} on a plain background.", "a {} thing."),
            lambda rng, label, s, t: _scene(
                rng, fashion_all, s, t, colour=colours[label], background=_plain_for(colours[label])
            ),
        ),
        ZeroShotTask(
            "count",
            tuple(COUNT_WORDS.values()),
            ("a picture of {}.", "{} on a background."),
            lambda rng, label, s, t: _scene(rng, fashion_all, s, t, count=label + 1, size="small"),
        ),
        ZeroShotTask(
            "position",
            positions,
            ("an object in the {}.", "something at the {} of the picture."),
            lambda rng, label, s, t: _scene(rng, fashion_all, s, t, position=positions[label], size="small"),
        ),
        ZeroShotTask(
            "size",
            sizes,
            ("a {} object.", "a {} thing on a background."),
            lambda rng, label, s, t: _scene(rng, fashion_all, s, t, size=sizes[label], position="centre"),
        ),
        ZeroShotTask(
            "background",
            tuple(b.removeprefix("a ") for b in backgrounds),
            ("an object on {}.", "something in front of {}."),
            lambda rng, label, s, t: _scene(rng, fashion_all, s, t, background=backgrounds[label]),
        ),
        ZeroShotTask("face_photo", ("face", "not a face"), ("a photo of a {}.", "a black-and-white {}."), lfw),
    ]


def _plain_for(colour: str) -> str:
    """A neutral background on which ``colour`` is clearly visible."""
    return "a black background" if colour == "white" else "a white background"
