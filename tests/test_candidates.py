"""Issue-13 optimizers (NeuronMadam and its registered candidates, EGPM, Nero) against synapse_madam.rule."""

import math

import numpy as np
import pytest
import torch

from synapse_madam import rule
from synapse_madam.optim import EGPM, Madam, Nero, NeuronMadam, make_optimizer, optimizer_info

CANDIDATES = ["neuron_madam", "madam_neuron_bound", "madam_scaling", "madam_nero", "madam_momentum"]
SHAPES = [(6, 5), (4, 3, 2, 2), (6,)]


def _problem(seed=0, steps=12):
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) * rng.uniform(0.1, 3) for s in SHAPES] for _ in range(steps)]
    return ws, grads


def _run_torch(name_or_cls, ws, grads, **kw):
    params = [torch.nn.Parameter(torch.tensor(w)) for w in ws]
    opt = make_optimizer(name_or_cls, params, **kw) if isinstance(name_or_cls, str) else name_or_cls(params, **kw)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params], opt


def _neuron_reference(name, ws, grads, lr=0.01, **extra):
    kw = {**optimizer_info(name).defaults, **extra}
    warmup, total = kw.pop("warmup", 0), kw.pop("total_steps", 0)
    out = []
    for k, w in enumerate(ws):
        st = rule.init_neuron_madam_state(w, 3.0, grad_norm=kw.get("grad_norm", "element"),
                                          momentum=kw.get("momentum", 0.0), bound=kw.get("bound", "tensor"))
        for t, gs in enumerate(grads, 1):
            w, st = rule.neuron_madam_update(w, gs[k], st, lr, lr_factor=rule.warmup_cosine(t, warmup, total), **kw)
        out.append(w)
    return out


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("name", CANDIDATES)
def test_neuron_madam_candidates_equal_rule(name, foreach):
    ws, grads = _problem()
    got, _ = _run_torch(name, ws, grads, foreach=foreach)
    for a, b in zip(got, _neuron_reference(name, ws, grads)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("foreach", [True, False])
def test_builtin_warmup_cosine_equals_rule_and_lambda_schedule(foreach):
    ws, grads = _problem(1)
    got, _ = _run_torch("madam_momentum", ws, grads, foreach=foreach, warmup=3, total_steps=12)
    for a, b in zip(got, _neuron_reference("madam_momentum", ws, grads, warmup=3, total_steps=12)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # the same schedule through torch's LambdaLR on a constant-lr optimizer
    params = [torch.nn.Parameter(torch.tensor(w)) for w in ws]
    opt = make_optimizer("madam_momentum", params, foreach=foreach)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: rule.warmup_cosine(s + 1, 3, 12))
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g)
        opt.step()
        sched.step()
    for a, p in zip(got, params):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-12)


def test_warmup_cosine_shape():
    assert rule.warmup_cosine(1, 4, 100) == pytest.approx(0.25)
    assert rule.warmup_cosine(4, 4, 100) == pytest.approx(1.0)
    assert rule.warmup_cosine(52, 4, 100) == pytest.approx(0.5)
    assert rule.warmup_cosine(100, 4, 100) == pytest.approx(0.0, abs=1e-12)
    assert rule.warmup_cosine(7, 0, 0) == 1.0


def test_options_combine_momentum_scaling_and_neuron_bound():
    ws, grads = _problem(9)
    kw = dict(momentum=0.8, scaling="neuron", scaling_rate=0.5, bound="neuron", grad_norm="neuron")
    got, _ = _run_torch("neuron_madam", ws, grads, foreach=True, **kw)
    for a, b in zip(got, _neuron_reference("neuron_madam", ws, grads, **kw)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_neuron_madam_defaults_are_published_madam():
    ws, grads = _problem(2)
    a, _ = _run_torch(NeuronMadam, ws, grads)
    b, _ = _run_torch(Madam, ws, grads, foreach=False)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-12)


@pytest.mark.parametrize("name", CANDIDATES)
def test_candidates_keep_every_sign_under_huge_steps(name):
    ws, grads = _problem(3, steps=40)
    got, _ = _run_torch(name, ws, [[g * 1e3 for g in gs] for gs in grads], lr=0.5)
    for w0, w in zip(ws, got):
        assert np.all(np.sign(w) == np.sign(w0)) and np.all(np.isfinite(w))
    assert optimizer_info(name).sign_preserving


