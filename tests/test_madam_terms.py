"""Madam and LNSMadam with rule.py's opt-in log-space terms (restore, noise, set point, soft/no bound)."""

import copy
import io
import math

import pytest
import torch

from synapse_madam import LNSMadam, Madam, rule
from synapse_madam.hashnoise import hash_normal
from synapse_madam.optim import make_optimizer

from test_madam_optimizer import SHAPES, gradient_sequence, make_params
from test_madam_optimizer import TOL as TOL_16  # noqa: N811  (16-bit paths: a few ulps)

TERMS = {
    "restore+noise": dict(restore=0.02, noise=0.03),
    "restore only, set point 0.5": dict(restore=0.05, set_point=0.5),
    "noise only, no bound": dict(noise=0.02, bound="none"),
    "soft bound + restore + noise": dict(restore=0.01, noise=0.02, bound="soft", p_scale=1.5),
    "soft bound alone": dict(bound="soft", p_scale=1.2),
}
TOL = {torch.float64: 1e-12, torch.float32: 2e-5, torch.bfloat16: TOL_16[torch.bfloat16],
       torch.float16: TOL_16[torch.float16]}


def reference(params, grad_seq, lr=0.01, seed=0, p_scale=rule.DEFAULT_P_SCALE, set_point=1.0, **terms):
    """rule.madam_update with the noise the optimizer draws: hash_normal(seed*1000003 + i, t)."""
    ws = [p.detach().clone() for p in params]
    states = [rule.init_state(w, p_scale, set_point) for w in ws]
    for t, grads in enumerate(grad_seq, start=1):
        for i, g in enumerate(grads):
            xi = hash_normal(seed * 1_000_003 + i, t, ws[i].shape, like=ws[i]) if terms.get("noise") else None
            ws[i], states[i] = rule.madam_update(ws[i], g, states[i], lr=lr, xi=xi, **terms)
    return ws, states


def run(params, grad_seq, **kw):
    opt = Madam(params, **kw)
    for grads in grad_seq:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
    return opt


@pytest.mark.parametrize("terms", list(TERMS), ids=list(TERMS))
@pytest.mark.parametrize("path", ["for_loop", "foreach"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_paths_with_terms_equal_reference_rule_over_100_steps(terms, path, dtype):
    kw = dict(TERMS[terms], seed=7)
    params = make_params(SHAPES, dtype)
    grad_seq = gradient_sequence(SHAPES, 100, dtype)
    signs = [torch.sign(p.detach()) for p in params]
    expected, states = reference(params, grad_seq, **kw)
    opt = run(params, grad_seq, foreach=(path == "foreach"), **kw)
    for p, w, s, sign in zip(params, expected, states, signs):
        torch.testing.assert_close(p.detach(), w, rtol=TOL[dtype], atol=0)
        torch.testing.assert_close(opt.state[p]["exp_avg_sq"], s.v, rtol=max(TOL[dtype] * 10, 1e-6), atol=0)
        assert torch.equal(opt.state[p]["log_set_point"], s.log_set_point)
        assert torch.equal(torch.sign(p.detach()), sign)  # no sign ever flips
        if kw.get("bound") != "hard" and "bound" in kw:
            continue
        assert (p.detach().abs() <= opt.state[p]["w_max"]).all()


def test_terms_change_the_trajectory_and_defaults_do_not():
    """Each term moves the weights away from the published rule; the defaults are the rule."""
    grad_seq = gradient_sequence(SHAPES, 30, torch.float64, seed=2)
    published = make_params(SHAPES, torch.float64)
    run(published, grad_seq)
    explicit = make_params(SHAPES, torch.float64)
    run(explicit, grad_seq, restore=0.0, noise=0.0, bound="hard", set_point=1.0, seed=123)
    assert all(torch.equal(a, b) for a, b in zip(published, explicit))
    for kw in TERMS.values():
        other = make_params(SHAPES, torch.float64)
        run(other, grad_seq, **kw)
        assert any(not torch.equal(a, b) for a, b in zip(published, other)), kw


def test_noise_seeds_differ_per_parameter_and_per_base_seed():
    a = [torch.full((500,), 0.1, requires_grad=True), torch.full((500,), 0.1, requires_grad=True)]
    b = [torch.full((500,), 0.1, requires_grad=True), torch.full((500,), 0.1, requires_grad=True)]
    zero = [[torch.zeros(500), torch.zeros(500)]] * 5
    run(a, zero, noise=0.1, bound="none", seed=0)
    run(b, zero, noise=0.1, bound="none", seed=1)
    assert not torch.equal(a[0], a[1])  # two tensors, two streams
    assert not torch.equal(a[0], b[0])  # two base seeds, two streams


@pytest.mark.parametrize("foreach", [False, True])
def test_state_dict_round_trip_with_noise_resumes_exactly(foreach):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    x, y = torch.randn(400, 6), torch.randint(0, 3, (400,))
    kw = dict(restore=0.01, noise=0.05, bound="soft", set_point=0.8, seed=3, foreach=foreach)

    def train(m, opt, n):
        for i in range(n):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x[i::n]), y[i::n]).backward()
            opt.step()

    opt = Madam(model.parameters(), **kw)
    train(model, opt, 10)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    train(model, opt, 10)
    buf.seek(0)
    ckpt = torch.load(buf)
    resumed = copy.deepcopy(model)
    resumed.load_state_dict(ckpt["model"])
    opt2 = Madam(resumed.parameters())  # the options come back with the state dict
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.param_groups[0]["noise"] == 0.05 and opt2.param_groups[0]["bound"] == "soft"
    for p in resumed.parameters():
        assert opt2.state[p]["seed"].dtype == torch.int64
        assert opt2.state[p]["log_set_point"].dtype == torch.float32
    train(resumed, opt2, 10)
    for p, q in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


