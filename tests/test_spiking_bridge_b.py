"""Network (b) for the bridge: initial E->E laws of one RMS, recorded weight subsamples, sigma(t) rows."""

import tomllib
from pathlib import Path

import numpy as np
import pytest

b2 = pytest.importorskip("brian2")

from synapse_madam.spiking import brunel_network, make_rule  # noqa: E402
from synapse_madam.spiking.networks import bernoulli_pairs  # noqa: E402
from synapse_madam.spiking.runner import snapshot_rows, subsample_summary, validate  # noqa: E402

SPEC = Path(__file__).resolve().parents[1] / "models" / "spiking_brunel_bridge.toml"


@pytest.fixture(autouse=True)
def _numpy_target():
    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    yield
    b2.prefs.codegen.target = previous


def _net(**kw):
    b2.seed(3)
    kw.setdefault("connectivity_seed", 3)
    return brunel_network(make_rule("madam", restore=0.02, noise_std=0.1), rule_ie=make_rule("vogels_madam"),
                          n_exc=120, epsilon=0.1, **kw)


def test_uniform_and_constant_initial_weights_share_the_rms():
    j = 100.0 / 12
    const = _net(ee_init="constant", record_synapses=50)
    w_c = np.asarray(const.synapses["EE"].w[:], dtype=float)
    np.testing.assert_allclose(w_c, j)
    b2.start_scope()
    uni = _net(ee_init="uniform")
    w_u = np.asarray(uni.synapses["EE"].w[:], dtype=float)
    assert w_u.min() >= 0 and w_u.max() <= np.sqrt(3) * j
    assert np.sqrt(np.mean(w_u**2)) == pytest.approx(j, rel=0.05)
    assert np.std(np.log(w_u)) == pytest.approx(1.0, abs=0.1)  # sigma(ln w) of a uniform law is 1
    # same wiring for both laws (the connectivity comes from connectivity_seed)
    np.testing.assert_array_equal(np.asarray(uni.synapses["EE"].i[:]), np.asarray(const.synapses["EE"].i[:]))
    assert np.all(np.asarray(uni.synapses["IE"].w[:]) < 0)


def test_bernoulli_pairs_has_the_connection_probability():
    i, j = bernoulli_pairs(300, 200, 0.1, np.random.default_rng(0))
    assert i.size == pytest.approx(6000, rel=0.05)
    assert np.all(np.diff(i) >= 0) and j.max() < 200 and i.max() < 300
    assert len(set(zip(i.tolist(), j.tolist()))) == i.size  # no duplicate pair


def test_recorded_subsample_gives_sigma_rows_and_keeps_signs():
    net = _net(ee_init="uniform", record_synapses=200, record_dt=25 * b2.ms)
    mon = net.weight_monitors["EE"]
    idx = np.asarray(mon.record)
    assert idx.size == 200 and np.unique(idx).size == 200
    assert np.unique(np.asarray(net.synapses["EE"].i[:])[idx]).size > 50  # spread over many presynaptic cells
    net.network.run(0.1 * b2.second)
    rows = snapshot_rows(net)
    assert [r["t_s"] for r in rows] == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1])
    assert all(r["exc_rate_hz"] > 0 for r in rows[1:])
    for r in rows:
        assert set(r["weights"]) == {"EE", "IE"}
        assert r["weights"]["EE"]["sign_flips"] == 0 and r["weights"]["IE"]["frac_wrong_sign"] == 0
    assert rows[0]["weights"]["EE"]["sigma_ln"] == pytest.approx(np.std(np.log(np.asarray(mon.w[:, 0]))))
    final = np.asarray(net.synapses["EE"].w[:], dtype=float)[idx]
    assert rows[-1]["weights"]["EE"]["mean_ln"] == pytest.approx(np.mean(np.log(final)))
    summary = subsample_summary(net)
    assert len(summary["EE"]["sigma_t"]) == 5 and 0 <= summary["EE"]["final"]["dip_p_ln"] <= 1


def test_bad_initial_law_is_refused():
    with pytest.raises(ValueError, match="ee_init"):
        _net(ee_init="gamma")


def test_bridge_spec_is_valid_and_has_the_issue_scale():
    spec = validate(tomllib.loads(SPEC.read_text()), str(SPEC))
    p = spec["network_params"]
    assert spec["target"] == "cpp_standalone" and spec["duration_s"] >= 300
    assert p["n_exc"] >= 4000 and p["record_synapses"] >= 10000
    assert spec["inh_rule"]["name"] == "vogels_madam" and spec["rule"]["name"] == "madam"


def _bench():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bridge_spiking_b.py"
    mod_spec = importlib.util.spec_from_file_location("bridge_spiking_b", path)
    bench = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(bench)
    return bench


