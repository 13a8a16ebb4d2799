"""Every strategy's hooks end to end (on_task_start, extra_loss, after_step, save/load) on tiny models.

The current, momentum and old models are all different, the two queues hold different vectors, the anchor weight is
not 1/2, and each loss test also runs as rank 1 of 2 processes (a stand-in for torch.distributed whose gather
prepends rank 0's rows), so a swapped role, a dropped term, a flipped KL or an ignored offset changes a number.
Expected values come from tests/continual_reference.py (explicit loops), never from the implementation's helpers.
"""

import copy
import math

import pytest
import torch

from growclip_hf import GrowCLIPModel
from growclip_hf.continual import ExperienceReplay, build_strategy, ctp, modx
from growclip_hf.continual.base import embed_pair
from growclip_hf.objective import contrastive_backward

from . import continual_reference as reference
from .continual_fixtures import (
    BATCH,
    RankOneOfTwo,
    batch,
    current_model,
    embeddings,
    mixed_weights,
    old_model,
    rows,
    stepped,
)

TAU = 0.07
HALF = BATCH // 2


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread is as fast, and far faster when other jobs share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def setup() -> dict:
    data = batch()
    return {"batch": data, "current": current_model(seed=0), "old": old_model(data)}


def _assert_same_weights(model, expected, atol: float = 0.0) -> None:
    expected_parameters = dict(expected.named_parameters())
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter, expected_parameters[name], atol=atol, rtol=0, msg=name)


def _unit_rows(count: int, width: int, seed: int) -> torch.Tensor:
    return torch.nn.functional.normalize(
        torch.randn(count, width, generator=torch.Generator().manual_seed(seed)), dim=-1
    )


def _frozen(model) -> bool:
    return not model.training and all(not p.requires_grad and p.grad is None for p in model.parameters())


def _local(full_image, full_text, start):
    """This process's rows as leaves with gradient, and the global batch as gather_with_grad returns it."""
    image = full_image[start:].clone().requires_grad_(True)
    text = full_text[start:].clone().requires_grad_(True)
    return image, text, torch.cat([full_image[:start], image]), torch.cat([full_text[:start], text])


def _assert_loss_and_gradients(loss, expected, leaves) -> None:
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)  # fp32 KL of nearly equal rows
    got = torch.autograd.grad(loss, leaves, retain_graph=True)
    want = torch.autograd.grad(expected, leaves, retain_graph=True)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g.double(), w.double(), rtol=1e-3, atol=1e-4 * w.abs().max().item())


# -- CTP -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rank_one", [False, True], ids=["one-process", "rank-1-of-2"])
@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0), (0.5, 2.0, 3.0)], ids=["paper-weights", "other-weights"])
def test_ctp_hooks_end_to_end(setup, rank_one, weights, monkeypatch):
    data, current, old = setup["batch"], setup["current"], setup["old"]
    strategy = build_strategy(
        "ctp",
        queue_size=20,
        anchor_weight=0.3,
        momentum_contrast_weight=weights[0],
        cross_topology_weight=weights[1],
        intra_topology_weight=weights[2],
    )
    strategy.on_task_start(1, current, old, None)
    for teacher in (strategy.reference, strategy.anchor, strategy.momentum_model):
        assert teacher is not old and _frozen(teacher)
        _assert_same_weights(teacher, old)  # all three start as the previous model
    # theta_c <- 0.9 theta_c + 0.1 (0.3 theta_old + 0.7 theta), twice (after the first step theta_c != theta_old)
    strategy.after_step(stepped(current, seed=4))
    student = stepped(current, seed=5)
    strategy.after_step(student)
    momentum = mixed_weights(old, old, stepped(current, seed=4), momentum=0.9, anchor_weight=0.3)
    momentum = mixed_weights(momentum, old, student, momentum=0.9, anchor_weight=0.3)
    _assert_same_weights(strategy.momentum_model, momentum, atol=1e-6)
    _assert_same_weights(strategy.anchor, old)  # the anchor itself never moves
    queue_image, queue_text = _unit_rows(5, 24, seed=11), _unit_rows(5, 24, seed=12)
    strategy.queue_image, strategy.queue_text = queue_image.clone(), queue_text.clone()

    full_image, full_text = embeddings(student, data)
    momentum_image, momentum_text = embeddings(momentum, data)
    old_image, old_text = embeddings(old, data)
    start = HALF if rank_one else 0
    if rank_one:
        quantities = [full_image, full_text, momentum_image, momentum_text, old_image, old_text]
        RankOneOfTwo(quantities).install(monkeypatch, ctp)
    image, text, all_images, all_texts = _local(full_image, full_text, start)
    loss = strategy.extra_loss(image, text, rows(data, start, BATCH))

    contrast = reference.momentum_contrast(
        image, text, momentum_image[start:], momentum_text[start:], queue_image, queue_text, TAU
    )
    cross, intra = reference.ctp_topology(
        image, text, all_images, all_texts, old_image[start:], old_text[start:], old_image, old_text, start, TAU
    )
    expected = weights[0] * contrast + weights[1] * cross + weights[2] * intra
    _assert_loss_and_gradients(loss, expected, [image, text])
    # the momentum embeddings of the whole global batch are queued (newest first; the oldest entry falls off)
    torch.testing.assert_close(strategy.queue_image, torch.cat([momentum_image, queue_image])[:20], atol=1e-5, rtol=0)
    torch.testing.assert_close(strategy.queue_text, torch.cat([momentum_text, queue_text])[:20], atol=1e-5, rtol=0)
    assert not strategy.queue_image.requires_grad and not strategy.queue_text.requires_grad


