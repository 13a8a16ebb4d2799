"""GrowCLIP model: CLIP towers, an optional shared cross-modal encoder, and the transformers integration."""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.modeling_utils import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_growclip import GrowCLIPConfig, GrowCLIPTextConfig, GrowCLIPVisionConfig
from .modeling_growclip_layers import (
    GrowCLIPAttention,
    GrowCLIPEncoder,
    GrowCLIPEncoderLayer,
    GrowCLIPLayerNorm,
    GrowCLIPMLP,
    GrowCLIPSharedEncoder,
    GrowCLIPTextEmbeddings,
    GrowCLIPVisionEmbeddings,
    text_attention_mask,
)
from .validation_growclip import check_image_inputs, check_pair_batches, check_text_inputs


@dataclass
class GrowCLIPOutput(ModelOutput):
    """Output of [`GrowCLIPModel`]; the same fields as transformers' ``CLIPOutput``."""

    loss: torch.Tensor | None = None
    logits_per_image: torch.Tensor | None = None
    logits_per_text: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    image_embeds: torch.Tensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    vision_model_output: BaseModelOutputWithPooling | None = None
    # exp(logit_scale) after clamping: what multiplies the cosine similarities. Trainers that compute the loss over
    # a global batch use it (it keeps the graph through the wrapped model's forward).
    logit_scale: torch.Tensor | None = None

    def to_tuple(self):
        return tuple(v.to_tuple() if isinstance(v, ModelOutput) else v for v in self.values())


