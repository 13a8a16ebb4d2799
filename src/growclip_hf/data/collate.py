"""Batch samples into ``pixel_values`` / ``input_ids`` / ``attention_mask``, counting captions cut to the context."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

QUALITY_KEY = "_quality"


class ImageTextCollator:
    """Tokenises a batch's captions with the model's tokenizer and stacks its uint8 pixels.

    ``ImageTextLoader`` normalises ``pixel_values`` to float32 in the main process after the batch arrives.

    Captions longer than ``context_length`` tokens keep their first tokens and end with the end-of-text token, as the
    tokenizer's own truncation would; each one is counted as ``truncated_caption``. The per-batch quality counts ride
    along under ``QUALITY_KEY`` for the loader to pop, sum and check in the main process.
    """

    def __init__(self, tokenizer, context_length: int | None = None):
        self.tokenizer = tokenizer
        self.context_length = int(context_length or tokenizer.model_max_length)
        self.pad_id = tokenizer.pad_token_id
        self.eos_id = tokenizer.eos_token_id
        if self.pad_id is None or self.eos_id is None:
            raise ValueError("The tokenizer needs a pad and an end-of-text token.")

    def tokenize(self, captions: list[str], repaired: Counter | None = None) -> dict[str, torch.Tensor]:
        tokenized = self.tokenizer(captions, truncation=False, padding=False, verbose=False)  # cut below, counted
        encoded = tokenized["input_ids"]
        length = self.context_length
        input_ids = np.full((len(encoded), min(length, max(map(len, encoded), default=1))), self.pad_id, np.int64)
        attention_mask = np.zeros_like(input_ids)
        for row, ids in enumerate(encoded):
            if len(ids) > length:
                ids = ids[: length - 1] + [self.eos_id]
                if repaired is not None:
                    repaired["truncated_caption"] += 1
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention_mask)}

    def __call__(self, samples: list[dict]) -> dict:
        quality = {"ok": 0, "skipped": Counter(), "repaired": Counter()}
        for sample in samples:
            counts = sample.get(QUALITY_KEY)
            if counts:
                quality["skipped"].update(counts["skipped"])
                quality["repaired"].update(counts["repaired"])
        samples = [sample for sample in samples if "text" in sample]  # drop end-of-stream count carriers
        quality["ok"] = len(samples)
        if not samples:
            return {QUALITY_KEY: _plain(quality)}
        batch = self.tokenize([sample["text"] for sample in samples], quality["repaired"])
        batch["pixel_values"] = torch.from_numpy(np.stack([sample["pixel_values"] for sample in samples]))
        batch[QUALITY_KEY] = _plain(quality)
        return batch


def _plain(quality: dict) -> dict:
    return {"ok": quality["ok"], "skipped": dict(quality["skipped"]), "repaired": dict(quality["repaired"])}
