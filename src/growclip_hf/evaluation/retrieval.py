"""Image-text retrieval with several captions per image: R@1/5/10 both ways and their mean, Rm."""

from __future__ import annotations

import torch

from .ranking import best_positive_ranks
from .recall_metric import recall_from_ranks

RECALL_KS = (1, 5, 10)


def positive_pairs(caption_image_index: torch.Tensor, num_images: int) -> torch.Tensor:
    """``[images, captions]`` boolean matrix: True where the caption describes the image."""
    caption_image_index = caption_image_index.long()
    positives = torch.zeros(num_images, caption_image_index.numel(), dtype=torch.bool)
    positives[caption_image_index, torch.arange(caption_image_index.numel())] = True
    return positives


def retrieval_metrics(
    image_embeddings: torch.Tensor, caption_embeddings: torch.Tensor, caption_image_index: torch.Tensor
) -> dict[str, float]:
    """Recall@k in percent for image->text (``i2t_R@k``) and text->image (``t2i_R@k``), and ``Rm`` (mean of the six).

    image->text: a hit when ANY of the image's captions is within the top k captions.
    text->image: each caption has one positive image.
    """
    if caption_embeddings.shape[0] != caption_image_index.numel():
        raise ValueError("caption_image_index needs one image index per caption.")
    similarity = image_embeddings @ caption_embeddings.t()
    positives = positive_pairs(caption_image_index, image_embeddings.shape[0])
    image_to_text = recall_from_ranks(best_positive_ranks(similarity, positives), ks=RECALL_KS)
    text_to_image = recall_from_ranks(best_positive_ranks(similarity.t(), positives.t()), ks=RECALL_KS)
    metrics = {f"i2t_R@{k}": image_to_text[f"recall@{k}"] for k in RECALL_KS}
    metrics.update({f"t2i_R@{k}": text_to_image[f"recall@{k}"] for k in RECALL_KS})
    metrics["Rm"] = sum(metrics.values()) / len(metrics)
    metrics["num_images"] = int(image_embeddings.shape[0])
    metrics["num_captions"] = int(caption_embeddings.shape[0])
    return metrics
