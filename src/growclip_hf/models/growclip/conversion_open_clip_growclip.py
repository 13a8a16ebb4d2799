"""Load open_clip ViT CLIP checkpoints (``open_clip_config.json`` + ``open_clip_model.safetensors``) into GrowCLIP.

open_clip's CLIP is the same architecture as transformers' CLIP: pre-LayerNorm blocks (``ln_1``, fused ``attn``
``in_proj``, ``ln_2``, ``mlp.c_fc`` / ``mlp.c_proj``), a class token, ``ln_pre`` / ``ln_post``, and projections
stored as ``[width, embed_dim]`` matrices applied as ``x @ proj``. Its text tower pools at the highest token id
(``pool_type="argmax"``, the end-of-text token of its tokenizer) or at the first ``eos_id`` (``pool_type="eos"``), and
its forward pass multiplies by ``exp(logit_scale)`` unclamped. Options that change the computation in ways GrowCLIP
cannot express are refused by name rather than loaded approximately.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .configuration_growclip import LOGIT_SCALE_MAX, GrowCLIPConfig

CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"

# Per-block parameters: open_clip name -> GrowCLIP name (the fused attention input projection is split separately).
_BLOCK_KEYS = {
    "ln_1.weight": "layer_norm1.weight",
    "ln_1.bias": "layer_norm1.bias",
    "attn.out_proj.weight": "self_attn.out_proj.weight",
    "attn.out_proj.bias": "self_attn.out_proj.bias",
    "ln_2.weight": "layer_norm2.weight",
    "ln_2.bias": "layer_norm2.bias",
    "mlp.c_fc.weight": "mlp.fc1.weight",
    "mlp.c_fc.bias": "mlp.fc1.bias",
    "mlp.c_proj.weight": "mlp.fc2.weight",
    "mlp.c_proj.bias": "mlp.fc2.bias",
}
_VISION_KEYS = {
    "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "visual.class_embedding": "vision_model.embeddings.class_embedding",
    "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
    "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "visual.ln_post.weight": "vision_model.post_layernorm.weight",
    "visual.ln_post.bias": "vision_model.post_layernorm.bias",
}
_TEXT_KEYS = {
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
}
# Options whose non-default values change the computation (name -> default that GrowCLIP reproduces).
_UNSUPPORTED_VISION = {
    "timm_model_name": None,
    "ls_init_value": None,
    "attentional_pool": False,
    "no_ln_pre": False,
    "pos_embed_type": "learnable",
    "pool_type": "tok",
    "act_kwargs": None,
    "block_type": None,  # or "default"
    "qk_norm": False,
    "scaled_cosine_attn": False,
    "scale_heads": False,
    "scale_attn_inner": False,
    "scale_attn": False,
    "scale_fc": False,
}
_UNSUPPORTED_TEXT = {
    "text_arch": "clip",
    "hf_model_name": None,
    "variable_text": False,
    "ls_init_value": None,
    "embed_cls": False,
    "no_causal_mask": False,
    "proj_bias": False,
    "proj_type": "linear",
    "act_kwargs": None,
    "block_type": None,  # or "default"
    "qk_norm": False,
    "scaled_cosine_attn": False,
    "scale_heads": False,
    "scale_attn_inner": False,
    "scale_attn": False,
    "scale_fc": False,
}
_UNSUPPORTED_MODEL = {"init_logit_bias": None, "multimodal_cfg": None}


def _square(value, name: str) -> int:
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise ValueError(f"open_clip {name}={list(value)} is not square; GrowCLIP's vision tower needs one size.")
        value = value[0]
    return int(value)


def _layer_norm_eps(tower_cfg: dict, prefix: str) -> float:
    norm_kwargs = dict(tower_cfg.get("norm_kwargs") or {})
    eps = norm_kwargs.pop("eps", 1e-5)
    if norm_kwargs:
        raise ValueError(f"open_clip {prefix}.norm_kwargs {sorted(norm_kwargs)} are not supported (only eps).")
    return float(eps)


def _is_default(value, default) -> bool:
    """Whether an open_clip option is at the value GrowCLIP reproduces (False, None and {} all count as off)."""
    if value == "default" and default is None:  # block_type="default" is open_clip's standard block
        return True
    return not value if not default else value == default


def _refuse_unsupported(model_cfg: dict) -> None:
    problems = [
        f"{prefix}{key}={cfg[key]!r}"
        for prefix, cfg, defaults in (
            ("", model_cfg, _UNSUPPORTED_MODEL),
            ("vision_cfg.", model_cfg["vision_cfg"], _UNSUPPORTED_VISION),
            ("text_cfg.", model_cfg["text_cfg"], _UNSUPPORTED_TEXT),
        )
        for key, default in defaults.items()
        if key in cfg and not _is_default(cfg[key], default)
    ]
    if isinstance(model_cfg["vision_cfg"].get("layers", 12), (list, tuple)):
        problems.append("vision_cfg.layers is a list (a ResNet image tower)")
    pool_type = model_cfg["text_cfg"].get("pool_type", "argmax")
    if pool_type not in ("argmax", "eos"):
        problems.append(f"text_cfg.pool_type={pool_type!r}")
    if problems:
        raise ValueError(
            "This open_clip model cannot be loaded into GrowCLIP exactly: "
            + "; ".join(problems)
            + ". Supported: ViT image towers and CLIP text towers with open_clip's default blocks, 'tok' image "
            "pooling and 'argmax' or 'eos' text pooling."
        )


def growclip_config_from_open_clip(model_cfg: dict, logit_scale: float | None = None) -> GrowCLIPConfig:
    """The GrowCLIP config of an open_clip ``model_cfg`` (embed_dim, quick_gelu, vision_cfg, text_cfg)."""
    missing = [key for key in ("embed_dim", "vision_cfg", "text_cfg") if key not in model_cfg]
    if missing:
        raise ValueError(f"open_clip model config lacks {missing}; is this an open_clip_config.json?")
    _refuse_unsupported(model_cfg)
    vision_cfg, text_cfg = model_cfg["vision_cfg"], model_cfg["text_cfg"]
    hidden_act = "quick_gelu" if model_cfg.get("quick_gelu", False) else "gelu"

    width = int(vision_cfg.get("width", 768))
    head_width = int(vision_cfg.get("head_width", 64))
    if head_width < 1 or width % head_width != 0:
        raise ValueError(f"open_clip vision_cfg.width={width} is not a multiple of vision_cfg.head_width={head_width}.")
    vision = {
        "hidden_size": width,
        "intermediate_size": int(width * float(vision_cfg.get("mlp_ratio", 4.0))),
        "num_hidden_layers": int(vision_cfg.get("layers", 12)),
        "num_attention_heads": width // head_width,
        "image_size": _square(vision_cfg.get("image_size", 224), "vision_cfg.image_size"),
        "patch_size": _square(vision_cfg.get("patch_size", 16), "vision_cfg.patch_size"),
        "hidden_act": hidden_act,
        "layer_norm_eps": _layer_norm_eps(vision_cfg, "vision_cfg"),
    }

    text_width = int(text_cfg.get("width", 512))
    vocab_size = int(text_cfg.get("vocab_size", 49408))
    pool_type = text_cfg.get("pool_type", "argmax")
    # open_clip's own tokenizer: start of text = vocab_size - 2, end of text = vocab_size - 1 (the highest id), pad 0.
    # 'eos' pooling uses text_cfg.eos_id (open_clip 3.x defaults it to 2).
    eos_token_id = int(text_cfg.get("eos_id", 2)) if pool_type == "eos" else vocab_size - 1
    text = {
        "vocab_size": vocab_size,
        "hidden_size": text_width,
        "intermediate_size": int(text_width * float(text_cfg.get("mlp_ratio", 4.0))),
        "num_hidden_layers": int(text_cfg.get("layers", 12)),
        "num_attention_heads": int(text_cfg.get("heads", 8)),
        "max_position_embeddings": int(text_cfg.get("context_length", 77)),
        "hidden_act": hidden_act,
        "layer_norm_eps": _layer_norm_eps(text_cfg, "text_cfg"),
        "bos_token_id": vocab_size - 2,
        "eos_token_id": eos_token_id,
        "pad_token_id": int(text_cfg.get("pad_id", 0)),
        "pooling": "highest_id" if pool_type == "argmax" else "eos_or_first",
    }
    scale_max = LOGIT_SCALE_MAX if logit_scale is None else max(LOGIT_SCALE_MAX, float(logit_scale))
    return GrowCLIPConfig(
        text_config=text,
        vision_config=vision,
        shared_config={"num_hidden_layers": 0},  # sizes fit the towers (fit_shared_sizes)
        projection_dim=int(model_cfg["embed_dim"]),
        logit_scale_init_value=math.log(1 / 0.07),
        logit_scale_max=scale_max,
    )


def growclip_state_dict_from_open_clip(state_dict: dict, config: GrowCLIPConfig) -> dict:
    """Rename (and split / transpose where the layouts differ) an open_clip CLIP state dict into GrowCLIP's."""
    source = dict(state_dict)
    if any(key.startswith("text.") for key in source):  # CustomTextCLIP keeps its text tower under "text."
        source = {key.removeprefix("text."): value for key, value in source.items()}
    source.pop("attn_mask", None)
    if "logit_bias" in source:
        raise ValueError("The checkpoint has a logit_bias (a SigLIP-style model); GrowCLIP cannot represent it.")
    target = {}

    def move(old: str, new: str, transform=None) -> None:
        if old not in source:
            raise ValueError(f"The open_clip checkpoint lacks {old!r}; it does not match its open_clip_config.json.")
        value = source.pop(old)
        target[new] = transform(value) if transform is not None else value

    for old, new in {**_VISION_KEYS, **_TEXT_KEYS}.items():
        move(old, new)
    move("visual.proj", "visual_projection.weight", lambda value: value.t().contiguous())
    move("text_projection", "text_projection.weight", lambda value: value.t().contiguous())
    move("logit_scale", "logit_scale", lambda value: value.reshape(()))
    for old_prefix, new_prefix, tower in (
        ("visual.transformer.resblocks", "vision_model.encoder.layers", config.vision_config),
        ("transformer.resblocks", "text_model.encoder.layers", config.text_config),
    ):
        for index in range(tower.num_hidden_layers):
            old_block, new_block = f"{old_prefix}.{index}", f"{new_prefix}.{index}"
            for old, new in _BLOCK_KEYS.items():
                move(f"{old_block}.{old}", f"{new_block}.{new}")
            for kind in ("weight", "bias"):
                move(f"{old_block}.attn.in_proj_{kind}", f"{new_block}.self_attn.in_proj_{kind}")
                query, key, value = target.pop(f"{new_block}.self_attn.in_proj_{kind}").chunk(3, dim=0)
                for name, part in (("q_proj", query), ("k_proj", key), ("v_proj", value)):
                    target[f"{new_block}.self_attn.{name}.{kind}"] = part.contiguous()
    if source:
        raise ValueError(
            f"The open_clip checkpoint has weights GrowCLIP cannot place: {sorted(source)[:8]}; it does not match "
            "its open_clip_config.json (or uses an unsupported architecture)."
        )
    return target


