"""The "spiking" substrate of ``synapse-madam run``: a models/spiking_*.toml spec -> runs/NAME/.

Spec keys (all but ``substrate`` optional)::

    substrate = "spiking"
    network = "poisson_lif"      # (a) Song et al. 2000 set-up, or "brunel" (b) recurrent E/I
    target = "cython"            # Brian2 codegen target: numpy | cython | cpp_standalone
    duration_s = 100.0           # biological time
    chunk_s = 10.0               # runtime targets: metrics + checkpoint every chunk
    seed = 1
    dt_ms = 0.1
    [rule]                       # plastic synapses (E->E / inputs->neuron)
    name = "madam"               # additive | weight_dependent | van_rossum | gutig | madam
    w_max = 0.01                 # + any parameter of that rule (times as *_ms numbers)
    [inh_rule]                   # optional: plastic inhibitory synapses (I->E / inh inputs)
    name = "madam"
    [network_params]             # poisson_lif: n_inputs, rate_hz, n_inhibitory, inh_rate_hz
                                 # brunel: n_exc, epsilon, g, j_mv, nu_ext_ratio, delay_ms,
                                 #         w_max_factor, record_fraction

Outputs: spec.toml, metrics.jsonl (one line per chunk), summary.json, weights.npz (signed weights
per group: "EE", and "IE" when inhibitory synapses are plastic), figures.
"""

from __future__ import annotations

import inspect
import shutil
import time
from pathlib import Path

import numpy as np

from .. import io
from . import analysis
from .backend import TARGETS

NETWORKS = {
    "poisson_lif": {"n_inputs", "rate_hz", "n_inhibitory", "inh_rate_hz", "w_init"},
    "brunel": {"n_exc", "epsilon", "g", "j_mv", "nu_ext_ratio", "delay_ms", "w_max_factor", "record_fraction"},
}
TOP_KEYS = {"substrate", "name", "network", "target", "duration_s", "chunk_s", "seed", "dt_ms",
            "rule", "inh_rule", "network_params", "description"}
DEFAULTS = {"network": "poisson_lif", "target": "cython", "duration_s": 100.0, "chunk_s": 10.0, "seed": 1, "dt_ms": 0.1}


def _rule_params(name: str) -> set[str]:
    """Parameters a rule accepts, read from its signature (times also as NAME_ms)."""
    from .plasticity import RULES, WeightDependentSTDP

    factory = RULES[name]
    sig = inspect.signature(factory)
    params = {p for p in sig.parameters if p not in ("self", "kwargs")}
    if any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
        params |= set(inspect.signature(WeightDependentSTDP).parameters) - {"mu_plus", "mu_minus", "self"}
    times = {p for p in params if p.startswith("tau_") or p.endswith("_dt")}
    return (params - times) | {f"{p}_ms" for p in times}


def _validate_rule(section, key: str, source: str) -> dict:
    from .plasticity import RULES

    if not isinstance(section, dict) or "name" not in section:
        raise ValueError(f"{source}: [{key}] must be a table with a 'name' (one of {', '.join(RULES)}).")
    if section["name"] not in RULES:
        raise ValueError(f"{source}: {key}.name is {section['name']!r}; allowed values: {', '.join(RULES)}.")
    allowed = _rule_params(section["name"])
    for k, v in section.items():
        if k == "name":
            continue
        if k not in allowed:
            raise ValueError(f"{source}: unknown key {key}.{k} for rule {section['name']!r}; "
                             f"allowed: {', '.join(sorted(allowed))}.")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{source}: {key}.{k} must be a number, got {v!r}.")
    return dict(section)


