"""Your own continual strategy: keep each pair's new embeddings close to the old model's (an L2 anchor).

A strategy subclasses ``growclip_hf.continual.ContinualStrategy`` and fills in the hooks it needs; the stage loop
calls them (see docs/continual.md). Use it by import path, from Python or from a run config:

    from growclip_hf.continual import build_strategy
    strategy = build_strategy("custom_strategy:EmbeddingAnchor", weight=2.0)  # with examples/ on sys.path

    # train config (run with PYTHONPATH=examples):
    continual: {strategy: "custom_strategy:EmbeddingAnchor", weight: 2.0}
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from growclip_hf.continual import ContinualStrategy, embed_pair, frozen_copy, load_teacher, save_teacher


class EmbeddingAnchor(ContinualStrategy):
    name = "embedding-anchor"
    replay = "none"  # what the data plan streams: none, all, or reservoir (then also set buffer_size)
    needs_previous_model = True  # the loop passes the model as it ended the previous task to on_task_start

    def __init__(self, weight: float = 1.0):
        self.weight = weight
        self.old_model = None

    def on_task_start(self, task: int, model, previous, growth_target: dict | None) -> None:
        self.old_model = frozen_copy(previous) if previous is not None else None

    def extra_loss(self, image_embeds: torch.Tensor, text_embeds: torch.Tensor, batch: dict):
        if self.old_model is None:
            return None  # the first task: nothing to keep
        old_image, old_text = embed_pair(self.old_model, batch)  # no gradient into the teacher
        # After a growth step that widened the projection, compare in the new space: pad the old embeddings with
        # zeros, which is what the preserving growth of a projection does to them.
        old_image = F.pad(old_image, (0, image_embeds.shape[1] - old_image.shape[1]))
        old_text = F.pad(old_text, (0, text_embeds.shape[1] - old_text.shape[1]))
        per_pair = (image_embeds - old_image).pow(2).sum(dim=-1) + (text_embeds - old_text).pow(2).sum(dim=-1)
        # A mean over this process's pairs; DDP averages the gradients over processes, so several processes train the
        # mean over the global batch. (A term that compares rows across the batch must gather: see Mod-X.)
        return self.weight * per_pair.mean()

    def save(self, folder) -> None:
        if self.old_model is not None:
            save_teacher(self.old_model, folder, "anchor_old_model")

    def load(self, folder, model_class, device) -> None:
        saved = (folder / "anchor_old_model.safetensors").is_file()
        self.old_model = load_teacher(folder, "anchor_old_model", model_class, device) if saved else None
