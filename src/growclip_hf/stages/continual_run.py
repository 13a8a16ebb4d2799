"""The stage loop: for each chunk of the stream, decide growth, train by steps, evaluate, save; resume anywhere.

Every process runs this loop. The growth decision is taken on the main process and broadcast, so all processes
grow identically; checkpoints record the stage, the architecture (model config), the optimizer, the RNG and every
process's data position, so a killed run resumes exactly, across growth boundaries too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from accelerate.utils import broadcast_object_list
from tqdm.auto import tqdm

from ..continual import ContinualStrategy, SequentialFineTuning
from ..continual.base import frozen_copy
from ..faults import kill_point
from ..growth.flops import steps_within_budget, training_flops_per_pair
from ..growth.plan_check import check_growth_plan
from ..growth.policies import GrowthPolicy, StageContext, decision_line
from ..growth.search import heldout_loss
from ..training.batching import batch_to
from ..training.checkpointing import (
    CHECKPOINT_PREFIX,
    latest_checkpoint,
    load_checkpoint_state,
    save_checkpoint,
)
from ..training.config import TrainingConfig
from ..training.freed_memory import release_freed_memory
from ..training.optimizer_spill import spilled_optimizer_state
from ..training.proxy import ProxyTrainer
from ..training.trainer import StreamTrainer
from .learning_curve import CURVE_POINTS, reading_flops, reading_steps

SEARCH_PROXY_BATCHES, SEARCH_HELDOUT_PAIRS = 4, 256


def search_inputs(
    plan, stage: int, batch_size: int, seed: int, device, proxy_batch_size: int | None = None
) -> tuple[list[dict], dict]:
    """The growth search's proxy batches and held-out batch, on ``device``: the stream hands out CPU tensors, while
    the candidates live on the accelerator's device (on a GPU, mixing the two crashed the search).

    Proxy batches hold ``proxy_batch_size`` pairs (default ``batch_size``); smaller ones are more of them, so the
    search reads at least as many proxy pairs as ``SEARCH_PROXY_BATCHES`` training batches hold.
    """
    size = proxy_batch_size or batch_size
    count = max(SEARCH_PROXY_BATCHES, math.ceil(SEARCH_PROXY_BATCHES * batch_size / size))
    proxy, heldout = plan.search_data(stage, size, count, SEARCH_HELDOUT_PAIRS, seed)
    return [batch_to(batch, device) for batch in proxy], batch_to(heldout, device)


SEARCH_SPILL = ".search-optimizer-state"  # OUT/ folder holding the model's optimizer state during a search
SEARCH_WEIGHTS = ".search-weights"  # OUT/ folder holding the model's weights while a candidate trains
STAGE_INFO = "stage_info.json"  # what the stage saw: samples, compute, architecture (read by the evaluation)


class StagePlan(Protocol):
    """The chunks of a stream, as the loop needs them."""

    num_stages: int

    def train_pairs(self, stage: int) -> int: ...

    def loader(self, stage: int, rank: int, world_size: int, batch_size: int, seed: int): ...

    def search_data(self, stage: int, batch_size: int, num_batches: int, heldout_pairs: int, seed: int): ...


@dataclass
class RunState:
    stage: int = 0
    step_in_stage: int = 0
    global_step: int = 0
    samples_seen: int = 0
    grown_for_stage: int = 0
    stage_complete: bool = False
    train_flops: float = 0.0
    search_flops: float = 0.0
    stage_search_flops: float = 0.0  # this stage's search: spent out of its budget under training.flops_per_stage
    strategy_task: int = -1
    base_params: int = 0  # the budget's unit (first stage's model and data), fixed for the whole run
    base_samples: int = 0
    stage_losses: list = field(default_factory=list)  # this stage's training loss per step (the growth trigger)
    previous_stage_losses: list = field(default_factory=list)
    stage_curve: list = field(default_factory=list)  # [cumulative train FLOPs, held-out loss] (slope trigger)
    previous_stage_curve: list = field(default_factory=list)


class ContinualRun:
    """Train ``model`` over ``plan``'s chunks with ``policy`` deciding growth between chunks."""

    def __init__(
        self,
        config: TrainingConfig,
        model,
        processor,
        plan: StagePlan,
        policy: GrowthPolicy,
        evaluate: Callable | None = None,
        accelerator=None,
        strategy: ContinualStrategy | None = None,
        publish: Callable | None = None,
    ):
        check_growth_plan(policy, model.config)  # before anything trains: a bad target stops the run here
        self.config = config
        self.strategy = strategy or SequentialFineTuning()
        self.publish = publish  # publish(stage, folder) on the main process after each stage is saved
        self.processor = processor
        self.plan = plan
        self.policy = policy
        self.evaluate = evaluate
        self.output_dir = Path(config.output_dir)
        self.checkpoint_dir = self.output_dir / "checkpoints"
        self.trainer = StreamTrainer(config, model, accelerator=accelerator)
        self.accelerator = self.trainer.accelerator
        self.state = RunState()
        self.loader = None
        self._pending_loader_state = None
        self.stage_results: list[dict] = []
        self._curve_heldout: tuple[int, dict] | None = None

    # -- bookkeeping ---------------------------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def global_batch(self) -> int:
        return self.config.batch_size * self.config.accumulation_steps * self.accelerator.num_processes

    def stage_steps(self, stage: int) -> int:
        """Steps of ``stage``: fixed, or what its FLOP budget buys for the current model after the search, or passes."""
        budget = self.config.stage_flops(stage)
        if budget:
            model_config = self.trainer.unwrapped_model.config
            spent = self.state.stage_search_flops
            if self._reads_curve(stage):
                spent += reading_flops(model_config, SEARCH_HELDOUT_PAIRS, CURVE_POINTS)
            return steps_within_budget(budget, self.global_batch(), model_config, spent=spent)
        if self.config.steps_per_stage:
            return int(self.config.steps_per_stage)
        return max(1, math.ceil(self.plan.train_pairs(stage) * self.config.epochs_per_stage / self.global_batch()))

    def _log(self, record: dict, file: str = "train_log.jsonl") -> None:
        if self.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with open(self.output_dir / file, "a") as handle:
                handle.write(json.dumps(record) + "\n")

    def _checkpoint(self) -> None:
        state = {"run": dataclasses.asdict(self.state), "stage_results": self.stage_results}
        state["rank_state"] = {"loader": self.loader.state_dict() if self.loader is not None else None}
        config = self.trainer.unwrapped_model.config.to_dict()
        save_checkpoint(
            self.accelerator,
            self.checkpoint_dir,
            self.state.global_step,
            state,
            config,
            self.config.keep_last_checkpoints,
            write_extra=lambda folder: self.strategy.save(folder / "strategy"),
        )

    # -- resume --------------------------------------------------------------------------------------------------
    def resume(self, model_class) -> bool:
        """Restore the newest complete checkpoint (architecture first, then weights/optimizer/RNG, then data)."""
        folder = latest_checkpoint(self.checkpoint_dir)
        if folder is None:
            return False
        state, config_dict, rank_state = load_checkpoint_state(folder, self.accelerator.process_index)
        current = self.trainer.unwrapped_model
        config = type(current.config).from_dict(config_dict)
        model = model_class(config)
        from ..training.optimization import optimizer_for

        optimizer = optimizer_for(model, self.config)
        self.trainer.install(model, optimizer)
        self.accelerator.load_state(str(folder))
        self.state = RunState(**state["run"])
        if self.state.strategy_task >= 0:
            self.strategy.load(folder / "strategy", model_class, self.accelerator.device)
        self.stage_results = state.get("stage_results", [])
        self._pending_loader_state = (rank_state or {}).get("loader")
        if self.is_main:
            number = int(folder.name.removeprefix(CHECKPOINT_PREFIX))
            print(f"resumed from checkpoint {number} (stage {self.state.stage}, step {self.state.step_in_stage})")
        return True

    # -- the loop ------------------------------------------------------------------------------------------------
    def run(self) -> list[dict]:
        if self.accelerator.log_with:
            flat = {k: v for k, v in self.config.to_dict().items() if isinstance(v, (int, float, str, bool))}
            self.accelerator.init_trackers("growclip", config=flat)
        try:
            return self._run_stages()
        finally:
            # Not accelerator.end_training(): it also destroys the process group, which the report still needs.
            for tracker in self.accelerator.trackers:
                tracker.finish()

    def _run_stages(self) -> list[dict]:
        if not self.state.base_params:
            self.state.base_params = sum(p.numel() for p in self.trainer.unwrapped_model.parameters())
            self.state.base_samples = self.plan.train_pairs(0)
        self.policy.record_base(self.state.base_params, self.state.base_samples)
        while self.state.stage < self.plan.num_stages:
            stage = self.state.stage
            if stage > 0 and self.state.grown_for_stage < stage:
                self._grow_for(stage)
                release_freed_memory()  # the old model and optimizer are gone now
            if self.state.strategy_task < stage:
                self._start_task(stage, previous=None, target=None)
            self._train_stage(stage)
            self._finish_stage(stage)
        return self.stage_results

    def _start_task(self, stage: int, previous, target) -> None:
        self.strategy.on_task_start(stage, self.trainer.unwrapped_model, previous, target)
        self.state.strategy_task = stage

    def _grow_for(self, stage: int) -> None:
        self.trainer.release_gradients()  # the search and growth hold a candidate beside the model: not its gradients
        peaks = {"before_decision": peak_memory_bytes(self.accelerator.device)}  # which phase sets a run's peak
        model = self.trainer.unwrapped_model
        previous = frozen_copy(model) if self.strategy.needs_previous_model else None
        flops = self.config.stage_flops(stage) or (
            self.stage_steps(stage) * self.global_batch() * training_flops_per_pair(model.config)
        )
        decision = [None]
        if self.is_main:
            context = StageContext(
                stage=stage,
                model=model,
                samples_seen=self.state.samples_seen + self.plan.train_pairs(stage),  # data available for the budget
                stage_flops=flops,
                seed=self.config.seed + stage,
                previous_losses=self.state.previous_stage_losses,
                previous_curve=self.state.previous_stage_curve,
            )
            parked = contextlib.nullcontext()
            if self.policy.needs_search_data() and self.policy.trigger_reading(context)["fire"]:
                proxy_batches, context.heldout = search_inputs(
                    self.plan,
                    stage,
                    self.config.batch_size,
                    self.config.seed + stage,
                    self.accelerator.device,
                    self.policy.proxy_batch_size,
                )
                proxy = ProxyTrainer(
                    model,
                    self.trainer.optimizer,
                    proxy_batches,
                    self.config.learning_rate,
                    park_dir=self.output_dir / SEARCH_WEIGHTS,
                )
                context.train_candidate, context.pairs_per_step = proxy, proxy.pairs_per_step
                parked = spilled_optimizer_state(self.trainer.optimizer, self.output_dir / SEARCH_SPILL)
            started = time.perf_counter()
            with parked:  # the model's AdamW state on disk while candidates train beside it
                decision[0] = self.policy.decide(context)
            decision[0]["decision_seconds"] = round(time.perf_counter() - started, 3)
            print(decision_line(decision[0], self.policy.search.max_search_fraction), flush=True)
        if self.accelerator.num_processes > 1:
            broadcast_object_list(decision, from_process=0)
        record = decision[0]
        target = record.get("target")
        peaks["after_decision"] = peak_memory_bytes(self.accelerator.device)
        release_freed_memory()  # the candidates are gone: their pages go back before the grown model allocates
        if target:
            self.trainer.grow(
                target,
                init=self.policy.search.init,
                momentum=self.policy.search.momentum,
                seed=self.config.seed + 1000 + stage,
            )
            history = self.trainer.unwrapped_model.config.growth_history
            history[-1].update(
                stage=stage, policy=record["policy"], choice=record.get("choice"), samples_seen=self.state.samples_seen
            )
        self._check_processes_agree()
        peaks["after_growth"] = peak_memory_bytes(self.accelerator.device)
        record["peak_memory_bytes"] = peaks
        self.state.stage_search_flops = record.get("search", {}).get("search_flops", 0.0)
        self.state.search_flops += self.state.stage_search_flops
        self.state.grown_for_stage = stage
        self._start_task(stage, previous, target)
        params = sum(p.numel() for p in self.trainer.unwrapped_model.parameters())
        record.update(samples_available=record.pop("samples_seen"), samples_seen=self.state.samples_seen)
        self._log({**record, "params_after": params}, file="growth_log.jsonl")
        self._checkpoint()

    def _check_processes_agree(self) -> None:
        """After growth every process must hold the same weights; a mismatch would silently corrupt DDP."""
        if self.accelerator.num_processes == 1:
            return
        model = self.trainer.unwrapped_model
        with torch.no_grad():
            checksum = sum(p.double().sum() for p in model.parameters())
        gathered = self.accelerator.gather(checksum.reshape(1).to(self.accelerator.device))
        if not torch.all(gathered == gathered[0]):
            raise RuntimeError(f"Processes disagree on the grown weights (checksums {gathered.tolist()}).")

    def _open_loader(self, stage: int):
        """This process's endless stream of full micro-batches for ``stage``, at the resumed position if any."""
        self.loader = self.plan.loader(
            stage,
            self.accelerator.process_index,
            self.accelerator.num_processes,
            self.config.batch_size,
            self.config.seed + stage,
        )
        if self._pending_loader_state is not None:
            self.loader.load_state_dict(self._pending_loader_state)
            self._pending_loader_state = None

    def _train_stage(self, stage: int) -> None:
        if self.state.stage_complete:
            return
        steps = self.stage_steps(stage)
        self._open_loader(stage)
        progress = tqdm(
            total=steps, initial=self.state.step_in_stage, desc=f"stage {stage}", disable=not self.is_main, leave=False
        )
        flops_per_pair = training_flops_per_pair(self.trainer.unwrapped_model.config)
        curve_steps = set(reading_steps(steps, self.config)) if self._reads_curve(stage) else set()
        window_start, window_pairs = time.perf_counter(), 0
        while self.state.step_in_stage < steps:
            micro_batches = [next(self.loader) for _ in range(self.config.accumulation_steps)]
            kill_point("stream")
            lr = self.trainer.learning_rate(self.state.step_in_stage, steps)
            extra = self.strategy.extra_loss if self.strategy.has_extra_loss else None
            loss = self.trainer.step(micro_batches, lr, extra_loss=extra)
            self.strategy.after_step(self.trainer.unwrapped_model)
            self.state.stage_losses.append(round(float(loss), 6))
            pairs = sum(b["input_ids"].shape[0] for b in micro_batches) * self.accelerator.num_processes
            self.state.step_in_stage += 1
            self.state.global_step += 1
            self.state.samples_seen += pairs
            self.state.train_flops += pairs * flops_per_pair
            window_pairs += pairs
            if self.state.step_in_stage - 1 in curve_steps:
                self._read_curve(stage)
            progress.update(1)
            if self.state.global_step % self.config.log_every == 0 or self.state.step_in_stage == steps:
                rate = window_pairs / max(time.perf_counter() - window_start, 1e-9)
                progress.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", samples_s=f"{rate:.0f}")
                metrics = {"train/loss": loss, "train/lr": lr, "train/samples_per_s": rate, "stage": stage}
                self.accelerator.log(metrics, step=self.state.global_step)
                self._log(
                    {
                        "stage": stage,
                        "step": self.state.global_step,
                        "loss": loss,
                        "lr": lr,
                        "samples_per_s": rate,
                        "samples_seen": self.state.samples_seen,
                        "peak_memory_bytes": peak_memory_bytes(self.accelerator.device),  # search included
                    }
                )
                window_start, window_pairs = time.perf_counter(), 0
            if self.state.global_step % self.config.checkpoint_every == 0 and self.state.step_in_stage < steps:
                self._checkpoint()
        progress.close()

    def _reads_curve(self, stage: int) -> bool:
        """The slope trigger reads a learning curve in every stage whose next boundary a data-driven policy decides."""
        policy = self.policy
        return policy.trigger.name == "slope" and policy.name in ("auto", "random") and stage < self.plan.num_stages - 1

    def _read_curve(self, stage: int) -> None:
        """One point of the learning curve: the held-out loss of the stage's new chunk at the compute spent so far."""
        model = self.trainer.unwrapped_model
        self.state.search_flops += reading_flops(model.config, SEARCH_HELDOUT_PAIRS, 1)
        if not self.is_main:
            return
        if self._curve_heldout is None or self._curve_heldout[0] != stage:
            seed = self.config.seed + stage  # the held-out pairs the search of this chunk scores on
            _, heldout = self.plan.search_data(stage, self.config.batch_size, 0, SEARCH_HELDOUT_PAIRS, seed)
            self._curve_heldout = (stage, batch_to(heldout, self.accelerator.device))
        loss = heldout_loss(model, self._curve_heldout[1])
        model.train()
        self.state.stage_curve.append([self.state.train_flops, round(loss, 6)])

    def _finish_stage(self, stage: int) -> None:
        model = self.trainer.unwrapped_model
        if not self.state.stage_complete:
            self.strategy.on_task_end(stage, model)
            self.state.stage_complete = True
            self.loader = None
            result = {
                "stage": stage,
                "parameters": sum(p.numel() for p in model.parameters()),
                "samples_seen": self.state.samples_seen,
                "train_flops": self.state.train_flops,
                "search_flops": self.state.search_flops,
                "architecture": _architecture(model.config),
            }
            if self.evaluate is not None:
                model.eval()
                with torch.no_grad():
                    result["metrics"] = self.evaluate(model, self.processor, stage)
                model.train()
            self.stage_results.append(result)
            self._save_stage(stage)
            self._log(result, file="stages.jsonl")
            self._checkpoint()
        self.state = dataclasses.replace(
            self.state,
            stage=stage + 1,
            step_in_stage=0,
            stage_complete=False,
            stage_search_flops=0.0,
            stage_losses=[],
            previous_stage_losses=self.state.stage_losses,
            stage_curve=[],
            previous_stage_curve=self.state.stage_curve,
        )

    def _save_stage(self, stage: int) -> None:
        folder = self.output_dir / f"stage-{stage}"
        if self.is_main:
            self.trainer.unwrapped_model.save_pretrained(folder)
            if self.processor is not None:
                self.processor.save_pretrained(folder)
            (folder / STAGE_INFO).write_text(json.dumps(self.stage_results[-1], indent=2))
            if self.publish is not None:
                self._log({"stage": stage, **self.publish(stage, folder)}, file="publish_log.jsonl")
        self.accelerator.wait_for_everyone()


def peak_memory_bytes(device) -> int | None:
    """This process's peak so far: accelerator memory on a GPU, resident memory on the CPU (None where unknown)."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        import resource
    except ImportError:  # not on Unix
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def _architecture(config) -> str:
    def tower(sub) -> str:
        return f"{sub.num_hidden_layers}x{sub.hidden_size}/{sub.num_attention_heads}h/{sub.intermediate_size}"

    shared = config.shared_config
    text = f"V {tower(config.vision_config)}, T {tower(config.text_config)}"
    if shared.num_hidden_layers:
        text += f", S {tower(shared)}"
    return text + f", P {config.projection_dim}"
