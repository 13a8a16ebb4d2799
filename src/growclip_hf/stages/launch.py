"""Build everything a run needs from one settings dict (the config file of ``train``, or a preset of ``run``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from ..continual import build_strategy
from ..growth.policies import GrowthPolicy
from ..growth.search import SearchSettings
from ..growth.space import GrowthSpace
from ..growth.trigger import GrowthTrigger
from ..models.growclip import GrowCLIPConfig, GrowCLIPModel
from ..models.processing import build_processor
from ..models.tokenization import train_tokenizer
from ..training.checkpointing import latest_checkpoint
from ..training.config import TrainingConfig
from ..training.threads import choose_torch_threads
from .continual_run import ContinualRun
from .eval_manifest import write_eval_manifest
from .manifest_plan import ManifestPlan, train_captions
from .oracle import UnionPlan
from .pretrained import context_length, load_pretrained
from .settings_check import GROWTH_KEYS, SECTIONS, check_resume
from .stream_plan import StreamPlan, check_chunk, chunk_sizes, sample_captions, stream_chunks

logger = logging.getLogger(__name__)
RUN_SETTINGS = "run_settings.json"  # the run's record: what --resume compares against


def apply_overrides(settings: dict, overrides: list[str]) -> dict:
    """``section.key=value`` strings (value parsed as JSON when it can be) into the nested settings."""
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"Override {item!r} must look like section.key=value, e.g. training.batch_size=32.")
        path, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        keys = path.split(".")
        if keys[0] not in SECTIONS:
            raise ValueError(f"Override {item!r}: unknown section {keys[0]!r}; use one of {SECTIONS}.")
        node = settings
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return settings


def build_policy(growth: dict) -> GrowthPolicy:
    growth = dict(growth)
    unknown = sorted(set(growth) - GROWTH_KEYS)
    if unknown:
        raise ValueError(f"Unknown growth settings {unknown}; known: {sorted(GROWTH_KEYS)}.")
    search = SearchSettings(
        max_search_fraction=growth.get("max_search_fraction", 0.15),
        min_proxy_steps=growth.get("min_proxy_steps", 2),
        max_proxy_steps=growth.get("max_proxy_steps", 20),
        init=growth.get("init", "preserve"),
        momentum=growth.get("momentum", 0.5),
        method=growth.get("method", "single"),
        keep_margin=growth.get("keep_margin", 1.0),
        proxy_compute=growth.get("proxy_compute", "steps"),
    )
    return GrowthPolicy(
        name=growth.get("policy", "auto"),
        schedule=growth.get("schedule", []),
        space=GrowthSpace(**growth.get("space", {})),
        budget_exponent=growth.get("budget_exponent", 0.5),
        search=search,
        proxy_batch_size=growth.get("proxy_batch_size"),
        pairs_per_parameter=growth.get("pairs_per_parameter", 1.0),
        trigger=GrowthTrigger(
            name=growth.get("trigger", "every"),
            tail=growth.get("plateau_tail", 0.5),
            min_drop=growth.get("plateau_min_drop", 0.03),
            min_gain=growth.get("slope_min_gain", 0.01),
        ),
    )


def make_accelerator(settings: dict, output_dir: str | Path | None = None):
    """The run's one Accelerator; metrics go to an offline tracker (TensorBoard by default) under OUT/tracking."""
    from accelerate import Accelerator

    training = settings.get("training", {})
    tracker = training.get("tracker", "tensorboard")
    project_dir = str(Path(output_dir) / "tracking") if output_dir is not None and tracker else None
    return Accelerator(
        mixed_precision=training.get("mixed_precision", "no"),
        log_with=tracker if project_dir else None,
        project_dir=project_dir,
    )


