"""``growclip-hf demo``: serve the Gradio demo of a local run folder, a model folder or a Hub repository's revisions."""

from __future__ import annotations

import argparse


def run_demo(args: argparse.Namespace) -> int:
    from .app import launch_demo
    from .sources import hub_source, local_source

    if args.repo_id:
        source = hub_source(args.repo_id, endpoint=args.endpoint, revision=args.revision, manifest=args.data)
    else:
        source = local_source(args.run_dir, manifest=args.data)
    print(f"growclip-hf demo: stages {', '.join(source.stage_names)} from {source.description}")
    launch_demo(source, host=args.host, port=args.port)
    return 0


def add_demo_command(subparsers) -> argparse.ArgumentParser:
    """Register ``demo`` on the ``growclip-hf`` sub-command parser."""
    parser = subparsers.add_parser(
        "demo",
        help="Serve the Gradio demo (zero-shot, retrieval, two stages side by side, growth plot).",
        description=(
            "Serve spaces_demo's app locally for the stages of a run folder (--run-dir) or the stage-* revisions of "
            "a Hub repository (--repo-id, optionally on a local Hub with --endpoint)."
        ),
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--run-dir", help="A run folder with stage-*/ models (or one model folder).")
    where.add_argument("--repo-id", help="A Hub repository ORG/NAME whose stage-* revisions are shown.")
    parser.add_argument("--endpoint", help="Hub endpoint URL, e.g. a local Hub (default: huggingface.co).")
    parser.add_argument("--revision", help="Show only this revision of --repo-id.")
    parser.add_argument("--data", help="Benchmark manifest.json for examples and the retrieval gallery.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default: loopback).")
    parser.add_argument("--port", type=int, default=None, help="Port (default: Gradio's first free one from 7860).")
    parser.set_defaults(handler=run_demo)
    return parser
