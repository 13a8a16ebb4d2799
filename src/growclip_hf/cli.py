"""The ``growclip-hf`` command."""

from __future__ import annotations

import argparse
import os
import sys

from .data.benchmark.assets import MissingExtraError
from .data.cli import add_data_commands
from .demo.cli import add_demo_command
from .evaluation.cli import add_eval_command
from .growth.cli import add_grow_command
from .hub.cli import add_hub_commands
from .stages.cli import add_training_commands


def _offline_defaults() -> None:
    """No network unless the user asks for the Hub: the main job must never phone home."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _cmd_smoke(args: argparse.Namespace) -> int:
    from .stages.smoke import run_smoke

    run_smoke(args.output_dir, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="growclip-hf", description="CLIP models that grow while they learn from a stream of image-text data."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    smoke = commands.add_parser(
        "smoke", help="Build a small model and processor, save, reload and classify an image zero-shot."
    )
    smoke.add_argument("--output-dir", default="outputs/smoke", help="Where the model folder is written.")
    smoke.add_argument("--seed", type=int, default=0)
    smoke.set_defaults(handler=_cmd_smoke)
    add_eval_command(commands)
    add_data_commands(commands)
    add_training_commands(commands)
    add_grow_command(commands)
    add_hub_commands(commands)
    add_demo_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    _offline_defaults()
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except MissingExtraError as error:  # one line that says which pip install to run, not a traceback
        print(f"growclip-hf {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
