"""Building blocks of GrowCLIP: embeddings, attention, MLP, encoder layers and the shared cross-modal encoder.

Parameter names match transformers' CLIP modules, so a CLIP state dict maps onto these modules key for key.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer


def resolved_head_dim(config) -> int:
    """Per-head width: explicit ``head_dim`` when set (after head growth), else ``hidden_size // heads``."""
    return config.head_dim if config.head_dim is not None else config.hidden_size // config.num_attention_heads


def text_attention_mask(attention_mask: torch.Tensor | None, seq_len: int, device: torch.device) -> torch.Tensor | None:
    """Boolean [batch, 1, seq, seq] mask (True = may attend) combining causality with padding.

    Returns None when nothing is padded (outside ``torch.compile``), so attention can use SDPA's fused causal path.
    Every position may always attend to itself, so a fully padded query row (left padding) yields finite values
    instead of NaN; rows of real tokens are unaffected because they attend to themselves anyway.
    """
    if attention_mask is None:
        return None
    if not torch.compiler.is_compiling() and bool(attention_mask.all()):
        return None  # eager only: a data-dependent branch would split a compiled graph; the mask is exact anyway
    causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()
    keys = attention_mask.to(device=device, dtype=torch.bool)[:, None, None, :]
    diagonal = torch.eye(seq_len, dtype=torch.bool, device=device)
    return (causal & keys) | diagonal


class GrowCLIPLayerNorm(nn.LayerNorm):
    """LayerNorm that can ramp in newly grown units (masked structural growth, MSG style).

    While ``active_width`` is set, the first ``active_width`` units have mask 1 and the grown ones mask
    ``ramp_progress``; mean and variance are mask-weighted and the output is multiplied by the mask. At progress 0 the
    old units see exactly their old statistics and the new units output zero, so width growth preserves the function;
    at progress 1 this is a plain LayerNorm. The ramp state lives in ``GrowCLIPConfig.growth_ramp``.
    """

    active_width: int | None = None
    ramp_progress: float = 1.0

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        width = hidden_states.shape[-1]
        if self.active_width is None or self.active_width >= width:
            return super().forward(hidden_states)
        if self.ramp_progress == 0.0:
            # Exactly the old LayerNorm on the old units (same kernel, same rounding); grown units output zero.
            active = nn.functional.layer_norm(
                hidden_states[..., : self.active_width],
                (self.active_width,),
                self.weight[: self.active_width],
                self.bias[: self.active_width],
                self.eps,
            )
            return nn.functional.pad(active, (0, width - self.active_width))
        mask = hidden_states.new_full((width,), float(self.ramp_progress))
        mask[: self.active_width] = 1.0
        total = mask.sum()
        mean = (hidden_states * mask).sum(-1, keepdim=True) / total
        centred = hidden_states - mean
        variance = (centred.square() * mask).sum(-1, keepdim=True) / total
        normed = centred * torch.rsqrt(variance + self.eps)
        return mask * (normed * self.weight + self.bias)


class GrowCLIPTextEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.register_buffer(
            "position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)), persistent=False
        )

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = self.position_ids[:, : input_ids.shape[-1]]
        return self.token_embedding(input_ids) + self.position_embedding(positions)


class GrowCLIPVisionEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.class_embedding = nn.Parameter(torch.zeros(config.hidden_size))
        self.patch_embedding = nn.Conv2d(
            config.num_channels, config.hidden_size, kernel_size=config.patch_size, stride=config.patch_size, bias=False
        )
        self.num_positions = (config.image_size // config.patch_size) ** 2 + 1
        self.position_embedding = nn.Embedding(self.num_positions, config.hidden_size)
        self.register_buffer("position_ids", torch.arange(self.num_positions).expand((1, -1)), persistent=False)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        weight = self.patch_embedding.weight
        patches = self.patch_embedding(pixel_values.to(dtype=weight.dtype)).flatten(2).transpose(1, 2)
        class_token = self.class_embedding.to(patches.dtype).expand(patches.shape[0], 1, -1)
        return torch.cat([class_token, patches], dim=1) + self.position_embedding(self.position_ids)


class GrowCLIPAttention(nn.Module):
    """Multi-head self-attention through PyTorch SDPA; head width may differ from hidden_size / heads."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = resolved_head_dim(config)
        self.scale = self.head_dim**-0.5
        inner_dim = self.num_heads * self.head_dim
        self.q_proj = nn.Linear(self.embed_dim, inner_dim)
        self.k_proj = nn.Linear(self.embed_dim, inner_dim)
        self.v_proj = nn.Linear(self.embed_dim, inner_dim)
        self.out_proj = nn.Linear(inner_dim, self.embed_dim)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, is_causal: bool = False
    ) -> torch.Tensor:
        batch, seq_len, _ = hidden_states.shape
        shape = (batch, seq_len, self.num_heads, self.head_dim)
        query = self.q_proj(hidden_states).view(shape).transpose(1, 2)
        key = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        value = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        attended = F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=attention_mask,
            dropout_p=self.config.attention_dropout if self.training else 0.0,
            is_causal=is_causal and attention_mask is None,
            scale=self.scale,
        )
        return self.out_proj(attended.transpose(1, 2).reshape(batch, seq_len, -1))


class GrowCLIPMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.activation_fn = ACT2FN[config.hidden_act]
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class GrowCLIPEncoderLayer(GradientCheckpointingLayer):
    """Pre-LayerNorm transformer block."""

    def __init__(self, config):
        super().__init__()
        self.layer_norm1 = GrowCLIPLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = GrowCLIPAttention(config)
        self.layer_norm2 = GrowCLIPLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = GrowCLIPMLP(config)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, is_causal: bool = False
    ) -> torch.Tensor:
        hidden_states = hidden_states + self.self_attn(self.layer_norm1(hidden_states), attention_mask, is_causal)
        return hidden_states + self.mlp(self.layer_norm2(hidden_states))


class GrowCLIPEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList([GrowCLIPEncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, is_causal: bool = False
    ) -> torch.Tensor:
        for layer in self.layers:
            hidden_states = layer(hidden_states, attention_mask, is_causal)
        return hidden_states


class GrowCLIPSharedEncoder(nn.Module):
    """Layers whose weights both modalities use (GrowCLIP's cross-modal fusion).

    Each modality enters through its own linear input projection (tower width -> shared width); text keeps its causal
    mask inside the shared layers, vision attends freely.
    """

    def __init__(self, config):
        super().__init__()
        shared = config.shared_config
        self.text_input_projection = nn.Linear(config.text_config.hidden_size, shared.hidden_size)
        self.vision_input_projection = nn.Linear(config.vision_config.hidden_size, shared.hidden_size)
        self.encoder = GrowCLIPEncoder(shared)

    def forward(
        self, hidden_states: torch.Tensor, modality: str, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if modality == "text":
            return self.encoder(self.text_input_projection(hidden_states), attention_mask, is_causal=True)
        return self.encoder(self.vision_input_projection(hidden_states))
