"""LogAdam: Adam/SGD on theta with w = sign(w0) * exp(theta), the additive control for Madam."""

import copy
import io
import math

import pytest
import torch

from synapse_madam import rule
from synapse_madam.optim import LogAdam, make_optimizer
from synapse_madam.optim.log_adam import METHODS


def loss_fn(ws, x, y):
    h = torch.tanh(x @ ws[0])
    return torch.nn.functional.mse_loss(h @ ws[1], y)


def problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    w0 = [torch.randn(5, 8, generator=gen, dtype=torch.float64), torch.randn(8, 2, generator=gen, dtype=torch.float64)]
    x = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(64, 2, generator=gen, dtype=torch.float64)
    return w0, x, y


@pytest.mark.parametrize("method, torch_opt", [
    ("adam", lambda ps: torch.optim.Adam(ps, lr=0.01)),
    ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.5)),
])
def test_equals_the_torch_optimizer_on_the_reparametrised_model(method, torch_opt):
    """LogAdam on w is exactly torch's Adam/SGD on theta for the model w = s * exp(theta)."""
    w0, x, y = problem()
    signs = [torch.sign(w) for w in w0]
    thetas = [w.abs().log().requires_grad_() for w in w0]
    ref = torch_opt(thetas)
    ws = [w.clone().requires_grad_() for w in w0]
    opt = LogAdam(ws, lr=0.01, method=method, momentum=0.5)
    for _ in range(60):
        ref.zero_grad()
        loss_fn([s * torch.exp(t) for s, t in zip(signs, thetas)], x, y).backward()
        ref.step()
        opt.zero_grad()
        loss_fn(ws, x, y).backward()
        opt.step()
    for w, s, t in zip(ws, signs, thetas):
        torch.testing.assert_close(w.detach(), s * torch.exp(t.detach()), rtol=1e-10, atol=0)
        assert torch.equal(torch.sign(w.detach()), s)
    assert max(float((w.detach() - v).abs().max()) for w, v in zip(ws, w0)) > 0.01  # it trained


def test_decoupled_terms_equal_the_rule_ou_step_on_theta():
    """With zero gradient only the OU terms act: theta follows rule.log_space_relaxation."""
    w0, _, _ = problem(1)
    ws = [w.clone().requires_grad_() for w in w0]
    opt = LogAdam(ws, restore=0.05, noise=0.1, set_point=0.7, seed=4)
    ref = [w.clone() for w in w0]
    mus = [rule.initial_log_set_point(w, 0.7) for w in w0]
    from synapse_madam.hashnoise import hash_normal
    for t in range(1, 41):
        for i, w in enumerate(ws):
            w.grad = torch.zeros_like(w)
            ref[i] = rule.log_space_relaxation(ref[i], mus[i], 0.05, 0.1, hash_normal(4 * 1_000_003 + i, t, w.shape, like=w))
        opt.step()
    for w, r in zip(ws, ref):
        torch.testing.assert_close(w.detach(), r, rtol=1e-12, atol=0)


def test_zero_gradient_stationary_law():
    n, theta, noise = 20_000, 0.05, 0.1
    gen = torch.Generator().manual_seed(0)
    p = (torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1).requires_grad_()
    signs = torch.sign(p.detach())
    mu = float(rule.initial_log_set_point(p.detach()))
    opt = LogAdam([p], restore=theta, noise=noise)
    for _ in range(300):
        p.grad = torch.zeros(n, dtype=torch.float64)
        opt.step()
    x = p.detach().abs().log()
    mean, var = rule.stationary_log_moments(mu, theta, noise)
    assert float(x.mean()) == pytest.approx(mean, abs=4 * math.sqrt(var / n))
    assert float(x.var()) == pytest.approx(var, rel=4 * math.sqrt(2 / n))
    assert torch.equal(torch.sign(p.detach()), signs)


@pytest.mark.parametrize("method", METHODS)
def test_state_dict_round_trip_with_noise_resumes_exactly(method):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    x, y = torch.randn(400, 6), torch.randint(0, 3, (400,))
    kw = dict(method=method, momentum=0.9, restore=0.01, noise=0.05, seed=3)

    def train(m, o, n):
        for i in range(n):
            o.zero_grad()
            torch.nn.functional.cross_entropy(m(x[i::n]), y[i::n]).backward()
            o.step()

    opt = LogAdam(model.parameters(), **kw)
    train(model, opt, 10)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    train(model, opt, 10)
    buf.seek(0)
    ckpt = torch.load(buf)
    twin = copy.deepcopy(model)
    twin.load_state_dict(ckpt["model"])
    opt2 = LogAdam(twin.parameters())
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.state[next(twin.parameters())]["seed"].dtype == torch.int64
    train(twin, opt2, 10)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)


def test_registry_names_and_bad_options():
    p = [torch.randn(4, requires_grad=True)]
    assert isinstance(make_optimizer("log_adam", p, 0.01), LogAdam)
    opt = make_optimizer("log_sgd", p, 0.1)
    assert isinstance(opt, LogAdam) and opt.param_groups[0]["method"] == "sgd"
    assert LogAdam.sign_preserving
    for kwargs, word in [(dict(method="rmsprop"), "method"), (dict(betas=(1.0, 0.9)), "betas"),
                         (dict(restore=-1.0), "restore"), (dict(seed=-1), "seed"), (dict(momentum=1.5), "momentum")]:
        with pytest.raises((ValueError, TypeError), match=word):
            LogAdam([torch.randn(3, requires_grad=True)], **kwargs)


def test_exact_zeros_stay_zero_and_warn():
    p = torch.tensor([0.0, 0.5, -0.2], requires_grad=True)
    with pytest.warns(UserWarning, match="zeros"):
        opt = LogAdam([p])
        p.grad = torch.ones(3)
        opt.step()
    assert float(p.detach()[0]) == 0.0 and torch.isfinite(p.detach()).all()


def test_trains_a_real_mlp_on_digits(train_digits_mlp):
    accuracy, model = train_digits_mlp(lambda m: LogAdam(m.parameters(), lr=0.01))
    assert accuracy > 0.9, accuracy
