"""Mod-X (Ni et al., ICML 2023): keep the old model's off-diagonal contrastive structure where it was right.

Continual CLIP training rotates the embedding spaces ("spatial disorder"). Mod-X aligns the current model's
image-text similarity rows with the old model's, but only on rows the old model still retrieves correctly.

The term is over the WHOLE global batch, as in the paper's run (one 280 x 280 matrix, DataParallel): each process
scores its own rows against all processes' embeddings (gathered, the current ones with gradient) and scales its sum by
the number of processes, so that the mean of the per-process gradients (what DDP applies) is the gradient of the sum
over all rows of the global batch.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..objective import gather_with_grad, rank_and_world_size
from .base import ContinualStrategy, embed_pair, frozen_copy, load_teacher, save_teacher

REFERENCE_BATCH = 280  # the batch size at which the paper's alpha = 20
PAPER_ALPHA = 20.0


def row_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(teacher_i) || softmax(student_i)) for every row i (no reduction)."""
    teacher_log = F.log_softmax(teacher_logits, dim=-1)
    return (teacher_log.exp() * (teacher_log - F.log_softmax(student_logits, dim=-1))).sum(dim=-1)


def aligned_rows(
    queries: torch.Tensor, keys: torch.Tensor, old_queries: torch.Tensor, old_keys: torch.Tensor, offset: int = 0
) -> torch.Tensor:
    """Sum over the kept rows i of KL(softmax(old_queries_i old_keys^T) || softmax(queries_i keys^T)).

    ``queries`` are rows ``offset ..`` of ``keys``' batch (their true pairs); a row is kept only where the old model's
    best match among all keys is the true pair. Raw cosine similarities, no temperature, so the rows are nearly uniform
    and their KL is small: it is computed in float64 (a few B x N products), where float32 rounding would be of the
    order of the gradient's differences.
    """
    precise = torch.float32 if queries.device.type == "mps" else torch.float64  # MPS has no float64
    similarity = queries.to(precise) @ keys.to(precise).t()
    old_similarity = old_queries.to(precise) @ old_keys.to(precise).t()
    pairs = torch.arange(queries.shape[0], device=queries.device) + offset
    keep = old_similarity.argmax(dim=1) == pairs
    return row_kl(old_similarity, similarity)[keep].sum()


def modx_alignment_loss(
    image: torch.Tensor, text: torch.Tensor, old_image: torch.Tensor, old_text: torch.Tensor
) -> torch.Tensor:
    """L_SA = 1/2 [sum over kept rows of KL(old || new) for M = image text^T, + the same for N = M^T] (one process)."""
    return 0.5 * (aligned_rows(image, text, old_image, old_text) + aligned_rows(text, image, old_text, old_image))


class ModX(ContinualStrategy):
    """Options (see docs/continual.md for how each compares with the official code):

    - ``alpha``: weight of L_SA; default ``20 * 280 / global_batch_size`` (the paper's 20 at batch 280, scaled).
    - ``first_task_teacher``: on the first task, align with the model as it starts (the official runs start from a
      trained checkpoint that is also their old model); default off (the first task has no old model).
    """

    name = "modx"
    needs_previous_model = True

    def __init__(
        self, alpha: float | None = None, global_batch_size: int = REFERENCE_BATCH, first_task_teacher: bool = False
    ):
        self.alpha = alpha if alpha is not None else PAPER_ALPHA * REFERENCE_BATCH / global_batch_size
        self.first_task_teacher = first_task_teacher
        self.old_model = None

    def on_task_start(self, task: int, model, previous, growth_target: dict | None) -> None:
        if previous is not None:
            self.old_model = frozen_copy(previous)
        else:
            self.old_model = frozen_copy(model) if self.first_task_teacher else None

    def extra_loss(self, image_embeds, text_embeds, batch):
        if self.old_model is None:
            return None
        old_image, old_text = embed_pair(self.old_model, batch)
        rank, world_size = rank_and_world_size()
        offset = rank * image_embeds.shape[0]
        images, texts = gather_with_grad(image_embeds), gather_with_grad(text_embeds)
        old_images, old_texts = gather_with_grad(old_image), gather_with_grad(old_text)
        image_rows = aligned_rows(image_embeds, texts, old_image, old_texts, offset)
        text_rows = aligned_rows(text_embeds, images, old_text, old_images, offset)
        # Each process holds a part of the sum; DDP averages gradients over processes, hence the factor.
        return (self.alpha * world_size * 0.5 * (image_rows + text_rows)).to(image_embeds.dtype)

    def save(self, folder) -> None:
        if self.old_model is not None:
            save_teacher(self.old_model, folder, "modx_old_model")

    def load(self, folder, model_class, device) -> None:
        saved = (folder / "modx_old_model.safetensors").is_file()
        self.old_model = load_teacher(folder, "modx_old_model", model_class, device) if saved else None
