"""LNS formats (synapse_madam.lns) and the LNSMadam optimizer."""

import copy
import io
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from synapse_madam import rule
from synapse_madam.lns import LNSFormat, hash_uniform, round_to_integer
from synapse_madam.optim import LNSMadam, Madam, training_state_bytes


@pytest.mark.parametrize("kwargs, word", [
    (dict(bits=1), "bits"), (dict(bits=17), "bits"), (dict(bits=8.5), "bits"), (dict(bits=8, base=1.0), "base"),
    (dict(bits=8, base=0.5), "base"), (dict(bits=8, gamma=0), "gamma"), (dict(bits=8, base=2.0, gamma=8), "not both"),
    (dict(bits=16, base=2.0), "float32"),
])
def test_invalid_formats_raise_clear_errors(kwargs, word):
    with pytest.raises(ValueError, match=word):
        LNSFormat(**kwargs)


def test_format_geometry():
    f = LNSFormat(8, gamma=8)
    assert f.n_levels == 128 and f.k_max == 127
    assert f.base == pytest.approx(2 ** (1 / 8)) and f.relative_spacing == pytest.approx(2 ** (1 / 8) - 1)
    assert f.dynamic_range == pytest.approx(2 ** (127 / 8))
    lo, hi = f.magnitude_range(0.5)
    assert hi == 0.5 and lo == pytest.approx(0.5 * 2 ** (-127 / 8))
    assert np.allclose(f.levels(1.0)[1:] / f.levels(1.0)[:-1], 1 / f.base)  # log-uniform
    assert f.storage_dtype == np.int8 and LNSFormat(9).storage_dtype == np.int16
    g = LNSFormat.for_range(5, 60.0)  # Bartol's ~60-fold range in 16 levels
    assert g.dynamic_range == pytest.approx(60.0)
    for bits in (4, 8, 12, 16):  # default: LNS-Madam's 8-bit range at every width
        assert LNSFormat(bits).dynamic_range == pytest.approx(2 ** (127 / 8))
    assert LNSFormat(8).base == pytest.approx(2 ** (1 / 8))


@settings(max_examples=50, deadline=None)
@given(bits=st.integers(2, 16), gamma=st.floats(0.25, 64), scale=st.floats(1e-3, 1e3), seed=st.integers(0, 10**6))
def test_representable_values_round_trip_exactly(bits, gamma, scale, seed):
    assume((2 ** (bits - 1) - 1) / gamma <= 120)
    f = LNSFormat(bits, gamma=gamma)
    rng = np.random.default_rng(seed)
    codes = rng.integers(-f.n_levels, f.n_levels, size=200).astype(f.storage_dtype)
    for xp_codes, xp_scale in [(codes, scale), (torch.from_numpy(codes), torch.tensor(scale, dtype=torch.float64))]:
        w = f.decode(xp_codes, xp_scale, dtype=np.float64 if isinstance(xp_codes, np.ndarray) else torch.float64)
        again = f.encode(w, xp_scale)
        assert (np.asarray(again) == codes).all()
        assert (np.sign(np.asarray(w)) == np.where(codes < 0, -1, 1)).all()
        assert np.abs(np.asarray(w)).max() <= scale * (1 + 1e-12)


def test_encode_clips_to_range_and_numpy_matches_torch():
    f = LNSFormat(4, base=2.0)  # 8 levels: 1, 1/2, ..., 1/128
    w = np.array([5.0, 1.0, -0.3, 1e-9, 0.0, -1e-9])
    codes = f.encode(w, 1.0)
    sign, k = f.unpack(codes)
    assert list(k) == [0, 0, 2, 7, 7, 7] and list(sign) == [1, 1, -1, 1, 1, -1]
    assert np.array_equal(f.encode(torch.tensor(w), 1.0).numpy(), codes)
    with pytest.raises(ValueError, match="NaN or inf"):
        f.encode(np.array([np.nan]), 1.0)


