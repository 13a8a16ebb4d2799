"""The one small interface every continual strategy implements, and helpers for frozen teacher models."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


class ContinualStrategy:
    """Hooks the stage loop calls; the default is plain sequential fine-tuning (SeqF). Subclass it for your own.

    - ``name``: how runs and reports call it. ``replay``: what the data plan streams at each task (``none``, ``all``,
      ``reservoir``; with ``reservoir`` also set ``buffer_size``). ``needs_previous_model``: the loop then passes a
      frozen copy of the model as it was at the end of the previous task to ``on_task_start``.
    - ``on_task_start(task, model, previous, growth_target)``: after any growth, before the task's first step;
      ``previous`` is the model at the end of the previous task (before growth; None for task 0 or when not needed),
      ``growth_target`` the partial config the model just grew by (None: no growth).
    - ``extra_loss(image_embeds, text_embeds, batch)``: terms added to the global contrastive loss (or None). The
      embeddings are this process's L2-normalised rows of the step (all its micro-batches, with gradient) and
      ``batch`` their inputs. Under several processes each process returns its part; DDP then averages the
      gradients, so a term over the global batch gathers with ``objective.gather_with_grad`` (see Mod-X, CTP).
    - ``after_step(model)``: after every optimizer step. ``on_task_end(task, model)``: after the task's last step.
    - ``save(folder)`` / ``load(folder, model_class, device)``: strategy state for exact resume.
    Every process calls every hook with the same arguments.
    """

    name = "seqf"
    replay = "none"
    needs_previous_model = False

    def on_task_start(self, task: int, model, previous, growth_target: dict | None) -> None:
        return None

    def extra_loss(self, image_embeds: torch.Tensor, text_embeds: torch.Tensor, batch: dict):
        return None

    def after_step(self, model) -> None:
        return None

    def on_task_end(self, task: int, model) -> None:
        return None

    def save(self, folder: Path) -> None:
        return None

    def load(self, folder: Path, model_class, device) -> None:
        return None

    @property
    def has_extra_loss(self) -> bool:
        return type(self).extra_loss is not ContinualStrategy.extra_loss


def frozen_copy(model):
    """An eval-mode copy without gradients, used as a teacher."""
    teacher = copy.deepcopy(model).eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher


def teacher_in_student_shape(previous, growth_target: dict | None):
    """The previous model mapped into the grown shape without changing its function (preserve growth).

    Needed where teacher and student weights are mixed (CTP's momentum model). Falls back to the previous model's own
    shape when a preserving growth is impossible for that target.
    """
    if not growth_target:
        return frozen_copy(previous)
    try:
        return frozen_copy(previous.grow(growth_target, init="preserve", seed=0))
    except ValueError:
        return None


def embed_pair(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised image and text embeddings of ``batch`` under ``model`` (no gradient)."""
    with torch.no_grad():
        out = model(
            input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"), pixel_values=batch["pixel_values"]
        )
    return out.image_embeds, out.text_embeds


def save_teacher(model, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / f"{name}.safetensors"))
    (folder / f"{name}.config.json").write_text(json.dumps(model.config.to_dict()))


def load_teacher(folder: Path, name: str, model_class, device):
    config_dict = json.loads((folder / f"{name}.config.json").read_text())
    config = model_class.config_class.from_dict(config_dict)
    model = model_class(config)
    model.load_state_dict(load_file(str(folder / f"{name}.safetensors")))
    return frozen_copy(model.to(device))
