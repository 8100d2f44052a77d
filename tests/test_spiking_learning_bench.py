"""benchmarks/spiking_learning.py: the timing specs and the timing section it writes into the doc."""

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("brian2")

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("spiking_learning_bench", ROOT / "benchmarks" / "spiking_learning.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.mark.parametrize("rule", ["madam", "additive"])
def test_timing_specs_cut_both_networks_to_the_asked_time(rule):
    from synapse_madam.spiking import digits

    distal = bench._timing_spec("distal", rule, 7.0, 3)
    assert distal["duration_s"] == 7.0 and distal["seed"] == 3 and distal["rule"]["name"] == f"{rule}_reward"
    spec = bench._timing_spec("digits", rule, 20.0, 2)
    params = spec["network_params"]
    assert params["epochs"] == 1 and params["n_train"] == 60 and params["n_test"] == 20
    assert digits.duration_s(params) == pytest.approx(20.0)
    assert spec["rule"]["name"] == f"{rule}_reward" and spec["seed"] == 2


def _timing(ratio_distal, ratio_digits, load):
    tasks = {}
    for task, ratio in (("distal", ratio_distal), ("digits", ratio_digits)):
        stats = {"madam": {"median": 0.1 * ratio, "ratio": ratio}, "additive": {"median": 0.1, "ratio": 1.0}}
        tasks[task] = {"wall_per_bio_s": {}, "stats": stats, "ratio_madam_over_additive": ratio}
    return {"seconds": 20, "repeats": 2, "tasks": tasks, "load_before": [load] * 3, "load_after": [load] * 3,
            "publishable": load <= bench.MAX_LOAD, "command": "python benchmarks/spiking_learning.py timing"}


def test_timing_section_states_each_network_against_the_target(tmp_path):
    text = "\n".join(bench.timing_lines(_timing(1.4, 1.1, 0.5)))
    assert "| distal | 0.140 | 0.100 | **1.40** | no |" in text
    assert "| digits | 0.110 | 0.100 | **1.10** | yes |" in text
    loaded = "\n".join(bench.timing_lines(_timing(1.4, 1.1, 3.0)))
    assert "Not published" in loaded and "**1.40**" not in loaded
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_timing(1.4, 1.1, 0.5)))
    assert bench.read_timing(path)["tasks"]["digits"]["ratio_madam_over_additive"] == 1.1