def contrastive_loss(logits_per_text: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over an aligned batch (pair i is the positive of row i and column i)."""
    targets = torch.arange(logits_per_text.shape[0], device=logits_per_text.device)
    text_loss = nn.functional.cross_entropy(logits_per_text, targets)
    image_loss = nn.functional.cross_entropy(logits_per_text.t(), targets)
    return (text_loss + image_loss) / 2


class GrowCLIPPreTrainedModel(PreTrainedModel):
    config: GrowCLIPConfig
    config_class = GrowCLIPConfig
    base_model_prefix = "growclip"
    input_modalities = ("image", "text")
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["GrowCLIPTextEmbeddings", "GrowCLIPVisionEmbeddings", "GrowCLIPEncoderLayer"]

    def _initialize_weights(self, module, is_custom_code: bool = False):
        """Initialise every module not already initialised, containers included.

        transformers skips container modules of custom code (no direct parameters looks like "all loaded"), which
        would leave attention and MLP weights at torch's defaults. Our ``_init_weights`` only uses the flag-aware
        ``transformers.initialization`` functions, so loaded weights are never overwritten.
        """
        if getattr(module, "_is_hf_initialized", False):
            return
        self._init_weights(module)
        module._is_hf_initialized = True

    def _init_weights(self, module):
        """CLIP's initialisation scheme; every parameter and buffer of every GrowCLIP module is covered."""
        super()._init_weights(module)
        factor = self.config.initializer_factor
        if isinstance(module, GrowCLIPTextEmbeddings):
            init.normal_(module.token_embedding.weight, std=0.02 * factor)
            init.normal_(module.position_embedding.weight, std=0.02 * factor)
            init.copy_(module.position_ids, torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
        elif isinstance(module, GrowCLIPVisionEmbeddings):
            std = module.config.initializer_range * factor
            init.normal_(module.class_embedding, std=module.embed_dim**-0.5 * factor)
            init.normal_(module.patch_embedding.weight, std=std)
            init.normal_(module.position_embedding.weight, std=std)
            init.copy_(module.position_ids, torch.arange(module.num_positions).expand((1, -1)))
        elif isinstance(module, GrowCLIPAttention):
            depth = max(module.config.num_hidden_layers, 1)
            in_std = module.embed_dim**-0.5 * (2 * depth) ** -0.5 * factor
            for projection in (module.q_proj, module.k_proj, module.v_proj):
                init.normal_(projection.weight, std=in_std)
                init.zeros_(projection.bias)
            init.normal_(module.out_proj.weight, std=module.embed_dim**-0.5 * factor)
            init.zeros_(module.out_proj.bias)
        elif isinstance(module, GrowCLIPMLP):
            depth = max(module.config.num_hidden_layers, 1)
            hidden = module.config.hidden_size
            init.normal_(module.fc1.weight, std=(2 * hidden) ** -0.5 * factor)
            init.normal_(module.fc2.weight, std=hidden**-0.5 * (2 * depth) ** -0.5 * factor)
            init.zeros_(module.fc1.bias)
            init.zeros_(module.fc2.bias)
        elif isinstance(module, GrowCLIPSharedEncoder):
            for projection in (module.text_input_projection, module.vision_input_projection):
                init.normal_(projection.weight, std=projection.in_features**-0.5 * factor)
                init.zeros_(projection.bias)
        elif isinstance(module, GrowCLIPModel):
            init.normal_(module.text_projection.weight, std=module.text_projection.in_features**-0.5 * factor)
            init.normal_(module.visual_projection.weight, std=module.visual_projection.in_features**-0.5 * factor)
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)


class GrowCLIPTextTransformer(nn.Module):
    """Token + position embeddings, the text layers, then (after any shared layers) the final LayerNorm."""

    def __init__(self, config: GrowCLIPTextConfig, output_width: int):
        super().__init__()
        self.config = config
        self.embeddings = GrowCLIPTextEmbeddings(config)
        self.encoder = GrowCLIPEncoder(config)
        self.final_layer_norm = GrowCLIPLayerNorm(output_width, eps=config.layer_norm_eps)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        shared_encoder: GrowCLIPSharedEncoder | None = None,
    ) -> BaseModelOutputWithPooling:
        mask = text_attention_mask(attention_mask, input_ids.shape[-1], input_ids.device)
        hidden = self.encoder(self.embeddings(input_ids), mask, is_causal=True)
        if shared_encoder is not None:
            hidden = shared_encoder(hidden, "text", mask)
        hidden = self.final_layer_norm(hidden)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        pooled = hidden[rows, self.pooling_positions(input_ids, attention_mask)]
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled)

    def pooling_positions(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """The pooled token of each row under ``config.pooling`` (see ``GrowCLIPTextConfig``).

        ``highest_id`` and ``eos_or_first`` are computed exactly as transformers' CLIP text model computes its two
        rules (first maximum of the int32 ids; first end token, else position 0), so converted checkpoints pool at the
        same position for any ids. ``eos_or_last`` (GrowCLIP's default) pools rows without an end token (truncated)
        at their last real token.
        """
        rule = self.config.pooling
        if rule == "highest_id":
            return input_ids.to(dtype=torch.int).argmax(dim=-1)
        is_eos = input_ids == self.config.eos_token_id
        first_eos = is_eos.int().argmax(dim=-1)
        if rule == "eos_or_first":
            return first_eos
        if attention_mask is None:
            last_token = torch.full_like(first_eos, input_ids.shape[-1] - 1)
        else:
            last_token = (attention_mask.long().sum(dim=-1) - 1).clamp(min=0)
        return torch.where(is_eos.any(dim=-1), first_eos, last_token)


class GrowCLIPVisionTransformer(nn.Module):
    """Patch + class embeddings, pre-LayerNorm, the vision layers, then (after any shared layers) the post-LayerNorm."""

    def __init__(self, config: GrowCLIPVisionConfig, output_width: int):
        super().__init__()
        self.config = config
        self.embeddings = GrowCLIPVisionEmbeddings(config)
        self.pre_layrnorm = GrowCLIPLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = GrowCLIPEncoder(config)
        self.post_layernorm = GrowCLIPLayerNorm(output_width, eps=config.layer_norm_eps)

    def forward(
        self, pixel_values: torch.Tensor, shared_encoder: GrowCLIPSharedEncoder | None = None
    ) -> BaseModelOutputWithPooling:
        hidden = self.encoder(self.pre_layrnorm(self.embeddings(pixel_values)))
        if shared_encoder is not None:
            hidden = shared_encoder(hidden, "vision")
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=self.post_layernorm(hidden[:, 0]))


