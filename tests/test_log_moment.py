"""The 8-bit logarithmic second moment (synapse_madam/optim/log_moment.py) and LNSMadam's
``second_moment_dtype="log8"``: format, unbiased rounding, tracking of the float EMA, resume,
paths, memory."""

import copy
import math

import pytest
import torch

from synapse_madam.hashnoise import hash_uniform
from synapse_madam.optim import LNSMadam, native, training_state_bytes
from synapse_madam.optim import log_moment as lm
from synapse_madam.optim.lns_madam import lns_madam_update_


def _decoded(state):
    return lm.decode(state["exp_avg_sq"], state["exp_avg_sq_exponent"])


def test_format_geometry():
    assert lm.level_ratio() == pytest.approx(2 ** (1 / 8))
    assert lm.dynamic_range() == pytest.approx(2 ** 31.75)
    exponent = torch.tensor(-40.0)
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    v = lm.decode(codes, exponent, dtype=torch.float64)
    assert v[0] == 0 and v[255] == pytest.approx(2 ** (-40 / 8))
    torch.testing.assert_close(v[2:] / v[1:-1], torch.full((254,), lm.level_ratio(), dtype=torch.float64))
    # every level encodes to itself, whatever the noise (p = 0 or 1 exactly at a level)
    for u in (0.0, 0.999):
        out = torch.tensor(-40.0)
        assert torch.equal(lm.encode(v, torch.full_like(v, u), out), codes) and float(out) == -40.0


def test_rounding_is_unbiased_in_v_and_within_one_level():
    exponent = torch.zeros(())
    x = torch.cat([torch.full((100_000,), 0.0123), torch.full((100_000,), 3.3e-7), torch.tensor([0.0, 1.0])])
    codes = lm.encode(x, hash_uniform(3, 1, x.shape), exponent)
    assert float(exponent) == 0.0  # ceil(8 log2 max) with max = 1
    v = lm.decode(codes, exponent, dtype=torch.float64)
    for part, value in ((v[:100_000], 0.0123), (v[100_000:200_000], 3.3e-7)):
        assert float(part.mean()) / value == pytest.approx(1.0, abs=2e-3)  # E[decode(encode(x))] = x
        assert len(part.unique()) == 2  # the two neighbouring levels
        assert float((part / value).max()) < lm.level_ratio() and float((value / part).max()) < lm.level_ratio()
    assert v[-2] == 0 and v[-1] == 1.0


def test_below_the_range_rounds_up_and_zero_stays_zero():
    exponent = torch.zeros(())
    bottom = 2.0 ** (-254 / 8)
    x = torch.tensor([1.0, bottom * 0.3, bottom * 1e-6, 0.0])
    codes = lm.encode(x, torch.full((4,), 0.5), exponent)
    assert codes.tolist() == [255, 1, 1, 0]


def _float_and_log8(n, beta, seed=0):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(n, generator=gen)
    a, b = w.clone().requires_grad_(), w.clone().requires_grad_()
    return a, b, LNSMadam([a], beta=beta), LNSMadam([b], beta=beta, second_moment_dtype="log8"), gen


def test_coded_v_tracks_the_float_ema_with_the_derived_error():
    """Same gradients into a float32-v and a log8-v LNSMadam: the coded v is the float EMA up to an
    unbiased error whose stationary sd is the one derived in log_moment."""
    n, beta = 4000, 0.99
    a, b, fa, fb, gen = _float_and_log8(n, beta)
    for _ in range(600):  # 600 steps ~ 6 time constants of the error's AR(1) (1 / (1 - beta^2) ~ 50)
        g = torch.randn(n, generator=gen)
        a.grad, b.grad = g, g.clone()
        fa.step()
        fb.step()
    e = _decoded(fb.state[b]).double() / fa.state[a]["exp_avg_sq"].double() - 1.0
    predicted = lm.stationary_relative_sd(beta)
    assert abs(float(e.mean())) < 4 * predicted / math.sqrt(n)  # unbiased
    assert 0.9 * predicted < float(e.std()) < 1.1 * predicted


def test_coded_v_follows_a_gradient_scale_that_drifts_over_six_decades():
    n, beta = 3000, 0.99
    a, b, fa, fb, gen = _float_and_log8(n, beta, seed=1)
    exponents = set()
    for t in range(500):
        g = torch.randn(n, generator=gen) * 10.0 ** (-3 + 6 * t / 499)  # the tensor's top level moves
        a.grad, b.grad = g, g.clone()
        fa.step()
        fb.step()
        exponents.add(float(fb.state[b]["exp_avg_sq_exponent"]))
    assert len(exponents) > 50
    e = _decoded(fb.state[b]).double() / fa.state[a]["exp_avg_sq"].double() - 1.0
    assert abs(float(e.mean())) < 0.03 and float(e.std()) < 0.4


