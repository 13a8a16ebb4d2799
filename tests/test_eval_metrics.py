"""Metric functions on small hand-computed cases: ties, several captions per image, fewer than 5 classes."""

import math

import evaluate
import pytest
import torch

from growclip_hf.evaluation import (
    backward_transfer,
    best_positive_ranks,
    continual_summary,
    final_average,
    forgetting,
    retrieval_metrics,
    spatial_disorder,
    true_class_ranks,
    zeroshot_metrics,
)
from growclip_hf.evaluation.recall_metric import RANK_RECALL_MODULE
from growclip_hf.evaluation.zeroshot import fill_template


def test_true_class_rank_counts_ties_against_the_model():
    logits = torch.tensor([[1.0, 1.0, 0.0], [0.5, 0.2, 0.9], [3.0, 2.0, 1.0]])
    labels = torch.tensor([0, 2, 2])
    assert true_class_ranks(logits, labels).tolist() == [1, 0, 2]


def test_zeroshot_with_fewer_than_five_classes_has_no_top5_and_balanced_recall():
    # Predictions: 0, 0, 0 (all right for class 0) and 0 for the class-1 image (wrong).
    logits = torch.tensor([[2.0, 1.0, 0.0], [2.0, 0.0, 1.0], [1.0, 0.5, 0.0], [1.0, 0.9, 0.0]])
    metrics = zeroshot_metrics(logits, torch.tensor([0, 0, 0, 1]))
    assert metrics["top1"] == pytest.approx(75.0)
    assert metrics["mean_per_class_recall"] == pytest.approx(50.0)  # class 0: 3/3, class 1: 0/1
    assert metrics["top5"] is None
    assert metrics["num_classes"] == 3


def test_zeroshot_top5_hit_at_fifth_place_miss_at_sixth():
    scores = torch.tensor([[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]]).repeat(2, 1)
    metrics = zeroshot_metrics(scores, torch.tensor([4, 5]))
    assert metrics["top1"] == 0.0
    assert metrics["top5"] == pytest.approx(50.0)


def test_zeroshot_tie_for_first_place_is_a_miss():
    metrics = zeroshot_metrics(torch.tensor([[1.0, 1.0], [0.0, 1.0]]), torch.tensor([0, 1]))
    assert metrics["top1"] == pytest.approx(50.0)


def test_zeroshot_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match="Labels"):
        zeroshot_metrics(torch.zeros(2, 3), torch.tensor([0, 3]))


def test_fill_template_accepts_both_placeholder_styles():
    assert fill_template("a photo of a {}.", "cat") == "a photo of a cat."
    assert fill_template("a photo of a {c}.", "cat") == "a photo of a cat."


def test_best_positive_rank_ignores_other_positives_and_counts_tied_negatives():
    scores = torch.tensor([[0.9, 0.8, 0.95, 0.1], [0.5, 0.5, 0.2, 0.1]])
    positives = torch.tensor([[True, True, False, False], [True, False, False, False]])
    # Row 0: best positive 0.9, one negative (0.95) above it. Row 1: a negative ties the positive at 0.5.
    assert best_positive_ranks(scores, positives).tolist() == [1, 1]


def test_retrieval_with_two_captions_for_one_image_and_a_tie():
    e1, e2 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    images = torch.stack([e1, e2])
    captions = torch.stack([e2, e1, e2])  # captions 0 and 1 describe image 0, caption 2 image 1
    metrics = retrieval_metrics(images, captions, torch.tensor([0, 0, 1]))
    # image 0: caption 1 is first (hit); image 1: caption 2 ties with caption 0, a negative (miss at 1, hit at 5).
    assert (metrics["i2t_R@1"], metrics["i2t_R@5"], metrics["i2t_R@10"]) == pytest.approx((50.0, 100.0, 100.0))
    # caption 0 ranks image 1 first (miss); captions 1 and 2 find their image first.
    assert metrics["t2i_R@1"] == pytest.approx(200 / 3)
    assert metrics["t2i_R@5"] == pytest.approx(100.0)
    assert metrics["Rm"] == pytest.approx((50 + 100 + 100 + 200 / 3 + 100 + 100) / 6)
    assert (metrics["num_images"], metrics["num_captions"]) == (2, 3)


