"""Batched, gradient-free L2-normalised embeddings of image sets and texts.

Each image set is embedded once per model and reused by every metric that needs it (retrieval of its chunk, the
union retrieval, zero-shot), which keeps a whole-suite evaluation within its time budget.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

DEFAULT_BATCH_SIZE = 256


def preprocess_images(image_processor, images: Sequence[Image.Image], batch_size: int = DEFAULT_BATCH_SIZE):
    """``pixel_values [n, 3, H, W]`` for PIL images, converted to RGB first (grey-scale digits, RGBA emoji)."""
    batches = []
    for start in range(0, len(images), batch_size):
        chunk = [image if image.mode == "RGB" else image.convert("RGB") for image in images[start : start + batch_size]]
        batches.append(image_processor(images=chunk, return_tensors="pt")["pixel_values"])
    if not batches:
        raise ValueError("No images to preprocess.")
    return torch.cat(batches)


def embed_pixels(model, pixel_values: torch.Tensor, batch_size: int = DEFAULT_BATCH_SIZE) -> torch.Tensor:
    """Normalised image embeddings ``[n, projection_dim]`` (float32, on CPU) for preprocessed pixels."""
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    outputs = []
    with torch.inference_mode():
        for start in range(0, pixel_values.shape[0], batch_size):
            batch = pixel_values[start : start + batch_size].to(device=device, dtype=dtype)
            outputs.append(model.encode_image(batch, normalize=True).float().cpu())
    return torch.cat(outputs)


def embed_texts(model, tokenizer, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> torch.Tensor:
    """Normalised text embeddings ``[n, projection_dim]`` (float32, on CPU), padded per batch with attention masks."""
    if not texts:
        raise ValueError("No texts to embed.")
    device = next(model.parameters()).device
    max_length = model.config.text_config.max_position_embeddings
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            tokens = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            features = model.encode_text(
                tokens["input_ids"].to(device), normalize=True, attention_mask=tokens["attention_mask"].to(device)
            )
            outputs.append(features.float().cpu())
    return torch.cat(outputs)


def pad_embeddings(embeddings: torch.Tensor, width: int) -> torch.Tensor:
    """Zero-pad embeddings to ``width`` columns so checkpoints whose projection grew can be compared.

    Preserving growth of the projection adds zero output rows, so zero padding puts the old model's embeddings in the
    new model's space.
    """
    if embeddings.shape[1] > width:
        raise ValueError(f"Cannot pad embeddings of width {embeddings.shape[1]} down to {width}.")
    return torch.nn.functional.pad(embeddings, (0, width - embeddings.shape[1]))
