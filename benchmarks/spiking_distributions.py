"""Long runs through the CLI path (substrates.run) to see where each rule's weights settle.

Network (a) for DURATION s from equal initial weights (w_max/2), and network (b) (Brunel E/I)
with plastic E->E only (Madam-STDP, then additive STDP) and with plastic E->E and I->E
Madam-STDP, for BRUNEL_DURATION s each, all on cpp_standalone. The statistics are those of each
run's summary.json, computed by synapse_madam.biology (see synapse_madam.spiking.analysis); for
the full report of one run use `synapse-madam stats runs/dist_NAME`. Writes runs/dist_*/ and
docs/spiking_distributions.md + docs/spiking_distributions.png:

    nice -n 10 .venv/bin/python benchmarks/spiking_distributions.py --duration 500 --brunel-duration 60
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from synapse_madam import io, plots, substrates
from synapse_madam.biology.figures import weight_distribution_figure

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=500.0)
    ap.add_argument("--brunel-duration", type=float, default=60.0)
    ap.add_argument("--brunel-n", type=int, default=2000)
    ap.add_argument("--out", default="docs")
    args = ap.parse_args(argv)
    command = "nice -n 10 .venv/bin/python benchmarks/spiking_distributions.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    runs = {
        "additive": ("models/spiking_song_additive.toml", []),
        "madam": ("models/spiking_song_madam.toml", []),
        "madam + noise 0.1/sqrt(s)": ("models/spiking_song_madam.toml", ["rule.noise_std=0.1"]),
    }
    t0 = time.perf_counter()
    rows, weights, units, bounds = [], {}, {}, {}
    for label, (path, extra) in runs.items():
        sets = ["target=cpp_standalone", f"duration_s={args.duration}", "network_params.w_init=0.005"] + extra
        spec = substrates.apply_overrides(substrates.load_spec(path), sets)
        run_dir = Path("runs") / f"dist_{label.split()[0]}{'_noise' if 'noise' in label else ''}"
        s = substrates.run(spec, run_dir, source=path)
        with np.load(run_dir / "weights.npz") as z:
            weights[f"(a) {label}"] = z["EE"]
        units[f"(a) {label}"], bounds[f"(a) {label}"] = s["weight_unit"], s["weight_bounds"].get("EE")
        rows.append((label, f"synapse-madam run {path} " + " ".join(f"--set {x}" for x in sets), s, "EE"))
        print(label, s["wall_s"], flush=True)
    brunel_runs = {  # label -> (spec, extra --set, run folder, weight groups shown)
        "(b) Brunel, Madam E->E only": ("models/spiking_brunel_madam_ee.toml", [], "dist_brunel_ee", ["EE"]),
        "(b) Brunel, additive E->E only": ("models/spiking_brunel_madam_ee.toml", ["rule.name=additive"],
                                           "dist_brunel_ee_additive", ["EE"]),
        "(b) Brunel, Madam E->E and I->E": ("models/spiking_brunel_madam.toml", [], "dist_brunel", ["EE", "IE"]),
    }
    brunel = {}
    for label, (path, extra, folder, keys) in brunel_runs.items():
        sets = [f"duration_s={args.brunel_duration}", f"network_params.n_exc={args.brunel_n}"] + extra
        spec = substrates.apply_overrides(substrates.load_spec(path), sets)
        s = substrates.run(spec, Path("runs") / folder, source=path)
        brunel[label] = s
        with np.load(Path("runs") / folder / "weights.npz") as z:
            for key in keys:
                name = f"{label.split(', ')[1]}: {key}"
                weights[name], units[name], bounds[name] = z[key], s["weight_unit"], s["weight_bounds"].get(key)
        for n, key in enumerate(keys):
            cmd = f"synapse-madam run {path} " + " ".join(f"--set {x}" for x in sets) if n == 0 else "(same run)"
            rows.append((f"{label}: {key}", cmd, s, key))
        print(label, s["wall_s"], flush=True)
    wall = time.perf_counter() - t0
    out = Path(args.out)
    fig = weight_distribution_figure(weights, unit=units, bounds=bounds,
                                      title=f"(a) {args.duration:g} s from w = w_max/2; (b) {args.brunel_duration:g} s")
    plots.save_figure(fig, out / "spiking_distributions.png")
    ref = rows[0][2]["reference"]
    lines = ["# Where the weights settle: long runs per rule", "", f"Command: `{command}` (total wall time {wall:.0f} s, "
             "2 shared CPU cores). Each row was run through the CLI path; the per-run command is given.", "",
             f"Statistics from `synapse_madam.biology`, as in each run's summary.json: sigma of ln|w| (MLE), "
             f"sigma / sigma of {ref['citation']} ({ref['sigma']}), KS D = Kolmogorov-Smirnov distance of the "
             "data to its fitted log-normal, the fractions within 1% of the range from 0 and from the rule's bound "
             "(exact zeros included), Hartigan's dip test p on |w| and on ln|w| (bimodal: p < 0.025 on either), the "
             "fraction of synapses that kept their sign (not 0), the rate and stability of the run. Network (a)'s "
             "weights are conductances in units of the leak conductance; network (b)'s are PSP jumps in mV, so "
             "their median is also compared with Song 2005's in mV (median / Song).", "",
             "| run | sigma(ln w) | sigma / Song 2005 | KS D | at 0 | at bound | dip p (w / ln w) | bimodal | "
             "median / Song | sign kept | rate (Hz) | stable | command |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    nan = float("nan")
    for label, cmd, s, key in rows:
        ws = s["weights"][key]
        d = next(iter(ws["classes"].values()), {})  # each spiking group has one sign
        rate = s.get("rate_hz", s.get("exc", {}).get("rate_hz"))
        stable = s.get("exc", {}).get("stable", "n/a")
        med = d.get("median_ratio")
        lines.append(f"| {label} | {d.get('sigma', nan):.3g} | {d.get('sigma_ratio', nan):.3g} | {d.get('ks', nan):.3g} | "
                     f"{d.get('frac_at_lower', nan):.3g} | {d.get('frac_at_upper', nan):.3g} | "
                     f"{d.get('dip_p', nan):.3g} / {d.get('dip_log_p') or nan:.3g} | {d.get('bimodal')} | "
                     f"{'n/a' if med is None else f'{med:.3g}'} | {ws['sign_flips']} | "
                     f"{rate:.1f} | {stable} | `{cmd}` |")
    lines += [""] + [f"{label}: excitatory rate per window (Hz) {', '.join(f'{r:.1f}' for r in b['exc']['window_rates_hz'])}; "
                     f"CV(ISI) {b['exc']['cv_isi']:.2f}." for label, b in brunel.items()]
    lines += ["", "Figure: `spiking_distributions.png`.", ""]
    io.atomic_write_text(out / "spiking_distributions.md", "\n".join(lines))
    print(f"wrote {out}/spiking_distributions.md in {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
