"""``growth.proxy_batch_size``: the search's bound is in FLOPs, so smaller proxy batches score more candidates in it."""

import pytest
import torch

from growclip_hf import GrowCLIPConfig, GrowCLIPModel
from growclip_hf.growth import GrowthPolicy, SearchSettings, StageContext
from growclip_hf.growth.flops import training_flops_per_pair
from growclip_hf.stages.continual_run import search_inputs
from growclip_hf.stages.launch import build_policy
from growclip_hf.stages.manifest_plan import ManifestPlan
from growclip_hf.training.proxy import ProxyTrainer

from .data_helpers import small_benchmark, tiny_processor

BATCH = 32  # the training micro-batch, as in the small preset


def _search(plan, model, proxy_batch_size, stage_flops: float) -> tuple[dict, list[dict], dict]:
    """What the stage loop does at a boundary: read the search's data, then let the auto policy decide."""
    proxy, heldout = search_inputs(plan, 1, BATCH, 0, torch.device("cpu"), proxy_batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    trainer = ProxyTrainer(model, optimizer, proxy, learning_rate=1e-3)
    settings = SearchSettings(method="halving", max_search_fraction=0.15, min_proxy_steps=1)
    policy = GrowthPolicy(name="auto", search=settings, proxy_batch_size=proxy_batch_size)
    policy.record_base(sum(p.numel() for p in model.parameters()), 100)
    context = StageContext(stage=1, model=model, samples_seen=10_000, stage_flops=stage_flops, seed=0, heldout=heldout)
    context.train_candidate, context.pairs_per_step = trainer, trainer.pairs_per_step
    return policy.decide(context)["search"], proxy, heldout


def test_smaller_proxy_batches_score_more_candidates_within_the_same_bound():
    processor = tiny_processor()
    plan = ManifestPlan(small_benchmark() / "manifest.json", processor=processor)
    tower = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 4}
    config = GrowCLIPConfig(
        text_config={**tower, "vocab_size": len(processor.tokenizer), "max_position_embeddings": 16},
        vision_config={**tower, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = GrowCLIPModel(config)
    stage_flops = 12 * BATCH * training_flops_per_pair(config)  # a stage of 12 steps, as the small preset trains
    scored, data = {}, {}
    for proxy_batch_size in (None, 4):
        search, proxy, heldout = _search(plan, model, proxy_batch_size, stage_flops)
        assert search["pairs_per_step"] == (proxy_batch_size or BATCH)
        assert search["search_flops"] <= search["bound_flops"] == pytest.approx(0.15 * stage_flops)
        assert search["search_fraction"] <= 0.15
        rounds = search["rounds"]
        scored[proxy_batch_size] = [s["name"] for s in rounds[0]["scores"] if s["name"] != "keep"] if rounds else []
        data[proxy_batch_size] = (torch.cat([b["pixel_values"] for b in proxy]), heldout["pixel_values"])
    assert scored[None] == []  # steps of 32 pairs: no growth candidate fits beside keep
    assert len(scored[4]) >= 2  # steps of 4 pairs: the same FLOP bound scores several
    # the same proxy pairs (cut into 32 batches of 4 instead of 4 of 32) and the same held-out pairs
    torch.testing.assert_close(data[4][0], data[None][0])
    torch.testing.assert_close(data[4][1], data[None][1])


def test_build_policy_reads_the_proxy_batch_size_and_refuses_a_bad_one():
    assert build_policy({}).proxy_batch_size is None  # default: the training micro-batch
    assert build_policy({"proxy_batch_size": 8}).proxy_batch_size == 8
    with pytest.raises(ValueError, match="growth.proxy_batch_size must be a whole number of pairs"):
        build_policy({"proxy_batch_size": -4})
