"""`synapse-madam stats` on a weights.npz written like a run writes it."""

import json

import numpy as np
import pytest

from synapse_madam.cli import main
from synapse_madam.io import atomic_save_npz

FAST = ["--n-boot", "100", "--n-sim", "60"]


@pytest.fixture
def run_dir(tmp_path):
    rng = np.random.default_rng(0)
    run = tmp_path / "runs" / "toy"
    signed = rng.choice([-1.0, 1.0], size=(40, 30)) * rng.lognormal(-3.0, 0.6, size=(40, 30))
    stdp = np.r_[np.zeros(150), np.full(150, 0.015), rng.uniform(0, 0.015, 100)]
    atomic_save_npz(run / "weights.npz", **{"fc1.weight": signed, "EE": stdp})
    return run


def test_stats_on_a_run_folder(run_dir, capsys):
    assert main(["stats", str(run_dir)] + FAST) == 0
    out = capsys.readouterr().out
    assert "fc1.weight" in out and "Song" in out and "EE: 150 exact zeros dropped" in out
    for f in ("stats_weights.json", "stats_weights.md", "stats_weights_fc1.weight.png", "stats_weights_EE.png",
              "stats_weights_sigma.png"):
        assert (run_dir / f).stat().st_size > 0, f
    assert (run_dir / "stats_weights_EE.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rep = json.loads((run_dir / "stats_weights.json").read_text())
    groups = {g["group"]: g for g in rep["groups"]}
    assert [c["class"] for c in groups["fc1.weight"]["classes"]] == ["E", "I"]
    e = groups["fc1.weight"]["classes"][0]
    assert e["lognormal"]["sigma_ci"][0] < 0.6 < e["lognormal"]["sigma_ci"][1]
    assert not e["bimodality"]["bimodal"]
    stdp = groups["EE"]["classes"][0]
    assert stdp["bimodality"]["bimodal"] and stdp["bimodality"]["fraction_at_lower"] > 0.3
    assert rep["reference"]["name"] == "song2005" and "doi" in rep["reference"]["citation"]
    assert "| fc1.weight | E |" in (run_dir / "stats_weights.md").read_text()


def test_stats_out_dir_group_and_reference(run_dir, tmp_path, capsys):
    out = tmp_path / "elsewhere"
    rc = main(["stats", str(run_dir / "weights.npz"), "--out", str(out), "--group", "EE", "--reference",
               "teramae2012", "--no-figures"] + FAST)
    assert rc == 0 and (out / "stats_weights.json").exists() and not (out / "stats_weights_EE.png").exists()
    rep = json.loads((out / "stats_weights.json").read_text())
    assert [g["group"] for g in rep["groups"]] == ["EE"] and rep["reference"]["name"] == "teramae2012"


def test_two_stats_calls_in_one_folder_do_not_overwrite_each_other(tmp_path, capsys):
    rng = np.random.default_rng(5)
    atomic_save_npz(tmp_path / "a.npz", w=rng.lognormal(0, 0.5, 500))
    atomic_save_npz(tmp_path / "b.npz", w=rng.lognormal(0, 1.5, 500))
    assert main(["stats", str(tmp_path / "a.npz"), "--no-figures"] + FAST) == 0
    assert main(["stats", str(tmp_path / "b.npz"), "--no-figures"] + FAST) == 0
    a = json.loads((tmp_path / "stats_a.json").read_text())
    b = json.loads((tmp_path / "stats_b.json").read_text())
    sa, sb = (r["groups"][0]["classes"][0]["lognormal"]["sigma"] for r in (a, b))
    assert sa == pytest.approx(0.5, rel=0.15) and sb == pytest.approx(1.5, rel=0.15)
    assert (tmp_path / "stats_a.md").is_file() and (tmp_path / "stats_b.md").is_file()


def test_stats_into_an_unwritable_place_is_one_line(run_dir, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(["stats", str(run_dir), "--out", str(blocker / "sub"), "--no-figures"] + FAST) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args, msg", [
    (["--reference", "cortex"], "song2005, teramae2012"),
    (["--group", "nope"], "no weight group"),
    (["--zeros", "error"], "exactly 0"),
])
def test_stats_user_errors(run_dir, capsys, args, msg):
    assert main(["stats", str(run_dir)] + args + FAST) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_stats_missing_path(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "nothing")]) == 2
    assert "not found" in capsys.readouterr().err


def test_stats_takes_unit_and_bounds_from_the_run_summary(run_dir, capsys):
    """A run's summary.json may say the weights' unit and the rules' bounds (spiking runs do)."""
    from synapse_madam.biology import run_weight_info
    from synapse_madam.io import atomic_write_json

    assert run_weight_info(run_dir) == (None, {})
    atomic_write_json(run_dir / "summary.json", {"weight_unit": "mV", "weight_bounds": {"EE": 0.03, "bad": -1}})
    assert run_weight_info(run_dir) == ("mV", {"EE": 0.03})
    assert main(["stats", str(run_dir), "--no-figures"] + FAST) == 0
    assert "weights in mV" in capsys.readouterr().out
    rep = json.loads((run_dir / "stats_weights.json").read_text())
    assert rep["unit"] == "mV" and rep["settings"]["bounds"] == {"EE": 0.03}
    groups = {g["group"]: g for g in rep["groups"]}
    ee = groups["EE"]["classes"][0]["bimodality"]
    assert ee["bounds"] == [0.0, 0.03] and ee["fraction_at_upper"] == 0.0  # nothing near 0.03; 0.015 was max|w|
    assert groups["fc1.weight"]["classes"][0]["reference"]["ks_raw"] is not None  # in the reference's unit
    assert main(["stats", str(run_dir), "--no-figures", "--unit", "a.u."] + FAST) == 0  # the flag wins
    assert json.loads((run_dir / "stats_weights.json").read_text())["unit"] == "a.u."


def test_stats_on_a_pure_lognormal_reports_no_fraction_at_an_unknown_bound(tmp_path, capsys):
    """The issue's case: a log-normal sample was reported 73 % "at bounds" (measured against max|w|)."""
    atomic_save_npz(tmp_path / "ln.npz", w=np.random.default_rng(2).lognormal(0, 2.5, 5000))
    assert main(["stats", str(tmp_path / "ln.npz"), "--no-figures"] + FAST) == 0
    assert "at 0 (no bound known)" in capsys.readouterr().out
    b = json.loads((tmp_path / "stats_ln.json").read_text())["groups"][0]["classes"][0]["bimodality"]
    assert b["fraction_at_upper"] is None and b["fraction_at_lower"] == 0.0
