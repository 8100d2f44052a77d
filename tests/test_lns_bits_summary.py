"""benchmarks/lns_bits_summary.py: the cross-task table is built from the per-budget run files of
benchmarks/lns_bits.py only, and its checks and gaps are those of the per-budget reports."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from lns_records import run_record as _rec

ROOT = Path(__file__).resolve().parents[1]


def _load(name, file):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def summary():
    return _load("lns_bits_summary_mod", "lns_bits_summary.py")


def _run_file(path, task, budget, uni8, long_acc, grid=(0.001, 0.01, 0.1)):
    runs = [_rec(task, "long", 0.01, 0, long_acc)]
    for s in range(3):
        runs += [_rec(task, "madam", 0.01, s, 0.80), _rec(task, "lns8", 0.01, s, 0.79),
                 _rec(task, "bartol", 0.01, s, 0.77)]
    for key, accs in (("uni4", (0.70, 0.71, 0.69)), ("uni8", uni8)):
        runs += [_rec(task, key, lr, 0, accs[0] - 0.1 * (lr != 0.001)) for lr in grid]
        runs += [_rec(task, key, 0.001, s, accs[s]) for s in (1, 2)]
    meta = {"device": "cpu", "budget": budget, "command": "c", "stem": path.stem}
    path.write_text(json.dumps({"meta": meta, "runs": runs}))
    return path


def test_the_summary_has_one_column_per_task_and_budget_with_its_checks(summary, tmp_path):
    a = _run_file(tmp_path / "lns_bits_cpu_a.json", "transformer", "a", uni8=(0.80, 0.81, 0.79), long_acc=0.805)
    b = _run_file(tmp_path / "lns_bits_cpu_b.json", "deep_mlp", "b", uni8=(0.70, 0.72, 0.69), long_acc=0.85)
    summary.main([str(a), str(b), "--docs", str(tmp_path / "out")])
    text = (tmp_path / "out" / "lns_bits_summary.md").read_text()
    head = next(line for line in text.splitlines() if line.startswith("| format |"))
    assert head.index("deep_mlp · cpu b") < head.index("transformer · cpu a")  # ordered by task
    conv = next(line for line in text.splitlines() if line.startswith("| converged |"))
    assert conv.split("|")[3:5] == [" **no** (+5.0) ", " yes (+0.5) "]  # deep_mlp 85 vs 80; transformer 80.5 vs 80
    sep = next(line for line in text.splitlines() if line.startswith("| separates |"))
    assert " **no** (+0.3, p " in sep and " yes (+10.0, p " in sep
    lns8 = next(line for line in text.splitlines() if line.startswith("| LNSMadam 8 bits |"))
    assert lns8.count("-1.00 ± 0.00 /3") == 2
    uni8 = next(line for line in text.splitlines() if line.startswith("| uniform 8 bits + Adam, SR |"))
    assert "(lr 0.001)" in uni8  # the baseline at its best grid lr
    bartol = next(line for line in text.splitlines() if line.startswith("| Bartol 26 levels within 2 |"))
    assert bartol.count("-3.00 **no**") == 2
    assert "| Bartol (4.7 bits) ahead of uniform 5 bits + SR | – | – |" in text  # no uni5 runs: nothing to compare
    assert (tmp_path / "out" / "lns_bits_summary.png").stat().st_size > 1000


def test_a_file_that_is_not_a_run_file_gets_one_clear_line(summary, tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("[1, 2]")
    with pytest.raises(SystemExit, match="not a run file of benchmarks/lns_bits.py"):
        summary.main([str(bad), "--docs", str(tmp_path)])
    with pytest.raises(SystemExit, match="no such run file: .*nope.json"):
        summary.main([str(tmp_path / "nope.json"), "--docs", str(tmp_path)])
    assert not (tmp_path / "lns_bits_summary.md").exists()
