"""The sizes of published CLIP checkpoints (OpenAI's ViT-B/32, ViT-B/16, ViT-L/14), as transformers configs.

Why: the real-size tests, the memory and speed benchmarks and the GPU script build random-weight models of exactly
these shapes offline, the way the published ``config.json`` files describe them (legacy token ids, quick_gelu, 224 px),
with a vocabulary as small as the caller's tokenizer.
"""

from __future__ import annotations

from transformers import CLIPConfig

_TEXT_B = {"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 8}
_VISION_B = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}
CLIP_SHAPES = {
    "vit-b-32": {"text": _TEXT_B, "vision": {**_VISION_B, "patch_size": 32}, "projection_dim": 512},
    "vit-b-16": {"text": _TEXT_B, "vision": {**_VISION_B, "patch_size": 16}, "projection_dim": 512},
    "vit-l-14": {
        "text": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12},
        "vision": {
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "patch_size": 14,
        },
        "projection_dim": 768,
    },
}


def clip_shape_config(
    name: str, vocab_size: int = 49408, image_size: int = 224, context_length: int = 77
) -> CLIPConfig:
    """transformers' ``CLIPConfig`` of the published checkpoint ``name`` (a key of ``CLIP_SHAPES``).

    Token ids are the legacy ones published configs carry (``eos_token_id=2``: pool at the highest id), so a
    tokenizer whose end token is its last id pools as CLIP's does.
    """
    if name not in CLIP_SHAPES:
        raise ValueError(f"Unknown CLIP shape {name!r}; use one of {', '.join(CLIP_SHAPES)}.")
    shape = CLIP_SHAPES[name]
    text = {
        **shape["text"],
        "vocab_size": vocab_size,
        "max_position_embeddings": context_length,
        "hidden_act": "quick_gelu",
        "bos_token_id": 0,
        "eos_token_id": 2,
        "pad_token_id": 1,
    }
    vision = {**shape["vision"], "image_size": image_size, "hidden_act": "quick_gelu"}
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=shape["projection_dim"])
