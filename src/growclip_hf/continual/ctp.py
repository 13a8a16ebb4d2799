"""CTP (Zhu et al., ICCV 2023), ported to CLIP: compatible momentum contrast + topology preservation.

- A compatible momentum model theta_c follows both the current model and the previous task's model:
  theta_c <- m theta_c + (1 - m) (alpha theta_{t-1} + (1 - alpha) theta); on the first task a plain EMA.
- L_cmc: each embedding must find its pair among the momentum model's embeddings of this process's batch plus a queue
  of earlier global batches (per-process keys, as in the official code; the queue is the same on every process).
- L_c, L_s: the row-softmax similarity structure across modalities (L_c) and within each modality (L_s, own sample
  masked) of the frozen previous model is kept, KL(previous || current). These are global-batch terms: each process
  scores its rows against all processes' embeddings (batchmean over its rows), so the DDP mean of the gradients is the
  gradient of one process holding the whole batch.
After growth, theta_{t-1} and theta_c are the previous model mapped into the grown shape function-preservingly, so
their weights mix with the student's; the topology teacher only enters through similarity matrices.
Where this port differs from the official code, an option selects the official behaviour (docs/continual.md).
"""

from __future__ import annotations

import copy
import json
import math

import torch
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from ..objective import gather_with_grad, rank_and_world_size
from .base import (
    ContinualStrategy,
    embed_pair,
    frozen_copy,
    load_teacher,
    save_teacher,
    teacher_in_student_shape,
)

SELF_SIMILARITY = -1000.0
QUEUE_INITS = ("empty", "random")


def momentum_update(momentum_model, model, anchor, momentum: float, anchor_weight: float) -> None:
    """theta_c <- m theta_c + (1 - m) (a theta_anchor + (1 - a) theta); without an anchor, a plain EMA of theta."""
    if anchor is None and anchor_weight != 0:
        raise ValueError(f"anchor_weight={anchor_weight} needs an anchor model.")
    with torch.no_grad():
        targets = dict(model.named_parameters())
        anchors = dict(anchor.named_parameters()) if anchor is not None else {}
        for name, parameter in momentum_model.named_parameters():
            current = targets[name]
            goal = anchor_weight * anchors[name] + (1 - anchor_weight) * current if anchors else current
            parameter.mul_(momentum).add_(goal, alpha=1 - momentum)


def momentum_contrast_loss(image, text, momentum_image, momentum_text, queue_image, queue_text, tau: float):
    """Cross-entropy of each image against [momentum texts of the batch; text queue] (own index is the target),
    and the symmetric text term; the mean of the two."""
    targets = torch.arange(image.shape[0], device=image.device)
    image_logits = image @ torch.cat([momentum_text, queue_text]).t() / tau
    text_logits = text @ torch.cat([momentum_image, queue_image]).t() / tau
    return (F.cross_entropy(image_logits, targets) + F.cross_entropy(text_logits, targets)) / 2


def topology_kl(queries, keys, teacher_queries, teacher_keys, tau: float, self_offset: int | None = None):
    """KL(teacher || student) of the row softmax of queries keys^T / tau, reduction batchmean.

    ``self_offset``: the queries are rows ``self_offset ..`` of the keys (same modality); their own similarity is set
    to -1000 in both, so only the relations to other samples count.
    """
    student, teacher = queries @ keys.t() / tau, teacher_queries @ teacher_keys.t() / tau
    if self_offset is not None:
        rows = torch.arange(queries.shape[0], device=queries.device)
        masked = student.new_tensor(SELF_SIMILARITY)
        student = student.index_put((rows, rows + self_offset), masked)
        teacher = teacher.index_put((rows, rows + self_offset), teacher.new_tensor(SELF_SIMILARITY))
    return F.kl_div(
        F.log_softmax(student, dim=-1), F.log_softmax(teacher, dim=-1), log_target=True, reduction="batchmean"
    )


