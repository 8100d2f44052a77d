"""LNSMadam's native CPU kernel (synapse_madam/optim/native.py, madam_kernel.c) gives exactly the
codes, weights and second moments of the per-tensor step ``lns_madam_update_``."""

import copy

import pytest
import torch

from synapse_madam.optim import LNSMadam, native
from synapse_madam.optim.lns_madam import lns_madam_update_

SHAPES = [(7, 5), (13,), (64, 33), (300, 301)]  # the last spans several chunks and threads


def _grads(seed, n_steps):
    gen = torch.Generator().manual_seed(seed)
    seq = []
    for t in range(n_steps):
        gs = []
        for s in SHAPES:
            g = torch.randn(s, generator=gen) * 10.0 ** (torch.rand((), generator=gen).item() * 6 - 3)
            g[torch.rand(s, generator=gen) < 0.05] = 0.0
            if t % 11 == 3:
                g.view(-1)[0] = float("nan")
            gs.append(g)
        seq.append(gs)
    return seq


@pytest.mark.parametrize("v_dtype", ["float32", "bfloat16", "log8"])
@pytest.mark.parametrize("bits,rounding", [(8, "stochastic"), (5, "nearest"), (4, "stochastic"), (12, "stochastic")])
def test_native_lns_step_equals_the_per_tensor_step(bits, rounding, v_dtype):
    assert native.available()
    gen = torch.Generator().manual_seed(bits)
    params = [torch.randn(s, generator=gen).requires_grad_() for s in SHAPES]
    opt = LNSMadam(params, bits=bits, rounding=rounding, seed=7, lr=0.05, second_moment_dtype=v_dtype)
    ref_params = [p.detach().clone() for p in params]
    ref_states = [copy.deepcopy(opt.state[p]) for p in params]
    group = opt.param_groups[0]
    fmt = opt.format_of(group)
    assert all(native.lns_supports(p, torch.zeros_like(p), s["exp_avg_sq"], s["codes"]) for p, s in zip(params, ref_states))
    for grads in _grads(bits, 40):
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
        for w, s, g in zip(ref_params, ref_states, grads):
            lns_madam_update_(w, g, s, fmt, group)
    for p, w, s in zip(params, ref_params, ref_states):
        state = opt.state[p]
        assert torch.equal(state["codes"], s["codes"])
        assert torch.equal(p.detach(), w)
        assert torch.equal(state["exp_avg_sq"], s["exp_avg_sq"])
        if v_dtype == "log8":
            assert torch.equal(state["exp_avg_sq_exponent"], s["exp_avg_sq_exponent"])
        assert float(state["step"]) == float(s["step"]) == 40.0


def test_groups_the_kernel_cannot_take_use_the_per_tensor_step():
    """float64 weights and the log-space terms are not in the kernel: same results as the
    per-tensor step, and signs are kept."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(40, 30, generator=gen, dtype=torch.float64).requires_grad_()
    b = torch.randn(40, 30, generator=gen).requires_grad_()
    opt = LNSMadam([{"params": [a]}, {"params": [b], "restore": 0.01, "noise": 0.02}])
    refs = [(a.detach().clone(), copy.deepcopy(opt.state[a]), opt.param_groups[0]),
            (b.detach().clone(), copy.deepcopy(opt.state[b]), opt.param_groups[1])]
    signs = [torch.sign(a.detach()), torch.sign(b.detach())]
    for t in range(15):
        ga, gb = torch.randn(40, 30, generator=gen, dtype=torch.float64), torch.randn(40, 30, generator=gen)
        a.grad, b.grad = ga.clone(), gb.clone()
        opt.step()
        for (w, s, group), g in zip(refs, (ga, gb)):
            lns_madam_update_(w, g, s, opt.format_of(group), group)
    for p, (w, s, _), sign in zip((a, b), refs, signs):
        assert torch.equal(opt.state[p]["codes"], s["codes"]) and torch.equal(p.detach(), w)
        assert torch.equal(torch.sign(p.detach()), sign)
