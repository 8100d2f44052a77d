"""The spiking part of ``synapse-madam demo``: additive STDP vs Madam-STDP in Brian2.

The classic set-up of Song, Miller & Abbott (2000) — 1000 Poisson inputs onto one conductance-based
LIF neuron (models/spiking_song_*.toml) — is simulated for a short stretch of biological time
with each rule. The table reports the input synapses' weight statistics from the statistics
layer: the spread sigma of ln w, its ratio to cortex (Song et al. 2005), the fractions piled at 0
and at the bound (additive STDP's bimodality) and sign preservation. Folders go to
``out_dir/spiking/RULE/`` (weights.npz, summary.json, weights.png).
"""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["SPIKING_DEMO_RULES", "run_spiking_demo", "run_reward_demo"]

SPIKING_DEMO_RULES = {"additive STDP": "spiking_song_additive.toml", "Madam-STDP": "spiking_song_madam.toml"}


def run_spiking_demo(out_dir: str | Path = "runs/demo", *, duration_s: float = 100.0, target: str = "cython",
                     progress: bool = True, print_fn=print) -> dict:
    """Simulate each rule for ``duration_s`` of biological time; return {"results", "report"}."""
    from .. import substrates

    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    lines = ["| rule | σ(ln w) | σ / σ cortex | near 0 | near w_max | sign flips | output rate (Hz) | wall time (s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    results = {}
    for label, spec_file in SPIKING_DEMO_RULES.items():
        spec = substrates.load_spec(spec_file)  # a packaged spec (synapse_madam/models/)
        spec.update(duration_s=duration_s, chunk_s=min(duration_s, 20.0), target=target)
        summary = substrates.run(spec, out_dir / "spiking" / spec["name"], source=spec_file, resume=True)
        digest = summary["weights"]["EE"]
        e = digest["classes"].get("E", {})
        results[label] = summary
        row = (f"| {label} | {e.get('sigma', float('nan')):.2f} | {e.get('sigma_ratio', float('nan')):.2f} "
               f"| {e.get('frac_at_lower', float('nan')):.1%} | {e.get('frac_at_upper', float('nan')):.1%} "
               f"| {digest['sign_flips']} | {summary.get('rate_hz', float('nan')):.1f} "
               f"| {summary['wall_s']:.1f} |")
        lines.append(row)
        print_fn(f"  {label:14s} sigma(ln w) {e.get('sigma', float('nan')):.2f}   near 0 {e.get('frac_at_lower', float('nan')):.1%}"
                 f"   near w_max {e.get('frac_at_upper', float('nan')):.1%}   (wall time {summary['wall_s']:.1f} s "
                 f"for {duration_s:g} s of biological time)")
    report = "\n".join([
        "# Spiking synapses in Brian2: additive STDP vs Madam-STDP", "",
        f"1000 Poisson inputs (15 Hz) onto one conductance-based LIF neuron (Song, Miller & Abbott 2000), "
        f"{duration_s:g} s of biological time per rule, Brian2 target {target}; wall time "
        f"{time.perf_counter() - t0:.0f} s including code generation; the table's last column is each rule's "
        f"wall-clock time, not simulated time. σ cortex = 0.9355 (Song et al. 2005). "
        "Longer runs and the recurrent network: docs/spiking.md.", "", *lines, ""])
    return {"results": results, "report": report}


def run_reward_demo(out_dir: str | Path = "runs/demo", *, duration_s: float = 5.0, target: str = "numpy",
                    progress: bool = True, print_fn=print) -> dict:
    """The distal-reward task (Izhikevich 2007) at a tiny size with both three-factor rules.

    80 E + 20 I Izhikevich neurons, 10 targets each, a strong noise current so that the chosen
    synapse pairs often; ``duration_s`` of biological time per rule on the numpy target (no
    compilation). Full size and results: models/spiking_distal_*.toml, docs/spiking_learning.md.
    Folders go to ``out_dir/spiking_reward/RULE/``."""
    from .. import substrates

    out_dir = Path(out_dir)
    lines = ["| rule | chosen synapse percentile | w_chosen | pairings | σ(ln w) | sign flips | wall time (s) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    results = {}
    for label in ("madam", "additive"):
        name = f"spiking_distal_{label}"
        spec = substrates.apply_overrides(substrates.load_spec(name), [
            f'target="{target}"', f"duration_s={duration_s}", f"chunk_s={duration_s}", "network_params.n_exc=80",
            "network_params.n_inh=20", "network_params.n_out=10", "network_params.noise=30.0"])
        summary = substrates.run(spec, out_dir / "spiking_reward" / label, source=name, resume=True)
        r, w = summary["results"], summary["weights"]["EE"]
        results[label] = summary
        lines.append(f"| {summary['rule']['name']} | {r['final_percentile']:.3f} | {r['w_chosen'][-1]:.2f} | "
                     f"{r['pairings']} | {w['sigma_ln']:.2f} | {w['sign_flips']} | {summary['wall_s']:.1f} |")
        print_fn(f"  {summary['rule']['name']:16s} chosen synapse percentile {r['final_percentile']:.3f} after "
                 f"{duration_s:g} s, {r['pairings']} rewarded pairings, sign flips {w['sign_flips']}")
    report = "\n".join([
        "# Learning from reward in Brian2: three-factor Madam vs additive R-STDP (distal reward, tiny)", "",
        f"Izhikevich (2007)'s distal-reward task at a tiny size (80 E + 20 I neurons, {duration_s:g} s of biological "
        "time per rule, numpy target): the chosen synapse is rewarded 1-3 s after each of its pre-post pairings; "
        "the percentile is the fraction of the other plastic synapses below it. Full size (1 h): "
        "docs/spiking_learning.md. An additive weight clipped to 0 counts as a sign flip (it left the excitatory "
        "sign); Madam's multiplicative steps cannot reach 0.", "", *lines, ""])
    return {"results": results, "report": report}
