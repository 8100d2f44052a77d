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
