"""The Madam torch optimizer: equivalence of every path to rule.py, torch.optim conventions."""

import copy
import io
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse_madam import Madam, ZeroParameterWarning, reinit_zero_tensors, rule

SHAPES = [(7, 5), (13,), (3, 4, 2, 2), (1,), (64, 33)]
PATHS = {"for_loop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True), "default": {}}
# Relative tolerance after 100 steps. 16-bit paths round in different places: a one-ulp difference
# early on persists, so they agree to a few ulps (bf16 ulp = 2^-8, fp16 ulp = 2^-11).
TOL = {torch.float64: 1e-12, torch.float32: 2e-5, torch.bfloat16: 10 * 2**-8, torch.float16: 10 * 2**-11}


def gradient_sequence(shapes, n_steps, dtype, seed=0):
    """Gradients of wildly varying scale, with exact zeros and occasional NaN/inf entries."""
    gen = torch.Generator().manual_seed(seed)
    seq = []
    for t in range(n_steps):
        grads = []
        for shape in shapes:
            scale = 10.0 ** (torch.rand((), generator=gen) * 6 - 3)
            g = torch.randn(shape, generator=gen, dtype=torch.float64) * scale
            g[torch.rand(shape, generator=gen) < 0.05] = 0.0
            if t % 17 == 5:
                g.view(-1)[0] = float("nan")
            if t % 23 == 7:
                g.view(-1)[-1] = float("inf")
            grads.append(g.to(dtype))
        seq.append(grads)
    return seq


def make_params(shapes, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype).requires_grad_() for s in shapes]


def reference_trajectory(params, grad_seq, lrs, **hyper):
    ws = [p.detach().clone() for p in params]
    states = [rule.init_state(w, hyper.get("p_scale", rule.DEFAULT_P_SCALE)) for w in ws]
    kw = {k: v for k, v in hyper.items() if k != "p_scale"}
    for grads, lr in zip(grad_seq, lrs):
        for i, g in enumerate(grads):
            ws[i], states[i] = rule.madam_update(ws[i], g, states[i], lr=lr, **kw)
    return ws, states


def run_optimizer(params, grad_seq, scheduler=None, **opt_kwargs):
    opt = Madam(params, **opt_kwargs)
    sched = scheduler(opt) if scheduler else None
    lrs = []
    for grads in grad_seq:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched:
            sched.step()
    return opt, lrs


@pytest.mark.parametrize("path", ["for_loop", "foreach", "default"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_paths_equal_reference_rule_over_100_steps(path, dtype):
    params = make_params(SHAPES, dtype)
    grad_seq = gradient_sequence(SHAPES, 100, dtype)
    expected, states = reference_trajectory(params, grad_seq, [0.01] * 100)
    opt, _ = run_optimizer(params, grad_seq, **PATHS[path])
    for p, w, s in zip(params, expected, states):
        torch.testing.assert_close(p.detach(), w, rtol=TOL[dtype], atol=0)
        torch.testing.assert_close(opt.state[p]["exp_avg_sq"], s.v, rtol=TOL[dtype] * 10, atol=0)
        assert float(opt.state[p]["step"]) == 100.0
        assert torch.isfinite(p).all()


def test_fused_path_equals_reference_rule_over_100_steps():
    """fused=True on the CPU is the native one-pass kernel."""
    for dtype in (torch.float32, torch.float64):
        params = make_params(SHAPES, dtype)
        grad_seq = gradient_sequence(SHAPES, 100, dtype)
        sched = lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.5)  # noqa: E731
        opt, lrs = run_optimizer(params, grad_seq, scheduler=sched, fused=True)
        assert len(set(lrs)) == 4  # the scheduler drove lr without breaking the compiled kernel
        expected, _ = reference_trajectory(make_params(SHAPES, dtype), grad_seq, lrs)
        for p, w in zip(params, expected):
            torch.testing.assert_close(p.detach(), w, rtol=TOL[dtype], atol=0)


@pytest.mark.parametrize("path", ["for_loop", "foreach"])
def test_lr_scheduler_drives_the_step_size(path):
    params = make_params(SHAPES, torch.float64)
    grad_seq = gradient_sequence(SHAPES, 40, torch.float64, seed=3)
    sched = lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40)  # noqa: E731
    _, lrs = run_optimizer(params, grad_seq, scheduler=sched, **PATHS[path])
    assert lrs[0] == 0.01 and lrs[-1] < 1e-4
    expected, _ = reference_trajectory(make_params(SHAPES, torch.float64), grad_seq, lrs)
    for p, w in zip(params, expected):
        torch.testing.assert_close(p.detach(), w, rtol=1e-12, atol=0)


