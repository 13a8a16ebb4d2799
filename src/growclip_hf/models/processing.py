"""Build the image processor and processor for a GrowCLIP config, offline."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from .growclip import GrowCLIPConfig
from .growclip.processing_growclip import GrowCLIPProcessor


def build_image_processor(image_size: int) -> CLIPImageProcessorPil:
    """CLIP preprocessing (resize shortest edge, centre crop, OpenAI mean/std) at the model's image size.

    The PIL backend is used explicitly: it needs no torchvision, which does not install beside the CPU torch build.
    """
    return CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )


def build_processor(config: GrowCLIPConfig, tokenizer: PreTrainedTokenizerBase) -> GrowCLIPProcessor:
    """A processor whose image size and tokenizer agree with ``config`` (token ids and context length checked)."""
    text = config.text_config
    expected = {"bos_token_id": text.bos_token_id, "eos_token_id": text.eos_token_id, "pad_token_id": text.pad_token_id}
    actual = {name: getattr(tokenizer, name) for name in expected}
    if actual != expected:
        raise ValueError(f"Tokenizer special token ids {actual} do not match text_config {expected}.")
    if len(tokenizer) > text.vocab_size:
        raise ValueError(f"Tokenizer has {len(tokenizer)} tokens but text_config.vocab_size is {text.vocab_size}.")
    tokenizer.model_max_length = text.max_position_embeddings
    image_processor = build_image_processor(config.vision_config.image_size)
    return GrowCLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
