"""``growclip-hf data check`` and ``growclip-hf data build``: argparse wiring only, the work is in the modules."""

from __future__ import annotations

import argparse
import json
import logging
import sys


def add_data_commands(subparsers) -> None:
    """Register ``data check`` and ``data build`` under the ``growclip-hf`` command."""
    data = subparsers.add_parser("data", help="Check image-text sources; build the embedded benchmark stream.")
    commands = data.add_subparsers(dest="data_command", required=True)

    check = commands.add_parser(
        "check", help="Read a source as the loader would; print counts; last line is JSON {ok, skipped, repaired}."
    )
    check.add_argument("source", help="Hub dataset id, parquet file(s)/folder/glob, .tar shards, or an imagefolder.")
    check.add_argument("--image-column", default="image")
    check.add_argument("--text-column", default="caption")
    check.add_argument("--split", default="train")
    check.add_argument("--max-samples", type=int, default=None, help="Stop after this many rows (default: all).")
    check.add_argument("--max-bad-share", type=float, default=0.05, help="Exit 1 when more than this share is bad.")
    check.add_argument("--max-image-pixels", type=int, default=None, help="Larger images count as 'too_large'.")
    check.add_argument("--processor", default=None, help="A saved model/processor folder: also count long captions.")
    check.set_defaults(handler=_cmd_check)

    build = commands.add_parser("build", help="Build the embedded benchmark stream (parquet + manifest + card).")
    build.add_argument("--scale", choices=("small", "default", "large"), default="default")
    build.add_argument("--out", required=True, help="Output folder.")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--image-size", type=int, default=64, help="Square image side in pixels (default 64).")
    build.set_defaults(handler=_cmd_build)


def _cmd_check(args: argparse.Namespace) -> int:
    from .check import check_source
    from .images import DEFAULT_MAX_IMAGE_PIXELS
    from .sources import MissingColumnError, SourceSpec

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tokenizer = None
    if args.processor:
        from transformers import AutoProcessor

        tokenizer = AutoProcessor.from_pretrained(args.processor).tokenizer
    spec = SourceSpec(args.source, args.image_column, args.text_column, args.split)
    try:
        quality = check_source(
            spec, args.max_samples, args.max_image_pixels or DEFAULT_MAX_IMAGE_PIXELS, tokenizer=tokenizer
        )
    except (MissingColumnError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seen = quality.ok + quality.num_skipped
    print(f"read {seen} rows: {quality.ok} ok, {quality.num_skipped} skipped ({quality.bad_share:.2%})")
    for reason, count in sorted(quality.repaired.items()):
        print(f"repaired {reason}: {count}")
    over = quality.bad_share > args.max_bad_share or seen == 0
    if over:
        print(f"bad share {quality.bad_share:.2%} is over the limit {args.max_bad_share:.2%}", file=sys.stderr)
    summary = quality.to_dict()
    print(json.dumps({"ok": summary["ok"], "skipped": summary["skipped"], "repaired": summary["repaired"]}))
    return 1 if over else 0


def _cmd_build(args: argparse.Namespace) -> int:
    from .benchmark import build_benchmark

    manifest = build_benchmark(args.out, scale=args.scale, seed=args.seed, image_size=args.image_size)
    for chunk in manifest["chunks"]:
        print(f"{chunk['name']}: {chunk['num_train']} train, {chunk['num_test']} test")
    print(f"zero-shot tasks: {', '.join(task['name'] for task in manifest['zeroshot'])}")
    print(json.dumps({"out": str(args.out), "build_seconds": manifest["build_seconds"]}))
    return 0
