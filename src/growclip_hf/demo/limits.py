"""Input limits of the demo, checked before any model work so a bad request costs nothing and says what to change."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image


class DemoInputError(ValueError):
    """A request the demo refuses; the message tells the user what to change (shown as a Gradio error)."""


@dataclass(frozen=True)
class DemoLimits:
    max_image_bytes: int = 10_000_000
    max_image_pixels: int = 16_000_000
    max_labels: int = 20
    max_label_chars: int = 60
    max_query_chars: int = 200
    max_top_k: int = 16


def check_image_file(path: str | Path | None, limits: DemoLimits) -> Image.Image:
    """The uploaded image as RGB, after checking its bytes and its pixels (from the header, before decoding)."""
    if path is None:
        raise DemoInputError("Upload an image first.")
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_image_bytes:
        raise DemoInputError(
            f"The image is {size / 1e6:.1f} MB; the limit is {limits.max_image_bytes / 1e6:.1f} MB. "
            "Upload a smaller file."
        )
    try:
        image = Image.open(path)
    except Exception as error:  # PIL raises several types for undecodable files
        raise DemoInputError(f"The upload is not a readable image ({type(error).__name__}).") from error
    pixels = image.width * image.height
    if pixels > limits.max_image_pixels:
        raise DemoInputError(
            f"The image has {image.width}x{image.height} = {pixels:,} pixels; the limit is "
            f"{limits.max_image_pixels:,} pixels. Resize it first."
        )
    return image.convert("RGB")


def parse_labels(text: str | None, limits: DemoLimits) -> list[str]:
    """Comma-separated labels, trimmed, empty ones and duplicates dropped; at least two and at most ``max_labels``."""
    labels = list(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))
    if len(labels) < 2:
        raise DemoInputError("Give at least two comma-separated labels, e.g. 'dress, sneaker, handbag'.")
    if len(labels) > limits.max_labels:
        raise DemoInputError(f"{len(labels)} labels given; the limit is {limits.max_labels}. Remove some labels.")
    too_long = [label for label in labels if len(label) > limits.max_label_chars]
    if too_long:
        raise DemoInputError(
            f"Label '{too_long[0][:30]}...' has {len(too_long[0])} characters; the limit is {limits.max_label_chars}."
        )
    return labels


def check_query(text: str | None, limits: DemoLimits) -> str:
    """A non-empty text query of at most ``max_query_chars`` characters."""
    query = (text or "").strip()
    if not query:
        raise DemoInputError("Type a text query first.")
    if len(query) > limits.max_query_chars:
        raise DemoInputError(
            f"The query has {len(query)} characters; the limit is {limits.max_query_chars}. Shorten it."
        )
    return query


def check_top_k(k, limits: DemoLimits) -> int:
    """An integer number of results between 1 and ``max_top_k``."""
    try:
        k = int(k)
    except (TypeError, ValueError) as error:
        raise DemoInputError(f"Top-k must be a whole number, got {k!r}.") from error
    if not 1 <= k <= limits.max_top_k:
        raise DemoInputError(f"Top-k must lie between 1 and {limits.max_top_k}, got {k}.")
    return k


def check_template(template: str | None) -> str:
    """A prompt template with exactly one ``{}`` where the label goes."""
    template = (template or "").strip() or "{}"
    if template.count("{}") != 1:
        raise DemoInputError(
            "The prompt template needs exactly one '{}' where the label goes, e.g. 'a photo of a {}.'."
        )
    return template
