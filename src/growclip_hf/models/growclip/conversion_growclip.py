"""Lossless conversion between GrowCLIP and transformers' CLIPModel (the parity check against a peer)."""

from __future__ import annotations

from transformers import CLIPConfig, CLIPModel

from .configuration_growclip import GrowCLIPConfig

# OpenAI checkpoints saved before transformers PR #24773 carry eos_token_id=2 and pool at the highest token id,
# which for CLIP's BPE vocabulary is the end-of-text token (the last id).
_LEGACY_CLIP_EOS_ID = 2

_TOWER_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "hidden_act")
_TEXT_KEYS = (*_TOWER_KEYS, "vocab_size", "max_position_embeddings", "pad_token_id", "bos_token_id", "eos_token_id")
_VISION_KEYS = (*_TOWER_KEYS, "image_size", "patch_size", "num_channels")
_COMMON_KEYS = ("layer_norm_eps", "attention_dropout", "initializer_range", "initializer_factor")


def _copy_keys(source, keys) -> dict:
    return {key: getattr(source, key) for key in keys}


def growclip_config_from_clip(clip_config: CLIPConfig) -> GrowCLIPConfig:
    text = _copy_keys(clip_config.text_config, _TEXT_KEYS + _COMMON_KEYS)
    if text["eos_token_id"] == _LEGACY_CLIP_EOS_ID:
        text["eos_token_id"] = clip_config.text_config.vocab_size - 1
    vision = _copy_keys(clip_config.vision_config, _VISION_KEYS + _COMMON_KEYS)
    for tower in (text, vision):
        tower["layer_norm_eps"] = float(tower["layer_norm_eps"])
        tower["attention_dropout"] = float(tower["attention_dropout"])
    return GrowCLIPConfig(
        text_config=text,
        vision_config=vision,
        shared_config={"num_hidden_layers": 0, "hidden_size": text["hidden_size"]},
        projection_dim=clip_config.projection_dim,
        logit_scale_init_value=float(clip_config.logit_scale_init_value),
        initializer_factor=float(clip_config.initializer_factor),
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
    model = model_class(growclip_config_from_clip(clip_model.config))
    model.load_state_dict(clip_model.state_dict(), strict=True)
    return model.to(clip_model.dtype)


def growclip_to_clip(model) -> CLIPModel:
    if model.config.has_shared_encoder:
        raise ValueError(
            f"This model has {model.config.shared_config.num_hidden_layers} shared cross-modal layers, which "
            "transformers' CLIPModel cannot represent; only models with shared_config.num_hidden_layers == 0 "
            "convert to CLIPModel."
        )
    clip_model = CLIPModel(clip_config_from_growclip(model.config))
    clip_model.load_state_dict(model.state_dict(), strict=True)
    return clip_model.to(model.dtype)
