"""The uniform fixed-point baseline (synapse_madam.optim.fixed_point)."""

import io

import pytest
import torch

from synapse_madam.optim.fixed_point import UniformQuantized, quantize_uniform, uniform_grid_step


def on_grid(w, bits, scale):
    q = w / uniform_grid_step(bits, scale)
    return torch.allclose(q, q.round(), atol=1e-4) and (w.abs() <= scale * (1 + 1e-6)).all()


def test_quantize_uniform_grid_and_clip():
    w = torch.tensor([0.0, 0.26, -0.74, 5.0, -5.0])
    out = quantize_uniform(w, bits=3, scale=1.0)  # grid -1, -2/3, -1/3, 0, 1/3, 2/3, 1
    torch.testing.assert_close(out, torch.tensor([0.0, 1 / 3, -2 / 3, 1.0, -1.0]))
    with pytest.raises(ValueError, match="bits"):
        quantize_uniform(w, bits=1, scale=1.0)


def test_small_additive_updates_are_lost_with_nearest_rounding():
    torch.manual_seed(0)
    w = (torch.randn(1000) * 0.1).requires_grad_()
    opt = UniformQuantized(torch.optim.SGD([w], lr=1e-4), bits=6)
    scale = float(opt.state[w]["scale"])
    start = w.detach().clone()
    assert on_grid(start, 6, scale)
    for _ in range(20):
        opt.zero_grad()
        w.grad = torch.ones(1000)  # each step moves w by 1e-4, far below delta/2
        opt.step()
    assert torch.equal(w.detach(), start)  # nothing learned
    opt_s = UniformQuantized(torch.optim.SGD([w], lr=1e-4), bits=6, rounding="stochastic")
    scale, start = float(opt_s.state[w]["scale"]), w.detach().clone()
    for _ in range(20):
        w.grad = torch.ones(1000)
        opt_s.step()
    assert float((w.detach() - start).mean()) == pytest.approx(-20e-4, rel=0.25)  # unbiased on average
    assert on_grid(w.detach(), 6, scale)


def test_uniform_quantized_resume_and_scheduler():
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))

    def train(m, o, s, n):
        for i in range(n):
            o.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            o.step()
            s.step()

    opt = UniformQuantized(torch.optim.Adam(model.parameters(), lr=0.01), bits=8, rounding="stochastic")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    train(model, opt, sched, 5)
    assert opt.inner.param_groups[0]["lr"] == pytest.approx(0.005)  # the scheduler drives the inner lr
    buf = io.BytesIO()
    torch.save({"m": model.state_dict(), "o": opt.state_dict(), "s": sched.state_dict()}, buf)
    train(model, opt, sched, 5)
    buf.seek(0)
    ck = torch.load(buf)
    twin = torch.nn.Linear(5, 3)  # the usual order: build model and optimizer, then load both
    opt2 = UniformQuantized(torch.optim.Adam(twin.parameters(), lr=0.01), bits=8, rounding="stochastic")
    twin.load_state_dict(ck["m"])
    opt2.load_state_dict(ck["o"])
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=3, gamma=0.5)
    sched2.load_state_dict(ck["s"])
    train(twin, opt2, sched2, 5)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)


def test_memory_report_counts_the_wrapped_optimizers_state():
    from synapse_madam.optim import training_state_bytes

    model = torch.nn.Linear(64, 64)
    opt = UniformQuantized(torch.optim.Adam(model.parameters()), bits=8)
    model(torch.randn(4, 64)).sum().backward()
    opt.step()
    assert training_state_bytes(opt)["persistent_bytes_per_param"] == pytest.approx(12, abs=0.1)


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_native_grid_rounding_equals_quantize_uniform(rounding):
    """Float32 CPU weights are rounded by the native kernel; the result is quantize_uniform's."""
    from synapse_madam.hashnoise import hash_uniform
    from synapse_madam.optim import native

    assert native.available()
    gen = torch.Generator().manual_seed(1)
    params = [torch.randn(s, generator=gen).requires_grad_() for s in [(7, 5), (300, 301), (13,)]]
    opt = UniformQuantized(torch.optim.Adam(params, lr=0.01), bits=6, rounding=rounding, seed=3)
    for _ in range(3):  # off-grid weights (as after an additive step), then one rounding pass
        for p in params:
            p.data.copy_(torch.randn(p.shape, generator=gen) * 0.7)
        inputs = [p.detach().clone() for p in params]
        opt._quantize_all()
        for p, x in zip(params, inputs):
            state = opt.state[p]
            uniform = hash_uniform(state["seed"], state["step"], p.shape) if rounding == "stochastic" else None
            assert torch.equal(p.detach(), quantize_uniform(x, 6, state["scale"], rounding, uniform))
            assert (p.detach() != x).any()


def test_flat_rounding_of_a_group_equals_tensor_by_tensor(monkeypatch):
    from synapse_madam.optim import native

    monkeypatch.setattr(native, "available", lambda: False)  # the torch path, as on CUDA

    def run(one_group):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
        params = list(model.parameters()) if one_group else [{"params": [p]} for p in model.parameters()]
        opt = UniformQuantized(torch.optim.Adam(params, lr=0.01), bits=5, rounding="stochastic", seed=4)
        x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
        for _ in range(5):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return model, opt

    (flat, opt), (ref, ropt) = run(True), run(False)
    assert "_flat_cache" in opt.__dict__ and "_flat_cache" not in ropt.__dict__
    for p, q in zip(flat.parameters(), ref.parameters()):
        assert torch.equal(p, q) and torch.equal(opt.state[p]["step"], ropt.state[q]["step"])
        assert on_grid(p.detach(), 5, float(opt.state[p]["scale"]))