def test_homeostatic_scaling_keeps_each_neuron_norm_and_signs():
    ws, grads = _problem(4, steps=30)
    got, _ = _run_torch("madam_scaling", ws, grads, lr=0.1)
    for w0, w in zip(ws[:2], got[:2]):
        np.testing.assert_allclose(rule.neuron_norm(w), rule.neuron_norm(w0), rtol=1e-10)
        assert np.all(np.sign(w) == np.sign(w0))
    # scaling_rate < 1 moves only part of the way: ln-norm error shrinks by (1 - rate)
    w = ws[0] * np.linspace(0.5, 2, 6)[:, None]
    out = rule.homeostatic_scaling(w, rule.neuron_norm(ws[0]), 0.25)
    err0 = np.log(rule.neuron_norm(w) / rule.neuron_norm(ws[0]))
    np.testing.assert_allclose(np.log(rule.neuron_norm(out) / rule.neuron_norm(ws[0])), 0.75 * err0, atol=1e-12)


def test_neuron_bound_is_per_neuron():
    w = np.array([[1.0, -0.1, 0.1], [10.0, -1.0, 1.0]])
    st = rule.init_neuron_madam_state(w, 1.0, bound="neuron")
    np.testing.assert_allclose(st.w_max[:, 0], np.sqrt(np.mean(w**2, axis=1)))
    w1, _ = rule.neuron_madam_update(w, -np.sign(w) * 1.0, st, lr=5.0, bound="neuron")
    assert np.all(np.abs(w1) <= st.w_max + 1e-12) and np.all(np.sign(w1) == np.sign(w))
    assert abs(w1[1, 0]) > 2 * abs(w1[0, 0])  # the second neuron has its own, larger bound


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("normalize, momentum", [("none", 0.0), ("neuron", 0.0), ("none", 0.9)])
def test_eg_pm_equals_rule_and_synapses_stay_positive(foreach, normalize, momentum):
    ws, grads = _problem(5, steps=25)
    got, opt = _run_torch("eg_pm", ws, grads, foreach=foreach, normalize=normalize, lr=0.2, momentum=momentum)
    for k, w in enumerate(ws):
        st = rule.init_eg_state(w, 0.5, 3.0, normalize, momentum)
        for gs in grads:
            w, st = rule.eg_update(gs[k], st, 0.2, momentum=momentum)
        np.testing.assert_allclose(got[k], w, rtol=1e-9, atol=1e-12)
        assert np.all(st.w_plus > 0) and np.all(st.w_minus > 0)
    for p_state in opt.state.values():
        assert bool((p_state["w_plus"] > 0).all()) and bool((p_state["w_minus"] > 0).all())
    # the connection may change its sign: that is the point of the pair
    assert any(np.any(np.sign(a) != np.sign(b)) for a, b in zip(got, ws))
    assert not optimizer_info("eg_pm").sign_preserving


@pytest.mark.compile
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_eg_pm_fused_compiled_step_equals_rule(momentum):
    """fused=True (the step compiled by torch.compile) follows rule.eg_update, also while an lr
    scheduler changes lr every step (lr is a tensor in the compiled graph). In float32 against the
    float64 rule, every synapse w+, w- within 3e-5 relative (the connection w = w+ - w- is their
    difference, so its own error is bounded by the synapses', not by |w|)."""
    ws, grads = _problem(6, steps=20)
    params = [torch.nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w in ws]
    opt = EGPM(params, lr=0.2, momentum=momentum, fused=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1 + 0.1 * t))
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        sched.step()
    for k, w in enumerate(ws):
        st = rule.init_eg_state(w, 0.5, 3.0, "none", momentum)
        for t, gs in enumerate(grads):
            w, st = rule.eg_update(gs[k], st, 0.2 / (1 + 0.1 * t), momentum=momentum)
        got = opt.state[params[k]]
        np.testing.assert_allclose(got["w_plus"].numpy(), st.w_plus, rtol=3e-5)
        np.testing.assert_allclose(got["w_minus"].numpy(), st.w_minus, rtol=3e-5)
        np.testing.assert_allclose(params[k].detach().numpy(), w, rtol=0, atol=3e-5 * float(np.max(st.w_plus + st.w_minus)))
    assert all(bool((s["w_plus"] > 0).all() and (s["w_minus"] > 0).all()) for s in opt.state.values())


def test_eg_pm_fused_falls_back_where_it_does_not_apply():
    """normalize="neuron" is outside the compiled step: fused=True then gives the foreach result."""
    ws, grads = _problem(7, steps=5)
    a, _ = _run_torch("eg_pm", ws, grads, normalize="neuron", fused=True)
    b, _ = _run_torch("eg_pm", ws, grads, normalize="neuron", foreach=True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="exclusive"):
        EGPM([torch.nn.Parameter(torch.ones(2))], foreach=True, fused=True)


def test_eg_split_is_exact_and_positive():
    w = np.array([[0.3, -0.2, 0.0], [1.0, -2.0, 0.5]])
    wp, wm = rule.eg_split(w, 0.5)
    np.testing.assert_allclose(wp - wm, w, atol=1e-15)
    assert np.all(wp > 0) and np.all(wm > 0)


