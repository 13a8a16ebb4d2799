"""Lay real objects out on a canvas and caption them, with the object as the main content of every caption.

Layouts: one object filling most of the canvas (``single``), one half-size object on the left, in the centre or on
the right (``side``), two objects side by side (``pair``) and a 2x2 grid (``quad``). Objects keep their own look
(grayscale photos and handwriting on black, drawings and emoji in colour on white): no random tints, textures or
colours a model could match instead of the object. Captions name the objects; the only other words are the
layout's count and positions, which make multi-object captions instance-specific (retrieval needs that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .pools import Item

POSITIONS = {"left": "on the left", "centre": "in the centre", "right": "on the right"}
COUNT_WORDS = {1: "one object", 2: "two objects", 4: "four objects"}
QUAD_CELLS = ("top left", "top right", "bottom left", "bottom right")
TRAIN_LAYOUTS = {"single": 0.5, "side": 0.1, "pair": 0.15, "quad": 0.25}
_DARK_STYLES = ("photo", "handwriting")  # white-on-black sources stay on black

_SINGLE = {
    "photo": ("a photo of {p}.", "a picture of {p}.", "{p}.", "an image of {p}.", "a grayscale photo of {p}."),
    "handwriting": ("{p}.", "a picture of {p}.", "an image of {p}.", "the digit {label} written by hand."),
    "drawing": ("{p}.", "a picture of {p}.", "{p}, {t}.", "a picture of {t}: {p}.", "a drawing of {t}.", "{t}: {p}."),
}
_COUNTED = "one object: {p}."
_SIDE = ("{p} {where}.", "a picture of {p} {where}.")
_PAIR = ("two objects: {a} on the left and {b} on the right.", "{a} and {b}, side by side.")
_QUAD = ("four objects: {a}, {b}, {c} and {d}.", "{a} and {b} at the top, {c} and {d} at the bottom.")


@dataclass(frozen=True)
class Scene:
    image: Image.Image
    captions: list[str]
    meta: dict


def background_of(items: list[Item]) -> tuple[int, int, int]:
    return (0, 0, 0) if items[0].style in _DARK_STYLES else (255, 255, 255)


def boxes(layout: str, size: int, where: str = "centre") -> list[tuple[int, int, int]]:
    """``(left, top, extent)`` of each object's square cell."""
    half = size // 2
    if layout == "single":
        return [(0, 0, size)]
    if layout == "side":
        return [({"left": 0, "centre": size // 4, "right": half}[where], size // 4, half)]
    if layout == "pair":
        return [(0, size // 4, half), (half, size // 4, half)]
    return [(0, 0, half), (half, 0, half), (0, half, half), (half, half, half)]


def paste(canvas: Image.Image, item: Item, box: tuple[int, int, int], rng: np.random.Generator) -> None:
    """The object at 75-100% of its cell (longer side), shifted at random inside it, mirrored half the time."""
    left, top, cell = box
    extent = max(4, int(round(cell * rng.uniform(0.75, 1.0))))
    sprite = item.image
    scale = extent / max(sprite.size)
    sprite = sprite.resize((max(1, round(sprite.width * scale)), max(1, round(sprite.height * scale))), Image.BILINEAR)
    if item.flippable and rng.random() < 0.5:
        sprite = sprite.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    dx = int(rng.integers(0, cell - sprite.width + 1))
    dy = int(rng.integers(0, cell - sprite.height + 1))
    canvas.paste(sprite, (left + dx, top + dy), sprite)


def render(items: list[Item], layout: str, size: int, rng: np.random.Generator, where: str = "centre") -> Image.Image:
    canvas = Image.new("RGB", (size, size), background_of(items))
    for item, box in zip(items, boxes(layout, size, where), strict=True):
        paste(canvas, item, box, rng)
    return canvas


def _single_templates(item: Item) -> tuple[str, ...]:
    family = item.style if item.style in _DARK_STYLES else "drawing"
    return (*_SINGLE[family], _COUNTED)


def _fill(template: str, item: Item) -> str:
    from .topics import TOPICS

    return template.format(p=item.phrase, label=item.label, t=TOPICS.get(item.topic or "", "an object"))


def describe(items: list[Item], layout: str, rng: np.random.Generator, where: str = "centre") -> list[str]:
    """Two different wordings: the first is the training caption, both are retrieval captions."""
    if layout == "single":
        templates = _single_templates(items[0])
        first, second = rng.choice(len(templates), size=2, replace=False)
        return [_fill(templates[int(first)], items[0]), _fill(templates[int(second)], items[0])]
    if layout == "side":
        return [t.format(p=items[0].phrase, where=POSITIONS[where]) for t in _SIDE]
    phrases = dict(zip("abcd", (item.phrase for item in items), strict=False))
    return [t.format(**phrases) for t in (_PAIR if layout == "pair" else _QUAD)]


def compose(draw, layout: str, size: int, rng: np.random.Generator) -> Scene:
    """A scene of ``layout`` whose objects come from ``draw()`` (one real object per call)."""
    count = {"single": 1, "side": 1, "pair": 2, "quad": 4}[layout]
    where = list(POSITIONS)[int(rng.integers(len(POSITIONS)))] if layout == "side" else "centre"
    items = [draw() for _ in range(count)]
    image = render(items, layout, size, rng, where)
    cells = {"single": ["whole"], "side": [where], "pair": ["left", "right"], "quad": list(QUAD_CELLS)}[layout]
    objects = [
        {"label": item.label, "phrase": item.phrase, "style": item.style, "topic": item.topic, "cell": cell}
        for item, cell in zip(items, cells, strict=True)
    ]
    return Scene(image, describe(items, layout, rng, where), {"layout": layout, "objects": objects})


def sample_layout(rng: np.random.Generator, weights: dict[str, float] = TRAIN_LAYOUTS) -> str:
    names = list(weights)
    p = np.array([weights[name] for name in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]
