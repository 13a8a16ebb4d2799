"""``growclip-hf run`` (the main job on the embedded stream) and ``growclip-hf train`` (a config file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.sources import MissingColumnError
from ..growth.policies import POLICIES
from ..training.config import read_settings_file
from .launch import apply_overrides, build_run, make_accelerator
from .presets import PRESETS, preset
from .pretrained import PretrainedError
from .settings_check import SettingsError, check_settings
from .stream_plan import StreamConfigError

# Raised before training starts: the user gets the message in one line, without a traceback.
SETUP_ERRORS = (StreamConfigError, PretrainedError, MissingColumnError, SettingsError)


def _read_settings(path: str) -> dict:
    try:
        settings = read_settings_file(path)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"growclip-hf train: {error}") from None
    if not isinstance(settings, dict):
        raise SystemExit(f"growclip-hf train: {path} must hold a mapping of sections, e.g. `training: {{...}}`.")
    return settings


def _overridden(command: str, settings: dict, overrides: list[str]) -> dict:
    try:
        settings = apply_overrides(settings, overrides)
        check_settings(settings)
    except ValueError as error:
        raise SystemExit(f"growclip-hf {command}: {error}") from None
    return settings


def _train_and_report(settings: dict, output_dir: Path, resume: bool, accelerator, args) -> None:
    publish = None
    if getattr(args, "push_to", None):
        from .publishing import stage_publisher

        publish = stage_publisher(args.push_to, args.hub_endpoint, output_dir)
    try:
        run = build_run(
            settings,
            output_dir,
            resume=resume,
            accelerator=accelerator,
            publish=publish,
            allow_changes=tuple(args.allow_change or ()),
        )
    except SETUP_ERRORS as error:
        raise SystemExit(f"growclip-hf {args.command}: {error}") from None
    run.run()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process and getattr(args, "report", True):
        from .run_report import write_run_report

        report, table = write_run_report(output_dir, run.eval_manifest)
        print(f"\n{table}\n\nReport: {report}")
        if publish is None and getattr(args, "local_hub", False):
            from .publishing import LOCAL_REPO_ID, publish_to_local_hub

            root, pushed = publish_to_local_hub(output_dir)
            print(
                f"Published {len(pushed)} stages as revisions of {LOCAL_REPO_ID} to the local Hub in {root} "
                f"(serve it with: growclip-hf hub serve --root {root})."
            )
    accelerator.wait_for_everyone()
    accelerator.end_training()


def run_main_job(args: argparse.Namespace) -> int:
    settings = preset(args.scale)
    output_dir = Path(args.output_dir)
    data_dir = Path(args.data_dir) if args.data_dir else output_dir / "data"
    settings["training"]["seed"] = args.seed
    if args.policy:
        settings["growth"]["policy"] = args.policy
    if args.stages:
        settings["data"]["max_stages"] = args.stages
    if args.strategy:
        settings.setdefault("continual", {})["strategy"] = args.strategy
    settings = _overridden("run", settings, args.set or [])
    accelerator = make_accelerator(settings, output_dir)
    manifest = data_dir / "manifest.json"
    if accelerator.is_main_process and not manifest.is_file():
        from ..data.benchmark.builder import build_benchmark

        print(f"Building the embedded benchmark ({args.scale}) in {data_dir} ...")
        build_benchmark(data_dir, scale=args.scale, seed=args.data_seed)
    accelerator.wait_for_everyone()
    settings["data"]["manifest"] = str(manifest)
    _train_and_report(settings, output_dir, args.resume, accelerator, args)
    return 0


def run_train(args: argparse.Namespace) -> int:
    settings = _read_settings(args.config)
    for column in ("image_column", "text_column"):
        if getattr(args, column):
            settings.setdefault("data", {})[column] = getattr(args, column)
    settings = _overridden("train", settings, args.set or [])
    data = settings.get("data", {})
    if not any(key in data for key in ("manifest", "chunks", "stream")):
        raise SystemExit(
            "growclip-hf train: the config's data section needs chunks (a list of sources), stream (one source cut "
            "into chunks) or manifest (a benchmark built by growclip-hf data build); see docs/your-clip.md."
        )
    output_dir = Path(args.output_dir or settings.get("training", {}).get("output_dir", "outputs/train"))
    _train_and_report(settings, output_dir, args.resume, make_accelerator(settings, output_dir), args)
    return 0


def run_oracle(args: argparse.Namespace) -> int:
    """Train the Oracle of a run's stage, evaluate it as one model and write OUT/oracle.json (see ``oracle``)."""
    import json
    import shutil

    from .oracle import ORACLE_FILE, last_stage, oracle_compute, oracle_settings, oracle_steps

    run_dir = Path(args.run_dir)
    stage = last_stage(run_dir) if args.stage is None else args.stage
    settings = _overridden("oracle", oracle_settings(run_dir, stage, args.seed), args.set or [])
    if settings["model"].get("pretrained"):
        raise SystemExit(
            "growclip-hf oracle: the run started from a pretrained checkpoint; its Oracle would need "
            "that checkpoint's own pre-training data, which this run does not have."
        )
    output_dir = Path(args.output_dir) if args.output_dir else run_dir / "oracle"
    accelerator = make_accelerator(settings, output_dir)
    if accelerator.is_main_process and (run_dir / "tokenizer").is_dir():
        shutil.copytree(run_dir / "tokenizer", output_dir / "tokenizer", dirs_exist_ok=True)  # the run's vocabulary
    accelerator.wait_for_everyone()
    run = build_run(settings, output_dir, resume=args.resume, accelerator=accelerator)
    run.run()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        record = {"run": str(run_dir), "stage": stage, "seed": settings["training"].get("seed", 0)}
        record.update(
            oracle_compute(
                run_dir,
                run.plan.plan,
                run.trainer.unwrapped_model.config,
                run.global_batch(),
                lambda pairs: oracle_steps(
                    pairs, run.global_batch(), run.config.epochs_per_stage, run.config.steps_per_stage
                ),
            )
        )
        if args.report:
            from .run_report import write_run_report

            report, table = write_run_report(output_dir, run.eval_manifest)
            results = json.loads((output_dir / "eval_results.json").read_text(encoding="utf-8"))
            record["headline"] = results["headline"]
            print(f"\n{table}\n\nReport: {report}")
        (output_dir / ORACLE_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
        ratio = record["run_over_oracle"][-1] if record["run_over_oracle"] else float("nan")
        print(f"Oracle of stage {stage} in {output_dir}; the run's cumulative compute is {ratio:.2f}x the Oracle's.")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--push-to",
        metavar="ORG/NAME",
        default=None,
        help="Publish each stage as a revision of this repository when it ends (token from HF_TOKEN or the login).",
    )
    parser.add_argument("--hub-endpoint", default=None, help="Hub URL for --push-to (default: huggingface.co).")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Continue from the newest checkpoint in --output-dir; the settings must equal the run's record.",
    )
    parser.add_argument(
        "--allow-change",
        action="append",
        metavar="SECTION.KEY",
        help="With --resume: accept this setting differing from the run's record, if it is one that may change "
        "within a run (data.max_stages, training.log_every, training.checkpoint_every, "
        "training.keep_last_checkpoints, training.tracker, evaluation). Repeatable.",
    )
    parser.add_argument(
        "--no-report",
        dest="report",
        action="store_false",
        help="Train only: skip evaluating the stages, report.md and the local Hub (evaluate later: growclip-hf eval).",
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="Override a setting, e.g. --set training.batch_size=32 --set growth.init=pim (repeatable).",
    )