@pytest.mark.parametrize("foreach", [True, False])
def test_nero_equals_rule_and_does_not_keep_signs(foreach):
    ws, grads = _problem(6, steps=30)
    got, _ = _run_torch("nero", ws, grads, foreach=foreach, lr=0.05)
    flipped = False
    for k, w0 in enumerate(ws):
        w = rule.nero_project(w0)
        st = rule.init_nero_state(w)
        for gs in grads:
            w, st = rule.nero_update(w, gs[k], st, 0.05)
        np.testing.assert_allclose(got[k], w, rtol=1e-9, atol=1e-12)
        flipped |= bool(np.any(np.sign(w) != np.sign(w0)))
        if w.ndim >= 2:  # on the constraint set: centred, unit norm per neuron
            r = w.reshape(w.shape[0], -1)
            np.testing.assert_allclose(r.mean(axis=1), 0, atol=1e-12)
            np.testing.assert_allclose(np.linalg.norm(r, axis=1), 1, rtol=1e-12)
    assert flipped and not optimizer_info("nero").sign_preserving


def test_nero_first_step_turns_each_neuron_by_about_lr():
    rng = np.random.default_rng(7)
    w = rule.nero_project(rng.normal(size=(8, 50)))
    w1, _ = rule.nero_update(w, rng.normal(size=(8, 50)), rule.init_nero_state(w), lr=0.01)
    cos = np.sum(w * w1, axis=1)
    assert np.all(np.abs(np.arccos(np.clip(cos, -1, 1)) - 0.01) < 0.002)


@pytest.mark.parametrize("cls", [NeuronMadam, EGPM, Nero])
def test_state_dict_round_trip_continues_identically(cls):
    ws, grads = _problem(8, steps=10)
    a, opt = _run_torch(cls, ws, grads[:5])
    params = [torch.nn.Parameter(torch.tensor(w)) for w in a]
    opt2 = cls(params) if cls is not Nero else cls([torch.nn.Parameter(torch.tensor(w)) for w in a])
    if cls is Nero:
        params = [p for g in opt2.param_groups for p in g["params"]]
        with torch.no_grad():
            for p, w in zip(params, a):
                p.copy_(torch.tensor(w))
    opt2.load_state_dict(opt.state_dict())
    for gs in grads[5:]:
        for p, q, g in zip(params, [q for grp in opt.param_groups for q in grp["params"]], gs):
            p.grad = torch.tensor(g)
            q.grad = torch.tensor(g)
        opt.step()
        opt2.step()
    for p, q in zip(params, [q for grp in opt.param_groups for q in grp["params"]]):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_param_groups_keep_their_own_options():
    w1, w2 = torch.nn.Parameter(torch.ones(3, 2)), torch.nn.Parameter(torch.ones(3, 2))
    opt = NeuronMadam([{"params": [w1], "lr": 0.1}, {"params": [w2], "lr": 0.01, "momentum": 0.5}])
    w1.grad = torch.ones(3, 2)
    w2.grad = torch.ones(3, 2)
    opt.step()
    assert float(w1.detach()[0, 0]) == pytest.approx(math.exp(-0.1)) and float(w2.detach()[0, 0]) == pytest.approx(math.exp(-0.01))
    assert "exp_avg" in opt.state[w2] and "exp_avg" not in opt.state[w1]


@pytest.mark.parametrize("kw, match", [({"grad_norm": "row"}, "grad_norm"), ({"momentum": 1.0}, "momentum"),
                                       ({"bound": "soft"}, "bound"), ({"warmup": -1}, "warmup"),
                                       ({"scaling_rate": 0.0}, "scaling_rate"), ({"lr": -1.0}, "lr")])
def test_bad_options_one_clear_error(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        NeuronMadam([torch.nn.Parameter(torch.ones(2))], **kw)
    with pytest.raises(ValueError, match="normalize"):
        EGPM([torch.nn.Parameter(torch.ones(2))], normalize="layer")


def test_trainer_warmup_cosine_schedule_is_rule_warmup_cosine():
    from synapse_madam.deep.trainer import LRSchedule

    sched = LRSchedule("warmup_cosine", 200)  # warm-up: 5% of 200 = 10 steps
    assert [sched(s) for s in range(0, 200, 7)] == [rule.warmup_cosine(s + 1, 10, 200) for s in range(0, 200, 7)]
    assert sched(0) == pytest.approx(0.1) and sched(9) == pytest.approx(1.0)


def test_magnitude_bounds_only_for_one_bound_per_tensor():
    a, b = torch.nn.Parameter(torch.ones(1, 3)), torch.nn.Parameter(torch.ones(1, 3))
    opt = NeuronMadam([{"params": [a]}, {"params": [b], "bound": "neuron"}])
    a.grad, b.grad = torch.ones(1, 3), torch.ones(1, 3)
    opt.step()
    assert opt.magnitude_bounds(a) == (0.0, pytest.approx(3.0)) and opt.magnitude_bounds(b) is None
