"""FP8 / bfloat16 weight formats (synapse_madam.optim.float_formats) and the Bartol LNS format."""

import math

import pytest
import torch

from synapse_madam.lns import LNSFormat, hash_uniform
from synapse_madam.optim import LNSMadam, make_optimizer, training_state_bytes
from synapse_madam.optim.float_formats import FLOAT_FORMATS, FloatQuantized, float_grid, quantize_float


def _values(seed=0, n=4000):
    g = torch.Generator().manual_seed(seed)
    # magnitudes over many binades, both signs, plus subnormal-range and out-of-range values
    return torch.exp(torch.empty(n).uniform_(-22, 14, generator=g)) * torch.where(torch.rand(n, generator=g) < 0.5, -1, 1)


@pytest.mark.parametrize("name", list(FLOAT_FORMATS))
def test_nearest_is_torchs_cast_and_stochastic_lands_on_a_neighbour(name):
    grid = float_grid(name)
    x = _values()
    near = quantize_float(x, grid, "nearest")
    ref = torch.clamp(x, -grid.max, grid.max).to(grid.dtype).to(torch.float32)
    assert torch.equal(near, ref)
    u = hash_uniform(torch.tensor(7), torch.tensor(1.0), x.shape, x.device)
    sr = quantize_float(x, grid, "stochastic", u)
    assert torch.equal(sr.to(grid.dtype).to(torch.float32), sr)           # every value is representable
    assert bool(((torch.sign(sr) == torch.sign(x)) | (sr == 0)).all())     # never a sign flip
    assert float(sr.abs().max()) <= grid.max                               # saturates
    # the reference: every value the dtype holds, by enumerating its bit patterns
    n_bits = grid.bits
    patterns = torch.arange(2 ** n_bits, dtype=torch.int32).to(torch.int16 if n_bits == 16 else torch.uint8)
    table = patterns.view(grid.dtype).to(torch.float32)
    table = table[torch.isfinite(table)].unique().sort().values
    c = torch.clamp(x, -grid.max, grid.max)
    i = torch.clamp(torch.searchsorted(table, c), 1, len(table) - 1)
    below, above = table[i - 1], table[i]
    lo, hi = torch.where(table[i] == c, c, below), torch.where(table[i] == c, c, above)
    assert bool(((sr == lo) | (sr == hi) | ((sr == 0) & (lo * hi <= 0))).all())


@pytest.mark.parametrize("name", list(FLOAT_FORMATS))
def test_stochastic_rounding_is_unbiased(name):
    grid = float_grid(name)
    x = torch.full((20000,), 1.0 + 0.3 * 2.0 ** -grid.mantissa_bits)  # 0.3 of a step above 1
    u = torch.rand(20000, generator=torch.Generator().manual_seed(1))
    sr = quantize_float(x, grid, "stochastic", u)
    assert set(sr.unique().tolist()) == {1.0, 1.0 + 2.0 ** -grid.mantissa_bits}
    assert float(sr.mean()) == pytest.approx(float(x[0]), abs=2e-3 * 2.0 ** -grid.mantissa_bits * 100)
    with pytest.raises(ValueError, match="uniform"):
        quantize_float(x, grid, "stochastic")


def _train(opt_name, seed=0, steps=6, **options):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    w0 = [p.detach().clone() for p in model.parameters()]
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    opt = make_optimizer(opt_name, model.parameters(), 0.01, seed=seed, **options)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model, opt, w0


@pytest.mark.parametrize("fmt", list(FLOAT_FORMATS))
def test_float_weights_are_stored_codes_bounded_and_deterministic(fmt):
    model, opt, w0 = _train("adam_float", format=fmt)
    for p in model.parameters():
        st = opt.state[p]
        assert st["codes"].dtype == FLOAT_FORMATS[fmt].dtype
        assert torch.equal(p.detach(), st["codes"].to(torch.float32) * st["scale"])   # decoded cache
        if FLOAT_FORMATS[fmt].scaled:
            assert float(p.detach().abs().max()) <= float(st["scale"]) * FLOAT_FORMATS[fmt].max * (1 + 1e-6)
    again, _, _ = _train("adam_float", format=fmt)
    other, _, _ = _train("adam_float", format=fmt, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters()))
    weights = training_state_bytes(opt)["weight_bytes"]
    n = sum(p.numel() for p in model.parameters())
    assert weights == n * FLOAT_FORMATS[fmt].bits // 8 + 4 * len(list(model.parameters()))  # codes + scales


def test_madam_on_fp8_never_flips_a_sign_and_master_recipe_keeps_fp32():
    model, opt, w0 = _train("madam_float", format="float8_e4m3fn", steps=20)
    for p, p0 in zip(model.parameters(), w0):
        assert bool(((torch.sign(p) == torch.sign(p0)) | (p == 0)).all())
    model, opt, _ = _train("adam_float", format="float8_e4m3fn", master=True, rounding="nearest", steps=5)
    for p in model.parameters():
        st = opt.state[p]
        assert st["master"].dtype == torch.float32
        q = quantize_float(st["master"] / st["scale"], float_grid("float8_e4m3fn"), "nearest")
        assert torch.equal(p.detach(), q * st["scale"])  # forward weights = FP8 cast of the master
    # with a master copy, the small Adam steps accumulate; without one, nearest rounding loses them
    m_master, o_master, w0 = _train("adam_float", format="float8_e4m3fn", master=True, rounding="nearest",
                                    steps=3)
    assert any(not torch.equal(o_master.state[p]["master"], w) for p, w in zip(m_master.parameters(), w0))


