"""Zero-shot classification: template-averaged class embeddings, logits = 100 * image @ classes, recall metrics."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .embeddings import embed_texts
from .ranking import true_class_ranks
from .recall_metric import recall_from_ranks

LOGIT_SCALE = 100.0
TOP5_MIN_CLASSES = 5


def fill_template(template: str, classname: str) -> str:
    """Fill a prompt template written either as ``"a photo of a {}."`` or CLIP_benchmark's ``"a photo of a {c}."``."""
    return template.format(classname, c=classname)


def class_embeddings(model, tokenizer, classnames: Sequence[str], templates: Sequence[str], batch_size: int = 256):
    """``[classes, dim]``: per class, the mean of its normalised template embeddings, renormalised.

    All prompts of all classes go through the text tower in shared batches: one pass per task.
    """
    if not classnames or not templates:
        raise ValueError("Zero-shot classification needs at least one class name and one template.")
    prompts = [fill_template(template, name) for name in classnames for template in templates]
    prompt_embeddings = embed_texts(model, tokenizer, prompts, batch_size=batch_size)
    per_class = prompt_embeddings.view(len(classnames), len(templates), -1).mean(dim=1)
    return torch.nn.functional.normalize(per_class, dim=-1)


def zeroshot_logits(image_embeddings: torch.Tensor, class_embeds: torch.Tensor) -> torch.Tensor:
    """``100 * image @ classes^T`` for normalised embeddings: CLIP's fixed zero-shot temperature."""
    return LOGIT_SCALE * image_embeddings @ class_embeds.t()


def zeroshot_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float | None]:
    """``top1``, ``top5`` (None when there are fewer than 5 classes) and ``mean_per_class_recall``, in percent.

    Mean per-class recall averages over the classes present in ``labels``.
    """
    num_classes = logits.shape[1]
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"Labels must lie in [0, {num_classes}), got range [{labels.min()}, {labels.max()}].")
    recalls = recall_from_ranks(true_class_ranks(logits, labels), groups=labels, ks=(1, 5))
    return {
        "top1": recalls["recall@1"],
        "top5": recalls["recall@5"] if num_classes >= TOP5_MIN_CLASSES else None,
        "mean_per_class_recall": recalls["mean_group_recall"],
        "num_images": int(labels.numel()),
        "num_classes": int(num_classes),
    }
