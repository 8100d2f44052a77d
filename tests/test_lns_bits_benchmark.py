"""benchmarks/lns_bits.py: the plan, the lr selection, the separation check, the targets and the
report, on synthetic run records (the training itself is the trainer's, tested elsewhere)."""

import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import pytest
from lns_records import run_record as _rec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("lns_bits_bench", ROOT / "benchmarks" / "lns_bits.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["lns_bits_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_plan_orders_priorities_and_grids_only_the_baselines(bench):
    jobs = bench.plan(["resnet", "cnn"], 3, "smoke")
    ids = [j.id for j in jobs]
    assert len(ids) == len(set(ids))
    assert ids.index("cnn__lns8__lr0.01__s2") < ids.index("resnet__madam__lr0.01__s0")  # the ResNet goes last
    assert ids.index("cnn__bartol__lr0.01__s0") < ids.index("cnn__spacing_2__lr0.01__s0") < ids.index("cnn__adam__lr0.001__s0")
    lns = [j for j in jobs if j.task == "cnn" and j.config == "lns8"]
    assert sorted(j.seed for j in lns) == [0, 1, 2] and {j.lr for j in lns} == {0.01}  # nothing tuned
    uni = [j for j in jobs if j.task == "cnn" and j.config == "uni4"]
    assert sorted(j.lr for j in uni if j.seed == 0) == sorted(bench.LR_GRID)
    assert [j.depends_on for j in uni if j.seed > 0] == ["uni4", "uni4"]
    bartol = bench.CONFIGS["bartol"].options
    assert bartol["levels"] == 26 and bartol["base"] == pytest.approx(math.exp(0.166))


def _records(bench, uni4=(60.0, 61.0, 59.5), uni8=(80.0, 80.5, 79.0)):
    rs = []
    for seed in range(3):
        rs += [_rec("cnn", "madam", 0.01, seed, 0.85 + 0.001 * seed), _rec("cnn", "lns8", 0.01, seed, 0.848),
               _rec("cnn", "lns5", 0.01, seed, 0.83), _rec("cnn", "bartol", 0.01, seed, 0.82)]
    for key, accs in (("uni4", uni4), ("uni8", uni8)):
        rs += [_rec("cnn", key, lr, 0, (accs[0] - 10 * (lr != 0.01)) / 100) for lr in bench.LR_GRID]
        rs += [_rec("cnn", key, 0.01, s, accs[s] / 100) for s in (1, 2)]
    rs.append(_rec("cnn", "long", 0.01, 0, 0.856))
    return rs


def test_summary_picks_the_best_grid_lr_and_the_checks_use_it(bench):
    rows = bench.summarise(_records(bench))["cnn"]
    assert rows["uni8"]["lr"] == 0.01 and rows["uni8"]["n"] == 3 and rows["uni8"]["accs"] == [80.0, 80.5, 79.0]
    assert rows["madam"]["mean"] == pytest.approx(85.1)
    sep = bench.separation(rows)
    assert sep["separates"] and sep["diff"] == pytest.approx(20.0 - 0.0, abs=1.0)
    flat = bench.separation(bench.summarise(_records(bench, uni8=(60.2, 60.9, 59.9)))["cnn"])
    assert flat["separates"] is False  # 4 and 8 bits indistinguishable: the task does not separate
    t = {name.split(" (")[0]: (v, ok) for name, v, ok in bench.targets(rows)}
    assert t["8-bit LNSMadam within 0.5 of FP32 Madam"] == (pytest.approx(-0.3), True)
    assert t["Bartol 26 levels within 2"] == (pytest.approx(-3.1), False)
    assert t["8-bit LNSMadam ahead of the best fair 8-bit baseline"][1] is True
    assert t[f"FP32 Madam converged: {bench.LONG_FACTOR}x budget no more than 1 point better"][1] is True  # 85.6 vs 85.0


def test_report_lists_runs_not_finished_and_rebuilds_from_raw(bench, tmp_path):
    records = _records(bench) + [{"id": "cnn__lns5__lr0.01__s9", "task": "cnn", "config": "lns5", "lr": 0.01,
                                  "seed": 9, "status": "cut", "reason": "stopped after epoch 1/3: wall limit"}]
    meta = {"command": "python3 benchmarks/lns_bits.py --smoke", "regenerate": "x", "load_before": "1", "load_after": "2",
            "device": "cpu", "device_name": "cpu", "torch": "t", "python": "p", "workers": 2, "wall_s": 3.0,
            "wall_limit": 9.0, "cpu_count": 2, "budget": "smoke", "seeds": 3, "stem": "lns_bits_cpu_test", "tasks": {}}
    md = bench.write_outputs(records, meta, tmp_path)
    text = md.read_text()
    assert text.startswith("# ") and "Command: `python3 benchmarks/lns_bits.py --smoke`" in text
    assert "Load average before: 1, after: 2" in text
    assert "cut (stopped after epoch 1/3)" in text and "cnn__lns5__lr0.01__s9" in text
    assert f"**Coverage:** {len(records) - 1} of {len(records)} planned runs finished; 1 were stopped" in text
    assert (tmp_path / "lns_bits_cpu_test.png").stat().st_size > 1000
    again = tmp_path / "again"
    bench.main(["--from-raw", str(tmp_path / "lns_bits_cpu_test.json"), "--docs", str(again)])
    assert (again / "lns_bits_cpu_test.md").read_text() == text
    assert json.loads((tmp_path / "lns_bits_cpu_test.json").read_text())["meta"]["stem"] == "lns_bits_cpu_test"


def test_the_memory_study_plans_the_compact_moments_at_lr_0_01_on_cpu_tasks(bench):
    jobs = bench.plan(["digits_mlp", "mlp", "cnn"], 3, "mem", only=["lns8", "lns8_log8"])
    keys = {(j.task, j.config) for j in jobs}
    for task in ("digits_mlp", "mlp", "cnn"):
        assert {c for t, c in keys if t == task} == {"long", "madam", "lns8", "lns8_log8"}
    log8 = [j for j in jobs if j.config == "lns8_log8"]
    assert len(log8) == 9 and {j.lr for j in log8} == {0.01} and sorted({j.seed for j in log8}) == [0, 1, 2]
    assert bench.CONFIGS["lns8_log8"].options == {"bits": 8, "second_moment_dtype": "log8"}
    assert bench.BUDGETS["mem"]["cnn"][0] == bench.BUDGETS["cnn5k"]["cnn"][0]  # the CNN budget of the spacing study
    rows = bench.summarise([_rec("mlp", "madam", 0.01, s, 0.85) for s in range(3)]
                           + [_rec("mlp", "lns8_log8", 0.01, s, 0.84) for s in range(3)])["mlp"]
    t = {name: (v, ok) for name, v, ok in bench.targets(rows)}
    assert t["8-bit LNSMadam with log8 v within 0.5 of FP32 Madam"] == (pytest.approx(-1.0), False)


def test_the_memory_line_pairs_the_compact_moment_with_float_v_by_seed(bench):
    recs = [_rec("mlp", "lns8", 0.01, s, a) for s, a in enumerate((0.80, 0.82, 0.84))]
    recs += [_rec("mlp", "lns8_log8", 0.01, s, a) for s, a in enumerate((0.81, 0.82, 0.83))]
    line = bench.memory_comparison(bench.summarise(recs)["mlp"])
    assert line.startswith("8-bit LNSMadam, log8 v minus float32 v: +0.00 ± 1.00 points (paired over 3 seeds)")
    assert bench.memory_comparison(bench.summarise(recs[:3])["mlp"]) is None


def test_the_cpu_deep_budget_anneals_and_its_report_says_the_lr_is_the_peak(bench):
    jobs = bench.plan(["deep_mlp"], 3, "deep20k")
    long = [j for j in jobs if j.config == "long"]
    assert len(long) == 1 and long[0].epochs_factor == bench.LONG_FACTOR and long[0].extra["epochs"] == 90
    assert all('schedule="cosine"' in j.overrides and "train_subset=20000" in j.overrides for j in jobs)
    assert jobs[0].config == "long"  # the convergence check runs first
    tiers = [bench.CONFIGS[j.config].tier for j in jobs if j.config != "long"]
    assert tiers == sorted(tiers)  # tier 3 last: it is what the wall limit drops
    line = "spec fashion_deep_mlp with " + ", ".join(bench.BUDGETS["deep20k"]["deep_mlp"][0] + bench.COMMON)
    note = bench.schedule_note({"tasks": {"deep_mlp": line}})
    assert note.startswith("**lr schedule:** deep_mlp: cosine.") and f"{bench.LONG_FACTOR}x" in note
    assert bench.schedule_note({"tasks": {"cnn": "spec fashion_cnn with epochs=3, threads=1"}}) is None
    assert bench.schedule_note({"tasks": {"cnn": 'epochs=3, schedule="constant"'}}) is None
    meta = {"command": "c", "regenerate": "r", "load_before": "1", "load_after": "2", "device": "cpu",
            "device_name": "cpu", "torch": "t", "python": "p", "workers": 1, "wall_s": 3.0, "wall_limit": 9.0,
            "cpu_count": 2, "budget": "deep20k", "seeds": 3, "stem": "s", "tasks": {"deep_mlp": line}}
    recs = [_rec("deep_mlp", "madam", 0.01, s, 0.85) for s in range(3)]
    assert note in bench.report(recs, meta)


def test_the_default_lns_formats_carry_their_level_spacing(bench):
    """LNSMadam's default B-bit format spans 2^(127/8) with 2^(B-1) levels: ln(base) = (127/8) ln 2 / (2^(B-1) - 1),
    the x of its open square on the spacing panel."""
    for key, bits in (("lns8", 8), ("lns5", 5), ("lns4", 4)):
        assert bench.CONFIGS[key].spacing == pytest.approx(127 / 8 * math.log(2) / (2 ** (bits - 1) - 1))
    assert bench.CONFIGS["lns8"].spacing == pytest.approx(bench.BARTOL_LOG_SPACING / 2, rel=0.05)
    panels = bench.gap_panels(bench.summarise(_records(bench)))
    assert panels["cnn"]["LNSMadam 8 bits"][2] == pytest.approx(bench.CONFIGS["lns8"].spacing)
    assert panels["cnn"]["uniform 8 bits + Adam, SR"][2] is None


def _cli(args):
    """benchmarks/lns_bits.py in its own process (its worker processes import it by path)."""
    import os
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lns_bits.py"), *args], capture_output=True,
                          text=True, env=env, timeout=900)


