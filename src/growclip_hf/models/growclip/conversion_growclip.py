"""Lossless conversion between GrowCLIP and transformers' CLIPModel (the parity check against a peer).

Parameter names coincide, so the weights move key for key. Two things live in the configs instead:

- Text pooling. transformers' CLIP text model pools at the HIGHEST token id of each row when its config says
  ``eos_token_id == 2`` (configs saved before transformers PR #24773, e.g. OpenAI's), and otherwise at the first
  ``eos_token_id`` (position 0 in a row without one). GrowCLIP carries the rule in ``text_config.pooling``
  (``"highest_id"`` / ``"eos_or_first"``), so both compute the same position for any ids.
- The logit scale. CLIPModel multiplies by ``exp(logit_scale)`` unclamped; GrowCLIP clamps at
  ``config.logit_scale_max``, which the conversion raises to the checkpoint's own scale when that is above ln(100).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel

from .configuration_growclip import LOGIT_SCALE_MAX, GrowCLIPConfig

# transformers' CLIP reads eos_token_id == 2 as "pool at the highest token id" (legacy configs).
LEGACY_CLIP_EOS_ID = 2

_TOWER_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "hidden_act")
_TEXT_KEYS = (*_TOWER_KEYS, "vocab_size", "max_position_embeddings", "pad_token_id", "bos_token_id", "eos_token_id")
_VISION_KEYS = (*_TOWER_KEYS, "image_size", "patch_size", "num_channels")
_COMMON_KEYS = ("layer_norm_eps", "attention_dropout", "initializer_range", "initializer_factor")
# What from_pretrained passes on to locate config.json (the rest are loading options for the model).
_HUB_KWARGS = ("cache_dir", "force_download", "proxies", "token", "local_files_only", "revision", "subfolder")


def _copy_keys(source, keys) -> dict:
    return {key: getattr(source, key) for key in keys}


def growclip_config_from_clip(clip_config: CLIPConfig, logit_scale: float | None = None) -> GrowCLIPConfig:
    """The GrowCLIP config computing what ``clip_config`` computes.

    A legacy ``eos_token_id=2`` becomes ``pooling="highest_id"`` with ``eos_token_id`` set to the vocabulary's last id
    (the end-of-text token of CLIP's BPE vocabulary); ``logit_scale`` (the checkpoint's value) raises
    ``logit_scale_max`` when it is above ln(100).
    """
    text = _copy_keys(clip_config.text_config, _TEXT_KEYS + _COMMON_KEYS)
    if text["eos_token_id"] == LEGACY_CLIP_EOS_ID:
        text["eos_token_id"] = clip_config.text_config.vocab_size - 1
        text["pooling"] = "highest_id"
    else:
        text["pooling"] = "eos_or_first"
    vision = _copy_keys(clip_config.vision_config, _VISION_KEYS + _COMMON_KEYS)
    for tower in (text, vision):
        tower["layer_norm_eps"] = float(tower["layer_norm_eps"])
        tower["attention_dropout"] = float(tower["attention_dropout"])
    return GrowCLIPConfig(
        text_config=text,
        vision_config=vision,
        shared_config={"num_hidden_layers": 0},  # sizes fit the towers (fit_shared_sizes)
        projection_dim=clip_config.projection_dim,
        logit_scale_init_value=float(clip_config.logit_scale_init_value),
        initializer_factor=float(clip_config.initializer_factor),
        logit_scale_max=max(LOGIT_SCALE_MAX, float(logit_scale)) if logit_scale is not None else LOGIT_SCALE_MAX,
    )


def clip_config_from_growclip(config: GrowCLIPConfig) -> CLIPConfig:
    for name in ("text_config", "vision_config"):
        head_dim = getattr(config, name).head_dim
        tower = getattr(config, name)
        if head_dim is not None and head_dim * tower.num_attention_heads != tower.hidden_size:
            raise ValueError(
                f"{name}.head_dim={head_dim} with {tower.num_attention_heads} heads does not equal hidden_size "
                f"{tower.hidden_size}; transformers' CLIPModel cannot represent decoupled head widths."
            )
    text = _copy_keys(config.text_config, _TEXT_KEYS + _COMMON_KEYS)
    if config.text_config.pooling == "highest_id":
        text["eos_token_id"] = LEGACY_CLIP_EOS_ID  # the only way to ask CLIPModel for highest-id pooling
    elif text["eos_token_id"] == LEGACY_CLIP_EOS_ID:
        raise ValueError(
            f"text_config.eos_token_id is {LEGACY_CLIP_EOS_ID} with pooling={config.text_config.pooling!r}, but "
            f"transformers' CLIPModel reads eos_token_id={LEGACY_CLIP_EOS_ID} as 'pool at the highest token id'; "
            "it cannot represent end-token pooling on that id."
        )
    vision = _copy_keys(config.vision_config, _VISION_KEYS + _COMMON_KEYS)
    text["projection_dim"] = vision["projection_dim"] = config.projection_dim
    return CLIPConfig(
        text_config=text,
        vision_config=vision,
        projection_dim=config.projection_dim,
        logit_scale_init_value=config.logit_scale_init_value,
        initializer_factor=config.initializer_factor,
    )


def growclip_from_clip(model_class, clip_model: CLIPModel):
    """Build a GrowCLIP model holding exactly the weights of ``clip_model`` (parameter names coincide)."""
    config = growclip_config_from_clip(clip_model.config, logit_scale=float(clip_model.logit_scale.detach().max()))
    model = model_class(config)
    model.load_state_dict(clip_model.state_dict(), strict=True)
    return model.to(device=clip_model.device, dtype=clip_model.dtype)


def growclip_to_clip(model) -> CLIPModel:
    if model.config.has_shared_encoder:
        raise ValueError(
            f"This model has {model.config.shared_config.num_hidden_layers} shared cross-modal layers, which "
            "transformers' CLIPModel cannot represent; only models with shared_config.num_hidden_layers == 0 "
            "convert to CLIPModel."
        )
    clip_model = CLIPModel(clip_config_from_growclip(model.config))
    clip_model.load_state_dict(model.state_dict(), strict=True)
    return clip_model.to(device=model.device, dtype=model.dtype)


def checkpoint_model_type(config_class, pretrained_model_name_or_path, kwargs: dict) -> str | None:
    """``model_type`` in the checkpoint's config.json; ``"open_clip"`` for a local open_clip folder (no config.json,
    an open_clip_config.json); None when there is nothing to read (transformers' own loading then says what is
    missing)."""
    folder = Path(str(pretrained_model_name_or_path)) / kwargs.get("subfolder", "")
    if folder.is_dir() and not (folder / "config.json").is_file() and (folder / "open_clip_config.json").is_file():
        return "open_clip"
    hub_kwargs = {key: kwargs[key] for key in _HUB_KWARGS if key in kwargs}
    try:
        config_dict, _ = config_class.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
    except (OSError, ValueError):
        return None
    return config_dict.get("model_type")


def growclip_from_clip_checkpoint(model_class, pretrained_model_name_or_path, *model_args, **kwargs):
    """Load a transformers CLIP checkpoint with ``CLIPModel.from_pretrained`` (all its options apply); convert it."""
    loaded = CLIPModel.from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
    clip_model, loading_info = loaded if isinstance(loaded, tuple) else (loaded, None)
    with torch.no_grad():
        model = growclip_from_clip(model_class, clip_model)
    model.eval()
    return (model, loading_info) if loading_info is not None else model
