"""Configuration classes for GrowCLIP.

The nesting mirrors transformers' ``CLIPConfig`` (text / vision sub-configs with CLIP's attribute names) and adds a
third sub-config for the shared cross-modal encoder, plus the record of how the model grew.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig


def _check_heads(config: PreTrainedConfig, prefix: str) -> None:
    """Reject head settings that cannot be built, naming the offending key."""
    if config.hidden_size is None or config.num_attention_heads is None:
        return  # a shared encoder's sizes left to fit the towers (GrowCLIPConfig resolves them)
    if config.num_attention_heads < 1:
        raise ValueError(f"{prefix}.num_attention_heads must be >= 1, got {config.num_attention_heads}.")
    if config.head_dim is None and config.hidden_size % config.num_attention_heads != 0:
        raise ValueError(
            f"{prefix}.hidden_size ({config.hidden_size}) is not a multiple of {prefix}.num_attention_heads "
            f"({config.num_attention_heads}); pick a head count that divides it or set {prefix}.head_dim explicitly."
        )
    if config.head_dim is not None and config.head_dim < 1:
        raise ValueError(f"{prefix}.head_dim must be >= 1, got {config.head_dim}.")


def _check_positive(config: PreTrainedConfig, prefix: str, keys: tuple[str, ...]) -> None:
    for key in keys:
        if getattr(config, key) is not None and getattr(config, key) < 1:
            raise ValueError(f"{prefix}.{key} must be >= 1, got {getattr(config, key)}.")


# Rules that pick the pooled token of each text row (GrowCLIPTextConfig.pooling); the first is the default.
TEXT_POOLING_RULES = ("eos_or_last", "eos_or_first", "highest_id")
# exp(logit_scale) is clamped at 100 in the forward pass unless a converted checkpoint already holds a larger scale.
LOGIT_SCALE_MAX = 4.605170185988092  # ln(100)


# The shared encoder's sizes that fit_shared_sizes fills in from the towers when they are not given.
SHARED_SIZE_KEYS = ("hidden_size", "num_attention_heads", "head_dim", "intermediate_size")


def fit_shared_sizes(given: dict, text: dict, vision: dict) -> dict:
    """The shared encoder's sizes with every one not in ``given`` (or None) fitted to the towers it joins.

    Why: the shared layers read both towers' output, so their width must be at least the wider tower's for a
    function-preserving start, and heads as wide as the towers' keep a converted CLIP's attention shape. Width: the
    wider tower's; head size: that tower's; heads: as many as the width holds; MLP: the same ratio as that tower's.
    """
    given = {key: value for key, value in given.items() if value is not None}
    wider = vision if vision["hidden_size"] >= text["hidden_size"] else text
    tower_head = wider.get("head_dim") or wider["hidden_size"] // wider["num_attention_heads"]
    hidden = given.get("hidden_size", wider["hidden_size"])
    heads, head_dim = given.get("num_attention_heads"), given.get("head_dim")
    if heads is None:
        head = min(head_dim or tower_head, hidden)
        heads = max(1, hidden // head)
        if head_dim is None and heads * head != hidden:
            head_dim = head
    elif head_dim is None and hidden % heads:  # heads that do not divide the width keep the towers' head size
        head_dim = max(1, min(tower_head, hidden // heads))
    ratio = wider["intermediate_size"] / wider["hidden_size"]
    intermediate = given.get("intermediate_size", max(1, round(hidden * ratio)))
    return {
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "head_dim": head_dim,
        "intermediate_size": intermediate,
    }


@strict
class GrowCLIPTextConfig(PreTrainedConfig):
    """Text tower: a causal pre-LayerNorm transformer pooled at one token per row, chosen by ``pooling``.

    ``head_dim`` defaults to ``hidden_size // num_attention_heads``; growth may set it explicitly so that heads can be
    added without changing the size of the existing ones.

    ``pooling`` names the rule that picks the pooled token of each row (see ``TEXT_POOLING_RULES``):
    ``"eos_or_last"`` (GrowCLIP's own, the default) takes the first ``eos_token_id`` and, in a row without one, the
    last attended token; ``"eos_or_first"`` takes the first ``eos_token_id`` and, in a row without one, position 0
    (transformers' ``CLIPModel`` with a current config); ``"highest_id"`` takes the first occurrence of the row's
    highest token id (legacy CLIP configs with ``eos_token_id=2``, and open_clip's ``argmax`` pooling).
    """

    model_type = "growclip_text_model"
    base_config_key = "text_config"

    vocab_size: int = 49408
    hidden_size: int = 256
    intermediate_size: int = 1024
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    head_dim: int | None = None
    max_position_embeddings: int = 77
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0
    # The ids growclip_hf.train_tokenizer assigns (start 0, end 1, pad 2).
    bos_token_id: int | None = 0
    eos_token_id: int | None = 1
    pad_token_id: int | None = 2
    pooling: str = "eos_or_last"

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        _check_positive(
            self, "text_config", ("vocab_size", "hidden_size", "intermediate_size", "max_position_embeddings")
        )
        if self.num_hidden_layers < 0:
            raise ValueError(f"text_config.num_hidden_layers must be >= 0, got {self.num_hidden_layers}.")
        _check_heads(self, "text_config")
        if self.pooling not in TEXT_POOLING_RULES:
            raise ValueError(
                f"text_config.pooling={self.pooling!r} is unknown; use one of {', '.join(TEXT_POOLING_RULES)}."
            )
        if self.pooling != "highest_id" and self.eos_token_id is None:
            raise ValueError(f"text_config.pooling={self.pooling!r} needs text_config.eos_token_id to be set.")


@strict
class GrowCLIPVisionConfig(PreTrainedConfig):
    """Vision tower: a ViT with a class token, pre-LayerNorm, pooled at the class token."""

    model_type = "growclip_vision_model"
    base_config_key = "vision_config"

    hidden_size: int = 256
    intermediate_size: int = 1024
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    head_dim: int | None = None
    num_channels: int = 3
    image_size: int = 224
    patch_size: int = 32
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        _check_positive(
            self, "vision_config", ("hidden_size", "intermediate_size", "num_channels", "image_size", "patch_size")
        )
        if self.num_hidden_layers < 0:
            raise ValueError(f"vision_config.num_hidden_layers must be >= 0, got {self.num_hidden_layers}.")
        if self.image_size % self.patch_size != 0:
            raise ValueError(
                f"vision_config.image_size ({self.image_size}) must be a multiple of vision_config.patch_size "
                f"({self.patch_size})."
            )
        _check_heads(self, "vision_config")


@strict
class GrowCLIPSharedConfig(PreTrainedConfig):
    """Shared cross-modal encoder: layers whose weights both modalities use, after the towers and before pooling.

    ``num_hidden_layers=0`` (the default) means no shared encoder: the model is then exactly a CLIP model.
    Sizes left at None fit the towers it joins (``fit_shared_sizes``): the wider tower's width, its head size and its
    MLP ratio, so ``{"num_hidden_layers": 1}`` alone builds on any CLIP. A saved config holds the resolved numbers.
    """

    model_type = "growclip_shared_model"
    base_config_key = "shared_config"

    hidden_size: int | None = None
    intermediate_size: int | None = None
    num_hidden_layers: int = 0
    num_attention_heads: int | None = None
    head_dim: int | None = None
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        _check_positive(self, "shared_config", ("hidden_size", "intermediate_size"))
        if self.num_hidden_layers < 0:
            raise ValueError(f"shared_config.num_hidden_layers must be >= 0, got {self.num_hidden_layers}.")
        _check_heads(self, "shared_config")


@strict
class GrowCLIPConfig(PreTrainedConfig):
    """A CLIP model that can grow: text, vision and shared-encoder sub-configs plus the growth history.

    ``growth_history`` holds one JSON-serialisable dict per growth step (what grew, how it was initialised, parameter
    counts), so a published checkpoint explains its own lineage. ``growth_ramp`` is the state of a function-preserving
    width growth that is still ramping its new units in (see ``GrowCLIPLayerNorm``); it is saved with the model so a
    checkpoint taken mid-ramp resumes exactly.
    """

    model_type = "growclip"
    sub_configs_defaults = {
        "text_config": GrowCLIPTextConfig,
        "vision_config": GrowCLIPVisionConfig,
        "shared_config": GrowCLIPSharedConfig,
    }

    text_config: dict | GrowCLIPTextConfig | None = None
    vision_config: dict | GrowCLIPVisionConfig | None = None
    shared_config: dict | GrowCLIPSharedConfig | None = None
    projection_dim: int = 256
    logit_scale_init_value: float = 2.6592
    initializer_factor: float = 1.0
    growth_history: list | None = None
    # Masked-growth ramp in progress, or None: {"progress": float in [0, 1], "active_widths": {layer_norm_name: width}}.
    growth_ramp: dict | None = None
    # The forward pass clamps logit_scale at this value. from_clip / from_open_clip raise it to the checkpoint's own
    # scale when that is larger (OpenAI's checkpoints hold 4.6052 > ln(100)), so the converted logits stay exact.
    logit_scale_max: float = LOGIT_SCALE_MAX

    def __post_init__(self, **kwargs):
        if self.growth_history is None:
            self.growth_history = []
        super().__post_init__(**kwargs)
        if self.projection_dim < 1:
            raise ValueError(f"projection_dim must be >= 1, got {self.projection_dim}.")
        shared = self.shared_config
        if None in (shared.hidden_size, shared.num_attention_heads, shared.intermediate_size):
            given = {key: getattr(shared, key) for key in SHARED_SIZE_KEYS}
            tower = ("hidden_size", "num_attention_heads", "head_dim", "intermediate_size")
            towers = [{key: getattr(sub, key) for key in tower} for sub in (self.text_config, self.vision_config)]
            for key, value in fit_shared_sizes(given, *towers).items():
                setattr(shared, key, value)
            _check_heads(shared, "shared_config")

    @property
    def has_shared_encoder(self) -> bool:
        return self.shared_config.num_hidden_layers > 0


__all__ = ["GrowCLIPConfig", "GrowCLIPSharedConfig", "GrowCLIPTextConfig", "GrowCLIPVisionConfig"]
