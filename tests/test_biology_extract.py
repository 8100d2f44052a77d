"""Extractors: torch modules, Brian2 Synapses, arrays, CSV, weights.npz and run folders."""

import numpy as np
import pytest
import torch

from synapse_madam.biology import (load_weights, weights_from_array, weights_from_brian2, weights_from_csv,
                                   weights_from_npz, weights_from_torch)
from synapse_madam.io import atomic_save_npz


def test_torch_module_per_layer_with_names():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    w = weights_from_torch(net)
    assert list(w) == ["0.weight", "2.weight"]
    assert w["0.weight"].shape == (4, 8)
    np.testing.assert_array_equal(w["2.weight"], net[2].weight.detach().numpy())
    assert set(weights_from_torch(net, include_1d=True)) == {"0.weight", "0.bias", "1.weight", "1.bias",
                                                           "2.weight", "2.bias"}
    with pytest.raises(TypeError, match="torch.nn.Module"):
        weights_from_torch(np.zeros(3))
    with pytest.raises(ValueError, match="include_1d"):
        weights_from_torch(torch.nn.LayerNorm(3))


def test_brian2_synapses_units_are_stripped_and_reported():
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    g = b2.NeuronGroup(5, "v : volt")
    s = b2.Synapses(g, g, "w : volt")
    s.connect(p=1.0)
    s.w = "(i + 1) * mV"
    values, unit = weights_from_brian2(s)
    assert unit == "mV" and values.shape == (25,)
    np.testing.assert_allclose(np.sort(np.unique(values)), [1.0, 2.0, 3.0, 4.0, 5.0])
    v_uV, unit_uV = weights_from_brian2(s, unit=b2.uvolt)
    assert unit_uV == "uV" and np.allclose(v_uV, 1000 * values)
    with pytest.raises(ValueError, match="does not match"):
        weights_from_brian2(s, unit=b2.nsiemens)
    with pytest.raises(ValueError, match="no variable"):
        weights_from_brian2(s, "g")
    s2 = b2.Synapses(g, g, "w : 1")
    s2.connect(i=0, j=[1, 2])
    s2.w = 0.5
    assert weights_from_brian2(s2) == (pytest.approx(np.array([0.5, 0.5])), "1")
    with pytest.raises(TypeError, match="Synapses"):
        weights_from_brian2(g)


def test_array():
    assert weights_from_array(torch.ones(2, 3), "x")["x"].shape == (6,)
    with pytest.raises(ValueError, match="NaN"):
        weights_from_array([1.0, float("nan")])


def test_csv_with_and_without_header(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("EE,IE\n0.1,-0.2\n0.3,\n0.5,-0.4\n")
    w = weights_from_csv(f)
    assert w["EE"].tolist() == [0.1, 0.3, 0.5] and w["IE"].tolist() == [-0.2, -0.4]
    assert list(weights_from_csv(f, column="IE")) == ["IE"]
    assert list(weights_from_csv(f, column=0)) == ["EE"]
    g = tmp_path / "raw.csv"
    g.write_text("0.1\n0.2\n")
    assert weights_from_csv(g)["col0"].tolist() == [0.1, 0.2]
    bad = tmp_path / "bad.csv"
    bad.write_text("w\n0.1\nabc\n")
    with pytest.raises(ValueError, match="line 3"):
        weights_from_csv(bad)
    with pytest.raises(ValueError, match="no column"):
        weights_from_csv(f, column="XX")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        weights_from_csv(tmp_path / "empty.csv")


def test_npz_and_run_folder(tmp_path):
    run = tmp_path / "runs" / "demo"
    atomic_save_npz(run / "weights.npz", **{"fc1.weight": np.ones((2, 3)), "EE": -np.ones(4)})
    groups, folder = load_weights(run)
    assert folder == run and set(groups) == {"fc1.weight", "EE"} and groups["fc1.weight"].shape == (2, 3)
    assert set(load_weights(run / "weights.npz")[0]) == {"fc1.weight", "EE"}
    np.save(tmp_path / "w.npy", np.arange(1.0, 5.0))
    assert load_weights(tmp_path / "w.npy")[0]["w"].tolist() == [1, 2, 3, 4]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights.npz"):
        load_weights(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "missing.npz")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="unknown file type"):
        load_weights(tmp_path / "x.json")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="npz"):
        weights_from_npz(tmp_path / "bad.npz")
