"""The model work behind the demo: zero-shot probabilities and retrieval, one cached model per stage.

Zero-shot scores are the model's own: ``softmax(logits_per_image)`` of one prompt per label, exactly what transformers'
zero-shot image classification pipeline computes with the same hypothesis template.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from PIL import Image

from ..evaluation.embeddings import embed_pixels, embed_texts, preprocess_images
from ..evaluation.runs import Stage, load_stage
from .sources import StageSource


@dataclass
class Gallery:
    """Held-out images and captions the retrieval tabs search (from the benchmark's chunk test splits)."""

    images: list[Image.Image]
    captions: list[str]


@dataclass
class StageModels:
    """Loads each stage once and keeps its model, processor and gallery embeddings for later requests."""

    source: StageSource
    gallery: Gallery | None = None
    _loaded: dict = field(default_factory=dict)
    _gallery_embeddings: dict = field(default_factory=dict)

    def get(self, name: str):
        if name not in self._loaded:
            folder = self.source.folder(name)
            self._loaded[name] = load_stage(Stage(name, 0, folder))
        return self._loaded[name]

    def gallery_embeddings(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised embeddings of the gallery's images and captions under stage ``name``."""
        if self.gallery is None:
            raise LookupError("This demo has no gallery of held-out images (no benchmark manifest was found).")
        if name not in self._gallery_embeddings:
            model, processor = self.get(name)
            pixels = preprocess_images(processor.image_processor, self.gallery.images)
            images = embed_pixels(model, pixels)
            captions = embed_texts(model, processor.tokenizer, self.gallery.captions)
            self._gallery_embeddings[name] = (images, captions)
        return self._gallery_embeddings[name]

    def classify(self, name: str, image: Image.Image, labels: list[str], template: str) -> dict[str, float]:
        """Label -> probability (summing to 1) under stage ``name``."""
        model, processor = self.get(name)
        prompts = [template.format(label) for label in labels]
        inputs = processor(text=prompts, images=[image], return_tensors="pt", padding=True, truncation=True)
        with torch.inference_mode():
            logits = model(**inputs).logits_per_image[0]
        probabilities = logits.float().softmax(dim=-1).tolist()
        return dict(zip(labels, probabilities, strict=True))

    def text_to_image(self, name: str, query: str, k: int) -> list[tuple[int, float]]:
        """(gallery image index, cosine similarity) of the ``k`` images closest to ``query``."""
        model, processor = self.get(name)
        images, _ = self.gallery_embeddings(name)
        query_embedding = embed_texts(model, processor.tokenizer, [query])[0]
        return top_k(images @ query_embedding, k)

    def image_to_text(self, name: str, image: Image.Image, k: int) -> list[tuple[int, float]]:
        """(gallery caption index, cosine similarity) of the ``k`` captions closest to ``image``."""
        model, processor = self.get(name)
        _, captions = self.gallery_embeddings(name)
        image_embedding = embed_pixels(model, preprocess_images(processor.image_processor, [image]))[0]
        return top_k(captions @ image_embedding, k)


def top_k(similarities: torch.Tensor, k: int) -> list[tuple[int, float]]:
    values, indices = similarities.topk(min(k, similarities.numel()))
    return [(int(index), float(value)) for index, value in zip(indices, values, strict=True)]


def load_gallery(manifest, per_split: int = 24) -> Gallery | None:
    """The first ``per_split`` test images of every chunk and all their captions, or None without a manifest."""
    if manifest is None:
        return None
    from ..evaluation.suite import load_suite

    suite = load_suite(manifest, max_per_split=per_split)
    images, captions = [], []
    for split in suite.retrieval:
        images.extend(split.images.images)
        captions.extend(split.captions)
    return Gallery(images, captions) if images else None


def example_images(manifest, per_task: int = 2) -> list[tuple[Image.Image, str]]:
    """(image, comma-separated class names) examples from the benchmark's zero-shot tasks, [] without a manifest."""
    if manifest is None:
        return []
    from ..evaluation.suite import load_suite

    suite = load_suite(manifest, max_per_split=per_task)
    return [
        (image, ", ".join(task.classnames[:8])) for task in suite.zeroshot for image in task.images.images[:per_task]
    ]