def enqueue(queue: torch.Tensor, features: torch.Tensor, size: int) -> torch.Tensor:
    """Newest first; the oldest entries fall off the end."""
    return torch.cat([features.detach(), queue])[:size]


def initial_queue(kind: str, size: int, width: int, seed: int, device, dtype) -> torch.Tensor:
    """``empty``: no entries; ``random``: ``size`` random unit vectors (the official start), equal on all processes."""
    if kind == "empty":
        return torch.zeros(0, width, device=device, dtype=dtype)
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(size, width, generator=generator), dim=-1).to(device=device, dtype=dtype)


def widen_queue(queue: torch.Tensor, width: int) -> torch.Tensor:
    """Queued features in a grown projection: zero-padded, as the preserving growth pads the teacher's embeddings."""
    if queue.shape[1] > width:
        raise ValueError(f"Cannot carry a queue of width {queue.shape[1]} into a projection of width {width}.")
    return F.pad(queue, (0, width - queue.shape[1]))


class CTP(ContinualStrategy):
    """Options (docs/continual.md lists where each differs from the official code):

    - ``queue_size`` (1024), ``tau`` (0.07, the temperature of L_cmc, L_c and L_s), ``momentum`` (0.9),
      ``anchor_weight`` (0.5, the share of theta_{t-1} in theta_c's target), ``first_task_momentum`` (0.995).
    - ``contrastive_temperature``: None keeps the model's learnable logit scale for L_ita; a number pins the logit
      scale at ``ln(1 / contrastive_temperature)`` from every task start on (official: 0.07, fixed).
    - ``carry_queue``: keep the queues from one task to the next (official) instead of restarting them.
    - ``queue_init``: ``empty`` (fills up from the batches) or ``random`` (``queue_size`` random unit vectors,
      official).
    - ``momentum_contrast_weight``, ``cross_topology_weight``, ``intra_topology_weight``: weights of L_cmc, L_c and L_s
      (all 1 in the paper; 0 switches a term off, e.g. for an ablation).
    """

    name = "ctp"
    needs_previous_model = True

    def __init__(
        self,
        queue_size: int = 1024,
        tau: float = 0.07,
        momentum: float = 0.9,
        anchor_weight: float = 0.5,
        first_task_momentum: float = 0.995,
        contrastive_temperature: float | None = None,
        carry_queue: bool = False,
        queue_init: str = "empty",
        momentum_contrast_weight: float = 1.0,
        cross_topology_weight: float = 1.0,
        intra_topology_weight: float = 1.0,
    ):
        if queue_init not in QUEUE_INITS:
            raise ValueError(f"queue_init must be one of {QUEUE_INITS}, got {queue_init!r}.")
        self.queue_size, self.tau = queue_size, tau
        self.momentum, self.anchor_weight, self.first_task_momentum = momentum, anchor_weight, first_task_momentum
        self.contrastive_temperature = contrastive_temperature
        self.carry_queue, self.queue_init = carry_queue, queue_init
        self.momentum_contrast_weight = momentum_contrast_weight
        self.cross_topology_weight, self.intra_topology_weight = cross_topology_weight, intra_topology_weight
        self.task = 0
        self.momentum_model = self.anchor = self.reference = None
        self.queue_image = self.queue_text = None

    def on_task_start(self, task: int, model, previous, growth_target: dict | None) -> None:
        self.task = task
        if previous is None:
            self.momentum_model, self.anchor, self.reference = frozen_copy(model), None, None
        else:
            self.reference = frozen_copy(previous)
            shaped = teacher_in_student_shape(previous, growth_target)
            self.anchor = shaped if shaped is not None else frozen_copy(model)
            self.momentum_model = frozen_copy(self.anchor)
        self._start_queues(model)
        self._pin_temperature(model)

    def _start_queues(self, model) -> None:
        width = model.config.projection_dim
        if self.carry_queue and self.queue_image is not None:
            self.queue_image, self.queue_text = (
                widen_queue(self.queue_image, width),
                widen_queue(self.queue_text, width),
            )
            return
        parameter = next(model.parameters())
        start = (self.queue_init, self.queue_size, width)
        self.queue_image = initial_queue(*start, seed=0, device=parameter.device, dtype=parameter.dtype)
        self.queue_text = initial_queue(*start, seed=1, device=parameter.device, dtype=parameter.dtype)

    def _pin_temperature(self, model) -> None:
        """With a fixed L_ita temperature, the model's logit scale is held at ln(1 / T) (reset after every step)."""
        if self.contrastive_temperature is not None:
            with torch.no_grad():
                model.logit_scale.fill_(math.log(1.0 / self.contrastive_temperature))

    def after_step(self, model) -> None:
        if self.anchor is None:
            momentum_update(self.momentum_model, model, None, self.first_task_momentum, 0.0)
        else:
            momentum_update(self.momentum_model, model, self.anchor, self.momentum, self.anchor_weight)
        if self.momentum_model.config.growth_ramp != model.config.growth_ramp:  # follow the student's ramp
            self.momentum_model.config.growth_ramp = copy.deepcopy(model.config.growth_ramp)
            self.momentum_model._apply_growth_ramp()
        self._pin_temperature(model)

    def extra_loss(self, image_embeds, text_embeds, batch):
        momentum_image, momentum_text = embed_pair(self.momentum_model, batch)
        loss = self.momentum_contrast_weight * momentum_contrast_loss(
            image_embeds, text_embeds, momentum_image, momentum_text, self.queue_image, self.queue_text, self.tau
        )
        self.queue_image = enqueue(self.queue_image, gather_with_grad(momentum_image), self.queue_size)
        self.queue_text = enqueue(self.queue_text, gather_with_grad(momentum_text), self.queue_size)
        if self.reference is None:
            return loss
        return loss + self.topology_loss(image_embeds, text_embeds, batch)

    def topology_loss(self, image_embeds, text_embeds, batch):
        """cross_topology_weight L_c + intra_topology_weight L_s for this process's rows against the global batch."""
        old_image, old_text = embed_pair(self.reference, batch)
        images, texts = gather_with_grad(image_embeds), gather_with_grad(text_embeds)
        old_images, old_texts = gather_with_grad(old_image), gather_with_grad(old_text)
        offset = rank_and_world_size()[0] * image_embeds.shape[0]
        cross = (
            topology_kl(image_embeds, texts, old_image, old_texts, self.tau)
            + topology_kl(text_embeds, images, old_text, old_images, self.tau)
        ) / 2
        intra = (
            topology_kl(image_embeds, images, old_image, old_images, self.tau, self_offset=offset)
            + topology_kl(text_embeds, texts, old_text, old_texts, self.tau, self_offset=offset)
        ) / 2
        return self.cross_topology_weight * cross + self.intra_topology_weight * intra

    def save(self, folder) -> None:
        save_teacher(self.momentum_model, folder, "ctp_momentum_model")
        for name in ("anchor", "reference"):
            if getattr(self, name) is not None:
                save_teacher(getattr(self, name), folder, f"ctp_{name}")
        save_file(
            {"image": self.queue_image.cpu(), "text": self.queue_text.cpu()}, str(folder / "ctp_queues.safetensors")
        )
        (folder / "ctp_state.json").write_text(json.dumps({"task": self.task}))

    def load(self, folder, model_class, device) -> None:
        self.momentum_model = load_teacher(folder, "ctp_momentum_model", model_class, device)
        for name in ("anchor", "reference"):
            file = folder / f"ctp_{name}.safetensors"
            setattr(self, name, load_teacher(folder, f"ctp_{name}", model_class, device) if file.is_file() else None)
        queues = load_file(str(folder / "ctp_queues.safetensors"))
        self.queue_image, self.queue_text = queues["image"].to(device), queues["text"].to(device)
        self.task = json.loads((folder / "ctp_state.json").read_text())["task"]
