"""Exactly ``batch_size`` pairs per micro-batch, forever: passes are chained and partial batches carried over.

Every process must take the same number of steps with the same batch size (the global loss gathers equal shapes),
but a pass over a shard ends with a short batch and skipped samples shorten others. Rows left over are carried into
the next batch (re-padding the token ids), and when the loader is exhausted the next pass starts with a new epoch.
"""

from __future__ import annotations

import torch


def batch_to(batch: dict, device) -> dict:
    """The batch with its tensors on ``device`` (other values as they are)."""
    return {key: value.to(device) if torch.is_tensor(value) else value for key, value in batch.items()}


def _pad_tokens(tensor: torch.Tensor, length: int, value: int) -> torch.Tensor:
    if tensor.shape[1] >= length:
        return tensor
    padding = torch.full((tensor.shape[0], length - tensor.shape[1]), value, dtype=tensor.dtype)
    return torch.cat([tensor, padding], dim=1)


def concat_batches(batches: list[dict], pad_token_id: int) -> dict:
    """Concatenate collated batches whose token tensors may have different lengths."""
    length = max(batch["input_ids"].shape[1] for batch in batches)
    return {
        "input_ids": torch.cat([_pad_tokens(b["input_ids"], length, pad_token_id) for b in batches]),
        "attention_mask": torch.cat([_pad_tokens(b["attention_mask"], length, 0) for b in batches]),
        "pixel_values": torch.cat([b["pixel_values"] for b in batches]),
    }


def _take(batch: dict, start: int, stop: int) -> dict:
    sliced = {key: value[start:stop] for key, value in batch.items()}
    width = int(sliced["attention_mask"].sum(dim=1).max()) if stop > start else 1
    sliced["input_ids"] = sliced["input_ids"][:, :width]
    sliced["attention_mask"] = sliced["attention_mask"][:, :width]
    return sliced


class FullBatches:
    """Endless iterator of full micro-batches over a stateful loader (``set_epoch``, ``state_dict``)."""

    def __init__(self, loader, batch_size: int, pad_token_id: int, epoch: int = 0):
        self.loader = loader
        self.batch_size = batch_size
        self.pad_token_id = pad_token_id
        self.epoch = epoch
        self.carry: dict | None = None
        self._iterator = None
        self._empty_passes = 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "loader": self.loader.state_dict(), "carry": self.carry}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = state["epoch"]
        self.loader.set_epoch(self.epoch)
        self.loader.load_state_dict(state["loader"])
        self.carry = state["carry"]
        self._iterator = None

    def _next_loader_batch(self) -> dict:
        if self._iterator is None:
            self.loader.set_epoch(self.epoch)
            self._iterator = iter(self.loader)
        while True:
            try:
                batch = next(self._iterator)
                self._empty_passes = 0
                return batch
            except StopIteration:
                self._empty_passes += 1
                if self._empty_passes > 2:
                    raise RuntimeError("The data stream yields no usable pairs; check the source.") from None
                self.epoch += 1
                self.loader.set_epoch(self.epoch)
                self._iterator = iter(self.loader)

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        parts = [self.carry] if self.carry is not None else []
        have = parts[0]["input_ids"].shape[0] if parts else 0
        while have < self.batch_size:
            batch = self._next_loader_batch()
            parts.append(batch)
            have += batch["input_ids"].shape[0]
        joined = concat_batches(parts, self.pad_token_id) if len(parts) > 1 else parts[0]
        self.carry = _take(joined, self.batch_size, have) if have > self.batch_size else None
        return _take(joined, 0, self.batch_size)