def test_stochastic_rounding_is_unbiased_and_hash_noise_is_uniform():
    u = hash_uniform(seed=7, counter=3, shape=(200_000,))
    assert 0 <= float(u.min()) and float(u.max()) < 1
    assert abs(float(u.mean()) - 0.5) < 0.005 and abs(float(u.std()) - math.sqrt(1 / 12)) < 0.005
    assert torch.equal(u, hash_uniform(7, 3, (200_000,)))  # stateless: same inputs, same noise
    assert not torch.equal(u[:100], hash_uniform(7, 4, (100,)))
    x = torch.full((200_000,), 0.137)
    assert float(round_to_integer(x, "stochastic", u).mean()) == pytest.approx(0.137, abs=0.005)
    assert float(round_to_integer(x, "nearest").mean()) == 0.0  # small steps vanish when rounded


def test_lns_madam_first_step_equals_rule_then_quantisation():
    """With base = e^lr a first Madam step (g_hat = sign(g)) is exactly one level: LNSMadam's
    integer add equals rule.madam_update followed by encoding."""
    lr = 0.01
    torch.manual_seed(0)
    w0 = torch.randn(50, 20, dtype=torch.float64) * 0.1
    g = torch.randn(50, 20, dtype=torch.float64)
    p = w0.clone().requires_grad_()
    opt = LNSMadam([p], lr=lr, bits=12, base=math.exp(lr), rounding="nearest")
    fmt, scale = opt.format_of(opt.param_groups[0]), opt.state[p]["scale"]
    w_start = p.detach().clone()  # already on the grid
    state = rule.MadamState(torch.zeros_like(w_start), 0, scale.to(torch.float64))  # bound = top level
    expected_w, _ = rule.madam_update(w_start, g, state, lr=lr)
    p.grad = g
    opt.step()
    assert torch.equal(opt.state[p]["codes"], fmt.encode(expected_w, scale))
    torch.testing.assert_close(p.detach(), expected_w, rtol=1e-6, atol=0)


def test_lns_madam_invariants_and_integer_state():
    torch.manual_seed(1)
    p = (torch.randn(300) * 0.2).requires_grad_()
    signs = torch.sign(p.detach())
    opt = LNSMadam([p], bits=5, rounding="stochastic")
    state = opt.state[p]
    assert state["codes"].dtype == torch.int8 and not torch.is_floating_point(state["codes"])
    float_state = {k for k, v in state.items() if torch.is_floating_point(v) and v.numel() == p.numel()}
    assert float_state == {"exp_avg_sq"}  # no float copy of the weights in the optimizer state
    for _ in range(200):
        p.grad = torch.randn(300) * 10 ** float(torch.empty(()).uniform_(-4, 4))
        p.grad[::17] = float("nan")
        opt.step()
        assert torch.equal(torch.sign(p.detach()), signs)
        assert (p.detach().abs() <= state["scale"] * (1 + 1e-6)).all()
        assert torch.equal(p.detach(), opt.format_of(opt.param_groups[0]).decode(state["codes"], state["scale"]))


def test_lns_madam_stochastic_step_matches_madam_in_expectation():
    """Average over many weights: the expected change of log|w| equals Madam's continuous step."""
    n, lr = 200_000, 0.01
    w0 = torch.full((n,), 0.05)
    w0[::2] *= -1
    g = torch.randn(n)
    p = w0.clone().requires_grad_()
    opt = LNSMadam([p], lr=lr, bits=10, gamma=8, rounding="stochastic", p_scale=math.inf)
    start = p.detach().clone()
    p.grad = g
    opt.step()
    change = (p.detach().abs().log() - start.abs().log())
    expected = -lr * torch.sign(start) * torch.sign(g)  # first step: g_hat = sign(g)
    assert float((change - expected).mean()) == pytest.approx(0.0, abs=2e-4)
    assert float(change.abs().mean()) > 0  # small steps are not all lost
    one_level = math.log(2) / 8
    assert torch.all(torch.isclose(change.abs(), torch.tensor(0.0), atol=1e-5)
                     | torch.isclose(change.abs(), torch.tensor(one_level), atol=1e-5))


