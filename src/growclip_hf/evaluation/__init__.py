"""Evaluation: zero-shot classification, retrieval, continual-learning matrices, spatial disorder and reports."""

from .clip_benchmark_adapter import load_growclip, register_with_clip_benchmark
from .continual import backward_transfer, continual_summary, final_average, forgetting
from .disorder import spatial_disorder
from .embeddings import embed_pixels, embed_texts, preprocess_images
from .evaluator import evaluate_run, evaluate_stage
from .ranking import best_positive_ranks, true_class_ranks
from .report import write_report
from .retrieval import retrieval_metrics
from .suite import EvalSuite, load_suite
from .zeroshot import class_embeddings, zeroshot_logits, zeroshot_metrics

__all__ = [
    "EvalSuite",
    "backward_transfer",
    "best_positive_ranks",
    "class_embeddings",
    "continual_summary",
    "embed_pixels",
    "embed_texts",
    "evaluate_run",
    "evaluate_stage",
    "final_average",
    "forgetting",
    "load_growclip",
    "load_suite",
    "preprocess_images",
    "register_with_clip_benchmark",
    "retrieval_metrics",
    "spatial_disorder",
    "true_class_ranks",
    "write_report",
    "zeroshot_logits",
    "zeroshot_metrics",
]