def test_resume_keeps_the_finished_runs_and_runs_only_the_rest(tmp_path):
    """A study too long for one sitting: --resume continues it in the same --out. Finished runs are
    kept byte for byte, runs that were lost or cut run again, and another plan is refused."""
    out, docs = tmp_path / "run", tmp_path / "docs"
    args = ["--device", "cpu", "--smoke", "--tasks", "digits_mlp", "--configs", "uni4", "--seeds", "2",
            "--workers", "1", "--wall", "600", "--reserve", "1", "--out", str(out), "--docs", str(docs)]
    assert _cli(args).returncode == 0
    raw = out / "raw"
    first = {f.name: f.read_bytes() for f in raw.glob("*.json")}
    assert len(first) == 7  # 3x run, FP32 Madam x2, uni4 grid x3 on seed 0, uni4 seed 1 at the picked lr
    (raw / "digits_mlp__madam__lr0.01__s1.json").unlink()  # lost
    cut = raw / "digits_mlp__uni4__best__s1.json"
    cut.write_text(json.dumps({**json.loads(cut.read_text()), "status": "cut", "reason": "wall limit"}))
    calls = json.loads((out / "invocations.json").read_text())
    assert len(calls) == 1 and calls[0]["finished"] == 7
    # an invocation killed before its end (a session that ran out) is on record from its start;
    # the run it finished is counted from its file
    (out / "invocations.json").write_text(json.dumps(calls + [{"command": "killed", "load_before": "1.00",
                                                                "started": time.time()}]))
    time.sleep(0.1)  # file times come from a coarser clock than time.time()
    done_by_killed = raw / "digits_mlp__madam__lr0.01__s0.json"
    done_by_killed.write_bytes(done_by_killed.read_bytes())
    other = _cli([a if a != "2" else "3" for a in args] + ["--resume"])
    assert other.returncode != 0 and "another plan (seeds 2 there, 3 here)" in other.stderr
    assert _cli(args + ["--resume"]).returncode == 0
    again = {f.name: f.read_bytes() for f in raw.glob("*.json")}
    assert set(again) == set(first)
    rerun = {n for n in again if again[n] != first[n]}
    assert rerun == {"digits_mlp__madam__lr0.01__s1.json", "digits_mlp__uni4__best__s1.json"}
    assert json.loads(again["digits_mlp__uni4__best__s1.json"])["status"] == "done"
    text = (docs / "lns_bits_cpu_smoke.md").read_text()
    assert "**Run in 3 invocations**" in text and "1. 7 runs in" in text and "3. 2 runs in" in text
    assert "2. 1 runs, then stopped before its end" in text
    assert "**Coverage:** 7 of 7 planned runs finished" in text
    bare = _cli([a for a in args if a not in ("--out", str(out))] + ["--resume"])
    assert bare.returncode != 0 and "--resume needs --out" in bare.stderr


