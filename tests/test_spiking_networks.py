"""Networks (a) and (b), the spiking runner and the `run` command, at small sizes (numpy target)."""

import json
from pathlib import Path

import numpy as np
import pytest

b2 = pytest.importorskip("brian2")

from synapse_madam import cli  # noqa: E402
from synapse_madam import substrates  # noqa: E402
from synapse_madam.spiking import brunel_network, make_rule, poisson_to_lif  # noqa: E402
from synapse_madam.spiking.runner import simulate, validate  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(autouse=True)
def numpy_target():
    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = 0.1 * b2.ms
    yield
    b2.prefs.codegen.target = previous


def test_poisson_to_lif_with_madam_keeps_bounds_and_inhibitory_signs():
    b2.seed(3)
    net = poisson_to_lif(make_rule("madam", w_max=0.01), n_inputs=400, rate=30 * b2.Hz, w=0.008,
                         n_inhibitory=20, inh_rule=make_rule("madam", lr=0.05))
    net.network.run(1 * b2.second)
    w = net.weights()
    assert net.spikes.num_spikes > 0, "the neuron must fire for STDP to act"
    assert np.all((w["EE"] > 0) & (w["EE"] <= 0.01 + 1e-15))
    assert np.all(w["IE"] < 0), "inhibitory Madam synapses keep their sign"
    assert np.std(np.log(w["EE"])) > 0, "equal initial weights must have been spread by the rule"
    assert net.weight_trace.w.shape[0] == 2


def test_poisson_to_lif_additive_stays_in_bounds():
    b2.seed(4)
    net = poisson_to_lif(make_rule("additive", a_plus=0.05), n_inputs=400, rate=30 * b2.Hz, w=0.009)
    net.network.run(1 * b2.second)
    w = net.weights()["EE"]
    assert np.all((w >= 0) & (w <= 0.01))
    assert np.any(w == 0.0) or np.any(w == 0.01), "a strong additive rule reaches the hard bounds"


def test_brunel_network_small_runs_irregularly():
    b2.seed(5)
    net = brunel_network(make_rule("madam"), n_exc=400, rule_ie=make_rule("madam"))
    net.network.run(0.4 * b2.second)
    assert set(net.weights()) == {"EE", "IE"}
    assert np.all(net.weights()["IE"] < 0) and np.all(net.weights()["EE"] > 0)
    n = net.n_synapses()
    assert 0.07 * 500**2 < n < 0.13 * 500**2  # epsilon = 0.1 of all ordered pairs
    rate = net.exc_spikes.num_spikes / (400 * 0.4)
    assert 1 < rate < 200


def test_validate_errors_name_the_key():
    base = {"substrate": "spiking"}
    with pytest.raises(ValueError, match="target.*allowed values: numpy, cython, cpp_standalone"):
        validate({**base, "target": "gpu"}, "x.toml")
    with pytest.raises(ValueError, match="'network'"):
        validate({**base, "network": "hopfield"}, "x.toml")
    with pytest.raises(ValueError, match="rule.lr_typo"):
        validate({**base, "rule": {"name": "madam", "lr_typo": 1}}, "x.toml")
    with pytest.raises(ValueError, match="rule.name"):
        validate({**base, "rule": {"name": "bcm"}}, "x.toml")
    with pytest.raises(ValueError, match="duration_s"):
        validate({**base, "duration_s": -1}, "x.toml")
    with pytest.raises(ValueError, match="network_params n_exc"):
        validate({**base, "network_params": {"n_exc": 10}}, "x.toml")
    spec = validate({**base, "rule": {"name": "gutig", "mu": 0.3, "tau_plus_ms": 15}}, "x.toml")
    assert spec["target"] == "cython" and spec["duration_s"] == 100.0


