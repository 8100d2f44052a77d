"""Spiking nets trained by surrogate gradients (deep/spiking.py): shapes, the surrogate derivative,
BPTT through the LIF unrolling, Dale's law kept by Madam alone (and broken by Adam), learning,
exact resume, the specs and the CLI."""

import json
import math
from pathlib import Path

import pytest
import torch

from synapse_madam import substrates
from synapse_madam.cli import main
from synapse_madam.deep.data import load_dataset
from synapse_madam.deep.nets import build_net
from synapse_madam.deep.spiking import LIF, SpikingMLP, spike
from synapse_madam.deep.trainer import TrainConfig, train
from synapse_madam.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]


def digits(n=600):
    return load_dataset("digits", train_subset=n, test_subset=300)


def snn(ds, seed=0, **kw):
    opts = {"width": 64, "steps": 8, "encoding": "current", "dale": True, **kw}
    return build_net("snn", ds.input_shape, ds.num_classes, seed=seed, **opts)


@pytest.mark.parametrize("encoding", ["rate", "current"])
@pytest.mark.parametrize("readout", ["membrane", "count"])
def test_forward_shapes_and_binary_spikes(encoding, readout):
    x = torch.randn(5, 1, 8, 8)
    net = SpikingMLP((1, 8, 8), 10, width=12, depth=2, steps=7, encoding=encoding, readout=readout)
    logits, spikes = net(x, return_spikes=True)
    assert logits.shape == (5, 10) and torch.isfinite(logits).all()
    assert len(spikes) == 2 and all(s.shape == (7, 5, 12) for s in spikes)
    assert all(set(torch.unique(s).tolist()) <= {0.0, 1.0} for s in spikes)
    if readout == "count":  # logits are spike counts of the output layer
        assert ((logits >= 0) & (logits <= 7) & (logits == logits.round())).all()
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_spike_forward_is_heaviside_and_backward_is_the_fast_sigmoid_derivative():
    k = 7.0
    x = torch.linspace(-2, 2, 401, dtype=torch.float64, requires_grad=True)
    s = spike(x, k)
    assert torch.equal(s.detach(), (x.detach() > 0).double())
    (g,) = torch.autograd.grad(s.sum(), x)
    xd = x.detach()
    # analytically: h(x) = 1 / (1 + k|x|)^2
    assert torch.allclose(g, 1.0 / (1.0 + k * xd.abs()) ** 2, rtol=1e-12, atol=0)
    # and numerically: h is the derivative of f(x) = x / (1 + k|x|) (central differences, away from the kink)
    f = lambda z: z / (1.0 + k * z.abs())  # noqa: E731
    eps = 1e-6
    fd = (f(xd + eps) - f(xd - eps)) / (2 * eps)
    away = xd.abs() > 2 * eps
    assert torch.allclose(g[away], fd[away], rtol=1e-6, atol=1e-9)
    z = torch.zeros(1, requires_grad=True)
    spike(z, k).backward()
    assert float(z.grad) == 1.0 and g[xd.abs().argmax()] < 0.01  # peaks at threshold, decays as 1/(kx)^2


@pytest.mark.parametrize("detach_reset", [True, False])
def test_bptt_through_two_lif_steps_matches_the_chain_rule_by_hand(detach_reset):
    """v0 = w x; s0 = H(v0 - th); v1 = beta (v0 - th s0) + w x; s1 = H(v1 - th); L = s0 + s1."""
    beta, th, k, x = 0.8, 1.0, 5.0, 1.3
    h = lambda z: 1.0 / (1.0 + k * abs(z)) ** 2  # noqa: E731
    for w0 in (0.3, 0.9, 1.1):  # no spike at t=0 / spikes at t=0 / both
        w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
        lif = LIF(beta=beta, threshold=th, slope=k, detach_reset=detach_reset)
        cur = (w * x).reshape(1, 1, 1).expand(2, 1, 1)
        s = lif(cur.double())
        s.sum().backward()
        v0 = w0 * x
        s0 = float(v0 > th)
        v1 = beta * (v0 - th * s0) + w0 * x
        dv1 = beta * (x - (0.0 if detach_reset else th * h(v0 - th) * x)) + x
        expected = h(v0 - th) * x + h(v1 - th) * dv1
        assert s.detach().flatten().tolist() == [s0, float(v1 > th)]
        assert math.isclose(float(w.grad), expected, rel_tol=1e-9), (w0, float(w.grad), expected)


