"""Two real processes (gloo) on 8 + 8 pairs train what one process trains on the 16 pairs, strategy by strategy.

Each process runs one step's forward and backward with the strategy's hooks (rank 1 with feature-cached accumulation
over two micro-batches); the gradients are then averaged over the processes, as DDP does, and compared with the
gradient of one process holding the whole batch. CTP is compared on its global-batch terms (L_ita + L_c + L_s): its
momentum contrast uses each process's own momentum keys plus the shared queue, as the official code does, so it is a
different (documented) objective on several processes; the queue it fills is compared instead.
"""

import os

import pytest
import torch
import torch.multiprocessing as mp

from growclip_hf import GrowCLIPModel
from growclip_hf.continual import build_strategy
from growclip_hf.objective import contrastive_backward, global_contrastive_loss

from .continual_fixtures import BATCH, batch, current_model, old_model, rows, stepped
from .helpers import tiny_config
from .run_helpers import free_port

HALF = BATCH // 2
STRATEGIES = {
    "seqf": {},
    "er": {},
    "jointt": {},
    "ctp": {"momentum_contrast_weight": 0.0, "anchor_weight": 0.3, "queue_size": 24},
    "modx": {"global_batch_size": BATCH},
}
TOLERANCE = 1e-5


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread is as fast, and far faster when other jobs share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _load(folder: str, name: str) -> GrowCLIPModel:
    model = GrowCLIPModel(tiny_config(shared_layers=1))
    model.load_state_dict(torch.load(os.path.join(folder, f"{name}.pt")))
    return model.train()


def _step(folder: str, name: str, micro_batches: list[dict]) -> tuple[dict, object]:
    """One step's gradients of the current model under strategy ``name`` (task 1: the old model is the previous)."""
    model, previous = _load(folder, "current"), _load(folder, "old").eval()
    strategy = build_strategy(name, **STRATEGIES[name])
    strategy.on_task_start(1, model, previous, None)
    strategy.after_step(_load(folder, "stepped"))  # CTP: a momentum model distinct from both
    extra = strategy.extra_loss if strategy.has_extra_loss else None
    contrastive_backward(model, micro_batches, extra_loss=extra)
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return grads, strategy


def _losses(folder: str, micro_batches: list[dict]) -> dict:
    """The contrastive loss by default (global) and with ``gather=False`` (this process's pairs only)."""
    model = _load(folder, "current")
    local = {key: torch.cat([b[key] for b in micro_batches]) for key in micro_batches[0]}
    with torch.no_grad():
        out = model(**local)
    return {
        "default": global_contrastive_loss(out.image_embeds, out.text_embeds, out.logit_scale),
        "local": global_contrastive_loss(out.image_embeds, out.text_embeds, out.logit_scale, gather=False),
        "local_backward": contrastive_backward(model, micro_batches, gather=False),
    }


def _worker(rank: int, port: int, folder: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    local = rows(batch(), rank * HALF, (rank + 1) * HALF)
    micro_batches = [local] if rank == 0 else [rows(local, 0, 4), rows(local, 4, HALF)]
    results = {}
    for name in STRATEGIES:
        grads, strategy = _step(folder, name, micro_batches)
        for grad in grads.values():  # what DDP does: the mean over processes
            dist.all_reduce(grad)
            grad /= 2
        results[name] = grads
        if name == "ctp":
            results["ctp_queues"] = (strategy.queue_image, strategy.queue_text)
    results["losses"] = _losses(folder, micro_batches)
    torch.save(results, os.path.join(folder, f"rank{rank}.pt"))
    dist.destroy_process_group()


def max_relative_difference(grads: dict, expected: dict) -> float:
    """Max over parameters of |g - g_1|_inf / |g_1|_inf. A parameter whose gradient is zero in exact arithmetic (the
    attention key biases: softmax ignores a per-query shift) holds rounding noise, ~1e-8 of the largest gradient; any
    gradient under 1e-6 of the largest is therefore measured against the largest gradient instead."""
    largest = max(g.abs().max().item() for g in expected.values())
    assert set(grads) == set(expected)
    scales = {n: g.abs().max().item() for n, g in expected.items()}
    scales = {n: scale if scale > 1e-6 * largest else largest for n, scale in scales.items()}
    return max((grads[n] - g).abs().max().item() / scales[n] for n, g in expected.items())


def test_two_processes_train_what_one_process_trains_for_every_strategy(tmp_path):
    data = batch()
    torch.manual_seed(0)
    current = current_model(seed=0, shared_layers=1)
    for name, model in {"current": current, "old": old_model(data, 1), "stepped": stepped(current, 9)}.items():
        torch.save(model.state_dict(), tmp_path / f"{name}.pt")
    mp.spawn(_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]
    differences = {}
    for name in STRATEGIES:
        expected, strategy = _step(str(tmp_path), name, [data])
        differences[name] = max(max_relative_difference(result[name], expected) for result in ranks)
        if name == "ctp":
            for result in ranks:  # every process holds the queue one process would: the whole batch's keys
                torch.testing.assert_close(result["ctp_queues"][0], strategy.queue_image, atol=1e-6, rtol=1e-5)
                torch.testing.assert_close(result["ctp_queues"][1], strategy.queue_text, atol=1e-6, rtol=1e-5)
    # by default each process scores its pairs against the whole batch (the mean over processes is the loss of one
    # process holding it); gather=False keeps to its own pairs
    whole = _losses(str(tmp_path), [data])["default"]
    torch.testing.assert_close(sum(result["losses"]["default"] for result in ranks) / 2, whole)
    for rank, result in enumerate(ranks):
        local = _losses(str(tmp_path), [rows(data, rank * HALF, (rank + 1) * HALF)])["local"]
        torch.testing.assert_close(result["losses"]["local"], local)
        torch.testing.assert_close(result["losses"]["local_backward"], local)
        assert not torch.allclose(result["losses"]["default"], local)
    print("max relative gradient difference, 2 processes vs 1:", differences)
    assert all(difference < TOLERANCE for difference in differences.values()), differences
