"""Where every inherited slice of a grown model comes from: a list of blocks, exposed as plain data.

Old units always keep their positions at the start of each axis (old layers keep their indices, new layers are
appended), except along attention's head axis when the head width grows: head h's old rows then start at
``h * new_head_dim``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

Span = tuple[int, int]

_HEADED_ROWS = ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight")
_HEADED_BIASES = ("self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias")
_HEADED_COLUMNS = ("self_attn.out_proj.weight",)


@dataclass(frozen=True)
class SliceBlock:
    """``new[new_index] <- old[old_index]``; each index is one ``(start, stop)`` span per axis."""

    new_name: str
    old_name: str
    new_index: tuple[Span, ...]
    old_index: tuple[Span, ...]

    def new_slices(self) -> tuple[slice, ...]:
        return tuple(slice(start, stop) for start, stop in self.new_index)

    def old_slices(self) -> tuple[slice, ...]:
        return tuple(slice(start, stop) for start, stop in self.old_index)

    def to_dict(self) -> dict:
        return asdict(self)


def sub_config_for(name: str, config) -> object:
    """The tower (or shared) config that owns a parameter, from its name."""
    if name.startswith("text_model."):
        return config.text_config
    if name.startswith("vision_model."):
        return config.vision_config
    if name.startswith("shared_encoder.encoder."):
        return config.shared_config
    return None


def _head_geometry(sub_config) -> tuple[int, int]:
    heads = sub_config.num_attention_heads
    head_dim = sub_config.head_dim if sub_config.head_dim is not None else sub_config.hidden_size // heads
    return heads, head_dim


def _headed_spans(old_geometry: tuple[int, int], new_geometry: tuple[int, int]) -> list[tuple[Span, Span]]:
    """(new span, old span) per old head along a heads*head_dim axis."""
    old_heads, old_dim = old_geometry
    _, new_dim = new_geometry
    return [((h * new_dim, h * new_dim + old_dim), (h * old_dim, (h + 1) * old_dim)) for h in range(old_heads)]


def blocks_for_parameter(name: str, old_shape, new_shape, old_config, new_config) -> list[SliceBlock]:
    """Blocks mapping the old tensor ``name`` into the new tensor of the same name (none if it got narrower)."""
    leading = [((0, size), (0, size)) for size in old_shape]
    headed_axis = None
    if name.endswith(_HEADED_ROWS) or name.endswith(_HEADED_BIASES):
        headed_axis = 0
    elif name.endswith(_HEADED_COLUMNS):
        headed_axis = 1
    axes = [[span] for span in leading]
    if headed_axis is not None:
        old_sub, new_sub = sub_config_for(name, old_config), sub_config_for(name, new_config)
        axes[headed_axis] = _headed_spans(_head_geometry(old_sub), _head_geometry(new_sub))
    blocks = [[]]
    for choices in axes:
        blocks = [prefix + [choice] for prefix in blocks for choice in choices]
    if any(size_new < size_old for size_new, size_old in zip(new_shape, old_shape, strict=True)):
        # Only possible when a shared encoder narrower than the towers is added (final norms and projections then
        # read a different, narrower stream): no counterpart, the parameter starts fresh.
        return []
    return [
        SliceBlock(
            new_name=name,
            old_name=name,
            new_index=tuple(pair[0] for pair in block),
            old_index=tuple(pair[1] for pair in block),
        )
        for block in blocks
    ]


def growth_mapping(old_model: torch.nn.Module, new_model: torch.nn.Module) -> list[SliceBlock]:
    """All blocks from ``old_model`` into ``new_model``; new parameters without a counterpart have no block."""
    old_parameters = dict(old_model.named_parameters())
    mapping = []
    for name, parameter in new_model.named_parameters():
        if name in old_parameters:
            mapping.extend(
                blocks_for_parameter(
                    name, old_parameters[name].shape, parameter.shape, old_model.config, new_model.config
                )
            )
    return mapping