def _resolve(path_or_repo, filename: str, revision: str | None, hub_kwargs: dict) -> Path:
    folder = Path(path_or_repo)
    if folder.is_dir():
        path = folder / filename
        if not path.is_file():
            present = sorted(child.name for child in folder.iterdir())
            raise ValueError(
                f"{folder} has no {filename}; an open_clip checkpoint folder holds {CONFIG_FILE} and {WEIGHTS_FILE} "
                f"(found: {present[:10]})."
            )
        return path
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(str(path_or_repo), filename, revision=revision, **hub_kwargs))


def growclip_from_open_clip(model_class, path_or_repo, revision: str | None = None, **hub_kwargs):
    from safetensors.torch import load_file

    raw = json.loads(_resolve(path_or_repo, CONFIG_FILE, revision, hub_kwargs).read_text())
    model_cfg = raw.get("model_cfg", raw)
    state_dict = load_file(str(_resolve(path_or_repo, WEIGHTS_FILE, revision, hub_kwargs)))
    logit_scale = state_dict.get("logit_scale")
    config = growclip_config_from_open_clip(
        model_cfg, logit_scale=float(logit_scale.max()) if logit_scale is not None else None
    )
    weights = growclip_state_dict_from_open_clip(state_dict, config)
    dtypes = {value.dtype for value in weights.values()}
    model = model_class(config)
    model.load_state_dict(weights, strict=True)
    if len(dtypes) == 1:
        model = model.to(dtype=dtypes.pop())
    return model.eval()