def test_map_cell_spec_carries_theta_and_noise_and_is_the_bridge_spec_otherwise():
    bench = _bench()
    base = validate(tomllib.loads(SPEC.read_text()), str(SPEC))
    fast = bench.map_cell_spec(0.08, 0.2)
    assert fast["rule"]["restore"] == 0.08 and fast["rule"]["noise_std"] == 0.2
    assert fast["duration_s"] == bench.MAP_DURATION_FAST  # 1/(2 theta) ~ 6 s
    assert fast["network_params"]["ee_init"] == "constant" and fast["seed"] == 1
    assert {k for k in base.keys() | fast.keys() if base.get(k) != fast.get(k)} == {"rule", "duration_s", "name"}
    assert fast["inh_rule"] == base["inh_rule"]
    slow = bench.map_cell_spec(0.02, 0.2)
    assert slow["duration_s"] == base["duration_s"] and slow["rule"]["noise_std"] == 0.2
    assert bench.map_cell_spec(0.08, 0.0)["rule"]["noise_std"] == 0  # drift alone
    assert "theta0.08_noise0.2_constant_s1" in fast["name"]


def test_map_reuses_grid_cells_only_where_they_are_the_same_condition():
    bench = _bench()
    cells = bench.map_cells()
    assert len(cells) == len(bench.MAP_THETAS) * len(bench.MAP_NOISES)
    reused = {(t, n): r for t, n, r in cells if r}
    assert set(reused) == {(bench.THETA, 0.0), (bench.THETA, bench.NOISE)}
    for (theta, noise), run in reused.items():
        cond, init, seed = run.rsplit("_", 2)
        grid_spec = bench.cell_spec(cond, init, int(seed[1:]))
        map_spec = bench.map_cell_spec(theta, noise, init=init, seed=int(seed[1:]))
        assert {k for k in grid_spec.keys() | map_spec.keys() if grid_spec.get(k) != map_spec.get(k)} == {"name"}


@pytest.mark.parametrize("theta, noise", [(0.0, 0.1), (-0.02, 0.1), (float("nan"), 0.1), (True, 0.1), ("0.02", 0.1),
                                          (0.02, -0.1), (0.02, float("inf")), (0.02, None)])
def test_map_cell_spec_refuses_bad_theta_or_noise(theta, noise):
    with pytest.raises(ValueError, match="map cell: (theta|noise)"):
        _bench().map_cell_spec(theta, noise)


def test_map_cell_spec_refuses_an_unknown_init():
    with pytest.raises(ValueError, match="init"):
        _bench().map_cell_spec(0.08, 0.1, init="gamma")


def test_map_table_reports_the_ou_prediction_and_the_learning_diffusion():
    bench = _bench()
    common = {"duration_s": 300.0, "reused": None, "run": "x", "ks_D": 0.02, "dip_p": 1.0, "frac_at_bounds": 0.0,
              "stationary_rel_change": 0.01, "stationary": True, "exc_rate_hz": 7.0, "exc_cv": 1.3}
    rows = [{**common, "theta": 0.02, "noise": 0.0, "sigma": 0.2, "sigma_ratio": 0.2 / bench.SONG2005_SIGMA},
            {**common, "theta": 0.02, "noise": 0.1, "sigma": 0.55, "sigma_ratio": 0.55 / bench.SONG2005_SIGMA}]
    lines = bench.map_table(rows)
    cols = [c.strip() for c in lines[3].split("|")[1:-1]]
    assert cols[6] == "0.500"  # noise / sqrt(2 theta)
    assert cols[7] == "+0.050"
    assert float(cols[8]) == pytest.approx(2 * 0.02 * 0.55**2 - 0.01, abs=1e-4)  # D = 2 theta sigma^2 - noise^2
    assert float(cols[9]) == pytest.approx(np.sqrt((2 * 0.02 * 0.2**2 + 0.01) / 0.04), abs=1e-3)  # from the noise-0 D


def test_bound_follow_up_is_the_map_cell_with_only_the_bound_changed():
    """The soft-bound / no-bound cells are the map cell (THETA, 0.2) with bound changed, and the
    CLI form in the doc (--set rule.noise_std=0.2 --set rule.bound="soft") gives the same spec."""
    bench = _bench()
    soft = bench.bound_cell_spec("soft", "uniform", 2)
    cell = bench.map_cell_spec(bench.THETA, bench.BOUND_NOISE, init="uniform", seed=2)
    assert {k for k in soft.keys() | cell.keys() if soft.get(k) != cell.get(k)} == {"rule", "name"}
    assert soft["rule"] == {**cell["rule"], "bound": "soft"}
    cli = tomllib.loads(SPEC.read_text())
    cli["rule"].update(noise_std=0.2, bound="soft")
    cli.update(seed=2, name=soft["name"])
    cli["network_params"]["ee_init"] = "uniform"
    assert validate(cli, "cli") == soft
    assert bench.bound_cell_name("none", "constant", 1) == "theta0.02_noise0.2_none_constant_s1"
    with pytest.raises(ValueError, match="bound must be one of soft, none"):
        bench.bound_cell_spec("hard")
