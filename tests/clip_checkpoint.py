"""A CLIP checkpoint as transformers saves published ones, built locally: legacy token ids (the end token is the
highest id and pooling happens at the highest id), quick_gelu, a CLIP tokenizer (byte-level BPE with ``</w>``) that
pads with the end token and declares no usable ``model_max_length``, and a CLIP image processor."""

from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from growclip_hf.models.clip_shapes import clip_shape_config

BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def clip_tokenizer() -> CLIPTokenizer:
    """Every byte as a token, alone and word-final (CLIP's base vocabulary), a few merges, then the two specials."""
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    merges = [("t", "h"), ("th", "e</w>"), ("o", "n</w>"), ("a", "t</w>")]
    vocab += [left + right for left, right in merges if left + right not in vocab]
    vocab += [BOS, EOS]
    ids = {token: index for index, token in enumerate(vocab)}
    # model_max_length is left at transformers' "unset" value, as in some published CLIP tokenizers
    return CLIPTokenizer(vocab=ids, merges=merges, pad_token=EOS)


def write_clip_checkpoint(folder: Path, image_size: int = 32, seed: int = 0, shape: str | None = None) -> CLIPModel:
    """``folder`` holds config.json, model.safetensors, the tokenizer and the image processor; returns the model.

    ``shape`` (a key of ``growclip_hf.models.clip_shapes.CLIP_SHAPES``, e.g. ``"vit-b-32"``) gives the published
    checkpoint's sizes at 224 px instead of the tiny default."""
    tokenizer = clip_tokenizer()
    torch.manual_seed(seed)
    if shape is not None:
        image_size = 224
        config = clip_shape_config(shape, vocab_size=len(tokenizer), image_size=image_size)
    else:
        config = _tiny_config(len(tokenizer), image_size)
    model = CLIPModel(config).eval()
    return _finish_checkpoint(model, tokenizer, folder, image_size)


def _tiny_config(vocab_size: int, image_size: int) -> CLIPConfig:
    return CLIPConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": 48,
            "intermediate_size": 96,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
            "hidden_act": "quick_gelu",
            "bos_token_id": 0,
            "eos_token_id": 2,  # the legacy value published configs carry: pooling at the highest token id
            "pad_token_id": 1,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": 16,
            "hidden_act": "quick_gelu",
        },
        projection_dim=24,
    )


def _finish_checkpoint(model, tokenizer, folder: Path, image_size: int) -> CLIPModel:
    with torch.no_grad():  # away from the initial values, which would hide mapping errors
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    model.save_pretrained(folder)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    # separate files, as the published repositories have them (preprocessor_config.json, tokenizer files)
    image_processor.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model
