"""benchmarks/spiking_learning.py: the command beside each row reproduces its run.

A digits network_params key added after a run (e.g. teacher_mv) is absent from that run's
spec.toml; the run used the key's default then, so when the packaged spec sets another value the
row's command must set the default back, and the run does not count as the packaged spec.
"""

import sys
from pathlib import Path

import pytest

pytest.importorskip("brian2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import spiking_learning as S  # noqa: E402

from synapse_madam import io, substrates  # noqa: E402
from synapse_madam.spiking import digits, runner  # noqa: E402


def _write_run(runs: Path, name: str, spec: dict) -> None:
    (runs / name).mkdir(parents=True)
    (runs / name / "spec.toml").write_text(io.spec_to_toml(spec))


def test_commands_restore_defaults_of_keys_a_run_predates(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "RUNS", tmp_path)
    spec = runner.validate(substrates.load_spec("spiking_digits_madam"), "spiking_digits_madam")
    assert spec["network_params"]["teacher_mv"] > 0, "the packaged spec has a teacher (docs)"
    _write_run(tmp_path, "now_s2", {**spec, "seed": 2})
    old = {**spec, "network_params": {k: v for k, v in spec["network_params"].items()
                                      if k not in ("teacher_mv", "teacher_ms", "step_decay", "reward_baseline")}}
    _write_run(tmp_path, "before_teacher", old)
    assert S._packaged("now_s2") and not S._packaged("before_teacher")
    assert S._command("now_s2", {}) == ("synapse-madam run models/spiking_digits_madam.toml --set seed=2 "
                                        "--out runs/spiking_learning/now_s2")
    cmd = S._command("before_teacher", {})
    assert f"--set network_params.teacher_mv={digits.DEFAULTS['teacher_mv']}" in cmd
    # keys whose default equals the packaged value need no --set
    assert "teacher_ms" not in cmd and "step_decay" not in cmd and "reward_baseline" not in cmd
