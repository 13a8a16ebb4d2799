"""Recall@k (= top-k accuracy) and mean per-group recall@1 from ranks of the correct answer, as an `evaluate` metric.

A local metric module: `evaluate.load(path_to_this_folder)` works offline, unlike the Hub-hosted "accuracy".
Shipped inside growclip_hf so that the numbers can be reproduced with the `evaluate` library alone.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Each prediction is the rank of the correct answer for one query (0 = ranked first; ties already counted against it).
recall@k is the percentage of queries whose rank is below k. mean_group_recall is the mean over reference groups
(e.g. classes) of each group's recall@1: the mean per-class recall (balanced accuracy) of zero-shot classification.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): rank of the correct answer for each query, 0-based.
    references (list of int): group of each query (the true class; all zeros when groups do not matter).
    ks (list of int): the k values, default [1, 5, 10].
Returns:
    dict: "recall@k" for each k and "mean_group_recall", all in percent (0-100).
Example:
    >>> metric = evaluate.load("path/to/rank_recall")
    >>> metric.compute(predictions=[0, 3, 0, 7], references=[0, 0, 1, 1], ks=[1, 5])
    {'recall@1': 50.0, 'recall@5': 75.0, 'mean_group_recall': 50.0}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RankRecall(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, ks=(1, 5, 10)):
        ranks = np.asarray(predictions, dtype=np.int64)
        groups = np.asarray(references, dtype=np.int64)
        if ranks.size == 0:
            raise ValueError("rank_recall needs at least one prediction.")
        if (ranks < 0).any():
            raise ValueError("Ranks must be non-negative.")
        result = {f"recall@{k}": float(100.0 * np.mean(ranks < k)) for k in ks}
        per_group = [np.mean(ranks[groups == group] == 0) for group in np.unique(groups)]
        result["mean_group_recall"] = float(100.0 * np.mean(per_group))
        return result