def test_per_group_hyperparameters_are_used():
    a, b = make_params([(20,), (20,)], torch.float64)
    opt = Madam([{"params": [a], "lr": 0.05, "p_scale": 1.0}, {"params": [b], "p_scale": float("inf")}])
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[1]["lr"] == 0.01
    a0, b0 = a.detach().clone(), b.detach().clone()
    a.grad, b.grad = torch.randn(20, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    opt.step()
    # first step: |log|w'| - log|w|| == lr exactly (g_hat = sign(g)); b has no magnitude bound
    step_b = (b.detach().abs().log() - b0.abs().log()).abs()
    torch.testing.assert_close(step_b, torch.full_like(step_b, 0.01))
    assert float(opt.state[a]["w_max"]) == pytest.approx(float(a0.pow(2).mean().sqrt()))
    assert (a.detach().abs() <= opt.state[a]["w_max"]).all()


def train_steps(model, opt, data, n):
    x, y = data
    for i in range(n):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[i::n]), y[i::n])
        loss.backward()
        opt.step()
    return loss


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_state_dict_round_trip_resumes_bit_identically(dtype):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).to(dtype)
    data = (torch.randn(400, 6).to(dtype), torch.randint(0, 3, (400,)))
    opt = Madam(model.parameters())
    train_steps(model, opt, data, 10)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    train_steps(model, opt, data, 10)

    buf.seek(0)
    ckpt = torch.load(buf)
    resumed = copy.deepcopy(model)
    resumed.load_state_dict(ckpt["model"])
    opt2 = Madam(resumed.parameters())
    opt2.load_state_dict(ckpt["opt"])
    for p in resumed.parameters():
        assert opt2.state[p]["exp_avg_sq"].dtype == rule.state_dtype(p)
        assert opt2.state[p]["step"].dtype == torch.float32
    train_steps(resumed, opt2, data, 10)
    for p, q in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    for p, q in zip(model.parameters(), resumed.parameters()):
        for key in ("exp_avg_sq", "step", "w_max"):
            assert torch.equal(opt.state[p][key], opt2.state[q][key])


def test_grad_scaler_unscales_and_skips_inf_steps():
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 2)
    ref = copy.deepcopy(model)
    x, y = torch.randn(32, 5), torch.randn(32, 2)
    opt, opt_ref = Madam(model.parameters()), Madam(ref.parameters())
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    for _ in range(5):
        opt.zero_grad()
        scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
        scaler.step(opt)
        scaler.update()
        opt_ref.zero_grad()
        torch.nn.functional.mse_loss(ref(x), y).backward()
        opt_ref.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=0)
    before = [p.detach().clone() for p in model.parameters()]
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y) * float("inf")).backward()
    scaler.step(opt)  # found inf: the step is skipped
    for p, b in zip(model.parameters(), before):
        assert torch.equal(p, b)


def test_closure_is_called_and_its_loss_returned():
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(10, 3), torch.randn(10, 1)
    opt = Madam(model.parameters())
    calls = []

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        calls.append(1)
        return loss

    w0 = model.weight.detach().clone()
    loss = opt.step(closure)
    assert calls == [1] and torch.is_tensor(loss)
    assert not torch.equal(model.weight, w0)


def test_maximize_ascends():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = Madam([w], maximize=True, p_scale=10.0)
    for _ in range(50):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    assert (w.detach() > torch.tensor([1.0, 2.0])).all()


@pytest.mark.parametrize(
    "kwargs, word",
    [(dict(lr=0.0), "lr"), (dict(lr=-0.01), "lr"), (dict(p_scale=0.0), "p_scale"),
     (dict(beta=1.0), "beta"), (dict(beta=-0.5), "beta"), (dict(g_bound=0.0), "g_bound"),
     (dict(g_bound=-1.0), "g_bound"), (dict(eps=-1e-8), "eps")],
)
def test_invalid_hyperparameters_raise_value_error(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Madam([torch.zeros(2, requires_grad=True)], **kwargs)


def test_invalid_group_hyperparameters_raise_value_error():
    with pytest.raises(ValueError, match="lr"):
        Madam([{"params": [torch.ones(2, requires_grad=True)], "lr": -1.0}])


def test_sparse_and_complex_are_rejected_clearly():
    emb = torch.nn.Embedding(10, 4, sparse=True)
    opt = Madam(emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()
    with pytest.raises(TypeError, match="complex"):
        Madam([torch.ones(2, dtype=torch.complex64, requires_grad=True)])
    with pytest.raises(ValueError, match="exclusive"):
        Madam([torch.ones(2, requires_grad=True)], foreach=True, fused=True)


def test_zero_parameters_warn_once_with_their_names_and_helper_fixes_them():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    torch.nn.init.zeros_(model[1].bias)
    opt = Madam(model.named_parameters())
    model(torch.randn(3, 4)).sum().backward()
    with pytest.warns(ZeroParameterWarning, match=r"1\.bias: 2 of 2 entries"):
        opt.step()
    assert torch.count_nonzero(model[1].bias) == 0  # zeros never move
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()  # state exists: no second warning

    assert reinit_zero_tensors(model, std=0.01, generator=torch.Generator().manual_seed(1)) == ["1.bias"]
    assert torch.count_nonzero(model[1].bias) == 2 and model[1].bias.abs().max() < 0.1
    assert reinit_zero_tensors(model) == []


def test_parameters_without_gradient_are_left_alone():
    a, b = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    opt = Madam([a, b])
    a.grad = torch.ones(3)
    opt.step()
    assert torch.equal(b, torch.ones(3)) and b not in opt.state


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), foreach=st.sampled_from([True, False, None]), lr=st.floats(1e-3, 0.3),
       log_scale=st.floats(-30, 30), special=st.sampled_from([0.0, float("nan"), float("inf"), -float("inf")]))
