"""Deep runs for the bridge: the constant-magnitude init, memory of the initialisation in the
digest, the optimizers' declared magnitude bounds in the per-epoch digests, the bridge spec."""

import math

import numpy as np
import pytest
import torch

from synapse_madam import LNSMadam, Madam
from synapse_madam.deep import runner
from synapse_madam.deep.data import load_dataset
from synapse_madam.deep.nets import build_net
from synapse_madam.biology.digest import corr_init, digest_weights
from synapse_madam.deep.trainer import TrainConfig, train, weight_digests
from synapse_madam.io import read_jsonl


def test_constant_magnitude_init_keeps_signs_and_rms():
    a = build_net("mlp", (1, 8, 8), 10, seed=3, width=16, depth=2)
    b = build_net("mlp", (1, 8, 8), 10, seed=3, width=16, depth=2, init="constant_magnitude")
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        p, q = p.detach(), q.detach()
        assert torch.equal(torch.sign(p), torch.sign(q)), name
        torch.testing.assert_close(q.pow(2).mean().sqrt(), p.pow(2).mean().sqrt(), rtol=1e-6, atol=0)
        assert float(q.abs().max() - q.abs().min()) <= 1e-6 * float(q.abs().max())
    with pytest.raises(ValueError, match="init"):
        build_net("mlp", (1, 8, 8), 10, init="lognormal")
    with pytest.raises(ValueError, match="init"):
        runner.validate({"init": "zeros"})


def test_corr_init_measures_memory_of_the_initialisation():
    rng = np.random.default_rng(0)
    w0 = rng.uniform(-1, 1, 5000)
    assert corr_init(w0 * 3.0, w0) == pytest.approx(1.0)  # a common rescaling remembers everything
    assert abs(corr_init(rng.uniform(-1, 1, 5000), w0)) < 0.05  # fresh weights remember nothing
    assert corr_init(w0, np.sign(w0)) is None  # constant magnitudes: undefined, not 0


def test_corr_init_is_in_the_digest():
    rng = np.random.default_rng(1)
    w0 = rng.uniform(-1, 1, 2000)
    assert digest_weights(w0 * np.exp(0.01 * rng.standard_normal(2000)), initial=w0)["corr_init"] > 0.99
    assert digest_weights(w0)["corr_init"] is None


@pytest.mark.parametrize("optimizer, options, bounded", [
    ("madam", {}, True), ("madam", {"bound": "none", "restore": 0.01, "noise": 0.01}, False),
    ("lns_madam", {"bits": 8}, True), ("adam", {}, False), ("log_adam", {}, False),
])
def test_epoch_digests_use_the_optimizers_declared_bounds(tmp_path, optimizer, options, bounded):
    ds = load_dataset("digits", train_subset=300, test_subset=100)
    model = build_net("mlp", ds.input_shape, ds.num_classes, seed=0, width=16, depth=1)
    lr = 1e-3 if optimizer == "adam" else 0.01
    train(model, ds, TrainConfig(optimizer=optimizer, lr=lr, epochs=3, batch_size=32, progress=False,
                                 optimizer_options=options), tmp_path)
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert len(records) == 3
    for r in records:
        assert set(r["weights"]) == {"net.1.weight", "net.3.weight"}
        for d in r["weights"].values():
            assert d["sigma_ln"] > 0 and 0 <= d["ks_D"] <= 1 and -1 <= d["corr_init"] <= 1
            assert (d["frac_at_bounds"] is not None) == bounded  # bound="none": Madam's w_max is no bound
    if optimizer != "adam":  # the sign-preserving optimizers never flip a sign
        assert all(d["sign_flips"] == 0 for r in records for d in r["weights"].values())
    sigmas = [r["weights"]["net.1.weight"]["sigma_ln"] for r in records]
    assert len(set(sigmas)) > 1  # sigma(t) moves with training, it is not a constant


def test_madam_hard_bound_is_seen_by_the_digest():
    """Weights clipped at w_max count as 'at the bound'."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 30))
    opt = Madam(model.parameters(), p_scale=1.05, lr=0.1)
    for _ in range(30):
        opt.zero_grad()
        model(torch.randn(64, 20)).pow(2).mean().mul(-1).backward()  # grow every weight
        opt.step()
    d = weight_digests(model, opt)["0.weight"]
    w_max = opt.magnitude_bounds(model[0].weight)[1]
    expected = float((model[0].weight.detach().abs() >= w_max * (1 - 1e-3)).float().mean())
    assert d["frac_at_bounds"] == pytest.approx(expected) and expected > 0.1
    lns = LNSMadam(torch.nn.Linear(4, 4).parameters(), bits=6)
    lo, hi = lns.magnitude_bounds(lns.param_groups[0]["params"][0])
    assert 0 < lo < hi and math.isfinite(hi)


def test_bridge_spec_is_the_benchmarks_main_condition():
    """models/fashion_mlp_bridge.toml reproduces benchmarks/bridge_deep.py's main point (seed 0,
    default init): the one CLI command behind the numbers in docs/bridge_deep.md."""
    import importlib.util
    from pathlib import Path

    from synapse_madam.experiments import load_spec

    root = Path(__file__).resolve().parents[1]
    mod_spec = importlib.util.spec_from_file_location("bridge_deep", root / "benchmarks" / "bridge_deep.py")
    bench = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(bench)
    cli = runner.validate(load_spec(root / "models" / "fashion_mlp_bridge.toml"))
    grid = runner.validate(bench.condition_spec("mlp", bench.MAIN, "default", 0))
    differ = {k for k in cli if cli[k] != grid[k]}
    assert differ == {"name", "description", "progress"}, differ
    assert cli["optimizer_options"]["restore"] == pytest.approx(10 / bench.total_steps(cli))
