"""AdamW state survives growth: inherited slices keep their moments, new slices start at zero."""

import torch

from growclip_hf.training import is_no_decay_parameter, transfer_optimizer

from .helpers import pixel_batch, text_batch

TARGET = {"text_config": {"hidden_size": 48, "num_hidden_layers": 3}, "projection_dim": 30}


def _trained_optimizer(model, steps=3):
    model.train()
    decay = [p for n, p in model.named_parameters() if not is_no_decay_parameter(n, p)]
    no_decay = [p for n, p in model.named_parameters() if is_no_decay_parameter(n, p)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3
    )
    for _ in range(steps):
        optimizer.zero_grad()
        model(**text_batch(batch=2), pixel_values=pixel_batch(batch=2), return_loss=True).loss.backward()
        optimizer.step()
    return optimizer


def test_moments_of_inherited_slices_carry_over_and_new_slices_are_zero(model):
    optimizer = _trained_optimizer(model)
    grown = model.grow(TARGET, init="preserve", seed=0)
    moved = transfer_optimizer(optimizer, model, grown)
    old_params, new_params = dict(model.named_parameters()), dict(grown.named_parameters())
    kept = grew = 0
    for block in grown.growth_mapping:
        old, new = old_params[block.old_name], new_params[block.new_name]
        old_state, new_state = optimizer.state[old], moved.state[new]
        if old.shape == new.shape:  # untouched: the state as it was
            kept += 1
            for key in ("exp_avg", "exp_avg_sq"):
                assert torch.equal(new_state[key][block.new_slices()], old_state[key][block.old_slices()]), block
            assert new_state["step"].item() == 3
            continue
        grew += 1  # restarted at step 1: the bias-corrected moments of inherited entries are unchanged
        assert new_state["step"].item() == 1
        for key, beta in (("exp_avg", 0.9), ("exp_avg_sq", 0.999)):
            corrected_old = old_state[key][block.old_slices()] / (1 - beta**3)
            torch.testing.assert_close(new_state[key][block.new_slices()] / (1 - beta), corrected_old)
    assert kept and grew
    state = moved.state[new_params["text_model.encoder.layers.0.mlp.fc1.weight"]]
    assert state["exp_avg"][:, 32:].abs().sum() == 0 and state["exp_avg"][:, :32].abs().sum() > 0
    assert new_params["text_model.encoder.layers.2.mlp.fc1.weight"] not in moved.state  # a brand-new layer


def test_param_groups_and_hyper_parameters_are_kept(model):
    optimizer = _trained_optimizer(model)
    grown = model.grow(TARGET, init="pim", seed=0)
    moved = transfer_optimizer(optimizer, model, grown)
    assert [g["weight_decay"] for g in moved.param_groups] == [0.1, 0.0]
    assert all(g["lr"] == 1e-3 for g in moved.param_groups)
    names = {p: n for n, p in grown.named_parameters()}
    grouped = [names[p] for g in moved.param_groups for p in g["params"]]
    assert sorted(grouped) == sorted(names.values())
    decayed = {names[p] for p in moved.param_groups[0]["params"]}
    assert "text_model.encoder.layers.2.mlp.fc1.weight" in decayed
    assert "text_model.encoder.layers.2.layer_norm1.weight" not in decayed


def test_transferred_optimizer_continues_training(model):
    optimizer = _trained_optimizer(model)
    grown = model.grow(TARGET, init="preserve", seed=0)
    moved = transfer_optimizer(optimizer, model, grown)
    before = grown.text_model.encoder.layers[0].mlp.fc1.weight.detach().clone()
    moved.zero_grad()
    grown(**text_batch(batch=2), pixel_values=pixel_batch(batch=2), return_loss=True).loss.backward()
    moved.step()
    assert not torch.equal(before, grown.text_model.encoder.layers[0].mlp.fc1.weight)
    assert moved.state[grown.text_model.encoder.layers[0].mlp.fc1.weight]["step"].item() == 2  # grew: from 1
    assert moved.state[grown.vision_model.encoder.layers[0].mlp.fc1.weight]["step"].item() == 4  # did not grow


def test_the_state_parked_on_disk_for_the_search_builds_the_same_candidate_and_comes_back_exactly(model, tmp_path):
    from growclip_hf.training.optimizer_spill import spilled_optimizer_state

    optimizer = _trained_optimizer(model)
    before = {p: {k: v.clone() for k, v in state.items()} for p, state in optimizer.state.items()}
    grown = model.grow(TARGET, init="preserve", seed=0)
    expected = transfer_optimizer(optimizer, model, grown)
    with spilled_optimizer_state(optimizer, tmp_path / "spill"):
        assert any((tmp_path / "spill").iterdir()) and not isinstance(optimizer.state, dict)
        parked = transfer_optimizer(optimizer, model, grown)  # read one parameter at a time from the file
    for parameter, state in expected.state.items():
        assert all(torch.equal(state[key], parked.state[parameter][key]) for key in state)
    assert not (tmp_path / "spill").exists() and set(optimizer.state) == set(before)
    for parameter, state in before.items():
        assert all(torch.equal(state[key], optimizer.state[parameter][key]) for key in state)
    optimizer.zero_grad()  # and it trains on, as torch's own state
    model(**text_batch(batch=2), pixel_values=pixel_batch(batch=2), return_loss=True).loss.backward()
    optimizer.step()
    assert all(state["step"].item() == 4 for state in optimizer.state.values())


def test_new_entries_of_a_grown_tensor_update_like_a_fresh_start(model):
    """With the tensor's old step count the new entries skipped bias correction and moved up to 1.5x too far."""
    betas = (0.9, 0.98)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=betas, weight_decay=0.0)
    generator = torch.Generator().manual_seed(0)
    for _ in range(100):  # a long history: bias correction of the old count is ~1
        for parameter in model.parameters():
            parameter.grad = torch.randn(parameter.shape, generator=generator)
        optimizer.step()
    grown = model.grow(TARGET, init="preserve", seed=0)
    moved = transfer_optimizer(optimizer, model, grown)
    weight = grown.text_model.encoder.layers[0].mlp.fc1.weight  # [48, 48] grown from [48, 32]
    new_columns = (slice(None), slice(32, None))
    fresh = weight.detach()[new_columns].clone().requires_grad_(True)
    fresh_optimizer = torch.optim.AdamW([fresh], lr=1e-2, betas=betas, weight_decay=0.0)
    gradient = torch.randn(weight.shape, generator=generator)
    ratios = []
    for _ in range(30):  # a steady gradient: a fresh Adam moves every entry by lr * sign(g) at each step
        before, fresh_before = weight.detach()[new_columns].clone(), fresh.detach().clone()
        for parameter in grown.parameters():
            parameter.grad = None
        weight.grad, fresh.grad = gradient.clone(), gradient[new_columns].clone()
        moved.step()
        fresh_optimizer.step()
        step = (weight.detach()[new_columns] - before).abs()
        ratios.append((step / (fresh.detach() - fresh_before).abs()).max().item())
    assert max(ratios) <= 1.02, ratios  # never further than a fresh start (the old count: up to 1.52x)
    assert min(ratios) >= 0.7, ratios  # and not frozen either
    assert all(abs(r - 1) < 0.02 for r in ratios[10:]), ratios
