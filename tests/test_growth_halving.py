"""Successive halving over growth candidates: the hard compute bound, the rounds, the keep rule, the console line."""

import copy
import json
import random

import pytest
import torch

from growclip_hf import GrowCLIPModel
from growclip_hf.growth import GrowthPolicy, GrowthSpace, SearchSettings, StageContext
from growclip_hf.growth.halving import KEEP, paired_difference, plan_rounds, run_halving
from growclip_hf.growth.policies import decision_line
from growclip_hf.growth.search import run_search
from growclip_hf.growth.space import Candidate
from growclip_hf.training.proxy import ProxyTrainer

from .helpers import perturb_, pixel_batch, text_batch, tiny_config


def _batch(size: int, seed: int) -> dict:
    return {**text_batch(batch=size, seq_len=10, seed=seed), "pixel_values": pixel_batch(batch=size, seed=seed)}


def _priced(prices: list[float]) -> list[tuple[Candidate, float]]:
    return [(Candidate(KEEP if i == 0 else f"c{i}", {} if i == 0 else {"i": i}), p) for i, p in enumerate(prices)]


@pytest.mark.parametrize("seed", range(20))
def test_the_worst_case_spend_of_every_plan_stays_within_the_bound(seed):
    rng = random.Random(seed)
    prices = [1.0] + [rng.uniform(1.0, 3.0) for _ in range(rng.randint(1, 9))]
    pairs, allowed = rng.choice([16, 64, 128]), rng.uniform(50, 5000)
    plan = plan_rounds(_priced(prices), pairs, allowed)
    names = [c.name for c, _ in plan.kept]
    assert names[0] == KEEP
    worst = 0.0
    for round_ in plan.rounds:  # the dearest candidates that could still be alive in each round
        worst += round_.steps * pairs * sum(sorted((f for _, f in plan.kept), reverse=True)[: round_.survivors])
    assert worst <= allowed * (1 + 1e-12)
    counts = [r.survivors for r in plan.rounds]
    assert counts == sorted(counts, reverse=True) and all(r.steps >= 1 for r in plan.rounds)
    dropped = [f for c, f in _priced(prices) if c.name not in names]
    assert (
        all(d >= max(f for c, f in plan.kept if c.name != KEEP) for d in dropped)
        if dropped and len(names) > 1
        else True
    )


def test_halving_halves_the_growth_candidates_and_keeps_keep_in_every_round():
    plan = plan_rounds(_priced([1.0] * 9), pairs_per_step=8, allowed_flops=10_000)
    assert [r.survivors for r in plan.rounds] == [9, 5, 3, 2]  # keep + 8, 4, 2, 1 growth candidates
    assert plan.rounds[-1].steps > plan.rounds[0].steps  # fewer candidates, longer training


def test_a_budget_too_small_for_one_step_drops_the_dearest_candidates_first():
    plan = plan_rounds(_priced([1.0, 5.0, 2.0, 3.0]), pairs_per_step=1, allowed_flops=4.0)
    assert [c.name for c, _ in plan.kept] == [KEEP, "c2"]
    nothing = plan_rounds(_priced([1.0, 5.0]), pairs_per_step=10, allowed_flops=1.0)
    assert [c.name for c, _ in nothing.kept] == [KEEP] and nothing.rounds == []


def test_paired_difference_has_the_standard_error_of_the_mean_difference():
    reference = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    mean, error = paired_difference(reference - torch.tensor([0.1, 0.3, 0.1, 0.3], dtype=torch.float64), reference)
    assert mean == pytest.approx(-0.2)
    assert error == pytest.approx(0.11547005383792516 / 2)  # sample std of (±0.1 around -0.2) over sqrt(4)