def validate(spec: dict, source: str) -> dict:
    """Return the resolved spec (defaults filled in); ValueError naming the key otherwise."""
    spec = {**DEFAULTS, **spec}
    unknown = set(spec) - TOP_KEYS
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(TOP_KEYS))}.")
    if spec["network"] not in NETWORKS:
        raise ValueError(f"{source}: key 'network' is {spec['network']!r}; allowed values: {', '.join(NETWORKS)}.")
    if spec["target"] not in TARGETS:
        raise ValueError(f"{source}: key 'target' is {spec['target']!r}; allowed values: {', '.join(TARGETS)} "
                         "(numpy needs no compiler; cython and cpp_standalone need a C++ compiler).")
    for key in ("duration_s", "chunk_s", "dt_ms"):
        v = spec[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(f"{source}: key {key!r} must be a number > 0, got {v!r}.")
    if isinstance(spec["seed"], bool) or not isinstance(spec["seed"], int):
        raise ValueError(f"{source}: key 'seed' must be an integer, got {spec['seed']!r}.")
    spec["rule"] = _validate_rule(spec.get("rule", {"name": "madam"}), "rule", source)
    if "inh_rule" in spec:
        spec["inh_rule"] = _validate_rule(spec["inh_rule"], "inh_rule", source)
    params = spec.get("network_params", {})
    if not isinstance(params, dict):
        raise ValueError(f"{source}: [network_params] must be a table.")
    bad = set(params) - NETWORKS[spec["network"]]
    if bad:
        raise ValueError(f"{source}: unknown network_params {', '.join(sorted(bad))} for network "
                         f"{spec['network']!r}; allowed: {', '.join(sorted(NETWORKS[spec['network']]))}.")
    spec["network_params"] = dict(params)
    return spec


def build(spec: dict):
    """Build the network of a validated spec (in the current Brian2 device/target)."""
    import brian2 as b2

    from .networks import brunel_network, poisson_to_lif
    from .plasticity import make_rule

    b2.defaultclock.dt = spec["dt_ms"] * b2.ms
    b2.seed(spec["seed"])
    np.random.seed(spec["seed"])
    rule = make_rule(**spec["rule"])
    inh_rule = make_rule(**spec["inh_rule"]) if "inh_rule" in spec else None
    p = dict(spec["network_params"])
    if spec["network"] == "poisson_lif":
        kw = {"n_inputs": p.get("n_inputs", 1000), "n_inhibitory": p.get("n_inhibitory", 0)}
        if "rate_hz" in p:
            kw["rate"] = p["rate_hz"] * b2.Hz
        if "inh_rate_hz" in p:
            kw["inh_rate"] = p["inh_rate_hz"] * b2.Hz
        if "w_init" in p:
            kw["w"] = float(p["w_init"])
        return poisson_to_lif(rule, inh_rule=inh_rule, **kw)
    if "delay_ms" in p:
        p["delay"] = p.pop("delay_ms") * b2.ms
    return brunel_network(rule, rule_ie=inh_rule, **p)


def _chunk_metrics(net, t0: float, t1: float) -> dict:
    """Rates and weight moments of the last chunk (runtime targets)."""
    row = {"t_s": t1}
    if hasattr(net, "neuron"):
        t = np.asarray(net.spikes.t[:], dtype=float)
        row["rate_hz"] = float(np.sum((t >= t0) & (t < t1)) / (t1 - t0))
    else:
        t = np.asarray(net.exc_spikes.t[:], dtype=float)
        row["exc_rate_hz"] = float(np.sum((t >= t0) & (t < t1)) / (net.params["n_rec_exc"] * (t1 - t0)))
    for key, w in net.weights().items():
        a = np.abs(w[w != 0])
        row[f"{key}_mean"] = float(np.mean(w))
        row[f"{key}_log_sd"] = float(np.std(np.log(a))) if a.size else float("nan")
    return row


def simulate(spec: dict, run_dir: Path | None = None, resume: bool = False, log=print):
    """Build and run a validated spec; returns (summary dict, data dict). ``data`` holds numpy
    copies taken before the device is reset: "weights" (signed, per group) and the monitors
    ("trace_t", "trace_w" for poisson_lif; "spike_i", "spike_t" of E neurons for brunel).

    Runtime targets run in chunks of ``chunk_s``: a metrics line after each and, with a run_dir,
    a Brian2 checkpoint (``Network.store``) that ``resume`` restores. cpp_standalone runs once.
    """
    import brian2 as b2

    from .backend import codegen_target, last_run_seconds

    duration = float(spec["duration_s"])
    standalone = spec["target"] == "cpp_standalone"
    directory = str(run_dir / "standalone") if (standalone and run_dir) else None
    with codegen_target(spec["target"], directory=directory) as device:
        t_build = time.perf_counter()
        net = build(spec)
        build_s = time.perf_counter() - t_build
        wall = 0.0
        if standalone:
            t_start = time.perf_counter()
            net.network.run(duration * b2.second)
            total = time.perf_counter() - t_start
            wall = last_run_seconds(device, total)
            compile_s = total - wall
            if run_dir is not None:  # one metrics line for the whole (single) standalone run
                io.append_jsonl(run_dir / "metrics.jsonl", {**_chunk_metrics(net, 0.0, duration), "wall_s": wall})
        else:
            ckpt = run_dir / "checkpoint.b2" if run_dir else None
            if resume and ckpt is not None and ckpt.is_file():
                net.network.restore(filename=str(ckpt))
                log(f"resumed from {ckpt} at t = {float(net.network.t):.1f} s")
            compile_s = 0.0
            while float(net.network.t) < duration - 1e-9:
                t0 = float(net.network.t)
                step = min(float(spec["chunk_s"]), duration - t0)
                t_start = time.perf_counter()
                net.network.run(step * b2.second)
                wall += time.perf_counter() - t_start
                row = _chunk_metrics(net, t0, t0 + step)
                row["wall_s"] = wall
                log(" ".join(f"{k}={v:.4g}" for k, v in row.items()))
                if run_dir is not None:
                    io.append_jsonl(run_dir / "metrics.jsonl", row)
                    net.network.store(filename=str(ckpt))
        summary = summarize(spec, net, wall, build_s, compile_s)
        data = {"weights": net.weights()}
        if hasattr(net, "neuron"):
            data["trace_t"] = np.asarray(net.weight_trace.t[:], dtype=float)
            data["trace_w"] = np.asarray(net.weight_trace.w[:], dtype=float)
        else:
            data["spike_i"] = np.asarray(net.exc_spikes.i[:])
            data["spike_t"] = np.asarray(net.exc_spikes.t[:], dtype=float)
    return summary, data


def summarize(spec: dict, net, wall_s: float, build_s: float, compile_s: float) -> dict:
    """Timing, activity statistics and weight statistics of a finished run."""
    duration = float(spec["duration_s"])
    out = {"name": spec.get("name"), "network": spec["network"], "target": spec["target"],
           "rule": spec["rule"], "inh_rule": spec.get("inh_rule"), "duration_s": duration,
           "wall_s": wall_s, "wall_per_bio_s": wall_s / duration, "build_s": build_s,
           "compile_s": compile_s, "params": net.params}
    weights = net.weights()
    unit = net.weight_unit
    bounds = {key: _w_max_of(net, key) for key in weights}
    # read by `synapse-madam stats runs/NAME` (biology.run_weight_info)
    out["weight_unit"] = unit
    out["weight_bounds"] = {k: v for k, v in bounds.items() if v is not None}
    out["reference"] = analysis.reference_info()
    out["weights"] = {}
    for key, w in weights.items():
        summary = analysis.weight_digest(w, unit=unit, w_max=bounds[key])
        expected = np.full(w.shape, -1.0 if key.startswith("I") else 1.0)
        summary["sign"] = analysis.sign_preservation(expected, w)
        out["weights"][key] = summary
    if hasattr(net, "neuron"):
        out["rate_hz"] = float(net.spikes.num_spikes / duration)
    else:
        t_skip = min(0.2, duration / 4)
        for pop, mon, n in (("exc", net.exc_spikes, net.params["n_rec_exc"]), ("inh", net.inh_spikes, net.params["n_rec_inh"])):
            out[pop] = analysis.spike_statistics(mon.i[:], np.asarray(mon.t[:], dtype=float), n, t_skip, duration)
        out["n_neurons"] = net.params["n_exc"] + net.params["n_inh"]
        out["n_synapses"] = net.n_synapses()
        out["synaptic_events"] = recurrent_events(net)
        out["events_per_wall_s"] = out["synaptic_events"] / wall_s if wall_s > 0 else float("nan")
    return out


def _w_max_of(net, key: str) -> float | None:
    value = net.plastic_groups()[key].namespace.get("w_max")
    return float(value) if value is not None and np.isfinite(value) else None


def recurrent_events(net) -> int:
    """Number of recurrent synaptic events: for every recorded spike, the out-degree of its
    neuron (requires record_fraction = 1 for an exact count)."""
    total = 0
    for pop, mon, targets in (("E", net.exc_spikes, ("EE", "EI")), ("I", net.inh_spikes, ("IE", "II"))):
        n = net.params["n_exc" if pop == "E" else "n_inh"]
        counts = np.bincount(np.asarray(mon.i[:], dtype=int), minlength=n)
        for key in targets:
            outdeg = np.bincount(np.asarray(net.synapses[key].i[:], dtype=int), minlength=n)
            total += int(np.dot(counts, outdeg[: counts.size]))
    return total


def run(spec: dict, run_dir, *, resume: bool = False) -> dict:
    """Run a validated spec into run_dir (see module doc); returns the summary."""
    from .. import plots
    from ..biology.figures import weight_distribution_figure
    from .figures import spike_raster, weight_traces

    run_dir = Path(run_dir)
    if resume and (run_dir / "summary.json").is_file():
        import json

        return json.loads((run_dir / "summary.json").read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume and (run_dir / "metrics.jsonl").exists():
        (run_dir / "metrics.jsonl").unlink()
    io.atomic_write_text(run_dir / "spec.toml", io.spec_to_toml(spec))
    summary, data = simulate(spec, run_dir, resume=resume)
    weights = data["weights"]
    io.atomic_save_npz(run_dir / "weights.npz", **weights)
    fig = weight_distribution_figure(weights, unit=summary["weight_unit"], bounds=summary["weight_bounds"],
                                      reference=summary["reference"]["name"],
                                      title=f"{spec.get('name')}: {spec['rule']['name']} after {spec['duration_s']:g} s")
    plots.save_figure(fig, run_dir / "weights.png")
    if "trace_t" in data:
        plots.save_figure(weight_traces(data["trace_t"], data["trace_w"], title="two synapses"), run_dir / "weight_traces.png")
    else:
        plots.save_figure(spike_raster(data["spike_i"], data["spike_t"], title="excitatory neurons"), run_dir / "raster.png")
    io.atomic_write_json(run_dir / "summary.json", summary)
    ckpt = run_dir / "checkpoint.b2"
    if ckpt.exists():
        ckpt.unlink()
    # cpp_standalone's raw result arrays (tens of MB) duplicate weights.npz; the generated code stays
    shutil.rmtree(run_dir / "standalone" / "results", ignore_errors=True)
    return summary
