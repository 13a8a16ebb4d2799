"""Parity of ``GrowCLIPModel.from_open_clip`` with open_clip itself.

For each configuration below (tiny widths, shaped like published open_clip models: ViT-B/32 with QuickGELU, ViT-L/14 at
336 px, eos pooling, the CustomTextCLIP layout, a logit scale above ln(100)), the script builds a random open_clip model
with ``open_clip.CLIP`` / ``open_clip.CustomTextCLIP``, moves every parameter away from its initial value (so zero
biases and unit LayerNorm weights cannot hide a wrong mapping), writes it with open_clip's own ``save_for_hf`` (the
``open_clip_config.json`` + ``open_clip_model.safetensors`` layout ``push_to_hf_hub`` uploads), loads that folder with
``GrowCLIPModel.from_open_clip`` and compares logits and embeddings on open_clip-tokenized captions plus rows a
tokenizer never emits (no end token, random ids over the whole vocabulary). It prints a table and exits non-zero when
any difference exceeds the tolerance.

Three comparisons per configuration: fp64 (kernel rounding vanishes, so only the conversion shows: expect ~1e-14),
fp32 with PyTorch's ``nn.MultiheadAttention`` inference fast path disabled (open_clip's attention then runs the same
kind of kernels as GrowCLIP's), and fp32 as open_clip runs by default (the fused fast path, informational: at a logit
scale of 100 an embedding that differs by one float32 rounding step, ~1e-7, moves a logit by ~1e-5). A run passes
when the first two are within their tolerances.

open_clip needs torchvision, which imports only beside torch 2.14.1 here: run this script in the benchmark
environment that ``make bench-env`` builds (``.venv-bench``, open_clip_torch 3.3.0).

Run: HF_HUB_OFFLINE=1 .venv-bench/bin/python benchmarks/open_clip_parity.py [--tolerance 1e-5] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch  # noqa: E402

from growclip_hf import GrowCLIPModel  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from doc_sections import library_versions, machine  # noqa: E402

CAPTIONS = ["a photo of a cat", "a diagram of a growing neural network", "two dogs playing in the snow", "x"]

# name -> (open_clip model_cfg, use CustomTextCLIP, logit scale to set or None for open_clip's init)
CONFIGS = {
    "ViT-B-32-quickgelu (tiny)": (
        {
            "embed_dim": 32,
            "quick_gelu": True,
            "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32, "head_width": 16},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 48, "heads": 4, "layers": 2},
        },
        False,
        4.6052,  # OpenAI's checkpoints hold this value, a hair above ln(100)
    ),
    "ViT-L-14-336 (tiny)": (
        {
            "embed_dim": 24,
            "vision_cfg": {"image_size": 336, "layers": 1, "width": 32, "patch_size": 14, "head_width": 16},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 1},
        },
        False,
        math.log(100),
    ),
    "ViT-B-16 mlp_ratio 2, eos pooling (tiny)": (
        {
            "embed_dim": 32,
            "vision_cfg": {
                "image_size": 224,
                "layers": 1,
                "width": 48,
                "patch_size": 16,
                "head_width": 16,
                "mlp_ratio": 2.0,
            },
            "text_cfg": {
                "context_length": 77,
                "vocab_size": 49408,
                "width": 32,
                "heads": 2,
                "layers": 2,
                "mlp_ratio": 2.0,
                "pool_type": "eos",
                "eos_id": 49407,
            },
        },
        False,
        None,
    ),
    "ViT-B-32 CustomTextCLIP layout (tiny)": (
        {
            "embed_dim": 32,
            "custom_text": True,
            "vision_cfg": {"image_size": 224, "layers": 1, "width": 32, "patch_size": 32, "head_width": 16},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 1},
        },
        True,
        None,
    ),
}


class _NoTokenizer:
    """open_clip's ``save_for_hf`` also saves a Hugging Face tokenizer; this parity check needs none (and no Hub)."""

    def save_pretrained(self, directory) -> None:
        pass


def build_open_clip(model_cfg: dict, custom_text: bool, logit_scale: float | None, seed: int):
    import open_clip

    torch.manual_seed(seed)
    kwargs = {key: value for key, value in model_cfg.items() if key != "custom_text"}
    model_class = open_clip.CustomTextCLIP if custom_text else open_clip.CLIP
    model = model_class(**kwargs).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
        if logit_scale is not None:
            model.logit_scale.fill_(logit_scale)
    open_clip.set_model_preprocess_cfg(
        model,
        {
            "size": model_cfg["vision_cfg"]["image_size"],
            "mean": open_clip.OPENAI_DATASET_MEAN,
            "std": open_clip.OPENAI_DATASET_STD,
        },
    )
    return model


