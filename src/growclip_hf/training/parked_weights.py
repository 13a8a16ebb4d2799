"""Park a model's weights in a scratch file while a growth candidate trains beside it, then put them back.

Why: the search grows each candidate from the current model, then trains it with its own gradients and AdamW state;
while it trains, the current model's weights are not read. On disk for that time, the search's peak can drop by up to
one copy of the weights, a third of the weights' and AdamW state's size; measured (``benchmarks/real_sizes.py``, peak
over weights + AdamW): ViT-B/32 2.72x -> 2.54x, ViT-L/14 3.02x -> 2.86x, ViT-B/16 3.23x -> 3.11x (there the wider
candidate's own activations set the peak). Each tensor is written and read back as raw bytes, one at a time, so
parking never holds a second copy, and restoring is bit-exact. The file is
scratch, removed on the way out (a run killed inside leaves it; the next search replaces it).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import torch

WEIGHTS_FILE = "weights.bin"


def _as_bytes(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().reshape(-1).contiguous().view(torch.uint8)


@contextmanager
def parked_weights(model: torch.nn.Module, folder: str | Path):
    """Within the scope every parameter of ``model`` is empty and its values live in ``folder``."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / WEIGHTS_FILE
    parameters = list(dict(model.named_parameters()).values())  # a shared parameter once
    layout = [(p.shape, p.dtype, p.device, p.numel() * p.element_size()) for p in parameters]
    with open(path, "wb") as handle:
        for parameter in parameters:
            _as_bytes(parameter.cpu()).numpy().tofile(handle)
            parameter.data = torch.empty(0, dtype=parameter.dtype, device=parameter.device)
    try:
        yield
    finally:
        with open(path, "rb") as handle:
            for parameter, (shape, dtype, device, size) in zip(parameters, layout, strict=True):
                raw = torch.empty(size, dtype=torch.uint8)
                handle.readinto(raw.numpy())
                parameter.data = raw.view(dtype).reshape(shape).to(device)
        shutil.rmtree(folder, ignore_errors=True)