def test_dale_init_gives_one_sign_per_presynaptic_unit():
    net = SpikingMLP((1, 8, 8), 10, width=200, depth=2, dale=True, exc_fraction=0.8)
    masks = net.sign_masks()
    named = dict(net.named_parameters())
    assert set(masks) == {"layers.0.weight", "layers.1.weight", "out.weight"}
    for name, mask in masks.items():
        w = named[name].detach()
        assert torch.equal(torch.sign(w), mask), name
        col = mask[0]
        assert (mask == col[None, :]).all()  # a column (presynaptic unit) has one sign
    frac_e = float((masks["layers.1.weight"][0] > 0).float().mean())
    assert 0.65 < frac_e < 0.95
    # the inhibitory magnitudes balance the excitatory drive on average
    w = named["layers.1.weight"].detach()
    e, i = w[:, masks["layers.1.weight"][0] > 0].sum(), -w[:, masks["layers.1.weight"][0] < 0].sum()
    assert 0.7 < float(i / e) < 1.4
    assert SpikingMLP((1, 8, 8), 10, dale=False).sign_masks() is None


def _signs_kept(model, init_signs) -> int:
    return sum(int((torch.sign(p.detach()) != init_signs[n]).sum()) for n, p in model.named_parameters())


def test_madam_keeps_dale_signs_without_projection_adam_breaks_them_and_both_learn():
    ds = digits()
    flips, accs = {}, {}
    for opt, lr in (("madam", 0.01), ("adam", 0.003)):
        model = snn(ds)
        init = {n: torch.sign(p.detach()).clone() for n, p in model.named_parameters()}
        masks = model.sign_masks()
        s = train(model, ds, TrainConfig(optimizer=opt, lr=lr, epochs=6, batch_size=32, progress=False, device="cpu"))
        flips[opt] = _signs_kept(model, init)
        accs[opt] = s["final_test_acc"]
        assert sum(d["sign_flips"] for d in s["weights"].values()) == flips[opt]  # the digest counts the same
        if opt == "madam":
            for n, m in masks.items():
                assert torch.equal(torch.sign(dict(model.named_parameters())[n].detach()), m), n
    assert flips["madam"] == 0
    assert flips["adam"] > 50  # the control: an additive optimizer does move weights across zero
    assert accs["madam"] > 0.7 and accs["adam"] > 0.7, accs  # chance is about 0.1


class Interrupt(Exception):
    pass


def test_resume_with_rate_coded_input_reproduces_the_uninterrupted_run(tmp_path):
    """Rate coding draws Bernoulli spikes from torch's global RNG: the checkpoint must restore it."""
    ds = digits(200)
    cfg = TrainConfig(optimizer="madam", lr=0.01, epochs=3, batch_size=32, schedule="cosine", progress=False,
                      device="cpu")
    full = snn(ds, encoding="rate", steps=5)
    train(full, ds, cfg, tmp_path / "full")

    def stop(record):
        if record["epoch"] == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(snn(ds, encoding="rate", steps=5), ds, cfg, tmp_path / "part", callbacks=[stop])
    torch.manual_seed(4321)
    resumed = snn(ds, seed=9, encoding="rate", steps=5)
    train(resumed, ds, cfg, tmp_path / "part", resume=True)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in rs]  # noqa: E731
    assert strip(read_jsonl(tmp_path / "part" / "metrics.jsonl")) == strip(read_jsonl(tmp_path / "full" / "metrics.jsonl"))
    for p, q in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("spec", ["snn_digits", "snn_fashion"])
def test_specs_validate(spec):
    resolved = substrates.validate(substrates.load_spec(ROOT / "models" / f"{spec}.toml"), spec)
    assert resolved["net"] == "snn" and resolved["optimizer"] == "madam" and resolved["lr"] == 0.01
    assert resolved["net_options"]["dale"] is True


