"""Contrastive loss over the GLOBAL batch: every process scores its images against all processes' texts.

As in open_clip, features are all-gathered *with* gradient, and each process computes the loss of its own rows
against all columns (labels offset by its rank). DDP then averages parameter gradients, which gives exactly the
gradient of the mean loss over the global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.nn import functional as F


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world_size() -> tuple[int, int]:
    """This process's rank and the number of processes; ``(0, 1)`` outside a multi-process group.

    With equal local batches, this process's rows sit at ``rank * local_batch ..`` of anything ``gather_with_grad``
    returns.
    """
    return (dist.get_rank(), dist.get_world_size()) if _distributed() else (0, 1)


def gather_with_grad(features: torch.Tensor) -> torch.Tensor:
    """Concatenate ``features`` from all processes (rank order); gradients flow back to every contributor."""
    if not _distributed():
        return features
    # torch's functional collective: differentiable (its backward reduce-scatters the gradient to its owner), and not
    # the deprecated torch.distributed.nn.functional.all_gather.
    from torch.distributed._functional_collectives import AsyncCollectiveTensor, all_gather_single

    gathered = all_gather_single(features.contiguous(), 0, dist.group.WORLD)
    return gathered.wait() if isinstance(gathered, AsyncCollectiveTensor) else gathered


def global_contrastive_loss(
    image_embeds: torch.Tensor, text_embeds: torch.Tensor, logit_scale: torch.Tensor, gather: bool = True
) -> torch.Tensor:
    """Symmetric InfoNCE of this process's pairs against the negatives of the whole global batch.

    ``image_embeds`` and ``text_embeds`` are this process's L2-normalised, aligned embeddings; ``logit_scale`` is the
    (clamped, exponentiated) temperature factor. ``gather=False`` keeps the loss local (work that only one process
    does, such as the growth search).
    """
    if image_embeds.shape[0] != text_embeds.shape[0]:
        raise ValueError(f"Need aligned pairs, got {image_embeds.shape[0]} images and {text_embeds.shape[0]} texts.")
    gather = gather and _distributed()
    all_images = gather_with_grad(image_embeds) if gather else image_embeds
    all_texts = gather_with_grad(text_embeds) if gather else text_embeds
    rank = rank_and_world_size()[0] if gather else 0
    labels = torch.arange(image_embeds.shape[0], device=image_embeds.device) + rank * image_embeds.shape[0]
    logits_per_image = logit_scale * image_embeds @ all_texts.t()
    logits_per_text = logit_scale * text_embeds @ all_images.t()
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2