def test_ctp_first_task_is_an_ema_with_momentum_contrast_only(setup):
    data, current = setup["batch"], setup["current"]
    strategy = build_strategy("ctp", queue_size=20, anchor_weight=0.3)
    strategy.on_task_start(0, current, None, None)
    assert strategy.reference is None and strategy.anchor is None and strategy.task == 0
    assert strategy.queue_image.shape == (0, 24) and strategy.queue_text.shape == (0, 24)
    _assert_same_weights(strategy.momentum_model, current)
    student = stepped(current, seed=6)
    strategy.after_step(student)
    momentum = mixed_weights(current, current, student, momentum=0.995, anchor_weight=0.0)
    _assert_same_weights(strategy.momentum_model, momentum, atol=1e-6)
    image, text = (t.clone().requires_grad_(True) for t in embeddings(student, data))
    momentum_image, momentum_text = embeddings(momentum, data)
    loss = strategy.extra_loss(image, text, data)
    empty = torch.zeros(0, 24)
    expected = reference.momentum_contrast(image, text, momentum_image, momentum_text, empty, empty, TAU)
    _assert_loss_and_gradients(loss, expected, [image, text])
    torch.testing.assert_close(strategy.queue_text, momentum_text, atol=1e-5, rtol=0)


def test_ctp_fixed_temperature_pins_the_logit_scale(setup):
    model = copy.deepcopy(setup["current"])
    with torch.no_grad():
        model.logit_scale.fill_(1.0)
    learnable = build_strategy("ctp")
    learnable.on_task_start(0, model, None, None)
    learnable.after_step(model)
    assert model.logit_scale.item() == 1.0  # default: the model's own, learnable scale
    fixed = build_strategy("ctp", contrastive_temperature=0.07)
    fixed.on_task_start(0, model, None, None)
    assert model.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    assert model(**rows(setup["batch"], 0, 2)).logit_scale.item() == pytest.approx(1 / 0.07, rel=1e-6)
    with torch.no_grad():
        model.logit_scale.add_(0.3)  # what an optimizer step does to it
    fixed.after_step(model)
    assert model.logit_scale.item() == pytest.approx(math.log(1 / 0.07))


@pytest.mark.parametrize("carry", [False, True])
def test_ctp_queues_restart_or_carry_over_at_a_task_start(setup, carry):
    data, current, old = setup["batch"], setup["current"], setup["old"]
    strategy = build_strategy("ctp", queue_size=20, carry_queue=carry)
    strategy.on_task_start(0, current, None, None)
    strategy.extra_loss(*embeddings(current, data), data)
    filled_image, filled_text = strategy.queue_image.clone(), strategy.queue_text.clone()
    assert filled_image.shape == (BATCH, 24)
    strategy.on_task_start(1, current, old, None)
    if carry:
        assert torch.equal(strategy.queue_image, filled_image) and torch.equal(strategy.queue_text, filled_text)
    else:
        assert strategy.queue_image.shape == (0, 24) and strategy.queue_text.shape == (0, 24)


