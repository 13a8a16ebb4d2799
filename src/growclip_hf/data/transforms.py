"""The processor's image preprocessing, re-done with PIL + numpy so that DataLoader workers run it fast per sample.

It matches ``CLIPImageProcessorPil`` (resize shortest edge, bicubic; centre crop; rescale; normalise) to float
precision, which tests check against the processor itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .quality import BadSample

MAX_ASPECT_RATIO = 50


@dataclass(frozen=True)
class ClipImageTransform:
    """RGB PIL image -> float32 array ``[3, crop_height, crop_width]``, normalised like the processor."""

    shortest_edge: int
    crop_height: int
    crop_width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    rescale_factor: float = 1 / 255
    resample: int = Image.Resampling.BICUBIC

    @classmethod
    def from_image_processor(cls, image_processor) -> ClipImageTransform:
        size, crop = image_processor.size, image_processor.crop_size
        shortest = size.get("shortest_edge") or min(size["height"], size["width"])
        return cls(
            shortest_edge=int(shortest),
            crop_height=int(crop["height"]),
            crop_width=int(crop["width"]),
            mean=tuple(float(m) for m in image_processor.image_mean),
            std=tuple(float(s) for s in image_processor.image_std),
            rescale_factor=float(image_processor.rescale_factor),
            resample=int(image_processor.resample),
        )

    def __call__(self, image: Image.Image) -> np.ndarray:
        return self.normalize(self.resize_crop(image))

    def resize_crop(self, image: Image.Image) -> np.ndarray:
        """The geometric half: uint8 ``[3, H, W]``. DataLoader workers send these (4x smaller than float32)."""
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        if long > MAX_ASPECT_RATIO * short:  # a 1x40M-pixel strip would become a multi-gigabyte resize
            raise BadSample("extreme_aspect_ratio", f"{width}x{height}")
        new_long = int(self.shortest_edge * long / short)
        new_size = (self.shortest_edge, new_long) if width <= height else (new_long, self.shortest_edge)
        if new_size != image.size:
            image = image.resize(new_size, resample=self.resample)
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3:
            raise BadSample("corrupt", f"unexpected pixel array shape {array.shape}")
        return np.ascontiguousarray(_centre_crop(array, self.crop_height, self.crop_width).transpose(2, 0, 1))

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        """Rescale and normalise uint8 ``[3, H, W]`` to float32 as the processor does (in float64, then cast)."""
        mean = np.asarray(self.mean, np.float64)[:, None, None]
        std = np.asarray(self.std, np.float64)[:, None, None]
        return ((pixels.astype(np.float64) * self.rescale_factor - mean) / std).astype(np.float32)

    def normalize_batch(self, pixels: torch.Tensor) -> torch.Tensor:
        """The same for a uint8 batch ``[B, 3, H, W]`` in float32 torch ops (within 1e-6 of ``normalize``)."""
        scale = torch.tensor([self.rescale_factor / s for s in self.std], dtype=torch.float32).view(1, 3, 1, 1)
        shift = torch.tensor([m / s for m, s in zip(self.mean, self.std, strict=True)], dtype=torch.float32)
        return torch.addcmul(-shift.view(1, 3, 1, 1), pixels.to(torch.float32), scale)


def _centre_crop(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre crop with the processor's rounding; pads with zeros when the image is smaller than the crop."""
    in_height, in_width = array.shape[:2]
    if in_height < height or in_width < width:
        padded = np.zeros((max(height, in_height), max(width, in_width), 3), array.dtype)
        top, left = (padded.shape[0] - in_height) // 2, (padded.shape[1] - in_width) // 2
        padded[top : top + in_height, left : left + in_width] = array
        array, in_height, in_width = padded, padded.shape[0], padded.shape[1]
    top, left = (in_height - height) // 2, (in_width - width) // 2
    return array[top : top + height, left : left + width]
