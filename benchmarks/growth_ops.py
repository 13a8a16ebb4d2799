"""Growth operators on a ~5M-parameter GrowCLIP model: preservation error, wall time, parameters before/after.

Run: .venv/bin/python benchmarks/growth_ops.py [--repeats 3] [--threads 2]
Prints a markdown table (docs/growth.md shows its output).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402

from growclip_hf import GrowCLIPConfig, GrowCLIPModel  # noqa: E402

TOWER = {"hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 3, "num_attention_heads": 4}
BASE = GrowCLIPConfig(
    text_config={**TOWER, "vocab_size": 2048, "max_position_embeddings": 77},
    vision_config={**TOWER, "image_size": 64, "patch_size": 8},
    shared_config={**TOWER, "num_hidden_layers": 0},
    projection_dim=256,
)
WIDE = {"hidden_size": 384, "num_attention_heads": 6, "num_hidden_layers": 6, "intermediate_size": 1536}
CASES = {
    "text depth 3 -> 6": {"text_config": {"num_hidden_layers": 6}},
    "vision depth 3 -> 6": {"vision_config": {"num_hidden_layers": 6}},
    "shared depth 0 -> 2": {"shared_config": {"num_hidden_layers": 2}},
    "text width 256 -> 384": {"text_config": {"hidden_size": 384}},
    "vision width 256 -> 384": {"vision_config": {"hidden_size": 384}},
    "vision heads 4 -> 6 (+width 384)": {"vision_config": {"num_attention_heads": 6, "hidden_size": 384}},
    "text MLP 1024 -> 2048": {"text_config": {"intermediate_size": 2048}},
    "vision MLP 1024 -> 2048": {"vision_config": {"intermediate_size": 2048}},
    "projection 256 -> 384": {"projection_dim": 384},
    "4x combined (all of the above)": {
        "text_config": WIDE,
        "vision_config": WIDE,
        "shared_config": {"num_hidden_layers": 1, "hidden_size": 384, "num_attention_heads": 6},
        "projection_dim": 384,
    },
}


def _perturbed_base() -> GrowCLIPModel:
    torch.manual_seed(0)
    model = GrowCLIPModel(BASE).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    return model


def _inputs(config: GrowCLIPConfig) -> dict:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, config.text_config.vocab_size, (8, 24), generator=generator)
    ids[:, 0], ids[:, -1] = 0, 1
    pixels = torch.randn(8, 3, 64, 64, generator=generator)
    return {"input_ids": ids, "pixel_values": pixels}


def _logits(model: GrowCLIPModel, inputs: dict) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).logits_per_image


def _as_double(inputs: dict) -> dict:
    return {"input_ids": inputs["input_ids"], "pixel_values": inputs["pixel_values"].double()}


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = _perturbed_base()
    model64 = copy.deepcopy(model).double()
    inputs = _inputs(BASE)
    reference, reference64 = _logits(model, inputs), _logits(model64, _as_double(inputs))
    print(
        f"growth_ops: torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{platform.processor() or platform.machine()}, {args.threads} threads, median of {args.repeats}"
    )
    print(
        f"fp32 noise floor of the base model itself (fp32 vs fp64 logits): "
        f"{(reference.double() - reference64).abs().max().item():.1e}\n"
    )
    print(
        "| growth | init | max abs logit error fp32 | same in fp64 | grow time fp32 (s) | params before "
        "| params after | ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, target in CASES.items():
        inits = ("preserve", "pim") if label.startswith("4x") else ("preserve",)
        for init in inits:
            times = []
            for repeat in range(args.repeats):
                start = time.perf_counter()
                grown = model.grow(target, init=init, momentum=0.5, seed=repeat)
                times.append(time.perf_counter() - start)
            error = (_logits(grown.eval(), inputs) - reference).abs().max().item()
            grown64 = model64.grow(target, init=init, momentum=0.5, seed=0).eval()
            error64 = (_logits(grown64, _as_double(inputs)) - reference64).abs().max().item()
            before, after = _params(model), _params(grown)
            note = "" if init == "preserve" else " (PIM: not preserving by design)"
            print(
                f"| {label} | {init} | {error:.1e}{note} | {error64:.1e} | {statistics.median(times):.3f} "
                f"| {before:,} | {after:,} | {after / before:.2f}x |"
            )


if __name__ == "__main__":
    main()
