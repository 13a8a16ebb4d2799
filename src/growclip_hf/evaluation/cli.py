"""``growclip-hf eval MODEL_OR_RUN_DIR --output-dir OUT [--data MANIFEST]``: evaluate and write the report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .embeddings import DEFAULT_BATCH_SIZE
from .evaluator import DEFAULT_PROBE_SIZE


def default_manifest(source: Path) -> Path | None:
    """A manifest next to the run, if there is one: ``SOURCE/data/manifest.json`` (a ``run`` on the embedded benchmark),
    ``SOURCE/data/eval/manifest.json`` (the held-out pairs of a ``train`` run) or ``SOURCE/manifest.json``."""
    for candidate in (source / "data" / "manifest.json", source / "data" / "eval" / "manifest.json"):
        if candidate.is_file():
            return candidate
    return source / "manifest.json" if (source / "manifest.json").is_file() else None


def run_eval(args: argparse.Namespace) -> int:
    from .evaluator import evaluate_run
    from .report import write_report
    from .suite import load_suite

    source = Path(args.source)
    if not source.exists():
        raise SystemExit(f"growclip-hf eval: {source} does not exist; pass a model folder or a run folder.")
    manifest = Path(args.data) if args.data else default_manifest(source)
    if manifest is None:
        raise SystemExit("growclip-hf eval: no benchmark manifest found next to the run; pass --data MANIFEST.")
    suite = load_suite(
        manifest,
        image_column=args.image_column,
        text_column=args.text_column,
        label_column=args.label_column,
        max_per_split=args.max_per_split,
    )
    results = evaluate_run(source, suite, batch_size=args.batch_size, probe_size=args.probe_size, device=args.device)
    paths = write_report(results, args.output_dir, plots=not args.no_plots)
    print(json.dumps({name: str(path) for name, path in paths.items()}, indent=2))
    print(f"Evaluated {len(results['stages'])} checkpoint(s) in {results['seconds']:.1f} s.")
    return 0


def add_eval_command(subparsers) -> argparse.ArgumentParser:
    """Register ``eval`` on the ``growclip-hf`` sub-command parser."""
    parser = subparsers.add_parser(
        "eval",
        help="Zero-shot, retrieval and continual metrics of a model or of every stage of a run, with plots.",
        description=(
            "Evaluate a model folder or a run folder (stage-*/ models, optional growth_log.jsonl) on a benchmark "
            "manifest; writes eval_results.json, eval_summary.md and PNG plots to --output-dir."
        ),
    )
    parser.add_argument("source", metavar="MODEL_OR_RUN_DIR", help="A saved model folder or a run folder.")
    parser.add_argument("--output-dir", required=True, help="Where the JSON, markdown and plots are written.")
    parser.add_argument("--data", help="Benchmark manifest.json (default: one inside MODEL_OR_RUN_DIR, if any).")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--device", default="cpu", help="Where the models run, e.g. cuda (default: cpu).")
    parser.add_argument("--max-per-split", type=int, help="Evaluate at most this many rows of each split.")
    parser.add_argument("--probe-size", type=int, default=DEFAULT_PROBE_SIZE, help="Pairs in the disorder probe set.")
    parser.add_argument("--image-column", help="Image column (default: the manifest's image_column, else image).")
    parser.add_argument(
        "--text-column", help="Caption column of the test splits (default: captions if present, else the manifest's)."
    )
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--no-plots", action="store_true", help="Skip the PNG plots.")
    parser.set_defaults(handler=run_eval)
    return parser
