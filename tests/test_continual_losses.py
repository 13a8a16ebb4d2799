"""Strategy losses on small hand-checkable cases."""

import math

import pytest
import torch
from torch import nn

from growclip_hf.continual import STRATEGIES, build_strategy
from growclip_hf.continual.ctp import enqueue, momentum_contrast_loss, momentum_update, topology_kl
from growclip_hf.continual.modx import ModX, modx_alignment_loss, row_kl


def _unit(rows):
    return nn.functional.normalize(torch.tensor(rows, dtype=torch.float64), dim=-1)


def test_row_kl_is_kl_of_teacher_from_student():
    teacher, student = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    p = torch.softmax(teacher, -1)[0]
    q = torch.softmax(student, -1)[0]
    expected = (p * (p / q).log()).sum()
    assert row_kl(teacher, student).item() == pytest.approx(expected.item(), rel=1e-6)
    assert row_kl(student, teacher).item() != pytest.approx(expected.item(), rel=1e-3)  # direction matters


def test_modx_rows_where_the_old_model_is_wrong_contribute_nothing():
    old_image = _unit([[1, 0], [1, 0.1]])  # image 1 is closest to text 0 under the old model: a wrong row
    old_text = _unit([[1, 0], [0, 1]])
    image = _unit([[0.8, 0.6], [0.3, 1.0]])
    text = _unit([[1, 0.2], [0.1, 1.0]])
    loss = modx_alignment_loss(image, text, old_image, old_text)
    moved = image.clone()
    moved[1] = _unit([[-1.0, 0.2]])[0]  # change only the wrong image row
    m, m_old = image @ text.t(), old_image @ old_text.t()
    # kept: image row 0; text rows: text 0 -> argmax over images of column 0 of M_old; text 1 -> column 1
    keep_text = [int(m_old[:, j].argmax()) == j for j in range(2)]
    expected_images = row_kl(m_old[:1], m[:1]).sum()
    expected_texts = sum(row_kl(m_old.t()[j : j + 1], m.t()[j : j + 1]).sum() for j in range(2) if keep_text[j])
    assert loss.item() == pytest.approx(0.5 * (expected_images + expected_texts).item(), rel=1e-9)
    # the changed image row still enters text rows (columns of M), so compare only the image-row part
    assert row_kl(m_old[1:2], (moved @ text.t())[1:2]).item() > 0
    loss_moved_image_part = row_kl(m_old[:1], (moved @ text.t())[:1]).sum()
    assert loss_moved_image_part.item() == pytest.approx(expected_images.item(), rel=1e-9)


def test_modx_alpha_scales_with_the_batch():
    assert ModX().alpha == pytest.approx(20.0)
    assert ModX(global_batch_size=140).alpha == pytest.approx(40.0)
    assert ModX(global_batch_size=560).alpha == pytest.approx(10.0)


def test_modx_loss_is_zero_when_the_model_equals_the_old_one():
    image, text = _unit([[1, 0.1], [0.2, 1]]), _unit([[1, 0], [0, 1]])
    assert modx_alignment_loss(image, text, image, text).item() == pytest.approx(0.0, abs=1e-12)


def test_ctp_momentum_update_formula():
    model, momentum_model, anchor = nn.Linear(2, 1), nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        momentum_model.weight.fill_(2.0)
        anchor.weight.fill_(4.0)
    momentum_update(momentum_model, model, anchor, momentum=0.9, anchor_weight=0.5)
    # 0.9 * 2 + 0.05 * 1 + 0.05 * 4
    assert momentum_model.weight[0, 0].item() == pytest.approx(2.05, rel=1e-6)
    momentum_update(momentum_model, model, None, momentum=0.995, anchor_weight=0.0)
    assert momentum_model.weight[0, 0].item() == pytest.approx(0.995 * 2.05 + 0.005 * 1.0, rel=1e-6)


def test_topology_kl_direction_and_batchmean():
    queries, keys = _unit([[1, 0], [0.6, 0.8]]), _unit([[1, 0], [0, 1], [0.7, 0.7]])
    old_queries = _unit([[0.9, 0.1], [0.1, 0.9]])
    tau = 0.5
    student = torch.log_softmax(queries @ keys.t() / tau, -1)
    teacher = torch.log_softmax(old_queries @ keys.t() / tau, -1)
    expected = (teacher.exp() * (teacher - student)).sum() / 2  # batchmean: divided by the number of rows
    assert topology_kl(queries, keys, old_queries, keys, tau).item() == pytest.approx(expected.item(), rel=1e-9)


def test_self_similarity_is_masked_in_intra_modal_topology():
    features, old = _unit([[1, 0], [0.6, 0.8], [0, 1]]), _unit([[0.9, 0.2], [0.5, 0.9], [0.1, 1]])
    # rows 1..2 of the keys are the queries themselves (self_offset=1): their own similarity must not count
    loss = topology_kl(features[1:], features, old[1:], old, tau=0.1, self_offset=1)
    student = (features[1:] @ features.t() / 0.1).clone()
    teacher = (old[1:] @ old.t() / 0.1).clone()
    for row in range(2):
        student[row, row + 1] = teacher[row, row + 1] = -1000.0
    s, t = torch.log_softmax(student, -1), torch.log_softmax(teacher, -1)
    expected = (t.exp() * (t - s)).sum() / 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-9)
    unmasked = topology_kl(features[1:], features, old[1:], old, tau=0.1)
    assert unmasked.item() != pytest.approx(loss.item(), rel=1e-3)


def test_queue_is_newest_first_and_bounded():
    queue = torch.zeros(0, 2)
    queue = enqueue(queue, torch.tensor([[1.0, 1.0], [2.0, 2.0]]), size=3)
    queue = enqueue(queue, torch.tensor([[3.0, 3.0], [4.0, 4.0]]), size=3)
    assert queue[:, 0].tolist() == [3.0, 4.0, 1.0]


def test_momentum_contrast_with_an_empty_queue_is_batch_cross_entropy():
    image, text = _unit([[1, 0], [0, 1]]), _unit([[0.9, 0.1], [0.2, 0.8]])
    empty = torch.zeros(0, 2, dtype=torch.float64)
    loss = momentum_contrast_loss(image, text, image, text, empty, empty, tau=1.0)
    logits = image @ text.t()
    expected = (
        nn.functional.cross_entropy(logits, torch.arange(2)) + nn.functional.cross_entropy(logits.t(), torch.arange(2))
    ) / 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-9)
    queued = momentum_contrast_loss(image, text, image, text, _unit([[1, 0]]), _unit([[1, 0]]), tau=1.0)
    assert queued.item() > loss.item()  # a queue adds negatives
    assert math.isfinite(queued.item())


def test_strategies_are_selected_by_name():
    assert sorted(STRATEGIES) == ["ctp", "er", "jointt", "modx", "seqf"]
    assert build_strategy("jointt").replay == "all" and build_strategy("er").replay == "reservoir"
    assert build_strategy("seqf").has_extra_loss is False and build_strategy("ctp").has_extra_loss is True
    with pytest.raises(ValueError, match="Unknown continual strategy"):
        build_strategy("ewc")
