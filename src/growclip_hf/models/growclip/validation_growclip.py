"""Input checks that turn shape mistakes into errors saying what to fix (instead of deep indexing errors)."""

from __future__ import annotations

import torch


def check_text_inputs(text_config, input_ids, attention_mask=None) -> None:
    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(f"input_ids must be a torch.Tensor of token ids, got {type(input_ids).__name__}.")
    if input_ids.ndim != 2:
        raise ValueError(f"input_ids must have shape [batch, sequence], got {tuple(input_ids.shape)}.")
    if input_ids.shape[0] == 0:
        raise ValueError("input_ids holds no texts: pass at least one text (the text list is empty).")
    seq_len, max_len = input_ids.shape[1], text_config.max_position_embeddings
    if seq_len == 0:
        raise ValueError("input_ids has sequence length 0: every text needs at least one token.")
    if seq_len > max_len:
        raise ValueError(
            f"Text is {seq_len} tokens long but the position table holds {max_len} "
            f"(text_config.max_position_embeddings); tokenize with truncation=True, max_length={max_len}."
        )
    if attention_mask is not None and tuple(attention_mask.shape) != tuple(input_ids.shape):
        raise ValueError(
            f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has {tuple(input_ids.shape)}; "
            "they must match."
        )
    if input_ids.dtype.is_floating_point:
        raise TypeError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}.")
    if torch.compiler.is_compiling():
        return  # reading values back would split the compiled graph (and sync a GPU) on every call
    low, high = (int(value) for value in torch.aminmax(input_ids))
    if low < 0 or high >= text_config.vocab_size:
        raise ValueError(
            f"input_ids holds token ids in [{low}, {high}] but the vocabulary has {text_config.vocab_size} entries "
            "(text_config.vocab_size); use the tokenizer saved with this model."
        )


def check_image_inputs(vision_config, pixel_values) -> None:
    if not isinstance(pixel_values, torch.Tensor):
        raise TypeError(f"pixel_values must be a torch.Tensor, got {type(pixel_values).__name__}.")
    if pixel_values.ndim != 4:
        raise ValueError(
            f"pixel_values must have shape [batch, channels, height, width], got {tuple(pixel_values.shape)}."
        )
    batch, channels, height, width = pixel_values.shape
    if batch == 0:
        raise ValueError("pixel_values holds no images: pass at least one image.")
    if channels != vision_config.num_channels:
        raise ValueError(
            f"pixel_values has {channels} channels but the model expects {vision_config.num_channels} "
            "(vision_config.num_channels); convert images to RGB first, e.g. with the model's processor."
        )
    size = vision_config.image_size
    if (height, width) != (size, size):
        raise ValueError(
            f"Images are {height}x{width} but the model expects {size}x{size} (vision_config.image_size); "
            "resize them with the model's processor."
        )


def check_pair_batches(num_images: int, num_texts: int) -> None:
    if num_images != num_texts:
        raise ValueError(
            f"return_loss=True needs one text per image, got {num_images} images and {num_texts} texts. "
            "For zero-shot scoring of many texts per image, call the model with return_loss=False."
        )