class GrowCLIPModel(GrowCLIPPreTrainedModel):
    """A CLIP dual encoder with an optional shared cross-modal encoder, able to grow into a larger model.

    With ``shared_config.num_hidden_layers == 0`` it computes exactly what transformers' ``CLIPModel`` computes
    (see :meth:`from_clip` / :meth:`to_clip`).
    """

    def __init__(self, config: GrowCLIPConfig):
        super().__init__(config)
        text_width = config.text_config.hidden_size
        vision_width = config.vision_config.hidden_size
        if config.has_shared_encoder:
            text_width = vision_width = config.shared_config.hidden_size
            self.shared_encoder = GrowCLIPSharedEncoder(config)
        else:
            self.shared_encoder = None
        self.text_model = GrowCLIPTextTransformer(config.text_config, text_width)
        self.vision_model = GrowCLIPVisionTransformer(config.vision_config, vision_width)
        self.text_projection = nn.Linear(text_width, config.projection_dim, bias=False)
        self.visual_projection = nn.Linear(vision_width, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        self.post_init()
        self._apply_growth_ramp()

    def _apply_growth_ramp(self) -> None:
        """Push ``config.growth_ramp`` into the LayerNorms it names (all others normalise over their full width)."""
        ramp = self.config.growth_ramp or {}
        widths = ramp.get("active_widths", {})
        for name, module in self.named_modules():
            if isinstance(module, GrowCLIPLayerNorm):
                module.active_width = widths.get(name)
                module.ramp_progress = float(ramp.get("progress", 1.0))
        unknown = set(widths) - {name for name, m in self.named_modules() if isinstance(m, GrowCLIPLayerNorm)}
        if unknown:
            raise ValueError(f"config.growth_ramp names LayerNorms this model does not have: {sorted(unknown)}.")

    @property
    def growth_ramp_progress(self) -> float | None:
        """Progress of the width-growth ramp in [0, 1], or None when no ramp is running."""
        return None if self.config.growth_ramp is None else float(self.config.growth_ramp["progress"])

    def set_growth_ramp_progress(self, progress: float) -> None:
        """Move the ramp of newly grown units (0 = masked out, 1 = fully in); the trainer calls this every step."""
        if self.config.growth_ramp is None:
            raise ValueError("No growth ramp is running: only init='preserve' width growth starts one.")
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"Ramp progress must be in [0, 1], got {progress}.")
        self.config.growth_ramp = {**self.config.growth_ramp, "progress": float(progress)}
        self._apply_growth_ramp()

    def finish_growth_ramp(self) -> None:
        """End the ramp: every LayerNorm becomes a plain LayerNorm over its full width (a no-op without a ramp)."""
        self.config.growth_ramp = None
        self._apply_growth_ramp()

    def grow(
        self, target: dict, init: str = "preserve", momentum: float = 0.5, seed: int | None = None
    ) -> "GrowCLIPModel":
        """Return a larger model initialised from this one (which is left untouched).

        ``target`` is a partial config in the nested shape of ``GrowCLIPConfig``, e.g.
        ``{"vision_config": {"num_hidden_layers": 4}, "shared_config": {"num_hidden_layers": 1}}``; values are
        targets, never smaller than now. ``init``: ``"preserve"`` (same function right after growth), ``"pim"``
        (parameter inheriting with momentum: ``momentum * inherited + (1 - momentum) * fresh``) or ``"random"`` (a
        fresh model of the target architecture). The grown model exposes ``growth_mapping``: which old slice every
        inherited slice came from.
        """
        from .growth_growclip import grow_model

        return grow_model(self, target, init=init, momentum=momentum, seed=seed)

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.embeddings.token_embedding

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_model.embeddings.token_embedding = value

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> BaseModelOutputWithPooling:
        """Text tower output whose ``pooler_output`` is the projected (not normalised) text embedding."""
        check_text_inputs(self.config.text_config, input_ids, attention_mask)
        outputs = self.text_model(input_ids, attention_mask, self.shared_encoder)
        outputs.pooler_output = self.text_projection(outputs.pooler_output)
        return outputs

    def get_image_features(self, pixel_values: torch.Tensor) -> BaseModelOutputWithPooling:
        """Vision tower output whose ``pooler_output`` is the projected (not normalised) image embedding."""
        check_image_inputs(self.config.vision_config, pixel_values)
        outputs = self.vision_model(pixel_values, self.shared_encoder)
        outputs.pooler_output = self.visual_projection(outputs.pooler_output)
        return outputs

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """open_clip-style image embedding (a tensor), optionally L2-normalised."""
        features = self.get_image_features(images).pooler_output
        return nn.functional.normalize(features, dim=-1) if normalize else features

    def encode_text(
        self, tokens: torch.Tensor, normalize: bool = False, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """open_clip-style text embedding (a tensor), optionally L2-normalised."""
        features = self.get_text_features(tokens, attention_mask).pooler_output
        return nn.functional.normalize(features, dim=-1) if normalize else features

    def clamped_logit_scale(self) -> torch.Tensor:
        """exp(logit_scale) with the scale clamped at ``config.logit_scale_max`` (ln(100), as in CLIP training,
        unless a converted checkpoint holds a larger scale)."""
        return self.logit_scale.clamp(max=self.config.logit_scale_max).exp()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        return_loss: bool | None = False,
        return_dict: bool | None = None,
        **kwargs,
    ) -> GrowCLIPOutput | tuple:
        if input_ids is None or pixel_values is None:
            raise ValueError(
                "GrowCLIPModel.forward needs both input_ids and pixel_values; use get_text_features or "
                "get_image_features to embed one modality."
            )
        text_outputs = self.get_text_features(input_ids, attention_mask)
        vision_outputs = self.get_image_features(pixel_values)
        text_embeds = nn.functional.normalize(text_outputs.pooler_output, dim=-1)
        image_embeds = nn.functional.normalize(vision_outputs.pooler_output, dim=-1)
        logit_scale = self.clamped_logit_scale()
        logits_per_text = text_embeds @ image_embeds.t() * logit_scale
        loss = None
        if return_loss:
            check_pair_batches(image_embeds.shape[0], text_embeds.shape[0])
            loss = contrastive_loss(logits_per_text)
        output = GrowCLIPOutput(
            loss=loss,
            logits_per_image=logits_per_text.t(),
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
            logit_scale=logit_scale,
        )
        use_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if use_dict else output.to_tuple()

    @classmethod
    def from_clip(cls, clip_model) -> "GrowCLIPModel":
        """Lossless conversion from transformers' ``CLIPModel``: the same weights and, for any input ids, the same
        logits (the text pooling rule and a logit scale above ln(100) are carried over in the config)."""
        from .conversion_growclip import growclip_from_clip

        return growclip_from_clip(cls, clip_model)

    def to_clip(self):
        """Lossless conversion to transformers' ``CLIPModel``; raises if CLIP cannot represent the model (shared
        layers, decoupled head width, an end-token pooling rule on ``eos_token_id=2``).

        GrowCLIP's own ``pooling="eos_or_last"`` becomes CLIP's end-token rule, which pools rows WITHOUT an end token
        at position 0 instead of their last token; rows with one give the same logits.
        """
        from .conversion_growclip import growclip_to_clip

        return growclip_to_clip(self)

    @classmethod
    def from_open_clip(cls, path_or_repo, revision: str | None = None, **hub_kwargs) -> "GrowCLIPModel":
        """Load an open_clip ViT CLIP from a folder or Hub repo holding ``open_clip_config.json`` and
        ``open_clip_model.safetensors`` (the layout open_clip's ``push_to_hf_hub`` writes).

        ``hub_kwargs`` (``cache_dir``, ``token``, ``local_files_only``, ...) go to ``huggingface_hub.hf_hub_download``.
        Architectures GrowCLIP cannot represent exactly (ResNet or timm towers, Hugging Face text towers, layer scale,
        attentional pooling, SigLIP's logit bias, ...) raise a ``ValueError`` naming the option.
        """
        from .conversion_open_clip_growclip import growclip_from_open_clip

        return growclip_from_open_clip(cls, path_or_repo, revision=revision, **hub_kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """Load a GrowCLIP checkpoint, or convert a transformers CLIP checkpoint (``model_type`` ``"clip"``) exactly.

        A checkpoint of any other model type raises a ``ValueError`` saying what is supported. Everything else is
        transformers' ``PreTrainedModel.from_pretrained``.
        """
        if pretrained_model_name_or_path is not None and kwargs.get("config") is None and "gguf_file" not in kwargs:
            from .conversion_growclip import checkpoint_model_type, growclip_from_clip_checkpoint

            model_type = checkpoint_model_type(cls.config_class, pretrained_model_name_or_path, kwargs)
            if model_type == "clip":
                return growclip_from_clip_checkpoint(cls, pretrained_model_name_or_path, *model_args, **kwargs)
            if model_type is not None and model_type != cls.config_class.model_type:
                raise ValueError(
                    f"{pretrained_model_name_or_path} is a checkpoint of model type {model_type!r}; "
                    f"{cls.__name__}.from_pretrained loads GrowCLIP checkpoints (model_type "
                    f"{cls.config_class.model_type!r}) and transformers CLIP checkpoints (model_type 'clip'). "
                    f"For an open_clip checkpoint use {cls.__name__}.from_open_clip."
                )
        return super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Also map AutoModelForZeroShotImageClassification in ``auto_map`` so pipelines work with remote code."""
        if self._auto_class is not None:
            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            auto_map.setdefault("AutoModelForZeroShotImageClassification", f"modeling_growclip.{type(self).__name__}")
            self.config.auto_map = auto_map
        return super().save_pretrained(save_directory, *args, **kwargs)


__all__ = ["GrowCLIPEncoderLayer", "GrowCLIPModel", "GrowCLIPOutput", "GrowCLIPPreTrainedModel", "contrastive_loss"]
