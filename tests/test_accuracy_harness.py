"""benchmarks/accuracy.py: one real run per optimizer on digits, then the report from its raw JSON."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import accuracy as A  # noqa: E402


@pytest.fixture()
def tiny_tasks(monkeypatch):
    monkeypatch.setitem(A.TASKS, "digits", (dict(A.TASKS["digits"][0], epochs=2), "cpu"))
    monkeypatch.setitem(A.TASKS, "regression", (dict(A.TASKS["regression"][0], epochs=2), "cpu"))


def test_runs_write_raw_json_and_the_report(tmp_path, tiny_tasks):
    jobs = [dict(task=t, optimizer=o, lr=lr, schedule=s, seed=0)
            for t in ("digits", "regression") for o, lr in (("madam", 0.01), ("adam", 1e-3), ("eg_pm", 0.01))
            for s in ("constant", "warmup_cosine")]
    done = A.run_all(jobs, "cpu", 1, tmp_path / "out", budget_s=1e9)
    assert len(done) == len(jobs) and not any(r["error"] for r in done)
    raw = A.read_raw([tmp_path / "out"])
    assert len(raw) == len(jobs)
    for r in raw:
        assert 0.0 <= r["score"] <= 1.0 and r["sigma_ratio"] > 0
        if r["optimizer"] == "madam":  # Madam keeps every sign and declares its bound
            assert r["sign_flips"] == 0 and r["frac_at_bounds"] is not None
    A.write_report(raw, [], tmp_path / "docs", [tmp_path / "out"])
    md = (tmp_path / "docs" / "accuracy.md").read_text()
    assert "| madam @ 0.01 | constant |" in md and "**tuned adam**" in md
    assert (tmp_path / "docs" / "accuracy.png").stat().st_size > 1000
    # a finished point is not run again
    assert A.run_all(jobs, "cpu", 1, tmp_path / "out", budget_s=1e9) == []


def test_jobs_are_seed_major_and_the_deadline_starts_nothing(tmp_path):
    jobs = A.jobs_for(["digits", "regression"], 2, lr_check=["madam", "eg_pm"])
    seeds = [j["seed"] for j in jobs if j["lr"] not in A.CHECK_LRS or j["optimizer"] not in A.CANDIDATES]
    assert seeds == sorted(seeds)
    assert {j["lr"] for j in jobs if j["optimizer"] == "eg_pm"} == {0.003, 0.01, 0.03}
    assert {j["lr"] for j in jobs if j["optimizer"] == "nero"} == {0.01}
    assert A.run_all(jobs[:2], "cpu", 1, tmp_path, budget_s=-1) == []


def test_weight_stats_aggregate_the_digest():
    d = {"a": {"n": 100, "sigma_ln": 0.9355, "frac_at_bounds": 0.1, "sign_flips": 0},
         "b": {"n": 300, "sigma_ln": 2 * 0.9355, "frac_at_bounds": None, "sign_flips": 30}}
    s = A.weight_stats(d)
    assert s["sigma_ratio"] == pytest.approx(1.5) and s["frac_at_bounds"] == pytest.approx(0.1)
    assert s["sign_flips"] == 30 and s["frac_sign_flips"] == pytest.approx(30 / 400)
    assert json.dumps(s)


def test_a_crashed_point_is_run_again_a_finished_one_is_not(tmp_path, tiny_tasks):
    job = dict(task="regression", optimizer="madam", lr=0.01, schedule="constant", seed=0)
    path = tmp_path / "raw" / (A.job_name(job) + ".json")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(dict(job, score=None, error="TypeError: from another machine", weights={})))
    done = A.run_all([job], "cpu", 1, tmp_path, budget_s=1e9)
    assert len(done) == 1 and done[0]["error"] is None and done[0]["score"] > 0.5
    assert json.loads(path.read_text())["error"] is None
    assert A.run_all([job], "cpu", 1, tmp_path, budget_s=1e9) == []


def test_rate_task_runs_sign_keeping_and_projected_optimizers(monkeypatch):
    """The rate substrate's task: Madam keeps Dale's law without projection (0 flips); Adam gets
    the library's projection, so every weight ends with its group's sign or at 0."""
    monkeypatch.setitem(A.TASKS, "rate_dm", (dict(A.TASKS["rate_dm"][0], steps=30), "cpu"))
    res = {o: A.run_job(dict(task="rate_dm", optimizer=o, lr=lr, schedule="warmup_cosine", seed=0), "cpu")
           for o, lr in (("madam", 0.01), ("adam", 1e-3))}
    for r in res.values():
        assert r["error"] is None and 0.0 <= r["score"] <= 1.0 and r["sigma_ratio"] > 0
    assert res["madam"]["sign_flips"] == 0
    assert "2000 held-out trials" in A.budget(A.TASKS["rate_dm"][0])


def test_readme_gap_block_is_rewritten_between_its_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{A.README_START}\nold table\n{A.README_END}\noutro\n")
    gaps = {("madam", "constant"): [-0.5, None], ("paired_madam", "constant"): [0.25, -1.5],
            ("paired_madam", "warmup_cosine"): [9.0, 9.0]}
    assert A.update_readme(readme, gaps, ["digits", "rate_dm"], ["runs/x"])
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("\noutro\n") and "old table" not in text
    assert "| `madam` (published) | -0.5 | - | -0.5 |" in text
    assert "| `paired_madam` (chosen) | +0.2 | -1.5 | -1.5 |" in text and "+9.0" not in text
    assert "--from-raw runs/x" in text
    plain = tmp_path / "OTHER.md"
    plain.write_text("no markers\n")
    assert not A.update_readme(plain, gaps, ["digits"], ["runs/x"]) and plain.read_text() == "no markers\n"


def test_raw_json_of_a_renamed_optimizer_reads_under_todays_name(tmp_path):
    raw = tmp_path / "raw" / "digits"
    raw.mkdir(parents=True)
    (raw / "x.json").write_text(json.dumps({"task": "digits", "optimizer": "eg_pm_momentum", "lr": 0.01}))
    assert A.read_raw([tmp_path])[0]["optimizer"] == "paired_madam"
    from synapse_madam.optim import make_optimizer, optimizer_info

    assert optimizer_info("paired_madam").name in A.CANDIDATES
    import torch

    opt = make_optimizer("paired_madam", [torch.nn.Parameter(torch.ones(2))])
    assert opt.param_groups[0]["momentum"] == 0.9 and opt.param_groups[0]["lr"] == 0.01


def test_a_point_finished_under_an_earlier_name_is_not_run_again(tmp_path):
    job = dict(task="digits", optimizer="paired_madam", lr=0.01, schedule="constant", seed=0)
    old = tmp_path / "raw" / (A.job_name(dict(job, optimizer="eg_pm_momentum")) + ".json")
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps(dict(job, optimizer="eg_pm_momentum", score=0.9, error=None, weights={})))
    assert A.finished(tmp_path, job)
    assert not A.finished(tmp_path, dict(job, seed=1))
