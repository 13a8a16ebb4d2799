"""Spatial-disorder diagnostics (Mod-X): how a checkpoint's embedding space moved relative to an earlier one.

On a fixed probe set of old-task image-text pairs, between checkpoints a and b (angles in degrees):
- intra-modal rotation: mean angle between a sample's embedding under a and under b, per modality;
- topology change: mean over sample pairs of |angle(x_i, x_j) under a - the same under b|, per modality;
- inter-modal deviation: mean over samples of |image rotation - text rotation|.
Large rotation with small topology change is the signature of CLIP forgetting that Mod-X describes.
"""

from __future__ import annotations

import torch

from .embeddings import pad_embeddings


def angles_degrees(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Row-wise angle between two sets of embeddings (normalised here), in degrees."""
    cosine = (torch.nn.functional.normalize(first, dim=-1) * torch.nn.functional.normalize(second, dim=-1)).sum(-1)
    return torch.rad2deg(torch.arccos(cosine.clamp(-1.0, 1.0)))


def pairwise_angles_degrees(embeddings: torch.Tensor) -> torch.Tensor:
    """Angles between all distinct pairs (i < j) of one set of embeddings, in degrees."""
    unit = torch.nn.functional.normalize(embeddings.double(), dim=-1)
    rows, columns = torch.triu_indices(unit.shape[0], unit.shape[0], offset=1)
    cosine = (unit @ unit.t())[rows, columns]
    return torch.rad2deg(torch.arccos(cosine.clamp(-1.0, 1.0)))


def _same_width(first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(first.shape[1], second.shape[1])
    return pad_embeddings(first, width), pad_embeddings(second, width)


def spatial_disorder(
    images_a: torch.Tensor, texts_a: torch.Tensor, images_b: torch.Tensor, texts_b: torch.Tensor
) -> dict[str, float]:
    """Disorder between checkpoints a and b on the same probe pairs (row i of each tensor is pair i).

    Embeddings of a smaller (pre-growth) checkpoint are zero-padded to the larger width first.
    """
    if not images_a.shape[0] == texts_a.shape[0] == images_b.shape[0] == texts_b.shape[0]:
        raise ValueError("All four embedding sets must hold the same probe pairs.")
    if images_a.shape[0] < 2:
        raise ValueError("The probe set needs at least two pairs to measure topology.")
    images_a, images_b = _same_width(images_a.double(), images_b.double())
    texts_a, texts_b = _same_width(texts_a.double(), texts_b.double())
    image_rotation = angles_degrees(images_a, images_b)
    text_rotation = angles_degrees(texts_a, texts_b)
    image_topology = (pairwise_angles_degrees(images_a) - pairwise_angles_degrees(images_b)).abs()
    text_topology = (pairwise_angles_degrees(texts_a) - pairwise_angles_degrees(texts_b)).abs()
    return {
        "image_rotation_deg": float(image_rotation.mean()),
        "text_rotation_deg": float(text_rotation.mean()),
        "image_topology_change_deg": float(image_topology.mean()),
        "text_topology_change_deg": float(text_topology.mean()),
        "intermodal_deviation_deg": float((image_rotation - text_rotation).abs().mean()),
        "num_probe_pairs": int(images_a.shape[0]),
    }