def test_cli_run_writes_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["run", str(MODELS / "spiking_song_madam.toml"), "--set", 'target="numpy"', "--set", "duration_s=0.4",
                     "--set", "chunk_s=0.2", "--set", "network_params.n_inputs=100", "--out", str(out)])
    assert code == 0
    headline = capsys.readouterr().out
    assert "0.4 s of biological time" in headline and "EE: sigma ln|w|" in headline and "sign flips 0" in headline
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(r["weights"]["EE"]["sigma_ln"] > 0 and r["weights"]["EE"]["sign_flips"] == 0 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == "numpy" and summary["rule"]["name"] == "madam"
    with np.load(out / "weights.npz") as z:
        assert list(z.keys()) == ["EE"] and z["EE"].shape == (100,)
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    assert (out / "weights.png").is_file() and (out / "spec.toml").is_file()
    assert not (out / "checkpoint.b2").exists()
    assert cli.main(["run", str(MODELS / "spiking_song_madam.toml"), "--set", 'target="gpu"', "--out", str(out)]) == 2


def test_resume_continues_from_checkpoint(tmp_path):
    spec = substrates.apply_overrides(substrates.load_spec(MODELS / "spiking_song_additive.toml"),
                                       ['target="numpy"', "duration_s=0.2", "chunk_s=0.2", "network_params.n_inputs=50"])
    spec = validate(spec, "test")
    simulate(spec, tmp_path, log=lambda *_: None)  # "interrupted" after 0.2 s: checkpoint left behind
    assert (tmp_path / "spec.toml").is_file() and (tmp_path / "weights_init.npz").is_file()
    assert (tmp_path / "checkpoint.b2").is_file()
    b2.start_scope()
    summary = substrates.run({**spec, "duration_s": 0.4}, tmp_path, resume=True)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["t_s"] for r in rows] == [pytest.approx(0.2), pytest.approx(0.4)]
    assert summary["duration_s"] == 0.4


@pytest.mark.parametrize("inh_rule", [None, {"name": "additive"}, {"name": "madam"}])
def test_inhibitory_inputs_fixed_or_plastic_are_summarised(inh_rule):
    spec = {"substrate": "spiking", "target": "numpy", "duration_s": 0.2, "chunk_s": 0.2,
            "rule": {"name": "madam", "w_max": 0.01}, "network_params": {"n_inputs": 50, "n_inhibitory": 10}}
    if inh_rule:
        spec["inh_rule"] = inh_rule
    summary, data = simulate(validate(spec, "test"), None, log=lambda *_: None)
    assert set(data["weights"]) == ({"EE", "IE"} if inh_rule else {"EE"})
    if inh_rule:
        assert np.all(data["weights"]["IE"] <= 0)
        ie = summary["weights"]["IE"]
        assert ie["sign_flips"] == int(np.sum(np.sign(data["weights"]["IE"]) != np.sign(data["initial"]["IE"])))
        assert ie["frac_wrong_sign"] == 0.0