def test_ctp_random_queue_start_is_the_same_on_every_process(setup):
    first, second = build_strategy("ctp", queue_init="random"), build_strategy("ctp", queue_init="random", tau=0.1)
    rng = torch.get_rng_state()
    for strategy in (first, second):
        strategy.on_task_start(0, setup["current"], None, None)
    assert torch.equal(torch.get_rng_state(), rng)  # its own generator: the run's random stream is left alone
    assert first.queue_image.shape == (1024, 24) and first.queue_text.shape == (1024, 24)
    torch.testing.assert_close(first.queue_image.norm(dim=-1), torch.ones(1024))
    torch.testing.assert_close(first.queue_text.norm(dim=-1), torch.ones(1024))
    assert not torch.allclose(first.queue_image, first.queue_text)
    assert torch.equal(first.queue_image, second.queue_image) and torch.equal(first.queue_text, second.queue_text)
    with pytest.raises(ValueError, match="queue_init"):
        build_strategy("ctp", queue_init="zeros")
    double = copy.deepcopy(setup["current"]).double()
    for kind in ("empty", "random"):  # queues in the model's precision
        strategy = build_strategy("ctp", queue_init=kind)
        strategy.on_task_start(0, double, None, None)
        assert strategy.queue_image.dtype == torch.float64 and strategy.queue_text.dtype == torch.float64


def test_ctp_after_growth_mixes_in_the_grown_shape_and_widens_carried_queues(setup):
    data, old = setup["batch"], setup["old"]
    target = {"projection_dim": 32, "vision_config": {"num_hidden_layers": 3}}
    student = old.grow(target, init="random", seed=0)
    strategy = build_strategy("ctp", queue_size=20, carry_queue=True)
    strategy.on_task_start(0, old, None, None)
    strategy.extra_loss(*embeddings(old, data), data)
    carried = strategy.queue_image.clone()
    strategy.on_task_start(1, student, old, target)
    _assert_same_weights(strategy.reference, old)  # the topology teacher keeps its own shape
    assert strategy.anchor.config.projection_dim == 32 and strategy.momentum_model.config.projection_dim == 32
    assert _frozen(strategy.anchor) and _frozen(strategy.momentum_model)
    anchor_image, anchor_text = embeddings(strategy.anchor, data)
    old_image, old_text = embeddings(old, data)
    torch.testing.assert_close(anchor_image[:, :24], old_image, atol=1e-5, rtol=1e-4)  # the same function
    assert torch.count_nonzero(anchor_image[:, 24:]) == 0 and torch.count_nonzero(anchor_text[:, 24:]) == 0
    assert torch.equal(strategy.queue_image[:, :24], carried) and torch.count_nonzero(strategy.queue_image[:, 24:]) == 0
    strategy.after_step(student)
    loss = strategy.extra_loss(*embeddings(student, data), data)
    assert math.isfinite(loss.item()) and strategy.queue_image.shape == (20, 32)
    again = build_strategy("ctp")  # what another process builds from the same arguments: the same teachers
    again.on_task_start(1, student, old, target)
    _assert_same_weights(again.anchor, strategy.anchor)


def test_ctp_momentum_model_follows_the_students_growth_ramp(setup):
    data, old = setup["batch"], setup["old"]
    target = {"text_config": {"hidden_size": 48}}
    student = old.grow(target, init="preserve", seed=0)
    assert student.growth_ramp_progress == 0.0
    strategy = build_strategy("ctp")
    strategy.on_task_start(1, student, old, target)
    student.set_growth_ramp_progress(0.5)  # what the trainer does after a step
    strategy.after_step(student)
    momentum = strategy.momentum_model
    assert momentum.config.growth_ramp == student.config.growth_ramp
    assert momentum.config.growth_ramp is not student.config.growth_ramp
    # the ramp reached the momentum model's LayerNorms: a model built with that ramp and its weights agrees
    twin = GrowCLIPModel(copy.deepcopy(student.config)).eval()
    twin.load_state_dict(momentum.state_dict())
    torch.testing.assert_close(embeddings(momentum, data)[1], embeddings(twin, data)[1])
    twin.set_growth_ramp_progress(0.0)
    assert not torch.allclose(embeddings(momentum, data)[1], embeddings(twin, data)[1], atol=1e-4)