def test_retrieval_of_identical_embeddings_scores_nothing_at_one():
    metrics = retrieval_metrics(torch.ones(3, 4), torch.ones(3, 4), torch.tensor([0, 1, 2]))
    assert metrics["i2t_R@1"] == 0.0 and metrics["t2i_R@1"] == 0.0
    assert metrics["i2t_R@5"] == 100.0  # only 2 negatives, so every positive is within the top 5


def test_retrieval_needs_a_positive_image_for_every_caption():
    with pytest.raises(ValueError):
        retrieval_metrics(torch.eye(2), torch.eye(3), torch.tensor([0, 1]))


def test_rank_recall_metric_module_loads_offline_with_evaluate():
    metric = evaluate.load(str(RANK_RECALL_MODULE))
    result = metric.compute(predictions=[0, 0, 0, 2], references=[0, 0, 0, 1], ks=[1, 5])
    assert result == pytest.approx({"recall@1": 75.0, "recall@5": 100.0, "mean_group_recall": 50.0})


RESULTS = [[80.0, 10.0, 5.0], [60.0, 70.0, 20.0], [50.0, 65.0, 90.0]]


def test_continual_summaries_of_a_hand_computed_matrix():
    assert final_average(RESULTS) == pytest.approx((50 + 65 + 90) / 3)
    assert forgetting(RESULTS) == pytest.approx(((80 - 50) + (70 - 65)) / 2)
    assert backward_transfer(RESULTS) == pytest.approx(((50 - 80) + (65 - 70)) / 2)


def test_continual_summary_with_fewer_stages_than_tasks_uses_the_tasks_seen():
    summary = continual_summary(RESULTS[:2])  # 2 stages, 3 tasks: only tasks 0 and 1 are seen
    assert summary["final_average"] == pytest.approx((60 + 70) / 2)
    assert summary["forgetting"] == pytest.approx(80 - 60)
    assert summary["backward_transfer"] == pytest.approx(60 - 80)


def test_continual_metrics_of_a_single_checkpoint_are_undefined():
    assert forgetting([[50.0, 60.0]]) is None and backward_transfer([[50.0, 60.0]]) is None


def _rotate(embeddings: torch.Tensor, degrees: float) -> torch.Tensor:
    angle = math.radians(degrees)
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return embeddings @ rotation.t()


def test_rigid_rotation_of_one_modality_is_rotation_without_topology_change():
    images = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]), dim=-1)
    texts = torch.nn.functional.normalize(torch.tensor([[1.0, 1.0], [-1.0, 2.0], [2.0, -1.0]]), dim=-1)
    result = spatial_disorder(images, texts, _rotate(images, 30.0), texts)
    assert result["image_rotation_deg"] == pytest.approx(30.0, abs=1e-4)
    assert result["text_rotation_deg"] == pytest.approx(0.0, abs=1e-4)
    assert result["image_topology_change_deg"] == pytest.approx(0.0, abs=1e-4)
    assert result["intermodal_deviation_deg"] == pytest.approx(30.0, abs=1e-4)


def test_topology_change_and_zero_padding_of_a_smaller_checkpoint():
    before = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    after = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])  # wider checkpoint; second sample moved by 45 degrees
    result = spatial_disorder(before, before, after, after)
    assert result["image_rotation_deg"] == pytest.approx(22.5, abs=1e-4)  # mean of 0 and 45
    assert result["image_topology_change_deg"] == pytest.approx(45.0, abs=1e-4)  # the pair went from 90 to 45
    assert result["intermodal_deviation_deg"] == pytest.approx(0.0, abs=1e-4)
