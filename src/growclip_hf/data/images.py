"""Decode image bytes of any quality into RGB PIL images, or say precisely why a sample cannot be used."""

from __future__ import annotations

import io
import warnings
from collections import Counter

import numpy as np
from PIL import Image, UnidentifiedImageError

from .quality import BadSample

# Bigger than any real training image; a decompression bomb declares far more pixels than this in its header.
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
_WHITE = (255, 255, 255)


def open_image(value, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Image.Image:
    """Open ``value`` (bytes, a ``{"bytes", "path"}`` dict as `datasets` stores images, a path or a PIL image).

    The header is checked before any pixel is decoded, so a bomb costs nothing. Raises ``BadSample``.
    """
    if isinstance(value, Image.Image):
        image = value
    else:
        source = _image_source(value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(source)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise BadSample("too_large", str(error)) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
            if _declares_zero_size(source):
                raise BadSample("zero_size", "the header declares a zero width or height") from None
            raise BadSample("corrupt", str(error)) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise BadSample("zero_size", f"{width}x{height}")
    if width * height > max_pixels:
        raise BadSample("too_large", f"{width}x{height} is over {max_pixels} pixels")
    try:
        image.load()
    except OSError as error:
        reason = "truncated" if "truncated" in str(error) or "broken" in str(error) else "corrupt"
        raise BadSample(reason, str(error)) from None
    except (ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        raise BadSample("corrupt", str(error)) from None
    return image


def _image_source(value):
    if value is None:
        raise BadSample("missing_image")
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if data:
            return io.BytesIO(data)
        if path:
            return path
        raise BadSample("missing_image")
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) == 0:
            raise BadSample("missing_image", "empty bytes")
        return io.BytesIO(bytes(value))
    if isinstance(value, str):
        return value
    raise BadSample("corrupt", f"unsupported image value of type {type(value).__name__}")


def _declares_zero_size(source) -> bool:
    """PIL refuses zero-sized PNG/BMP files as unidentifiable; their headers tell the real reason."""
    if not isinstance(source, io.BytesIO):
        return False
    head = source.getvalue()[:26]
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        return int.from_bytes(head[16:20], "big") == 0 or int.from_bytes(head[20:24], "big") == 0
    if head.startswith(b"BM") and len(head) >= 26:
        return int.from_bytes(head[18:22], "little", signed=True) == 0 or head[22:26] == b"\0\0\0\0"
    return False


def to_rgb(image: Image.Image, repaired: Counter | None = None) -> Image.Image:
    """RGB for every mode: transparency composited on white, 16/32-bit and float scaled to 8 bits, CMYK converted.

    Each conversion is counted in ``repaired`` as ``mode_<MODE>`` so that it is visible, not silent.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if repaired is not None:
        repaired[f"mode_{mode}"] += 1
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(image)), mode="L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode == "P":
        return image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, _WHITE)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def _scale_to_uint8(array: np.ndarray) -> np.ndarray:
    """Map a high-bit-depth array to 0..255 by its dtype's range (16-bit) or by its own range (32-bit, float)."""
    array = array.astype(np.float64)
    if array.max(initial=0) <= 65535 and array.min(initial=0) >= 0:
        top = 65535.0 if array.max(initial=0) > 255 else 255.0
        return np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    low, high = float(array.min()), float(array.max())
    return (
        np.zeros(array.shape, np.uint8) if high <= low else ((array - low) / (high - low) * 255 + 0.5).astype(np.uint8)
    )


def decode_rgb(value, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS, repaired: Counter | None = None) -> Image.Image:
    """Open, check and convert to RGB in one call; raises ``BadSample`` with the reason to count."""
    return to_rgb(open_image(value, max_pixels=max_pixels), repaired)
