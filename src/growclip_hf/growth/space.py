"""The growth space: which larger architectures are one step away, and how large the data seen so far allows.

GrowCLIP searches a *dynamic* space: candidates are the current architecture plus increments along each dimension,
and the budget grows with the data seen, so more data admits larger candidates (our reading of the paper).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .flops import parameter_count

TOWERS = ("vision_config", "text_config")


@dataclass(frozen=True)
class Candidate:
    name: str
    target: dict  # empty: keep the current architecture


@dataclass
class GrowthSpace:
    """Per-dimension increments; a dimension with a zero/one increment is left out of the space."""

    depth_step: int = 1
    width_factor: float = 1.25
    heads_step: int = 2
    mlp_factor: float = 1.5
    shared_depth_step: int = 1
    projection_factor: float = 1.0
    # > 1: one more candidate, ``width``, that widens the model as a whole (both towers' streams with heads of the same
    # width, their MLPs and the projection): the step a fixed-width sweep measures, which per-tower steps never make
    model_width_factor: float = 1.0
    towers: tuple[str, ...] = TOWERS

    def candidates(self, config) -> list[Candidate]:
        """The current architecture first, then one candidate per dimension and tower."""
        found = [Candidate("keep", {})]
        for tower in self.towers:
            sub = getattr(config, tower)
            short = tower.split("_")[0]
            if self.depth_step > 0:
                found.append(Candidate(f"{short}-depth", {tower: {"num_hidden_layers": sub.num_hidden_layers + 1}}))
            if self.width_factor > 1:
                found.append(Candidate(f"{short}-width", {tower: {"hidden_size": _wider(sub, self.width_factor)}}))
            if self.heads_step > 0:
                found.append(Candidate(f"{short}-heads", {tower: _more_heads(sub, self.heads_step)}))
            if self.mlp_factor > 1:
                mlp = _round_up(sub.intermediate_size * self.mlp_factor, 8)
                found.append(Candidate(f"{short}-mlp", {tower: {"intermediate_size": mlp}}))
        if self.shared_depth_step > 0:
            found.append(
                Candidate("shared-depth", {"shared_config": _more_shared_layers(config, self.shared_depth_step)})
            )
        if self.projection_factor > 1:
            found.append(
                Candidate(
                    "projection", {"projection_dim": _round_up(config.projection_dim * self.projection_factor, 8)}
                )
            )
        if self.model_width_factor > 1:
            found.append(Candidate("width", _model_wider(config, self.model_width_factor)))
        return found


def _round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def _head_dim(sub) -> int:
    return sub.head_dim if sub.head_dim is not None else sub.hidden_size // sub.num_attention_heads


def _wider(sub, factor: float) -> int:
    """A wider stream that still divides by the head count (so heads widen evenly)."""
    return _round_up(sub.hidden_size * factor, 2 * sub.num_attention_heads)


def _model_wider(config, factor: float) -> dict:
    """Both towers ``factor`` wider, more heads of the same width, MLPs and projection in proportion. A shared
    encoder keeps its width (its input projections read the wider towers)."""
    target = {"projection_dim": _round_up(config.projection_dim * factor, 8)}
    for tower in TOWERS:
        sub = getattr(config, tower)
        head_dim = _head_dim(sub)
        hidden = _round_up(sub.hidden_size * factor, head_dim)
        heads = min(max(sub.num_attention_heads + 1, round(sub.num_attention_heads * factor)), hidden // head_dim)
        mlp = _round_up(sub.intermediate_size * factor, 8)
        target[tower] = {"hidden_size": hidden, "num_attention_heads": heads, "intermediate_size": mlp}
    return target


def _more_heads(sub, step: int) -> dict:
    heads = sub.num_attention_heads + step
    needed = heads * _head_dim(sub)
    grow = {"num_attention_heads": heads}
    if needed > sub.hidden_size:
        grow["hidden_size"] = needed
    return grow


def _more_shared_layers(config, step: int) -> dict:
    """Only the depth: the first shared layers' sizes fit the towers they join (``fit_shared_sizes``)."""
    return {"num_hidden_layers": config.shared_config.num_hidden_layers + step}


@dataclass
class GrowthBudget:
    """Parameter budget that grows with the data seen: ``base_params * (seen / base_samples) ** exponent``."""

    base_params: int
    base_samples: int
    exponent: float = 0.5

    def allowed_parameters(self, samples_seen: int) -> int:
        ratio = max(samples_seen, 1) / max(self.base_samples, 1)
        return int(self.base_params * max(ratio, 1.0) ** self.exponent)

    def within(self, config, target: dict, samples_seen: int, grown_config_fn) -> tuple[bool, int]:
        """(fits, parameters) for ``target`` grown from ``config``."""
        grown = grown_config_fn(config, target) if target else config
        params = parameter_count(grown)
        return params <= self.allowed_parameters(samples_seen), params