def build_run(
    settings: dict,
    output_dir: str | Path,
    resume: bool = False,
    evaluate=None,
    accelerator=None,
    publish=None,
    allow_changes: tuple[str, ...] = (),
) -> ContinualRun:
    """Tokenizer, model, processor, stage plan, growth policy and trainer, ready to ``run()``.

    The data is a benchmark manifest (``data.manifest``) or a stream of ``datasets`` sources (``data.chunks`` or
    ``data.stream``, see ``stream_plan``); ``run.eval_manifest`` is what the run report evaluates on. A resumed run's
    settings must equal its record (``OUT/run_settings.json``) but for the resumable ones named in ``allow_changes``.
    """
    output_dir = Path(output_dir)
    settings = {**settings, "training": {**settings.get("training", {}), "output_dir": str(output_dir)}}
    accelerator = accelerator or make_accelerator(settings, output_dir)
    data = dict(settings.get("data", {}))
    manifest = data.pop("manifest", None)
    oracle_stage = data.pop("oracle_stage", None)
    chunks = None if manifest is not None else stream_chunks(data)
    has_checkpoint = latest_checkpoint(output_dir / "checkpoints") is not None
    if has_checkpoint and not resume:
        raise SystemExit(
            f"{output_dir} already holds checkpoints of a run; pass --resume to continue it or choose another "
            "--output-dir (nothing was overwritten)."
        )
    record = output_dir / RUN_SETTINGS
    if resume and has_checkpoint and record.is_file():
        check_resume(json.loads(record.read_text()), settings, allow_changes)  # before anything is written
    training = TrainingConfig.from_dict(settings["training"])
    torch.manual_seed(training.seed)
    if chunks is not None:
        for chunk in chunks:
            check_chunk(chunk)

        def captions(limit: int) -> list[str]:
            return sample_captions(chunks, limit)
    else:

        def captions(limit: int) -> list[str]:
            every = train_captions(manifest)
            return every[:: -(-len(every) // limit)] if limit and len(every) > limit else every

    model, processor = _model_and_processor(settings, captions, output_dir, accelerator)
    strategy = _build_strategy(settings.get("continual", {}), training, accelerator)
    data.setdefault("replay", strategy.replay)
    if strategy.replay == "reservoir":
        data.setdefault("reservoir_size", strategy.buffer_size)
    context = context_length(model, processor.tokenizer)
    if chunks is None:
        plan = ManifestPlan(manifest, processor, seed=training.seed, context_length=context, **data)
        eval_manifest = Path(manifest)
    else:
        plan, eval_manifest = _stream_plan(settings, data, chunks, processor, context, training.seed, output_dir)
    if oracle_stage is not None:
        plan = UnionPlan(plan, int(oracle_stage))
    choose_torch_threads(int(data.get("num_workers", 0)))  # the loader's workers get cores of their own
    policy = build_policy(settings.get("growth", {}))
    run = ContinualRun(
        training,
        model,
        processor,
        plan,
        policy,
        evaluate=evaluate,
        accelerator=accelerator,
        strategy=strategy,
        publish=publish,
    )
    run.eval_manifest = eval_manifest
    if resume and has_checkpoint:
        run.resume(GrowCLIPModel)
    output_dir.mkdir(parents=True, exist_ok=True)
    if run.is_main:
        record.write_text(json.dumps(settings, indent=2, default=str))
    return run


def _stream_plan(settings, data: dict, chunks, processor, context: int, seed: int, output_dir: Path):
    """The plan of a ``data.chunks`` / ``data.stream`` run and its evaluation manifest (the main process writes)."""
    from accelerate import PartialState

    state = PartialState()
    sizes_file, eval_dir = output_dir / "data" / "chunk_sizes.json", output_dir / "data" / "eval"
    if state.is_main_process:
        chunk_sizes(chunks, sizes_file)
        if not (eval_dir / "manifest.json").is_file():
            zeroshot = settings.get("evaluation", {}).get("zeroshot", [])
            write_eval_manifest(chunks, zeroshot, eval_dir, int(data.get("heldout_pairs", 500)))
    state.wait_for_everyone()
    sizes = chunk_sizes(chunks, sizes_file, write=False)  # every process reads what the main one wrote
    options = {
        key: data[key] for key in ("num_workers", "shuffle_buffer", "max_stages", "reservoir_size") if key in data
    }
    plan = StreamPlan(
        chunks, sizes, processor, replay=data.get("replay", "none"), seed=seed, context_length=context, **options
    )
    return plan, eval_dir / "manifest.json"


def _build_strategy(continual: dict, training: TrainingConfig, accelerator):
    """``continual: {strategy: ctp, ...its options}``; Mod-X's alpha follows the global batch by default."""
    options = dict(continual)
    name = options.pop("strategy", "seqf")
    if name == "modx":
        global_batch = training.batch_size * training.accumulation_steps * accelerator.num_processes
        options.setdefault("global_batch_size", global_batch)
    return build_strategy(name, **options)


def _model_and_processor(settings: dict, captions, output_dir: Path, accelerator):
    """The checkpoint's model and processor (``model.pretrained``), or a new model with a tokenizer learnt from a
    bounded sample of the stream's captions (``captions(limit)``)."""
    model_settings = dict(settings.get("model", {}))
    pretrained = model_settings.pop("pretrained", None)
    if pretrained:
        return load_pretrained(pretrained, model_settings.get("revision"), model_settings.get("tokenizer"))
    from transformers import AutoTokenizer

    # One process learns the vocabulary and the others read it (BPE ties may break differently per process);
    # on resume it is read back, so the vocabulary never changes within a run.
    tokenizer_settings = dict(settings.get("tokenizer", {}))
    sample_size = int(tokenizer_settings.pop("sample_size", 50_000))
    tokenizer_dir = output_dir / "tokenizer"
    if accelerator.is_main_process and not (tokenizer_dir / "tokenizer.json").is_file():
        train_tokenizer(captions(sample_size), **tokenizer_settings).save_pretrained(tokenizer_dir)
    accelerator.wait_for_everyone()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    text = {
        **model_settings.get("text_config", {}),
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = GrowCLIPConfig(**{**model_settings, "text_config": text})
    return GrowCLIPModel(config), build_processor(config, tokenizer)
