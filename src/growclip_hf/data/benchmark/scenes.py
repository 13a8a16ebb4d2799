"""Compose scenes of 1-3 real objects (colour, size, position, tilt, background) and describe each in varied words.

Every attribute that makes a scene unique is in its caption, so captions are instance-specific and retrieval is
meaningful; the wording is drawn from several templates so that a model cannot match on fixed phrasing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

COLOURS = {
    "red": (214, 39, 40), "orange": (255, 127, 14), "yellow": (240, 200, 20), "green": (44, 160, 44),
    "teal": (23, 160, 160), "blue": (31, 90, 220), "purple": (148, 80, 189), "pink": (240, 120, 190),
    "brown": (140, 86, 60), "grey": (128, 128, 128), "black": (20, 20, 20), "white": (250, 250, 250),
}  # fmt: skip
PLAIN_BACKGROUNDS = {
    "a white background": (255, 255, 255), "a black background": (0, 0, 0), "a light grey background": (200, 200, 200),
    "a pale yellow background": (250, 240, 190), "a pale blue background": (190, 215, 245),
    "a pale pink background": (245, 205, 215), "a pale green background": (200, 235, 200),
}  # fmt: skip
TEXTURE_BACKGROUNDS = {"grass": "grass", "a brick wall": "brick wall", "gravel": "gravel"}
SIZES = {"small": 0.3, "medium": 0.42, "large": 0.56}
POSITIONS = {
    "top left corner": (1, 1), "top": (3, 1), "top right corner": (5, 1),
    "left": (1, 3), "centre": (3, 3), "right": (5, 3),
    "bottom left corner": (1, 5), "bottom": (3, 5), "bottom right corner": (5, 5),
}  # fmt: skip
_POSITION_PHRASES = {
    name: ("in the " if "corner" in name or name == "centre" else "at the ") + name for name in POSITIONS
}
_POSITION_PHRASES.update({"left": "on the left", "right": "on the right"})
TILTS = {"upright": 0, "tilted to the left": 25, "tilted to the right": -25, "upside down": 180}
COUNT_WORDS = {1: "one object", 2: "two objects", 3: "three objects"}
_SCENE_TEMPLATES = (
    "{objects} on {background}.",
    "{background_cap} with {objects}.",
    "a picture of {objects}, on {background}.",
    "{count}: {objects}; background: {background}.",
    "an image showing {objects} against {background}.",
    "on {background}: {objects}.",
    "a small scene with {objects} over {background}.",
    "{objects}, all on {background}.",
)


@dataclass(frozen=True)
class Sprite:
    """One real object: RGBA pixels, the noun that names it, and whether it is a mask to fill with a colour."""

    image: Image.Image
    name: str
    tintable: bool
    label: str


@dataclass(frozen=True)
class Placement:
    sprite: Sprite
    colour: str | None
    size: str
    position: str
    tilt: str


def sprite_from_gray(pixels: np.ndarray, name: str, label: str) -> Sprite:
    """A white-on-black grayscale image becomes a colourable mask (alpha = intensity)."""
    alpha = Image.fromarray(pixels.astype(np.uint8), mode="L")
    image = Image.new("RGBA", alpha.size, (255, 255, 255, 0))
    image.putalpha(alpha)
    return Sprite(image, name, True, label)


def sprite_from_photo(pixels: np.ndarray, name: str, label: str) -> Sprite:
    """A grayscale photo stays a photo: opaque, shown as it is."""
    return Sprite(Image.fromarray(pixels.astype(np.uint8), mode="L").convert("RGBA"), name, False, label)


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def describe_object(placement: Placement, rng: np.random.Generator) -> str:
    colour = f"{placement.colour} " if placement.colour else ""
    noun = _article(f"{placement.size} {colour}{placement.sprite.name}")
    where = _POSITION_PHRASES[placement.position]
    link = ("", "placed ", "sitting ", "shown ")[int(rng.integers(4))]
    tilt = "" if placement.tilt == "upright" else f", {placement.tilt},"
    return f"{noun}{tilt} {link}{where}"


def describe_scene(placements: list[Placement], background: str, rng: np.random.Generator, count: int = 2) -> list[str]:
    """``count`` different wordings of the same scene (different templates), each naming every attribute."""
    phrases = [describe_object(p, rng) for p in placements]
    objects = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    templates = rng.choice(len(_SCENE_TEMPLATES), size=count, replace=False)
    captions = []
    for index in templates:
        text = _SCENE_TEMPLATES[int(index)].format(
            objects=objects, background=background, background_cap=background, count=COUNT_WORDS[len(placements)]
        )
        captions.append(" ".join(text.replace(",,", ",").replace(",.", ".").split()))
    return captions


def background_image(name: str, size: int, rng: np.random.Generator, textures: dict[str, np.ndarray]) -> Image.Image:
    if name in PLAIN_BACKGROUNDS:
        return Image.new("RGB", (size, size), PLAIN_BACKGROUNDS[name])
    texture = textures[TEXTURE_BACKGROUNDS[name]]
    crop = int(rng.integers(size * 2, texture.shape[0] // 2 + 1))
    top, left = (int(v) for v in rng.integers(0, texture.shape[0] - crop + 1, size=2))
    patch = Image.fromarray(np.ascontiguousarray(texture[top : top + crop, left : left + crop]))
    return patch.resize((size, size), Image.Resampling.BILINEAR)


def render(placements: list[Placement], background: Image.Image) -> Image.Image:
    """Paste each object, scaled, tilted and coloured, centred on its 3x3 grid cell and kept inside the canvas."""
    canvas = background.copy()
    size = canvas.width
    for placement in placements:
        sprite = placement.sprite.image
        extent = max(4, round(SIZES[placement.size] * size))
        scale = extent / max(sprite.size)
        sprite = sprite.resize(
            (max(1, round(sprite.width * scale)), max(1, round(sprite.height * scale))), Image.BILINEAR
        )
        if TILTS[placement.tilt]:
            sprite = sprite.rotate(TILTS[placement.tilt], resample=Image.BILINEAR, expand=True)
        if placement.sprite.tintable:
            fill = Image.new("RGBA", sprite.size, COLOURS[placement.colour] + (255,))
            fill.putalpha(sprite.getchannel("A"))
            sprite = fill
        column, row = POSITIONS[placement.position]
        left = min(max(0, round(column * size / 6 - sprite.width / 2)), max(0, size - sprite.width))
        top = min(max(0, round(row * size / 6 - sprite.height / 2)), max(0, size - sprite.height))
        canvas.paste(sprite, (left, top), sprite)
    return canvas


def contrasting_colour(background: str, rng: np.random.Generator) -> str:
    """A colour that stays visible on ``background``: plain backgrounds need a clear brightness difference."""
    names = list(COLOURS)
    if background in PLAIN_BACKGROUNDS:
        ground = _luma(PLAIN_BACKGROUNDS[background])
        names = [name for name in names if abs(_luma(COLOURS[name]) - ground) >= 55]
    return names[int(rng.integers(len(names)))]


def _luma(rgb: tuple[int, int, int]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