def test_ctp_without_a_preserving_growth_anchors_on_the_student_as_it_starts(setup):
    old = setup["old"]
    narrow_shared = {"num_hidden_layers": 1, "hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2}
    target = {"shared_config": narrow_shared}  # narrower than the towers: no function-preserving growth exists
    with pytest.raises(ValueError, match="narrower"):
        old.grow(target, init="preserve")
    student = old.grow(target, init="random", seed=0)
    strategy = build_strategy("ctp")
    strategy.on_task_start(1, student, old, target)
    assert strategy.anchor is not student and _frozen(strategy.anchor) and _frozen(strategy.momentum_model)
    _assert_same_weights(strategy.anchor, student)
    _assert_same_weights(strategy.momentum_model, student)
    _assert_same_weights(strategy.reference, old)


def test_an_anchor_weight_needs_an_anchor(setup):
    with pytest.raises(ValueError, match="needs an anchor"):
        ctp.momentum_update(copy.deepcopy(setup["current"]), setup["current"], None, 0.9, 0.5)


def test_queued_features_carry_no_gradient():
    features = torch.ones(2, 3, requires_grad=True)
    queue = ctp.enqueue(torch.zeros(1, 3), features * 2, size=2)
    assert not queue.requires_grad and queue.tolist() == [[2.0] * 3, [2.0] * 3]


# -- Mod-X ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rank_one", [False, True], ids=["one-process", "rank-1-of-2"])
def test_modx_hooks_end_to_end(setup, rank_one, monkeypatch):
    data, current, old = setup["batch"], setup["current"], setup["old"]
    strategy = build_strategy("modx", global_batch_size=BATCH)  # alpha = 20 * 280 / 16
    strategy.on_task_start(1, current, old, None)
    assert strategy.old_model is not old and _frozen(strategy.old_model)
    _assert_same_weights(strategy.old_model, old)
    full_image, full_text = embeddings(current, data)
    old_image, old_text = embeddings(old, data)
    start, world_size = (HALF, 2) if rank_one else (0, 1)
    old_matches = (old_image @ old_text.t()).argmax(dim=1)[start:] == torch.arange(start, BATCH)
    assert old_matches.any() and not old_matches.all()  # the old model is right on some rows only
    if rank_one:
        RankOneOfTwo([full_image, full_text, old_image, old_text]).install(monkeypatch, modx)
    image, text, all_images, all_texts = _local(full_image, full_text, start)
    loss = strategy.extra_loss(image, text, rows(data, start, BATCH))
    assert loss.dtype == image.dtype  # computed in float64, returned in the embeddings' precision
    expected = reference.modx(
        image,
        text,
        all_images,
        all_texts,
        old_image[start:],
        old_text[start:],
        old_image,
        old_text,
        start,
        350.0,
        world_size,
    )
    _assert_loss_and_gradients(loss, expected, [image, text])
    strategy.after_step(current)  # nothing to update
    _assert_same_weights(strategy.old_model, old)


def test_modx_first_task(setup):
    data, current = setup["batch"], setup["current"]
    default = build_strategy("modx")
    default.on_task_start(0, current, None, None)
    assert default.old_model is None and default.extra_loss(*embeddings(current, data), data) is None
    official = build_strategy("modx", first_task_teacher=True, alpha=20.0)
    official.on_task_start(0, current, None, None)
    assert official.old_model is not current and _frozen(official.old_model)
    _assert_same_weights(official.old_model, current)
    assert official.alpha == 20.0
    # the teacher is the model itself: every kept row already agrees, so the term and its gradient are zero
    image, text = (t.clone().requires_grad_(True) for t in embeddings(current, data))
    loss = official.extra_loss(image, text, data)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


# -- every teacher stays frozen --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ctp", "modx"])
def test_teachers_get_no_gradient_in_a_training_step(setup, name):
    data, old = setup["batch"], setup["old"]
    model = copy.deepcopy(setup["current"])
    strategy = build_strategy(name)
    strategy.on_task_start(1, model, old, None)
    contrastive_backward(model, [rows(data, 0, 6), rows(data, 6, 12)], extra_loss=strategy.extra_loss)
    teachers = (
        [strategy.old_model] if name == "modx" else [strategy.reference, strategy.anchor, strategy.momentum_model]
    )
    assert all(_frozen(teacher) for teacher in teachers)
    assert all(p.grad is not None for p in model.text_projection.parameters())


def test_teacher_embeddings_carry_no_graph_even_from_a_trainable_model(setup):
    model = setup["current"]
    assert all(p.requires_grad for p in model.parameters())
    image, text = embed_pair(model, rows(setup["batch"], 0, 4))
    assert not image.requires_grad and not text.requires_grad and image.grad_fn is None
    torch.testing.assert_close(image.norm(dim=-1), torch.ones(4))


# -- exact resume ----------------------------------------------------------------------------------------------------
def test_ctp_state_round_trips(setup, tmp_path):
    data, current, old = setup["batch"], setup["current"], setup["old"]
    strategy = build_strategy("ctp", queue_size=20, anchor_weight=0.3)
    strategy.on_task_start(1, current, old, None)
    strategy.after_step(stepped(current, seed=7))
    strategy.extra_loss(*embeddings(current, data), data)
    folder = tmp_path / "checkpoint-7" / "strategy"  # as the stage loop passes it: not created yet
    strategy.save(folder)
    loaded = build_strategy("ctp", queue_size=20, anchor_weight=0.3)
    loaded.load(folder, GrowCLIPModel, "cpu")
    assert loaded.task == 1
    for name in ("momentum_model", "anchor", "reference"):
        assert _frozen(getattr(loaded, name))
        _assert_same_weights(getattr(loaded, name), getattr(strategy, name))
    assert torch.equal(loaded.queue_image, strategy.queue_image) and torch.equal(loaded.queue_text, strategy.queue_text)
    inputs = (*embeddings(current, data), data)
    assert loaded.extra_loss(*inputs).item() == strategy.extra_loss(*inputs).item()


def test_ctp_first_task_state_round_trips(setup, tmp_path):
    strategy = build_strategy("ctp")
    strategy.on_task_start(0, setup["current"], None, None)
    strategy.save(tmp_path)
    loaded = build_strategy("ctp")
    loaded.anchor = loaded.reference = setup["old"]  # stale state from before must go
    loaded.load(tmp_path, GrowCLIPModel, "cpu")
    assert loaded.anchor is None and loaded.reference is None and loaded.task == 0
    _assert_same_weights(loaded.momentum_model, setup["current"])


def test_modx_state_round_trips(setup, tmp_path):
    strategy = build_strategy("modx")
    strategy.on_task_start(1, setup["current"], setup["old"], None)
    strategy.save(tmp_path / "checkpoint" / "with")
    loaded = build_strategy("modx")
    loaded.load(tmp_path / "checkpoint" / "with", GrowCLIPModel, "cpu")
    assert _frozen(loaded.old_model)
    _assert_same_weights(loaded.old_model, setup["old"])
    first = build_strategy("modx")
    first.on_task_start(0, setup["current"], None, None)
    (tmp_path / "without").mkdir()
    first.save(tmp_path / "without")
    assert not any((tmp_path / "without").iterdir())
    loaded.load(tmp_path / "without", GrowCLIPModel, "cpu")
    assert loaded.old_model is None


# -- the baselines only change what is streamed ------------------------------------------------------------------------
@pytest.mark.parametrize("name, replay", [("seqf", "none"), ("jointt", "all"), ("er", "reservoir")])
def test_baseline_hooks_change_nothing(setup, tmp_path, name, replay):
    data, old = setup["batch"], setup["old"]
    model = copy.deepcopy(setup["current"])
    before = {key: value.clone() for key, value in model.state_dict().items()}
    strategy = build_strategy(name)
    assert strategy.name == name and strategy.replay == replay
    assert not strategy.has_extra_loss and not strategy.needs_previous_model
    assert strategy.on_task_start(1, model, old, None) is None
    assert strategy.extra_loss(*embeddings(model, data), data) is None
    strategy.after_step(model)
    strategy.on_task_end(1, model)
    strategy.save(tmp_path)
    strategy.load(tmp_path, GrowCLIPModel, "cpu")
    assert not any(tmp_path.iterdir())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_build_strategy_by_name_options_and_import_path():
    assert build_strategy("er").buffer_size == 1000 and build_strategy("er", buffer_size=7).buffer_size == 7
    custom = build_strategy("growclip_hf.continual.baselines:ExperienceReplay", buffer_size=5)
    assert isinstance(custom, ExperienceReplay) and custom.buffer_size == 5
    strategy = build_strategy("ctp", queue_size=64, tau=0.1, momentum=0.8, anchor_weight=0.2, first_task_momentum=0.9)
    assert (strategy.queue_size, strategy.tau, strategy.momentum) == (64, 0.1, 0.8)
    assert (strategy.anchor_weight, strategy.first_task_momentum) == (0.2, 0.9)
    defaults = build_strategy("ctp")
    assert (defaults.queue_size, defaults.tau, defaults.momentum, defaults.anchor_weight) == (1024, 0.07, 0.9, 0.5)
    assert defaults.first_task_momentum == 0.995 and defaults.contrastive_temperature is None
    assert (defaults.carry_queue, defaults.queue_init) == (False, "empty")
    weights = (defaults.momentum_contrast_weight, defaults.cross_topology_weight, defaults.intra_topology_weight)
    assert weights == (1.0, 1.0, 1.0)
    assert build_strategy("modx").first_task_teacher is False
    assert build_strategy("ctp").needs_previous_model and build_strategy("modx").needs_previous_model