def test_old_state_dict_without_terms_still_loads():
    p = torch.randn(20, requires_grad=True)
    opt = Madam([p])
    p.grad = torch.randn(20)
    opt.step()
    sd = opt.state_dict()
    for group in sd["param_groups"]:
        for key in ("restore", "noise", "set_point", "bound", "seed"):
            del group[key]
    for s in sd["state"].values():
        del s["log_set_point"], s["seed"]
    q = p.detach().clone().requires_grad_()
    opt2 = Madam([q], restore=0.1)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["restore"] == 0.0  # the saved run was the published rule
    q.grad = torch.randn(20)
    opt2.step()
    assert "log_set_point" in opt2.state[q]


def test_zero_gradient_stationary_law_of_the_optimizer():
    """With zero gradient, ln|w| reaches N(mu, noise^2 / (2 theta)) (rule.stationary_log_moments)."""
    n, theta, noise = 20_000, 0.05, 0.1
    gen = torch.Generator().manual_seed(0)
    p = (torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1).requires_grad_()
    rms = float(p.detach().pow(2).mean().sqrt())
    opt = Madam([p], restore=theta, noise=noise, bound="none", set_point=0.5)
    signs = torch.sign(p.detach())
    for _ in range(300):  # 15 relaxation times
        p.grad = torch.zeros(n, dtype=torch.float64)
        opt.step()
    x = p.detach().abs().log()
    mean, var = rule.stationary_log_moments(math.log(0.5 * rms), theta, noise)
    assert float(x.mean()) == pytest.approx(mean, abs=4 * math.sqrt(var / n))
    assert float(x.var()) == pytest.approx(var, rel=4 * math.sqrt(2 / n))
    assert torch.equal(torch.sign(p.detach()), signs)


def test_fused_request_with_terms_takes_the_for_loop_path():
    params = make_params(SHAPES, torch.float64)
    grad_seq = gradient_sequence(SHAPES, 20, torch.float64, seed=4)
    kw = dict(restore=0.02, noise=0.03, bound="soft")
    expected, _ = reference(params, grad_seq, **kw)
    run(params, grad_seq, fused=True, **kw)  # no compilation happens: terms are not in the kernel
    for p, w in zip(params, expected):
        torch.testing.assert_close(p.detach(), w, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kwargs, word", [
    (dict(restore=-0.1), "restore"), (dict(noise=float("nan")), "noise"), (dict(set_point=0.0), "set_point"),
    (dict(bound="clip"), "bound"), (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"),
])
def test_invalid_term_options_raise_clear_errors(kwargs, word):
    with pytest.raises((ValueError, TypeError), match=word):
        Madam([torch.randn(3, requires_grad=True)], **kwargs)
    with pytest.raises((ValueError, TypeError), match=word):
        make_optimizer("madam", [torch.randn(3, requires_grad=True)], 0.01, **kwargs)


