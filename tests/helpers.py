"""Shared test helpers: tiny configs, perturbed weights, framed token batches."""

import torch

from growclip_hf import GrowCLIPConfig

VOCAB = 99
EOS, BOS, PAD = 1, 0, 2


def tiny_config(shared_layers: int = 0, **overrides) -> GrowCLIPConfig:
    tower = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4}
    kwargs = {
        "text_config": {**tower, "vocab_size": VOCAB, "max_position_embeddings": 16},
        "vision_config": {**tower, "image_size": 32, "patch_size": 8},
        "shared_config": {**tower, "num_hidden_layers": shared_layers},
        "projection_dim": 24,
    }
    kwargs.update(overrides)
    return GrowCLIPConfig(**kwargs)


def perturb_(model: torch.nn.Module, seed: int = 0, scale: float = 0.05) -> torch.nn.Module:
    """Move every parameter away from its initial value, so zero/one-initialised parts cannot hide errors."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)
    return model


def text_batch(batch: int = 3, seq_len: int = 10, seed: int = 0) -> dict:
    """Random captions framed as the tokenizer frames them: BOS, tokens, EOS, then right padding."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.full((batch, seq_len), PAD)
    attention_mask = torch.zeros(batch, seq_len, dtype=torch.long)
    for row in range(batch):
        length = seq_len - row if row < seq_len - 2 else seq_len
        input_ids[row, 0] = BOS
        input_ids[row, 1 : length - 1] = torch.randint(3, VOCAB, (length - 2,), generator=generator)
        input_ids[row, length - 1] = EOS
        attention_mask[row, :length] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def pixel_batch(batch: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def run_without_package(script: str, *args: str, workdir) -> float:
    """Run ``script`` in a fresh Python process where ``growclip_hf`` cannot be imported (the script blocks it);
    return the number the script prints last."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HOME": str(workdir / "hf_home"), "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return float(result.stdout.strip().splitlines()[-1])