@pytest.mark.parametrize("spec_file, sets, unit, groups", [
    ("spiking_song_madam.toml", ["network_params.n_inputs=100", "network_params.n_inhibitory=20",
                                 "inh_rule.name=additive", "rule.lr=0.05"], "g_leak", {"EE", "IE"}),
    ("spiking_brunel_madam.toml", ["network_params.n_exc=200"], "mV", {"EE", "IE"}),
])
def test_cli_run_then_stats_on_the_run_folder(tmp_path, capsys, spec_file, sets, unit, groups):
    """A user's path: `synapse-madam run SPEC --set ...` then `synapse-madam stats runs/NAME`."""
    out = tmp_path / "runs" / "short"
    args = ["run", str(MODELS / spec_file), "--set", 'target="numpy"', "--set", "duration_s=0.4",
            "--set", "chunk_s=0.4", "--out", str(out)]
    assert cli.main(args + [x for s in sets for x in ("--set", s)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["weight_unit"] == unit and summary["reference"]["sigma"] == 0.9355
    assert set(summary["weights"]) == groups
    capsys.readouterr()
    assert cli.main(["stats", str(out), "--n-boot", "50", "--n-sim", "40"]) == 0
    text = capsys.readouterr().out
    assert f"weights in {unit}" in text
    rep = json.loads((out / "stats_weights.json").read_text())
    assert rep["unit"] == unit and rep["settings"]["bounds"] == summary["weight_bounds"]
    for g in rep["groups"]:
        digest = summary["weights"][g["group"]]
        assert [c["class"] for c in g["classes"]] == list(digest["classes"]), "one sign per spiking group"
        for c in g["classes"]:
            d = digest["classes"][c["class"]]
            assert c["lognormal"]["sigma"] == pytest.approx(d["sigma"], rel=1e-12)
            assert c["reference"]["sigma_ratio"] == pytest.approx(d["sigma_ratio"], rel=1e-12)
            assert (c["reference"]["ks_raw"] is None) == (unit != "mV")
            assert c["bimodality"]["fraction_at_upper"] == pytest.approx(d["frac_at_upper"])
        assert (out / f"stats_weights_{g['group']}.png").stat().st_size > 0
    assert summary["weights"]["IE"]["frac_wrong_sign"] == 0.0 and summary["weights"]["IE"]["sign_flips"] is not None


@pytest.mark.parametrize("network", ["poisson_lif", "brunel"])
def test_weights_are_signed_so_a_flipped_inhibitory_synapse_shows(network):
    """weights() used to return -|w| for I groups, so a flip could never be seen."""
    from synapse_madam.biology import digest_weights
    from synapse_madam.spiking.runner import build

    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    spec = {"substrate": "spiking", "network": network, "target": "numpy",
            "rule": {"name": "madam", "w_max": 0.01} if network == "poisson_lif" else {"name": "madam"},
            "inh_rule": {"name": "madam"},
            "network_params": {"n_inputs": 20, "n_inhibitory": 5} if network == "poisson_lif" else {"n_exc": 80}}
    net = build(validate(spec, "test"))
    w0 = net.weights()["IE"]
    assert np.all(w0 < 0)
    assert net.weights()["IE"] is not w0 and not np.shares_memory(net.weights()["IE"], w0)  # copies
    syn = net.inh_synapses if network == "poisson_lif" else net.synapses["IE"]
    w = np.asarray(syn.w[:], dtype=float)
    w[0] = -w[0]  # one inhibitory synapse turns excitatory
    syn.w[:] = w
    w1 = net.weights()["IE"]
    assert w1[0] > 0
    d = digest_weights(w1, initial=w0, expected_sign=-1)
    assert d["sign_flips"] == 1 and d["frac_wrong_sign"] == pytest.approx(1 / w1.size)


def test_rule_terms_and_initial_laws_in_specs():
    """Spec keys for the bridge terms: bound is a string, the rest numbers; w_init "uniform" and
    "constant" start network (a) at one RMS (sigma(ln w) 1 and 0)."""
    from synapse_madam.spiking.runner import build

    base = {"substrate": "spiking", "network": "poisson_lif"}
    rule = {"name": "madam", "w_max": 0.01, "restore": 0.02, "noise_std": 0.05, "bound": "soft"}
    spec = validate({**base, "rule": rule}, "x.toml")
    assert spec["rule"]["bound"] == "soft"
    with pytest.raises(ValueError, match="rule.bound must be a string"):
        validate({**base, "rule": {**rule, "bound": 1}}, "x.toml")
    with pytest.raises(ValueError, match="rule.restore must be a number"):
        validate({**base, "rule": {**rule, "restore": "fast"}}, "x.toml")
    rms = {}
    for law in ("uniform", "constant"):
        b2.start_scope()
        net = build(validate({**base, "rule": rule, "network_params": {"n_inputs": 3000, "w_init": law}}, "x"))
        w = np.asarray(net.synapses.w[:])
        rms[law] = np.sqrt(np.mean(w**2))
        assert np.std(np.log(w)) == pytest.approx(1.0 if law == "uniform" else 0.0, abs=0.05)
        assert net.synapses.namespace["madam_mu"] == pytest.approx(np.log(rms[law]))
    assert rms["uniform"] == pytest.approx(rms["constant"], rel=0.02)
    b2.start_scope()
    with pytest.raises(ValueError, match="initial weight law"):
        build(validate({**base, "rule": rule, "network_params": {"w_init": "gamma"}}, "x"))


def test_poisson_to_lif_replicas_are_independent_copies():
    """n_neurons units in one network: unit k owns inputs k*n .. (k+1)*n - 1; units with equal
    weights but independent inputs end differently, and each neuron fires."""
    b2.seed(5)
    n = 200
    net = poisson_to_lif(make_rule("madam", w_max=0.05, restore=0.5, noise_std=0.05), n_inputs=n, n_neurons=3,
                         rate=40 * b2.Hz, w=0.03, record_weights=3 * n)
    assert len(net.neuron) == 3 and len(net.inputs) == 3 * n
    np.testing.assert_array_equal(np.asarray(net.synapses.j[:]), np.arange(3 * n) // n)
    net.network.run(0.5 * b2.second)
    w = np.asarray(net.synapses.w[:]).reshape(3, n)
    assert np.all(np.bincount(np.asarray(net.spikes.i[:]), minlength=3) > 0)
    assert not np.allclose(w[0], w[1]) and np.all(w > 0)
    assert net.weight_trace.w.shape[0] == 3 * n
    with pytest.raises(ValueError, match="replicas"):
        poisson_to_lif(make_rule("madam", w_max=0.02), n_inputs=10, n_neurons=2, n_inhibitory=5)
