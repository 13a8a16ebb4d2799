"""Start a run from the user's checkpoint: a GrowCLIP folder or repo (any revision), a transformers CLIP checkpoint, or
an open_clip one. The run keeps the checkpoint's tokenizer and image processor (no tokenizer is trained) and starts
from exactly its function; every stage saves them again beside the grown weights.
"""

from __future__ import annotations

from pathlib import Path

from ..growth.plan_check import first_line
from ..models.growclip import GrowCLIPModel
from ..models.processing import build_image_processor

OPEN_CLIP_CONFIG = "open_clip_config.json"


class PretrainedError(ValueError):
    """The checkpoint cannot start a run; the message names the problem and the fix."""


def _has_file(source: str, name: str, revision: str | None) -> bool:
    if Path(source).is_dir():
        return (Path(source) / name).is_file()
    if Path(source).exists():
        return False
    from huggingface_hub import file_exists

    try:
        return file_exists(source, name, revision=revision)
    except Exception:  # noqa: BLE001 - offline or unknown repo: the loader below reports it in one line
        return False


def _image_size(image_processor) -> int | None:
    crop = getattr(image_processor, "crop_size", None) or {}
    size = getattr(image_processor, "size", None) or {}
    return crop.get("height") or size.get("shortest_edge") or size.get("height")


def load_pretrained(source: str, revision: str | None = None, tokenizer: str | None = None):
    """``(model, processor)`` of a checkpoint, checked to agree with each other (image size, vocabulary)."""
    from transformers import AutoProcessor, AutoTokenizer, CLIPProcessor

    try:
        if _has_file(source, OPEN_CLIP_CONFIG, revision):
            if tokenizer is None:
                raise PretrainedError(
                    f"{source} is an open_clip checkpoint, which ships no Hugging Face tokenizer: set model.tokenizer "
                    "to a CLIP tokenizer folder or repo (e.g. openai/clip-vit-base-patch32)."
                )
            model = GrowCLIPModel.from_open_clip(source, revision=revision)
            processor = CLIPProcessor(
                image_processor=build_image_processor(model.config.vision_config.image_size),
                tokenizer=AutoTokenizer.from_pretrained(tokenizer),
            )
        else:
            model = GrowCLIPModel.from_pretrained(source, revision=revision)
            processor = AutoProcessor.from_pretrained(tokenizer or source, revision=None if tokenizer else revision)
    except PretrainedError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PretrainedError(f"model.pretrained={source!r}: {first_line(error)}") from None
    check_processor(model, processor, source)
    return model, processor


def check_processor(model, processor, source: str) -> None:
    """The processor must produce what the model reads: its image size and token ids within the vocabulary."""
    vision, text = model.config.vision_config, model.config.text_config
    size = _image_size(processor.image_processor)
    if size is not None and size != vision.image_size:
        raise PretrainedError(
            f"{source}: the image processor makes {size} px images but the model reads {vision.image_size} px; "
            "fix preprocessor_config.json (size / crop_size) or load the matching processor."
        )
    if len(processor.tokenizer) > text.vocab_size:
        raise PretrainedError(
            f"{source}: the tokenizer has {len(processor.tokenizer)} tokens but the model's vocabulary holds "
            f"{text.vocab_size}; use the tokenizer saved with this checkpoint."
        )


def context_length(model, tokenizer) -> int:
    """Captions are cut to the model's own position table, whatever the tokenizer's ``model_max_length`` says."""
    limit = model.config.text_config.max_position_embeddings
    declared = getattr(tokenizer, "model_max_length", None)
    return min(limit, int(declared)) if isinstance(declared, int) and 0 < declared < 10**6 else limit