def _setup():
    torch.manual_seed(0)
    model = perturb_(GrowCLIPModel(tiny_config()), seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = [_batch(16, seed) for seed in range(3)]
    return model, optimizer, batches, _batch(32, seed=9)


def test_a_candidate_trained_again_continues_where_it_stopped():
    model, optimizer, batches, _ = _setup()
    trainer = ProxyTrainer(model, optimizer, batches, learning_rate=1e-3)
    in_rounds, at_once = copy.deepcopy(model), copy.deepcopy(model)
    trainer(in_rounds, 2, total_steps=5)
    trainer(in_rounds, 3, total_steps=5)
    ProxyTrainer(model, optimizer, batches, learning_rate=1e-3)(at_once, 5)
    for a, b in zip(in_rounds.parameters(), at_once.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert not torch.equal(next(in_rounds.parameters()), next(model.parameters()))


@pytest.mark.parametrize("margin, expect_keep", [(1e9, True), (-1e9, False)])
def test_run_halving_respects_the_bound_and_the_keep_rule(margin, expect_keep):
    model, optimizer, batches, heldout = _setup()
    candidates = GrowthSpace().candidates(model.config)
    trainer = ProxyTrainer(model, optimizer, batches, learning_rate=1e-3)
    stage_flops = 5e10
    settings = SearchSettings(method="halving", keep_margin=margin, max_search_fraction=0.15, min_proxy_steps=1)
    record = run_halving(model, candidates, trainer, 16, heldout, stage_flops, settings, seed=0)
    assert 0 < record["search_flops"] <= 0.15 * stage_flops
    rounds = record["rounds"]
    assert len(rounds) >= 2 and all(KEEP in [s["name"] for s in r["scores"]] for r in rounds)
    assert [len(r["scores"]) for r in rounds] == sorted((len(r["scores"]) for r in rounds), reverse=True)
    last = rounds[-1]["scores"]
    best = min((s for s in last if s["name"] != KEEP), key=lambda s: s["heldout_loss"])
    assert record["choice"] == (KEEP if expect_keep else best["name"])
    assert (record["target"] is None) == expect_keep or record["target"] == {}
    line = decision_line({"stage": 2, "policy": "auto", **record, "search": {**record, "search_fraction": 0.1}}, 0.15)
    assert record["choice"] in line and best["name"] in line and "of at most 15%" in line and "±" in line


def test_the_policy_runs_halving_when_asked():
    model, optimizer, batches, heldout = _setup()
    policy = GrowthPolicy(name="auto", search=SearchSettings(method="halving", min_proxy_steps=1))
    policy.record_base(sum(p.numel() for p in model.parameters()), 1000)
    context = StageContext(stage=1, model=model, samples_seen=100_000, stage_flops=5e10, seed=0, heldout=heldout)
    context.train_candidate = ProxyTrainer(model, optimizer, batches, learning_rate=1e-3)
    context.pairs_per_step = 16
    decision = policy.decide(context)
    assert decision["search"]["method"] == "halving" and decision["search"]["search_fraction"] <= 0.15
    assert decision["choice"] == decision["search"]["choice"]


def test_an_unknown_search_method_is_refused():
    with pytest.raises(ValueError, match="growth.method must be one of"):
        SearchSettings(method="bayes")


def test_a_run_with_halving_prints_one_line_per_decision_and_logs_the_rounds(tmp_path):
    from growclip_hf.data.benchmark.builder import build_benchmark

    from .run_helpers import growclip, write_train_config

    build_benchmark(tmp_path / "data", scale="small", seed=0)
    config = write_train_config(tmp_path / "train.yaml", tmp_path / "data" / "manifest.json", tmp_path / "run")
    overrides = ["--set", "growth.policy=auto", "--set", "growth.method=halving", "--set", "growth.min_proxy_steps=1"]
    result = growclip(["train", str(config), "--no-report", *overrides], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    decision = [json.loads(line) for line in (tmp_path / "run" / "growth_log.jsonl").read_text().splitlines()][0]
    search = decision["search"]
    assert search["method"] == "halving" and search["search_fraction"] <= search["search_bound"] == 0.15
    lines = [line for line in result.stdout.splitlines() if line.startswith("growth before stage 1 (auto)")]
    assert len(lines) == 1 and decision["choice"] in lines[0] and "of at most 15%" in lines[0]


@pytest.mark.parametrize("stage_flops", [2e10, 1.0])
def test_every_console_line_of_the_auto_policy_says_why_it_chose(stage_flops):
    model, optimizer, batches, heldout = _setup()
    trainer = ProxyTrainer(model, optimizer, batches, learning_rate=1e-3)
    candidates = GrowthSpace().candidates(model.config)
    for method in ("single", "halving"):
        settings = SearchSettings(method=method, max_search_fraction=0.15, min_proxy_steps=1)
        if method == "single":
            record = run_search(model, candidates, trainer, 16, heldout, stage_flops, settings, seed=0).to_dict()
        else:
            record = run_halving(model, candidates, trainer, 16, heldout, stage_flops, settings, seed=0)
        line = decision_line({"stage": 1, "policy": "auto", "choice": record["choice"], "search": record}, 0.15)
        assert record["reason"] and f"{record['choice']} ({record['reason']})" in line, line
        if stage_flops == 1.0:  # not even one proxy step of a grown candidate fits the 15 % bound
            assert record["choice"] == KEEP and record["reason"] == "no growth candidate fits the compute bound"
            assert "0 steps: ;" not in line


@pytest.mark.parametrize("seed", range(10))
def test_equal_flop_proxies_give_each_candidate_the_same_compute_within_the_bound(seed):
    from growclip_hf.growth.search import plan_proxy_steps

    rng = random.Random(seed)
    priced = _priced([1.0] + [rng.uniform(1.0, 4.0) for _ in range(rng.randint(1, 6))])
    pairs, allowed = rng.choice([16, 128]), rng.uniform(500, 50_000)
    settings = SearchSettings(max_search_fraction=1.0, min_proxy_steps=1, max_proxy_steps=10**6, proxy_compute="flops")
    kept, steps = plan_proxy_steps(priced, pairs, allowed, settings)
    spend = {c.name: steps[c.name] * pairs * f for c, f in kept}
    assert sum(spend.values()) <= allowed * (1 + 1e-12)
    share = allowed / len(kept)
    for candidate, flops in kept:  # every candidate spends its share, short of it by less than one of its steps
        assert share - pairs * flops < spend[candidate.name] <= share
    if len(kept) > 1:
        assert steps[KEEP] >= max(steps.values())  # the cheapest candidate trains the most steps
    same = plan_proxy_steps(priced, pairs, allowed, SearchSettings(max_search_fraction=1.0, min_proxy_steps=1))[1]
    assert len(set(same.values())) == 1  # "steps": one count for all


def test_a_search_with_equal_flop_proxies_records_each_candidates_steps():
    model, optimizer, batches, heldout = _setup()
    trainer = ProxyTrainer(model, optimizer, batches, learning_rate=1e-3)
    candidates = [Candidate(KEEP, {}), Candidate("wide", {"vision_config": {"hidden_size": 64}})]
    settings = SearchSettings(max_search_fraction=0.15, min_proxy_steps=1, max_proxy_steps=50, proxy_compute="flops")
    record = run_search(model, candidates, trainer, 16, heldout, 2e11, settings, seed=0).to_dict()
    steps = {s["name"]: s["proxy_steps"] for s in record["candidates"]}
    flops = {s["name"]: s["flops_per_pair"] for s in record["candidates"]}
    assert steps[KEEP] > steps["wide"] >= 1
    assert abs(steps[KEEP] * flops[KEEP] - steps["wide"] * flops["wide"]) <= flops["wide"]  # equal within a step
    assert record["search_flops"] <= 0.15 * 2e11
    line = decision_line({"stage": 1, "policy": "auto", "choice": record["choice"], "search": record}, 0.15)
    assert "equal-FLOP proxies" in line and f"({steps['wide']} steps)" in line
    with pytest.raises(ValueError, match="proxy_compute=flops needs growth.method=single"):
        SearchSettings(method="halving", proxy_compute="flops")


def test_a_proxy_with_warmup_ramps_each_candidates_rate_over_its_own_planned_steps(monkeypatch):
    model, optimizer, batches, _ = _setup()
    seen = []
    trainer = ProxyTrainer(model, optimizer, batches, learning_rate=1e-3, warmup_share=0.5)
    candidate = copy.deepcopy(model)
    original = torch.optim.AdamW.step

    def record(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", record)
    trainer(candidate, 2, total_steps=8)  # a first round of halving: the ramp spans all 8 planned steps
    trainer(candidate, 6, total_steps=8)
    assert seen == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3])
    with pytest.raises(ValueError, match="warmup_share must be in"):
        ProxyTrainer(model, optimizer, batches, learning_rate=1e-3, warmup_share=1.5)


def test_a_proxy_opens_a_width_growth_ramp_over_its_share_of_the_planned_steps():
    model, optimizer, batches, _ = _setup()
    target = {"vision_config": {"hidden_size": 64, "num_attention_heads": 4}}
    progress = {}
    for share in (1.0, 0.5):
        trainer = ProxyTrainer(model, optimizer, batches, learning_rate=1e-3, ramp_share=share)
        candidate = model.grow(target, init="preserve", seed=0)
        trainer(candidate, 4, total_steps=8)  # half of the planned steps
        progress[share] = candidate.growth_ramp_progress
    assert progress[1.0] == pytest.approx(0.5) and progress[0.5] is None  # the half-share ramp has closed
    with pytest.raises(ValueError, match="ramp_share must be in"):
        ProxyTrainer(model, optimizer, batches, learning_rate=1e-3, ramp_share=0.0)
