"""The rate-network part of ``synapse-madam demo``: Dale's law with and without projection.

An 80/20 E/I rate network (models/rate_perceptual_dm.toml) learns perceptual decision making by
BPTT with Madam (signs fixed by construction) and with Adam, whose additive steps push weights
across zero and need the Dale's-law projection. The table reports task accuracy, how many weights
crossed zero (and were projected back), silent synapses left at exactly 0, violations, and the
spread of the E->E magnitudes against cortex (Song et al. 2005). Folders: ``out_dir/rate/NAME/``.
"""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["RATE_DEMO_LEARNERS", "run_rate_demo"]

RATE_DEMO_LEARNERS = {"Madam": {"optimizer": "madam", "lr": 0.01},
                      "Adam + projection": {"optimizer": "adam", "lr": 0.001}}
SPEC = "rate_perceptual_dm"  # a packaged spec (synapse_madam/models/)


def run_rate_demo(out_dir: str | Path = "runs/demo", *, steps: int = 400, progress: bool = True,
                  print_fn=print) -> dict:
    """Train each learner for ``steps`` BPTT steps; return {"results", "report"}."""
    from .. import substrates

    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    lines = ["| learner | accuracy | crossed zero (projected) | silent synapses | Dale violations | σ(ln|w|) E→E / σ cortex |",
             "|---|---:|---:|---:|---:|---:|"]
    results = {}
    for label, learning in RATE_DEMO_LEARNERS.items():
        spec = substrates.load_spec(SPEC)
        spec.update(steps=steps, eval_every=max(steps // 4, 1), eval_trials=200, final_eval_trials=500,
                    progress=progress)
        spec["learning"] = {**spec.get("learning", {}), **learning}
        spec["name"] = f"rate_demo_{learning['optimizer']}"
        s = substrates.run(spec, out_dir / "rate" / spec["name"], source=str(SPEC), resume=True)
        results[label] = s
        ee = s["weights"].get("EE", {})
        ratio = ee.get("sigma_ratio", float("nan"))
        lines.append(f"| {label} | {s['accuracy']:.3f} | {s['crossed_total']:,} | {s['n_silent']} | "
                     f"{s['sign_violations']} | {ratio:.2f} |")
        print_fn(f"  {label:18s} accuracy {s['accuracy']:.3f}   crossed zero {s['crossed_total']:,}   "
                 f"silent {s['n_silent']}   Dale violations {s['sign_violations']}")
    report = "\n".join([
        "# Rate networks: an E/I network that keeps Dale's law", "",
        f"Perceptual decision making, 100 rate neurons (80 % E), {steps} BPTT steps per learner; wall time "
        f"{time.perf_counter() - t0:.0f} s. Madam never changes a sign; Adam needs the projection "
        "(weights that cross zero are set to 0, i.e. silenced). Longer runs and three tasks: docs/rate_tasks.md.",
        "", *lines, ""])
    return {"results": results, "report": report}
