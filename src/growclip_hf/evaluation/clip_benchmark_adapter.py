"""Load a GrowCLIP checkpoint in CLIP_benchmark's ``(model, transform, tokenizer)`` convention.

CLIP_benchmark calls ``model.encode_image(images)`` / ``model.encode_text(tokens)`` (GrowCLIPModel has both),
``transform(pil_image) -> tensor [3, H, W]`` per sample, and ``tokenizer(list_of_str) -> LongTensor [n, length]``.
Tokens are padded to the model's context length; without an attention mask the text tower pools at the first
end-of-text token, and causal attention keeps the padding after it from changing that token's features.
"""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import torch
from transformers import AutoProcessor

from ..models.growclip import GrowCLIPModel


class ImageTransform:
    """PIL image -> ``pixel_values [3, H, W]`` with the checkpoint's own image processor."""

    def __init__(self, image_processor):
        self.image_processor = image_processor

    def __call__(self, image) -> torch.Tensor:
        return self.image_processor(images=image.convert("RGB"), return_tensors="pt")["pixel_values"][0]


class FixedLengthTokenizer:
    """Strings -> token ids ``[n, context_length]``, right-padded with the pad token, like open_clip's tokenizer."""

    def __init__(self, tokenizer, context_length: int):
        self.tokenizer = tokenizer
        self.context_length = context_length

    def __call__(self, texts: str | list[str]) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        return self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=self.context_length, return_tensors="pt"
        )["input_ids"]


def load_growclip(model_name: str, pretrained: str | None = None, cache_dir: str | None = None, device="cpu"):
    """CLIP_benchmark-style loader: ``model_name`` is a folder or Hub repo, ``pretrained`` an optional revision
    (e.g. ``"stage-2"``). Returns ``(model, transform, tokenizer)`` with the model in eval mode on ``device``."""
    options = {"cache_dir": cache_dir}
    if pretrained and not Path(model_name).is_dir():
        options["revision"] = pretrained
    model = GrowCLIPModel.from_pretrained(model_name, **options).to(device).float().eval()
    processor = AutoProcessor.from_pretrained(model_name, **options)
    tokenizer = FixedLengthTokenizer(processor.tokenizer, model.config.text_config.max_position_embeddings)
    return model, ImageTransform(processor.image_processor), tokenizer


def register_with_clip_benchmark() -> bool:
    """Add ``growclip`` to CLIP_benchmark's model types when its loader registry imports (it needs open_clip);
    returns whether it did. The metric functions work without this, given ``load_growclip``'s triple."""
    try:
        from clip_benchmark import models
    except ImportError:
        return False
    models.TYPE2FUNC["growclip"] = load_growclip
    if "growclip" not in models.MODEL_TYPES:
        models.MODEL_TYPES.append("growclip")
    return True


def _scalar_float(value=0.0) -> float:
    """``float()`` that also takes a one-element array, as NumPy < 2.4 did."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    return builtins.float(value)


def patch_clip_benchmark_for_numpy2() -> None:
    """CLIP_benchmark 1.6.2's top-k ``accuracy`` calls ``float()`` on a one-element array, which NumPy >= 2.4
    rejects (TypeError). Shadow ``float`` in that one module only, so its own code runs unchanged otherwise."""
    from clip_benchmark.metrics import zeroshot_classification

    zeroshot_classification.float = _scalar_float
