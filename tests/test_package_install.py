"""A plain (non-editable) install works outside the checkout: the specs ship with the package.

Builds a wheel from a copy of the sources, installs it without dependencies into a fresh
virtualenv that sees this environment's packages (torch, Brian2, ...) through a .pth line but not
its editable install of the checkout, and runs, from a folder outside the checkout, the spec
look-ups of the rate and spiking demos, a tiny rate demo, the native Madam kernel's build from the
installed C source and ``synapse-madam run NAME``.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CODE = r"""
import json, sys
from pathlib import Path
import synapse_madam
from synapse_madam import experiments, models
from synapse_madam.rate import demo as rate_demo
from synapse_madam.spiking import demo as spiking_demo

installed = Path(synapse_madam.__file__).resolve()
assert "site-packages" in installed.parts and str(installed).startswith(sys.prefix), installed
for name in [rate_demo.SPEC, *spiking_demo.SPIKING_DEMO_RULES.values()]:
    spec = experiments.load_spec(name)
    assert spec["substrate"] in ("rate", "spiking"), spec
    assert str(models.path(name)).startswith(sys.prefix)
res = rate_demo.run_rate_demo(Path("demo_out"), steps=4, progress=False, print_fn=lambda *a: None)
assert set(res["results"]) == set(rate_demo.RATE_DEMO_LEARNERS), res
from synapse_madam.optim import native  # the kernel source ships in the wheel and builds from it
assert native.SOURCE.is_file() and str(native.SOURCE).startswith(sys.prefix), native.SOURCE
assert native.available(), "the native Madam kernel did not build from the installed package"
print(json.dumps({"file": str(installed), "specs": models.names()}))
"""


def _run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


def test_wheel_install_in_a_fresh_venv_runs_the_demo_specs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    shutil.copytree(ROOT / "synapse_madam", src / "synapse_madam", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(wheels), str(src)])
    (wheel,) = wheels.glob("synapse_madam-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # this environment's packages as a plain path: its .pth files (the editable install) are not run
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)])

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = _run([str(py), "-c", CODE], cwd=work, env=env)
    assert "rate_perceptual_dm" in out.stdout and "spiking_song_madam" in out.stdout

    # the console script finds a packaged spec by its checkout path models/NAME.toml (and by name: below)
    cli = venv / "bin" / "synapse-madam"
    run = _run([str(cli), "run", "models/rate_perceptual_dm.toml", "--set", "steps=2", "--set", "eval_every=2",
                "--set", "eval_trials=16", "--set", "final_eval_trials=16", "--set", "progress=false",
                "--out", str(work / "r")], cwd=work, env=env)
    assert (work / "r" / "summary.json").is_file(), run.stdout
    bad = subprocess.run([str(cli), "run", "no_such_spec"], capture_output=True, text=True, cwd=work, env=env)
    assert bad.returncode != 0 and "packaged specs:" in bad.stderr and "fashion_mlp" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_spec_lookup_by_name_and_path(tmp_path, monkeypatch):
    from synapse_madam import experiments, models

    monkeypatch.chdir(tmp_path)  # no models/ folder here
    assert experiments.load_spec("fashion_mlp")["name"] == "fashion_mlp"
    assert models.resolve("models/fashion_mlp.toml") == models.path("fashion_mlp")
    own = tmp_path / "mine.toml"
    own.write_text('substrate = "deep"\n')
    assert experiments.load_spec(own)["name"] == "mine"
    with pytest.raises(FileNotFoundError, match="packaged specs: .*fashion_mlp"):
        experiments.load_spec("fashion_mpl")
    with pytest.raises(FileNotFoundError, match="not found"):
        experiments.load_spec(tmp_path / "sub" / "x.toml")


def test_no_module_reaches_into_the_source_tree():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "synapse_madam").rglob("*.py")
                 if "parents[2]" in p.read_text() or "parents[1]" in p.read_text()]
    assert offenders == []