def add_training_commands(subparsers) -> None:
    run = subparsers.add_parser(
        "run",
        help="The main job: build the embedded stream, grow and train over its chunks, evaluate, report.",
        description=(
            "Train a GrowCLIP model over the chunks of the embedded benchmark stream, deciding growth before each "
            "new chunk, and write OUT/stage-{k}/ (loadable with from_pretrained), OUT/growth_log.jsonl and "
            "OUT/report.md. Runs under `accelerate launch` unchanged."
        ),
    )
    run.add_argument("--scale", choices=sorted(PRESETS), default="default", help="Data scale and model preset.")
    run.add_argument("--stages", type=int, default=None, help="Train on the first N chunks only.")
    run.add_argument("--output-dir", default="outputs/run", help="Run folder (checkpoints, stages, report).")
    run.add_argument("--data-dir", default=None, help="Where the benchmark is (built if missing). Default OUT/data.")
    run.add_argument("--policy", choices=POLICIES, default=None, help="Growth policy (default: the preset's).")
    run.add_argument(
        "--strategy",
        choices=("seqf", "jointt", "er", "ctp", "modx"),
        default=None,
        help="Strategy against forgetting (default: the preset's: er at the default scale, seqf at small).",
    )
    run.add_argument("--seed", type=int, default=0, help="Training seed.")
    run.add_argument("--data-seed", type=int, default=0, help="Seed of the benchmark builder.")
    run.add_argument(
        "--no-local-hub",
        dest="local_hub",
        action="store_false",
        help="Do not publish the stages to the local Hub in OUT/hub after the run (done by default).",
    )
    _common(run)
    run.set_defaults(handler=run_main_job)

    train = subparsers.add_parser(
        "train",
        help="Train from a YAML/TOML/JSON config (sections: model, tokenizer, training, growth, data, continual, "
        "evaluation).",
        description="Train over the chunks of CONFIG's data section: a list of sources, one stream cut into chunks, "
        "or a benchmark manifest (see docs/your-clip.md and docs/training.md).",
    )
    train.add_argument("config", help="Config file: .yaml, .yml, .toml or .json.")
    train.add_argument("--output-dir", default=None, help="Overrides training.output_dir.")
    train.add_argument("--image-column", default=None, help="Overrides data.image_column (the sources' image column).")
    train.add_argument("--text-column", default=None, help="Overrides data.text_column (the sources' caption column).")
    _common(train)
    train.set_defaults(handler=run_train)

    oracle = subparsers.add_parser(
        "oracle",
        help="Train a run's Oracle: its final architecture from scratch on every chunk seen up to a stage.",
        description="Train RUN_DIR's final architecture from scratch on chunks 0..K with the run's recipe (TiC-CLIP's "
        "Oracle), evaluate it on the run's suite and write OUT/oracle.json with the cumulative compute of retraining "
        "at every stage beside the run's own (docs/results.md).",
    )
    oracle.add_argument("run_dir", help="A finished `growclip-hf run` / `train` folder.")
    oracle.add_argument("--stage", type=int, default=None, help="Stage K whose data the Oracle sees (default: last).")
    oracle.add_argument("--seed", type=int, default=None, help="Training seed (default: the run's).")
    oracle.add_argument("--output-dir", default=None, help="Default RUN_DIR/oracle.")
    _common(oracle)
    oracle.set_defaults(handler=run_oracle)