def test_log8_training_keeps_signs_and_bounds():
    torch.manual_seed(1)
    p = (torch.randn(300) * 0.2).requires_grad_()
    signs = torch.sign(p.detach())
    opt = LNSMadam([p], bits=8, second_moment_dtype="log8")
    state = opt.state[p]
    assert state["exp_avg_sq"].dtype == torch.uint8
    for _ in range(200):
        p.grad = torch.randn(300) * 10 ** float(torch.empty(()).uniform_(-4, 4))
        p.grad[::17] = float("nan")
        p.grad[::29] = 0.0
        opt.step()
        assert torch.equal(torch.sign(p.detach()), signs)
        assert (p.detach().abs() <= state["scale"] * (1 + 1e-6)).all()
        assert torch.isfinite(_decoded(state)).all()


@pytest.mark.parametrize("native_on", [True, False])
def test_every_path_gives_the_per_tensor_step(monkeypatch, native_on):
    """A group mixing log8 and float32 moments (one optimizer, two groups): with the native kernel
    (float tensors there, log8 tensors per tensor) and without it (the flat path for float
    tensors), every tensor ends as lns_madam_update_ leaves it."""
    if not native_on:
        monkeypatch.setattr(native, "available", lambda: False)
    else:
        assert native.available()
    gen = torch.Generator().manual_seed(5)
    shapes = [(30, 20), (20,), (17, 3)]
    params = [torch.randn(s, generator=gen).requires_grad_() for s in shapes * 2]
    opt = LNSMadam([{"params": params[:3], "second_moment_dtype": "log8"}, {"params": params[3:]}], lr=0.05, seed=2)
    refs = [(p.detach().clone(), copy.deepcopy(opt.state[p]), g) for g in opt.param_groups for p in g["params"]]
    for _ in range(25):
        grads = [torch.randn(p.shape, generator=gen) for p in params]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
        for (w, s, group), g in zip(refs, grads):
            lns_madam_update_(w, g, s, opt.format_of(group), group)
    for p, (w, s, _) in zip(params, refs):
        assert torch.equal(p.detach(), w)
        assert torch.equal(opt.state[p]["exp_avg_sq"], s["exp_avg_sq"]) and torch.equal(opt.state[p]["codes"], s["codes"])
    assert {opt.state[p]["exp_avg_sq"].dtype for p in params} == {torch.uint8, torch.float32}


def test_two_bytes_per_param_on_a_small_net():
    """8-bit codes + log8 v: 2 bytes per weight; the per-tensor scalars (scale, step, seed, set
    point, exponent: 24 bytes per tensor) amortise: 2.005 bytes/param on this 8-tensor MLP."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = LNSMadam(model.parameters(), bits=8, second_moment_dtype="log8")
    model(torch.randn(8, 64)).sum().backward()
    opt.step()
    r = training_state_bytes(opt)
    n, tensors = r["n_params"], len(list(model.parameters()))
    assert r["per_element_bytes_per_param"] == 2.0
    assert r["per_tensor_bytes"] == 24 * tensors
    assert r["persistent_bytes"] == 2 * n + 24 * tensors
    assert r["persistent_bytes_per_param"] < 2.005
    float_v = LNSMadam(copy.deepcopy(model).parameters(), bits=8)
    assert training_state_bytes(float_v)["per_element_bytes_per_param"] == 5.0


def test_a_bad_second_moment_dtype_is_one_clear_error():
    with pytest.raises(ValueError, match=r"second_moment_dtype must be one of \['float32', 'bfloat16', 'log8'\]"):
        LNSMadam([torch.randn(3, requires_grad=True)], second_moment_dtype="log4")


def test_the_native_kernel_on_two_threads_gives_the_per_tensor_step():
    """Tensors over several work items and threads: the per-item maxima combine to the tensor's
    exponent exactly as the torch step's max does."""
    assert native.available()
    gen = torch.Generator().manual_seed(9)
    params = [torch.randn(400, 300, generator=gen).requires_grad_(), torch.randn(70_000, generator=gen).requires_grad_()]
    opt = LNSMadam(params, second_moment_dtype="log8", seed=4)
    refs = [(p.detach().clone(), copy.deepcopy(opt.state[p])) for p in params]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for t in range(6):
            grads = [torch.randn(p.shape, generator=gen) * 10.0 ** (t - 3) for p in params]
            grads[0][:, :50] = 0.0  # columns that never see a gradient keep code 0
            for p, g in zip(params, grads):
                p.grad = g.clone()
            opt.step()
            for (w, s), g in zip(refs, grads):
                lns_madam_update_(w, g, s, opt.format_of(opt.param_groups[0]), opt.param_groups[0])
    finally:
        torch.set_num_threads(threads)
    for p, (w, s) in zip(params, refs):
        assert torch.equal(p.detach(), w)
        for key in ("codes", "exp_avg_sq", "exp_avg_sq_exponent"):
            assert torch.equal(opt.state[p][key], s[key])
    assert bool((opt.state[params[0]]["exp_avg_sq"][:, :50] == 0).all())