# --- LNSMadam: the same terms in code space ----------------------------------------------------

from synapse_madam.optim.lns_madam import NOISE_STREAM  # noqa: E402

LNS_TERMS = {
    "restore+noise": dict(restore=0.02, noise=0.03),
    "soft bound + restore + noise": dict(restore=0.01, noise=0.02, bound="soft", p_scale=2.5),
    "noise only, no bound": dict(noise=0.02, bound="none", p_scale=6.0),
}  # p_scale large enough that the rule's unclipped weights stay below the format's top level


def lns_params(shapes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for s in shapes:
        mag = torch.rand(s, generator=gen, dtype=torch.float64) * 0.8 + 0.2
        sign = torch.where(torch.rand(s, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
        out.append((sign * mag).requires_grad_())
    return out


@pytest.mark.parametrize("terms", list(LNS_TERMS), ids=list(LNS_TERMS))
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_lns_madam_with_terms_follows_the_rule_within_one_level_per_step(terms, rounding):
    """On a fine grid (base e^2e-4) every LNS step differs from rule.madam_update (with the same
    noise xi) by less than one level, so after n steps ln|w| agrees within n levels."""
    kw = LNS_TERMS[terms]
    lnb, n_steps = 2e-4, 100  # 16 bits: levels span e^6.5, no weight saturates at k_max
    params = lns_params(SHAPES)
    opt = LNSMadam(params, bits=16, base=math.exp(lnb), rounding=rounding, seed=5, **kw)
    signs = [torch.sign(p.detach()) for p in params]
    ws = [p.detach().clone() for p in params]  # already on the grid
    states = [rule.MadamState(torch.zeros_like(w), 0, opt.state[p]["scale"].to(torch.float64),
                              opt.state[p]["log_set_point"].to(torch.float64)) for p, w in zip(params, ws)]
    rule_kw = {k: v for k, v in kw.items() if k != "p_scale"}
    gen = torch.Generator().manual_seed(1)
    for t in range(1, n_steps + 1):
        for i, p in enumerate(params):
            g = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            seed = int(opt.state[p]["seed"]) + NOISE_STREAM
            xi = hash_normal(seed, t, p.shape, like=p) if kw.get("noise") else None
            ws[i], states[i] = rule.madam_update(ws[i], g, states[i], xi=xi, **rule_kw)
            p.grad = g
        opt.step()
    # the soft factor's slope in ln|w| is lr*|g_hat|*|w|/w_max, so it may grow the accumulated
    # differences by prod(1 + 0.01*|g_hat|) ~ e^(0.01 * 100 * E|g_hat|); allow a factor 2 there
    allowed = n_steps * lnb * (2.0 if kw.get("bound") == "soft" else 1.01)
    for p, w, s, sign in zip(params, ws, states, signs):
        assert float(w.abs().max()) < float(s.w_max)  # the comparison never involves saturation
        assert float(w.abs().min()) > float(s.w_max) * math.exp(-lnb * 32767)
        gap = (p.detach().abs().log() - w.abs().log()).abs().max()
        assert float(gap) <= allowed
        assert torch.equal(torch.sign(p.detach()), sign)
    moved = max(float((p.detach() - q.detach()).abs().max()) for p, q in zip(params, lns_params(SHAPES)))
    assert moved > 100 * lnb  # the test is not trivially met by weights that never moved


def test_lns_madam_sub_level_restoring_drift_survives_stochastic_rounding():
    """At 8 bits one level is ln(2)/8 = 0.087 in ln|w|, far above the per-step pull
    restore * (x - mu); stochastic rounding keeps it on average: E[x_t - mu] = (x_0 - mu) e^{-theta t}."""
    n, theta = 50_000, 0.01
    p = torch.full((n,), 0.05)
    p[::2] *= -1
    p[::3] *= 0.25  # two magnitudes, one RMS -> mu = ln(RMS)
    p.requires_grad_()
    opt = LNSMadam([p], bits=8, rounding="stochastic", restore=theta)
    mu = float(opt.state[p]["log_set_point"])
    x0 = p.detach().abs().log().clone()
    signs = torch.sign(p.detach())
    for _ in range(100):
        p.grad = torch.zeros(n)
        opt.step()
    x = p.detach().abs().log()
    for sel in (slice(0, None, 3), slice(1, None, 3)):
        expected = float((x0[sel] - mu).mean()) * math.exp(-theta * 100)
        assert float((x[sel] - mu).mean()) == pytest.approx(expected, abs=0.01)
    assert torch.equal(torch.sign(p.detach()), signs)
    nearest = torch.full((n,), 0.05, requires_grad=True)
    nearest.data[::3] *= 0.25
    opt_n = LNSMadam([nearest], bits=8, rounding="nearest", restore=theta)
    start = nearest.detach().clone()
    for _ in range(10):
        nearest.grad = torch.zeros(n)
        opt_n.step()
    assert torch.equal(nearest.detach(), start)  # nearest rounding drops sub-level drifts (documented)


def test_lns_madam_zero_gradient_stationary_law():
    n, theta, noise = 20_000, 0.05, 0.1
    gen = torch.Generator().manual_seed(0)
    p = (torch.rand(n, generator=gen) * 2 - 1).requires_grad_()
    opt = LNSMadam([p], bits=12, base=math.exp(0.005), restore=theta, noise=noise, bound="none",
                   p_scale=20.0, set_point=0.5)
    mu = float(opt.state[p]["log_set_point"])
    for _ in range(300):
        p.grad = torch.zeros(n)
        opt.step()
    x = p.detach().abs().log()
    mean, var = rule.stationary_log_moments(mu, theta, noise)
    assert float(x.mean()) == pytest.approx(mean, abs=4 * math.sqrt(var / n) + 0.005)
    # stochastic rounding adds at most level^2 / 4 per step: var / (2 theta) * 0.005^2 / 4 = 6e-5
    assert float(x.var()) == pytest.approx(var, rel=4 * math.sqrt(2 / n) + 0.01)


def test_lns_madam_with_noise_resumes_exactly_through_state_dict():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    x, y = torch.randn(200, 6), torch.randint(0, 3, (200,))
    kw = dict(bits=8, restore=0.01, noise=0.05, bound="soft", seed=2)

    def train(m, o, n):
        for i in range(n):
            o.zero_grad()
            torch.nn.functional.cross_entropy(m(x[i::n]), y[i::n]).backward()
            o.step()

    opt = LNSMadam(model.parameters(), **kw)
    train(model, opt, 8)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    train(model, opt, 8)
    buf.seek(0)
    ckpt = torch.load(buf)
    twin = copy.deepcopy(model)
    opt2 = LNSMadam(twin.parameters(), bits=8)
    opt2.load_state_dict(ckpt["opt"])
    twin.load_state_dict(ckpt["model"])
    assert opt2.param_groups[0]["noise"] == 0.05
    train(twin, opt2, 8)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)
        assert torch.equal(opt.state[p]["codes"], opt2.state[q]["codes"])


def test_lns_madam_terms_off_are_the_plain_lns_step_and_bad_options_are_refused():
    a, b = lns_params([(40, 3)]), lns_params([(40, 3)])
    oa, ob = LNSMadam(a, bits=8), LNSMadam(b, bits=8, restore=0.0, noise=0.0, bound="hard", seed=0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        g = torch.randn(40, 3, generator=gen, dtype=torch.float64)
        a[0].grad, b[0].grad = g, g.clone()
        oa.step(), ob.step()
    assert torch.equal(a[0], b[0])
    for kwargs, word in [(dict(restore=-1.0), "restore"), (dict(bound="clip"), "bound"), (dict(seed=-2), "seed")]:
        with pytest.raises((ValueError, TypeError), match=word):
            LNSMadam(lns_params([(3,)]), **kwargs)