@pytest.mark.parametrize("v_dtype", ["float32", "bfloat16", "log8"])
def test_lns_madam_state_dict_resume_is_exact(v_dtype):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    x, y = torch.randn(200, 6), torch.randint(0, 3, (200,))

    def train(m, o, n):
        for i in range(n):
            o.zero_grad()
            torch.nn.functional.cross_entropy(m(x[i::n]), y[i::n]).backward()
            o.step()

    opt = LNSMadam(model.parameters(), bits=6, second_moment_dtype=v_dtype)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    train(model, opt, 8)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
    train(model, opt, 8)

    buf.seek(0)
    ckpt = torch.load(buf)
    twin = copy.deepcopy(model)
    opt2 = LNSMadam(twin.parameters(), bits=6, second_moment_dtype=v_dtype)
    opt2.load_state_dict(ckpt["opt"])
    twin.load_state_dict(ckpt["model"])
    for p in twin.parameters():
        assert opt2.state[p]["codes"].dtype == torch.int8
        assert opt2.state[p]["exp_avg_sq"].dtype == (torch.uint8 if v_dtype == "log8" else getattr(torch, v_dtype))
    train(twin, opt2, 8)
    keys = ("codes", "exp_avg_sq") + (("exp_avg_sq_exponent",) if v_dtype == "log8" else ())
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)
        for key in keys:  # log8: the codes of v and their per-tensor exponent come back exactly
            assert torch.equal(opt.state[p][key], opt2.state[q][key])


def test_memory_report_is_measured_from_held_tensors():
    torch.manual_seed(0)
    model = torch.nn.Linear(256, 256)
    x = torch.randn(8, 256)
    report = {}
    for name, make in {
        "adam": lambda ps: torch.optim.Adam(ps),
        "madam": lambda ps: Madam(ps),
        "lns8": lambda ps: LNSMadam(ps, bits=8),
        "lns8_bf16": lambda ps: LNSMadam(ps, bits=8, second_moment_dtype="bfloat16"),
        "lns12_bf16": lambda ps: LNSMadam(ps, bits=12, second_moment_dtype="bfloat16"),
    }.items():
        m = copy.deepcopy(model)
        opt = make(m.parameters())
        m(x).sum().backward()
        opt.step()
        report[name] = training_state_bytes(opt)["persistent_bytes_per_param"]
    assert report["adam"] == pytest.approx(12, abs=0.01)
    assert report["madam"] == pytest.approx(8, abs=0.01)
    assert report["lns8"] == pytest.approx(5, abs=0.01)
    assert report["lns8_bf16"] == pytest.approx(3, abs=0.01)
    assert report["lns12_bf16"] == pytest.approx(4, abs=0.01)


def test_lns_madam_rejects_bad_arguments():
    p = [torch.randn(3, requires_grad=True)]
    with pytest.raises(ValueError, match="bits"):
        LNSMadam(p, bits=1)
    with pytest.raises(ValueError, match="rounding"):
        LNSMadam(p, rounding="up")
    with pytest.raises(ValueError, match="second_moment_dtype"):
        LNSMadam(p, second_moment_dtype="float16")
    with pytest.raises(ValueError, match="lr"):
        LNSMadam(p, lr=0)


def test_lns_madam_trains_digits_at_8_bits(train_digits_mlp):
    accuracy, _ = train_digits_mlp(lambda model: LNSMadam(model.parameters(), bits=8))
    assert accuracy > 0.9, accuracy


def test_cli_trains_at_a_chosen_bit_width_and_reports_memory(tmp_path, capsys):
    import json
    from pathlib import Path

    from synapse_madam.cli import main

    spec = Path(__file__).resolve().parents[1] / "models" / "fashion_mlp_lns.toml"
    out = tmp_path / "lns5"
    args = ["run", str(spec), "--bits", "5", "--set", 'dataset="digits"', "--set", "epochs=1",
            "--set", "progress=false", "--out", str(out)]
    assert main(args) == 0
    headline = capsys.readouterr().out.splitlines()[0]
    assert "optimizer state 3" in headline  # the CLI's headline names the measured bytes/param
    shown = json.loads((out / "summary.json").read_text())
    assert shown["state_bytes_per_param"] == pytest.approx(3.0, abs=0.05)  # int8 codes + bf16 moment
    assert "bits = 5" in (out / "spec.toml").read_text()


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_a_scale_that_is_not_a_positive_number_is_one_error(scale):
    """It used to return code 0 for every weight."""
    from synapse_madam.lns import LNSFormat

    fmt = LNSFormat(8)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        fmt.encode(np.array([0.5, -0.25]), scale)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        fmt.encode(torch.tensor([0.5, -0.25]), torch.tensor(scale))
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        fmt.levels(scale)