def test_resume_from_a_report_continues_a_study_on_another_machine(tmp_path):
    """Only the committed report outlives a sitting's machine: --resume-from rebuilds the run folder
    from it (plan, finished runs, invocations) and runs only what is missing; it writes to an empty
    --out only and refuses a report of another plan."""
    out, docs = tmp_path / "run", tmp_path / "docs"
    args = ["--device", "cpu", "--smoke", "--tasks", "digits_mlp", "--configs", "lns8", "--seeds", "2",
            "--workers", "1", "--wall", "600", "--reserve", "1", "--docs", str(docs)]
    assert _cli(args + ["--out", str(out)]).returncode == 0
    report = docs / "lns_bits_cpu_smoke.json"
    runs = {r["id"]: r for r in json.loads(report.read_text())["runs"]}
    assert len(runs) == 5  # 3x run, FP32 Madam x2, LNSMadam 8 bits x2
    # the next sitting: a new machine where only docs/ survived, and one run had been lost
    d = json.loads(report.read_text())
    d["runs"] = [r for r in d["runs"] if r["id"] != "digits_mlp__lns8__lr0.01__s1"]
    report.write_text(json.dumps(d))
    again = tmp_path / "next"
    busy = _cli(args + ["--out", str(out), "--resume-from", str(report)])
    assert busy.returncode != 0 and "already holds a run" in busy.stderr
    other = _cli([a if a != "lns8" else "lns5" for a in args] + ["--out", str(again), "--resume-from", str(report)])
    assert other.returncode != 0 and "another plan (configs ['lns8'] there, ['lns5'] here)" in other.stderr
    assert not again.exists() or not any(again.iterdir())
    assert _cli(args + ["--out", str(again), "--resume-from", str(report)]).returncode == 0
    rebuilt = {f.stem: json.loads(f.read_text()) for f in (again / "raw").glob("*.json")}
    assert set(rebuilt) == set(runs)
    for rid in set(runs) - {"digits_mlp__lns8__lr0.01__s1"}:  # kept as they were, not run again
        assert rebuilt[rid]["wall_s"] == runs[rid]["wall_s"]
    text = (docs / "lns_bits_cpu_smoke.md").read_text()
    assert "**Run in 2 invocations**" in text and "1. 5 runs in" in text and "2. 1 runs in" in text
    assert "**Coverage:** 5 of 5 planned runs finished" in text


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended and not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
def test_a_scheduler_stopped_by_a_signal_takes_its_workers_with_it(tmp_path):
    """A sitting stopped with ``kill PID`` never shuts its pool down; its workers must not train on
    as orphans. The scheduler's pool (``worker_pool``) runs a two-minute task, the
    scheduler gets SIGTERM, and its worker is gone within seconds."""
    import os
    import signal
    import subprocess

    script = tmp_path / "scheduler.py"
    script.write_text(
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
        "import lns_bits\n"
        "if __name__ == '__main__':\n"
        "    pool = lns_bits.worker_pool(1, 'cpu')\n"
        "    print(pool.submit(os.getpid).result(), flush=True)\n"
        "    pool.submit(time.sleep, 120)\n"
        "    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    worker = int(parent.stdout.readline())
    try:
        assert _alive(worker)
        time.sleep(1.0)  # the worker is in its long task
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=30)
        end = time.time() + 20
        while _alive(worker) and time.time() < end:
            time.sleep(0.2)
        assert not _alive(worker), "the worker trains on after its scheduler was killed"
    finally:
        parent.kill()
        try:
            os.kill(worker, signal.SIGKILL)
        except ProcessLookupError:
            pass
