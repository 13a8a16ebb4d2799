"""Mod-X (Ni et al., ICML 2023): keep the old model's off-diagonal contrastive structure where it was right.

Continual CLIP training rotates the embedding spaces ("spatial disorder"). Mod-X aligns the current model's
image-text similarity rows with the old model's, but only on rows the old model still retrieves correctly.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .base import ContinualStrategy, embed_pair, frozen_copy, load_teacher, save_teacher

REFERENCE_BATCH = 280  # the batch size at which the paper's alpha = 20


def row_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(teacher_i) || softmax(student_i)) for every row i (no reduction)."""
    teacher_log = F.log_softmax(teacher_logits, dim=-1)
    return (teacher_log.exp() * (teacher_log - F.log_softmax(student_logits, dim=-1))).sum(dim=-1)


def modx_alignment_loss(
    image: torch.Tensor, text: torch.Tensor, old_image: torch.Tensor, old_text: torch.Tensor
) -> torch.Tensor:
    """L_SA = 1/2 [sum over kept rows of KL(old || new) for M = image text^T, + the same for N = M^T].

    Raw cosine similarities (no temperature); a row is kept only where the old model's best match is the true pair.
    """
    similarity, old_similarity = image @ text.t(), old_image @ old_text.t()
    rows = torch.arange(similarity.shape[0], device=similarity.device)
    keep_images = old_similarity.argmax(dim=1) == rows
    keep_texts = old_similarity.t().argmax(dim=1) == rows
    image_rows = row_kl(old_similarity, similarity)[keep_images].sum()
    text_rows = row_kl(old_similarity.t(), similarity.t())[keep_texts].sum()
    return 0.5 * (image_rows + text_rows)


class ModX(ContinualStrategy):
    name = "modx"
    needs_previous_model = True

    def __init__(self, alpha: float | None = None, global_batch_size: int = REFERENCE_BATCH):
        # alpha = 20 at batch 280 in the paper; scaled by 280 / B for another batch size.
        self.alpha = alpha if alpha is not None else 20.0 * REFERENCE_BATCH / global_batch_size
        self.old_model = None

    def on_task_start(self, task: int, model, previous, growth_target: dict | None) -> None:
        self.old_model = frozen_copy(previous) if previous is not None else None

    def extra_loss(self, image_embeds, text_embeds, batch):
        if self.old_model is None:
            return None
        old_image, old_text = embed_pair(self.old_model, batch)
        return self.alpha * modx_alignment_loss(image_embeds, text_embeds, old_image, old_text)

    def save(self, folder) -> None:
        if self.old_model is not None:
            save_teacher(self.old_model, folder, "modx_old_model")

    def load(self, folder, model_class, device) -> None:
        if (folder / "modx_old_model.safetensors").is_file():
            self.old_model = load_teacher(folder, "modx_old_model", model_class, device)