def test_float_quantized_resume_is_exact():
    model, opt, _ = _train("adam_float", format="float8_e5m2", steps=3)
    state = opt.state_dict()
    model2, opt2, _ = _train("adam_float", format="float8_e5m2", steps=3)
    opt2.load_state_dict(state)
    for p in model2.parameters():
        assert opt2.state[p]["codes"].dtype == torch.float8_e5m2
    with pytest.raises(ValueError, match="inner"):
        opt2.load_state_dict({"x": 1})


def test_bad_float_options_are_one_clear_error():
    p = [torch.nn.Parameter(torch.randn(3))]
    with pytest.raises(ValueError, match="float8_e4m3fn"):
        FloatQuantized(torch.optim.SGD(p, lr=0.1), format="fp7")
    with pytest.raises(TypeError, match="master"):
        FloatQuantized(torch.optim.SGD(p, lr=0.1), master="yes")
    with pytest.raises(ValueError, match="unknown option"):
        make_optimizer("adam_float", p, 0.1, bits=8)


def test_bartol_lns_format_has_26_levels_and_lns_madam_stays_in_it():
    fmt = LNSFormat(6, base=math.exp(2 * 0.083), magnitudes=26)
    assert fmt.n_levels == 26 and fmt.k_max == 25
    assert fmt.magnitude_bits == pytest.approx(4.70, abs=0.01)
    assert fmt.dynamic_range == pytest.approx(math.exp(25 * 0.166))  # ~63-fold, Bartol's ~60
    with pytest.raises(ValueError, match="magnitudes"):
        LNSFormat(5, magnitudes=26)  # 5 bits hold 16 magnitudes per sign
    assert LNSFormat(8, magnitudes=128) == LNSFormat(8)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    w0 = [p.detach().clone() for p in model.parameters()]
    opt = LNSMadam(model.parameters(), lr=0.05, bits=6, base=math.exp(0.166), levels=26)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    seen = set()
    for p, p0 in zip(model.parameters(), w0):
        sign, k = fmt.unpack(opt.state[p]["codes"])
        assert int(k.min()) >= 0 and int(k.max()) <= 25
        seen |= set(k.unique().tolist())
        assert bool((torch.sign(p) == torch.sign(p0)).all())
        torch.testing.assert_close(p.detach(), fmt.decode(opt.state[p]["codes"], opt.state[p]["scale"]))
    assert 25 in seen  # the floor level is reached, never passed


def _lns_run(monkeypatch, flat_min, v_dtype="float32", steps=8):
    from synapse_madam.optim import native

    monkeypatch.setattr(native, "available", lambda: False)  # the torch path, as on CUDA
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 3))
    opt = LNSMadam(model.parameters(), lr=0.05, bits=5, seed=3, second_moment_dtype=v_dtype)
    opt.flat_min_tensors = flat_min
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model, opt


@pytest.mark.parametrize("v_dtype", ["float32", "bfloat16"])
def test_lns_madam_flat_multi_tensor_step_equals_the_per_tensor_step(monkeypatch, v_dtype):
    flat_model, flat_opt = _lns_run(monkeypatch, 2, v_dtype)
    ref_model, ref_opt = _lns_run(monkeypatch, 10**9, v_dtype)
    assert "_flat_cache" in flat_opt.__dict__ and "_flat_cache" not in ref_opt.__dict__
    for p, q in zip(flat_model.parameters(), ref_model.parameters()):
        a, b = flat_opt.state[p], ref_opt.state[q]
        assert torch.equal(a["codes"], b["codes"]) and torch.equal(a["step"], b["step"])
        torch.testing.assert_close(a["exp_avg_sq"], b["exp_avg_sq"], rtol=1e-6, atol=0)
        torch.testing.assert_close(p, q, rtol=1e-6, atol=0)


@pytest.mark.parametrize("options", [{"format": "float8_e4m3fn"}, {"format": "bfloat16"},
                                     {"format": "float8_e5m2", "master": True, "rounding": "nearest"}])
def test_float_flat_step_equals_tensor_by_tensor(options):
    model, opt, _ = _train("adam_float", steps=6, **options)
    assert "_flat_cache" in opt.__dict__
    # the reference: the same run, each tensor in its own group (no flat path)
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    inner = torch.optim.Adam([{"params": [p]} for p in ref.parameters()], lr=0.01)
    ropt = FloatQuantized(inner, seed=0, **options)
    for _ in range(6):
        ropt.zero_grad()
        torch.nn.functional.cross_entropy(ref(x), y).backward()
        ropt.step()
    assert "_flat_cache" not in ropt.__dict__
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.equal(opt.state[p]["codes"].float(), ropt.state[q]["codes"].float())
        assert torch.equal(p, q)
