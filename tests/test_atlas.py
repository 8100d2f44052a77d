"""`synapse-madam atlas`: real tiny runs of every substrate -> one figure and a table whose numbers are
the runs' own weight digests (biology.digest), plus the bad-input lines."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from synapse_madam import cli
from synapse_madam.atlas import build_atlas, run_atlas_demo, sigma_series
from synapse_madam.biology import lognormal_gof
from synapse_madam.biology.digest import digest_weights, stationarity
from synapse_madam.biology.figures import atlas_figure
from synapse_madam.io import read_jsonl

MODELS = Path(__file__).resolve().parents[1] / "models"
RUNS = {  # the smallest real specs of each substrate
    "deep": ("digits_mlp.toml", ["epochs=2", "net_options.width=16", "progress=false"]),
    "rate": ("rate_perceptual_dm.toml", ["steps=20", "eval_every=5", "eval_trials=40", "final_eval_trials=40",
                                         "network.n_rec=20", "batch_size=8", "progress=false"]),
    "spiking": ("spiking_song_madam.toml", ['target="numpy"', "duration_s=0.6", "chunk_s=0.2",
                                            "network_params.n_inputs=60"]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("atlas_runs")
    out = {}
    for name, (spec, sets) in RUNS.items():
        args = ["run", str(MODELS / spec), "--out", str(root / name)]
        for s in sets:
            args += ["--set", s]
        assert cli.main(args) == 0, name
        out[name] = root / name
    return out


def _npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def test_atlas_cli_writes_figure_and_a_table_equal_to_the_digest(runs, tmp_path, capsys):
    out = tmp_path / "atlas"
    assert cli.main(["atlas", *map(str, runs.values()), "--out", str(out)]) == 0
    assert (out / "atlas.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "atlas.md").read_text()
    assert "KS D (data vs own log-normal fit)" in md and "Song et al. 2005" in md
    rows = json.loads((out / "atlas.json").read_text())["rows"]
    assert {r["substrate"] for r in rows} == {"deep", "rate", "spiking"}
    for r in rows:
        folder = runs[r["run"]]
        w = _npz(folder / "weights.npz")[r["group"]]
        init_file = folder / "weights_init.npz"
        w0 = _npz(init_file).get(r["group"]) if init_file.is_file() else None
        summary = json.loads((folder / "summary.json").read_text())
        hi = (summary.get("weight_bounds") or {}).get(r["group"])
        logged = (summary.get("weights") or {}).get(r["group"], {})
        d = digest_weights(w, initial=w0, bounds=None if hi is None else (0.0, hi))
        for key in ("n", "n_zero", "mean_ln", "sigma_ln", "ks_D", "sign_flips"):
            assert r[key] == pytest.approx(d[key], rel=1e-9, abs=0), (r["run"], r["group"], key)
            if key in logged and logged[key] is not None:  # the run's own final digest agrees too
                assert r[key] == pytest.approx(logged[key], rel=1e-6), (r["run"], r["group"], key)
        assert r["sigma_ratio"] == pytest.approx(d["sigma_ln"] / 0.9355, rel=1e-3)
        # AD from the fitting module's independent implementation
        mags = np.abs(w[w != 0]).astype(np.float64)
        assert r["ad"] == pytest.approx(lognormal_gof(mags, n_mc=0).ad, rel=1e-9)
        # sigma(t) straight from the run's metrics.jsonl
        series = sigma_series(read_jsonl(folder / "metrics.jsonl"), r["group"])
        st = stationarity([s for _, s in series])
        assert r["sigma_points"] == st["n_points"] and r["stationary"] == st["stationary"]
    assert any(r["sigma_points"] >= 2 for r in rows), "no run logged sigma(t)"
    assert "wrote" in capsys.readouterr().out


def test_a_flipped_sign_is_counted(runs, tmp_path):
    src = runs["rate"]
    assert (src / "weights_init.npz").is_file()
    folder = tmp_path / "flipped"
    shutil.copytree(src, folder)
    w = _npz(folder / "weights.npz")
    before = {r["group"]: r["sign_flips"] for r in build_atlas([folder]).rows()}
    name = next(iter(w))
    flat = w[name].reshape(-1)
    flat[3] = -flat[3]
    np.savez(folder / "weights.npz", **w)
    after = {r["group"]: r["sign_flips"] for r in build_atlas([folder]).rows()}
    assert after[name] == before[name] + 1
    assert all(after[g] == before[g] for g in after if g != name)


def test_figure_has_one_density_per_group_and_the_reference(runs):
    atlas = build_atlas(list(runs.values()), "song2005")
    fig = atlas_figure(atlas)
    assert isinstance(fig, Figure)
    density_ax, sigma_ax = fig.axes
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == len(atlas.groups) + 1 and any("Song" in s for s in labels)
    assert density_ax.get_xscale() == "log"
    assert len(sigma_ax.get_lines()) == 1 + sum(len(g.sigma_t) >= 2 for g in atlas.groups)  # + the line at 1


def test_same_folder_names_get_unique_labels(runs, tmp_path):
    a, b = tmp_path / "a" / "run", tmp_path / "b" / "run"
    shutil.copytree(runs["spiking"], a)
    shutil.copytree(runs["spiking"], b)
    labels = {g.run for g in build_atlas([a, b]).groups}
    assert labels == {"a/run", "b/run"}


@pytest.mark.parametrize("case, message", [
    ("no_weights", "has no weights.npz"),
    ("not_a_folder", "is not a run folder"),
    ("reference", "unknown reference 'cortex'"),
    ("empty_group", "has no nonzero weights"),
    ("group", "no weight group(s) ['nope']"),
])
def test_bad_input_gives_one_clear_line(runs, tmp_path, capsys, case, message):
    run = runs["spiking"]
    args = ["atlas", str(run), "--out", str(tmp_path / "o")]
    if case == "no_weights":
        (tmp_path / "empty").mkdir()
        args[1] = str(tmp_path / "empty")
    elif case == "not_a_folder":
        args[1] = str(tmp_path / "missing")
    elif case == "reference":
        args += ["--reference", "cortex"]
    elif case == "empty_group":
        folder = tmp_path / "zeros"
        shutil.copytree(run, folder)
        w = _npz(folder / "weights.npz")
        np.savez(folder / "weights.npz", **{k: np.zeros_like(v) for k, v in w.items()})
        args[1] = str(folder)
    elif case == "group":
        args += ["--group", "nope"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("synapse-madam atlas: error:")


def test_demo_part_draws_the_demo_runs(runs, tmp_path):
    demo = tmp_path / "demo"
    for part, name in (("deep", "madam_lr0.01"), ("rate", "rate_demo_madam"), ("spiking", "madam")):
        shutil.copytree(runs[part], demo / part / name)
    res = run_atlas_demo(demo, print_fn=lambda *a: None)
    assert (demo / "atlas.png").is_file() and "![atlas](atlas.png)" in res["report"]
    assert {(g.substrate, g.group) for g in res["atlas"].groups} >= {("rate", "EE"), ("spiking", "EE")}
    assert sum(g.substrate == "deep" for g in res["atlas"].groups) == 1


def test_learner_names_the_rule_terms_a_run_switched_on():
    from synapse_madam.atlas import _learner

    assert _learner({"optimizer": "madam", "optimizer_options": {"restore": 0.01, "noise": 0.01, "bound": "none"}},
                    {}) == "madam + restore + noise + bound=none"
    assert _learner({"learning": {"optimizer": "madam", "rule": "bptt", "restore": 0.0, "noise": 0.0,
                                  "bound": "hard"}}, {}) == "madam"  # the published rule
    assert _learner({"substrate": "spiking", "rule": {"name": "madam", "restore": 0.02, "noise_std": 0.1}},
                    {}) == "madam-STDP + restore + noise"
    assert _learner({"learning": {"optimizer": "madam", "rule": "node_perturbation"}}, {}) == "madam (node_perturbation)"