def test_cli_runs_the_digits_spec_and_records_zero_sign_flips(tmp_path):
    out = tmp_path / "r"
    assert main(["run", str(ROOT / "models/snn_digits.toml"), "--out", str(out), "--set", "epochs=2",
                 "--set", "train_subset=300", "--set", "progress=false", "--set", "net_options.width=32"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["net"] == "snn" and summary["epochs_completed"] == 2
    assert {g: d["sign_flips"] for g, d in summary["weights"].items()} == {"layers.0.weight": 0, "out.weight": 0}
    assert all(d["frac_at_bounds"] is not None for d in summary["weights"].values())  # Madam's bound is known


@pytest.mark.parametrize("options,message", [
    ({"encoding": "poisson"}, "encoding 'poisson' unknown; allowed values: rate, current"),
    ({"readout": "max"}, "readout 'max' unknown; allowed values: membrane, count"),
    ({"beta": 1.0}, "beta must be in [0, 1)"),
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"exc_fraction": 1.0}, "exc_fraction must be in (0, 1)"),
    ({"tau": 3}, "unknown option(s) tau"),
])
def test_bad_options_say_what_is_wrong(options, message):
    with pytest.raises(ValueError) as err:
        build_net("snn", (1, 8, 8), 10, **options)
    assert message in str(err.value)


def test_the_comparison_driver_runs_points_through_the_cli_and_regenerates_its_report(tmp_path):
    """benchmarks/snn_compare.py (the GPU command's script) at a tiny size: raw JSON, table, tarball,
    and a report rebuilt from the raw JSON alone that equals the first one."""
    import subprocess
    import sys
    import tarfile

    out, tar = tmp_path / "cmp", tmp_path / "o" / "snn.tar.gz"
    cmd = [sys.executable, str(ROOT / "benchmarks/snn_compare.py"), "--spec", "models/snn_digits.toml", "--seeds", "1",
           "--jobs", "2", "--device", "cpu", "--baseline", "log_adam", "--baseline-lrs", "0.003", "--out", str(out),
           "--tar", str(tar),
           "--set", "epochs=2", "--set", "train_subset=200", "--set", "net_options.width=16"]
    stale = out / "raw" / "adam_lr0.1_seed0"  # left by an earlier run into the same --out (another baseline)
    stale.mkdir(parents=True)
    (stale / "metrics.jsonl").write_text('{"epoch": 1, "test_acc": 0.5}\n')
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    first = json.loads((out / "snn_compare.json").read_text())
    assert first["all_finished"] and first["epoch_compared"] == 2
    assert [(r["optimizer"], r["lr"]) for r in first["rows"]] == [("madam", 0.01), ("log_adam", 0.003)]
    for row in first["rows"]:  # Madam and the LogAdam baseline (w = sign(w0) exp(theta)) both keep every sign
        assert all(w["sign_flips"] == [0] for w in row["weights"].values()), row["optimizer"]
    assert first["baseline"] == "log_adam" and first["best_baseline_lr"] == 0.003
    text = (out / "snn_compare.md").read_text()
    assert "| madam | 0.01 |" in text and "| log_adam | 0.003 (best LogAdam) |" in text
    assert "Madam (lr 0.01) minus best LogAdam:" in text
    names = tarfile.open(tar).getnames()
    assert "snn14/raw/madam_lr0.01_seed0/metrics.jsonl" in names and "snn14/snn_compare.png" in names
    (out / "snn_compare.json").unlink()
    again = subprocess.run([sys.executable, str(ROOT / "benchmarks/snn_compare.py"), "--report-only", "--out", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((out / "snn_compare.json").read_text()) == first


def test_dale_projection_keeps_adam_on_dales_signs_and_is_a_no_op_for_madam():
    """dale_projection: after every optimizer step a weight that left its prescribed sign is set to
    0 (w <- s max(s w, 0)). Adam then ends with no weight of the wrong sign but some at exactly 0
    (the projection acted; without it Adam flips signs, the test above); Madam's run is bitwise the
    run without the projection, since Madam never crosses zero."""
    ds = digits(300)
    model = snn(ds, dale_projection=True)
    masks = model.sign_masks()
    s = train(model, ds, TrainConfig(optimizer="adam", lr=0.003, epochs=3, batch_size=32, progress=False, device="cpu"))
    params = dict(model.named_parameters())
    for n, m in masks.items():
        assert torch.all(m * params[n].detach() >= 0), n
    assert sum(int((p.detach() == 0).sum()) for p in params.values()) > 50
    assert s["final_test_acc"] > 0.5
    runs = []
    for projection in (False, True):
        model = snn(ds, seed=1, dale_projection=projection)
        train(model, ds, TrainConfig(optimizer="madam", lr=0.01, epochs=2, batch_size=32, progress=False, device="cpu"))
        runs.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    with pytest.raises(ValueError, match="dale_projection needs dale = true"):
        build_net("snn", (1, 8, 8), 10, dale_projection=True)
