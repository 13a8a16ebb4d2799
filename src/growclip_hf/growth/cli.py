"""``growclip-hf grow MODEL_DIR --target JSON --output-dir OUT``: grow a saved model once."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _load_target(value: str) -> dict:
    path = Path(value)
    text = path.read_text() if path.suffix == ".json" and path.is_file() else value
    try:
        target = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(
            f"growclip-hf grow: --target must be JSON (or a .json file), e.g. "
            f'\'{{"vision_config": {{"num_hidden_layers": 6}}}}\'; could not parse it: {error}'
        ) from None
    if not isinstance(target, dict):
        raise SystemExit("growclip-hf grow: --target must be a JSON object in the nested shape of GrowCLIPConfig.")
    return target


def run_grow(args: argparse.Namespace) -> int:
    from transformers import AutoProcessor

    from ..models.growclip import GrowCLIPModel

    source = Path(args.model)
    if not (source / "config.json").is_file():
        raise SystemExit(f"growclip-hf grow: {source} has no config.json; pass a folder saved with save_pretrained.")
    model = GrowCLIPModel.from_pretrained(source)
    try:
        grown = model.grow(_load_target(args.target), init=args.init, momentum=args.momentum, seed=args.seed)
    except ValueError as error:
        raise SystemExit(f"growclip-hf grow: {error}") from None
    grown.save_pretrained(args.output_dir)
    if (source / "processor_config.json").is_file():
        AutoProcessor.from_pretrained(source).save_pretrained(args.output_dir)
    entry = grown.config.growth_history[-1]
    print(json.dumps({k: entry[k] for k in ("changes", "init", "params_before", "params_after")}, indent=2))
    return 0


def add_grow_command(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "grow",
        help="Grow a saved model once (depth, width, heads, MLP, projection, shared encoder).",
        description="Grow a saved GrowCLIP model into a larger one and save it (processor copied along).",
    )
    parser.add_argument("model", help="Folder saved with save_pretrained (a stage of a run, for example).")
    parser.add_argument(
        "--target",
        required=True,
        help='Partial nested config as JSON or a .json file, e.g. \'{"vision_config": {"num_hidden_layers": 6}}\'.',
    )
    parser.add_argument("--init", choices=("preserve", "pim", "random"), default="preserve")
    parser.add_argument("--momentum", type=float, default=0.5, help="PIM momentum m in [0, 1].")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", required=True, help="Where the grown model is saved.")
    parser.set_defaults(handler=run_grow)
    return parser
