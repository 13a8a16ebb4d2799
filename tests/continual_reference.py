"""Slow, explicit reference formulas for the continual strategies' losses, written apart from the implementation.

Everything here works one row at a time in float64 with spelled-out softmaxes: no log_softmax, no kl_div, no
cross_entropy, no masking by -1000 (a masked column is simply left out of the row), no batched argmax. The tests
compare the strategies' hooks against these, so a wiring error in the implementation cannot be reproduced here by
sharing its formula.
"""

import torch


def _probabilities(scores: torch.Tensor) -> torch.Tensor:
    """Softmax of one row of scores, spelled out."""
    weights = torch.exp(scores - scores.max())
    return weights / weights.sum()


def kl_row(teacher_scores: torch.Tensor, student_scores: torch.Tensor) -> torch.Tensor:
    """KL(softmax(teacher) || softmax(student)) of one row of scores."""
    p, q = _probabilities(teacher_scores), _probabilities(student_scores)
    return (p * (torch.log(p) - torch.log(q))).sum()


def cross_entropy_row(scores: torch.Tensor, target: int) -> torch.Tensor:
    return -torch.log(_probabilities(scores)[target])


def scores(query: torch.Tensor, keys) -> torch.Tensor:
    """The scores of one query row against a list or matrix of key rows, in float64."""
    keys = torch.stack(list(keys)) if not torch.is_tensor(keys) else keys
    return keys.double() @ query.double()


def momentum_contrast(image, text, momentum_image, momentum_text, queue_image, queue_text, tau):
    """L_cmc of one process: image row i against [its process's momentum texts; the TEXT queue], target i; and the
    symmetric text term with the IMAGE queue; the mean of the two row-averaged cross-entropies."""
    n = image.shape[0]
    text_keys = list(momentum_text) + list(queue_text)
    image_keys = list(momentum_image) + list(queue_image)
    image_term = sum(cross_entropy_row(scores(image[i], text_keys) / tau, i) for i in range(n)) / n
    text_term = sum(cross_entropy_row(scores(text[i], image_keys) / tau, i) for i in range(n)) / n
    return (image_term + text_term) / 2


def topology(queries, keys, old_queries, old_keys, tau, skip_own_offset=None):
    """Mean over the query rows of KL(old || new) of the softmax over the keys (the own key left out when given)."""
    n, total = queries.shape[0], 0.0
    for i in range(n):
        columns = [j for j in range(keys.shape[0]) if skip_own_offset is None or j != skip_own_offset + i]
        new = scores(queries[i], keys[columns]) / tau
        old = scores(old_queries[i], old_keys[columns]) / tau
        total = total + kl_row(old, new)
    return total / n


def ctp_topology(image, text, all_images, all_texts, old_image, old_text, old_images, old_texts, offset, tau):
    """(L_c, L_s) of the process whose rows start at ``offset`` of the global batch."""
    cross = (
        topology(image, all_texts, old_image, old_texts, tau) + topology(text, all_images, old_text, old_images, tau)
    ) / 2
    intra = (
        topology(image, all_images, old_image, old_images, tau, skip_own_offset=offset)
        + topology(text, all_texts, old_text, old_texts, tau, skip_own_offset=offset)
    ) / 2
    return cross, intra


def modx_rows(queries, keys, old_queries, old_keys, offset):
    """Sum over the query rows the OLD model matches to their true pair (key ``offset + i``) of KL(old || new) of
    the raw-cosine softmax over all keys."""
    total = torch.zeros((), dtype=torch.float64)
    for i in range(queries.shape[0]):
        old = scores(old_queries[i], old_keys)
        best = max(range(len(old)), key=lambda j: float(old[j]))
        if best == offset + i:
            total = total + kl_row(old, scores(queries[i], keys))
    return total


def modx(image, text, all_images, all_texts, old_image, old_text, old_images, old_texts, offset, alpha, world_size):
    """What one process's Mod-X term must be so that the processes' terms add up to alpha * L_SA of the whole batch,
    times the number of processes (DDP averages the gradients)."""
    rows = modx_rows(image, all_texts, old_image, old_texts, offset) + modx_rows(
        text, all_images, old_text, old_images, offset
    )
    return alpha * world_size * rows / 2