def test_optimizer_invariants(seed, foreach, lr, log_scale, special):
    """Sign kept, |w| <= w_max, log|w| moves by <= lr*g_bound (or onto the bound), never NaN."""
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen).requires_grad_() for s in [(9, 4), (5,)]]
    opt = Madam(params, lr=lr, foreach=foreach)
    for t in range(8):
        before = [p.detach().clone() for p in params]
        for p in params:
            g = torch.randn(p.shape, generator=gen) * 10.0**log_scale
            g[torch.rand(p.shape, generator=gen) < 0.2] = special
            p.grad = g
        opt.step()
        for p, b in zip(params, before):
            w_max = opt.state[p]["w_max"]
            assert torch.isfinite(p).all()
            assert torch.equal(torch.sign(p), torch.sign(b))
            assert (p.abs() <= w_max).all()
            change = p.detach().abs().log() - b.abs().log()
            bound = lr * rule.DEFAULT_G_BOUND * (1 + 1e-5)
            assert (change <= bound).all()
            assert ((change >= -bound) | (p.abs() == w_max)).all()


@pytest.mark.compile
@pytest.mark.parametrize("foreach", [True, False, None])
def test_torch_compile_of_step_has_no_graph_breaks_and_matches_eager(foreach):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    twin = copy.deepcopy(model)
    opt, opt_twin = Madam(model.parameters(), foreach=foreach), Madam(twin.parameters(), foreach=foreach)
    compiled_step = torch.compile(opt.step, fullgraph=True)  # fullgraph: any graph break raises
    x, y = torch.randn(64, 8), torch.randn(64, 4)
    for _ in range(5):
        for m, o, step in ((model, opt, compiled_step), (twin, opt_twin, opt_twin.step)):
            o.zero_grad()
            torch.nn.functional.mse_loss(m(x), y).backward()
            step()
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)


def test_trains_a_real_mlp_on_digits_with_the_default_lr(train_digits_mlp):
    def madam(model):
        reinit_zero_tensors(model)
        return Madam(model.parameters())  # default lr = 0.01, no tuning

    accuracy, model = train_digits_mlp(madam)
    assert accuracy > 0.9, accuracy
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("path", ["for_loop", "foreach", "fused"])
def test_cuda_paths_equal_reference_rule(path):
    params = [p.detach().cuda().requires_grad_() for p in make_params(SHAPES, torch.float32)]
    grad_seq = [[g.cuda() for g in gs] for gs in gradient_sequence(SHAPES, 50, torch.float32)]
    expected, _ = reference_trajectory([p.cpu() for p in params], [[g.cpu() for g in gs] for gs in grad_seq], [0.01] * 50)
    run_optimizer(params, grad_seq, **PATHS[path])
    for p, w in zip(params, expected):
        torch.testing.assert_close(p.detach().cpu(), w, rtol=1e-4, atol=0)


@pytest.mark.compile
def test_fused_multi_tensor_layout_equals_reference_rule():
    """The compiled multi-tensor layout (the CUDA default) checked here on the CPU."""
    from synapse_madam.optim.madam_functional import madam_fused

    params = make_params(SHAPES, torch.float32)
    grad_seq = gradient_sequence(SHAPES, 30, torch.float32, seed=5)
    expected, _ = reference_trajectory(make_params(SHAPES, torch.float32), grad_seq, [0.02] * 30)
    states = [rule.init_state(p.detach()) for p in params]
    vs, steps, w_maxs = [s.v for s in states], [s.step for s in states], [s.w_max for s in states]
    with torch.no_grad():
        for grads in grad_seq:
            madam_fused(params, grads, vs, steps, w_maxs, lr=0.02, beta=0.999, g_bound=10.0, eps=0.0,
                        maximize=False)
    for p, w in zip(params, expected):
        torch.testing.assert_close(p.detach(), w, rtol=TOL[torch.float32], atol=0)