def save_open_clip(model, model_cfg: dict, folder: Path) -> None:
    from open_clip.push_to_hf_hub import save_for_hf

    save_for_hf(model, tokenizer=_NoTokenizer(), model_config=model_cfg, save_directory=folder, safe_serialization=True)
    written = {path.name for path in folder.iterdir()}
    missing = {"open_clip_config.json", "open_clip_model.safetensors"} - written
    if missing:
        raise RuntimeError(f"open_clip's save_for_hf did not write {sorted(missing)} (it wrote {sorted(written)}).")


def text_inputs(model_cfg: dict, seed: int) -> torch.Tensor:
    """open_clip-tokenized captions (start 49406, end 49407, zero padding to the context length) plus rows without an
    end token and rows of random ids over the whole vocabulary."""
    import open_clip

    context, vocab = model_cfg["text_cfg"]["context_length"], model_cfg["text_cfg"]["vocab_size"]
    captions = open_clip.tokenize(CAPTIONS, context_length=context)
    generator = torch.Generator().manual_seed(seed)
    no_end = torch.randint(1, vocab - 1, (2, context), generator=generator)
    anything = torch.randint(0, vocab, (2, context), generator=generator)
    return torch.cat([captions, no_end, anything])


def _differences(reference, converted, images: torch.Tensor, texts: torch.Tensor) -> dict:
    with torch.no_grad():
        theirs_logits, _ = reference.get_logits(images, texts)
        theirs_text = reference.encode_text(texts, normalize=True)
        theirs_image = reference.encode_image(images, normalize=True)
        ours = converted(input_ids=texts, pixel_values=images)
    return {
        "logits": (ours.logits_per_image - theirs_logits).abs().max().item(),
        "text": (ours.text_embeds - theirs_text).abs().max().item(),
        "image": (ours.image_embeds - theirs_image).abs().max().item(),
        "scale": theirs_logits.abs().max().item(),
    }


def compare(name: str, model_cfg: dict, custom_text: bool, logit_scale: float | None, seed: int) -> dict:
    """Differences in fp32 (what users run) and in fp64 (where kernel rounding vanishes and only the mapping shows)."""
    reference = build_open_clip(model_cfg, custom_text, logit_scale, seed)
    with tempfile.TemporaryDirectory() as folder:
        save_open_clip(reference, model_cfg, Path(folder))
        converted = GrowCLIPModel.from_open_clip(folder).eval()
    size = model_cfg["vision_cfg"]["image_size"]
    images = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(seed))
    texts = text_inputs(model_cfg, seed)
    fast = _differences(reference, converted, images, texts)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # nn.MultiheadAttention's fused inference kernel rounds differently
    try:
        fp32 = _differences(reference, converted, images, texts)
        fp64 = _differences(reference.double(), converted.double(), images.double(), texts)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return {"name": name, "pooling": converted.config.text_config.pooling, "fast": fast, "fp32": fp32, "fp64": fp64}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest allowed fp32 |logit difference|")
    parser.add_argument("--fp64-tolerance", type=float, default=1e-9, help="largest allowed fp64 |logit difference|")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import open_clip  # noqa: F401
    except Exception as error:  # torchvision from PyPI does not import beside the CPU torch 2.13 build
        print(f"open_clip does not import here ({type(error).__name__}: {error}); run in .venv-bench.")
        return 2

    rows = [compare(name, *spec, seed=args.seed) for name, spec in CONFIGS.items()]
    versions = library_versions("torch", "transformers", "open_clip")
    print(f"GrowCLIPModel.from_open_clip vs open_clip on {machine()}; {versions}")
    print(
        f"{args.threads} threads; ok = max |logit diff| <= {args.tolerance:g} in fp32 and <= {args.fp64_tolerance:g} "
        "in fp64; embeddings are L2-normalised\n"
    )
    columns = ["configuration", "GrowCLIP pooling", "fp32 logit diff", "fp32 text emb diff", "fp32 image emb diff"]
    columns += ["fp64 logit diff", "fp32 logit diff, MHA fast path", "max abs logit", "ok"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    failed = False
    for row in rows:
        fp32, fp64 = row["fp32"], row["fp64"]
        ok = fp32["logits"] <= args.tolerance and fp64["logits"] <= args.fp64_tolerance
        failed |= not ok
        print(
            f"| {row['name']} | {row['pooling']} | {fp32['logits']:.2e} | {fp32['text']:.2e} | {fp32['image']:.2e} "
            f"| {fp64['logits']:.2e} | {row['fast']['logits']:.2e} | {fp32['scale']:.1f} | {'yes' if ok else 'NO'} |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
