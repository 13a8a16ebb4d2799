"""The main job until training lands: build, save, reload and run a small GrowCLIP model end to end, offline."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from transformers import AutoModel, AutoProcessor, pipeline

from ..models.growclip import GrowCLIPConfig, GrowCLIPModel
from ..models.processing import build_processor
from ..models.tokenization import train_tokenizer

SMOKE_LABELS = ("red circle", "green square", "blue triangle")
_COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220)}


def shape_image(label: str, size: int = 96) -> Image.Image:
    """Draw the shape a label names, e.g. 'red circle', on a white canvas."""
    colour_name, shape = label.split()
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    box = (size // 5, size // 5, size - size // 5, size - size // 5)
    if shape == "circle":
        draw.ellipse(box, fill=_COLOURS[colour_name])
    elif shape == "square":
        draw.rectangle(box, fill=_COLOURS[colour_name])
    else:
        draw.polygon([(size // 2, box[1]), (box[0], box[3]), (box[2], box[3])], fill=_COLOURS[colour_name])
    return image


def smoke_config(vocab_size: int) -> GrowCLIPConfig:
    tower = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
    return GrowCLIPConfig(
        text_config={**tower, "vocab_size": vocab_size, "max_position_embeddings": 32},
        vision_config={**tower, "image_size": 64, "patch_size": 16},
        shared_config={**tower, "num_hidden_layers": 1},
        projection_dim=64,
    )


def run_smoke(output_dir: str | Path, seed: int = 0) -> dict:
    """Build a model with a shared encoder, save it with its processor, reload it and classify an image zero-shot."""
    torch.manual_seed(seed)
    output_dir = Path(output_dir)
    captions = [f"a photo of a {label}" for label in SMOKE_LABELS] + [f"a {label}" for label in SMOKE_LABELS]
    tokenizer = train_tokenizer(captions * 4, vocab_size=320, context_length=32)
    config = smoke_config(vocab_size=len(tokenizer))
    model = GrowCLIPModel(config).eval()
    processor = build_processor(config, tokenizer)
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)

    reloaded = AutoModel.from_pretrained(output_dir).eval()
    reloaded_processor = AutoProcessor.from_pretrained(output_dir)
    image = shape_image("red circle")
    inputs = reloaded_processor(
        text=[f"a photo of a {label}" for label in SMOKE_LABELS], images=image, return_tensors="pt", padding=True
    )
    with torch.no_grad():
        direct = reloaded(**inputs).logits_per_image.softmax(dim=-1)[0]
    classifier = pipeline("zero-shot-image-classification", model=str(output_dir), device="cpu")
    scores = classifier(image, candidate_labels=list(SMOKE_LABELS), hypothesis_template="a photo of a {}")
    result = {
        "saved_to": str(output_dir),
        "parameters": sum(p.numel() for p in reloaded.parameters()),
        "files": sorted(path.name for path in output_dir.iterdir()),
        "pipeline_scores": {item["label"]: round(item["score"], 4) for item in scores},
        "direct_scores": {label: round(float(p), 4) for label, p in zip(SMOKE_LABELS, direct, strict=True)},
    }
    print(json.dumps(result, indent=2))
    return result
