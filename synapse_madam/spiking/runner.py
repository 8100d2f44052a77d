"""The "spiking" substrate of ``synapse-madam run``: a models/spiking_*.toml spec -> runs/NAME/.

Spec keys (all but ``substrate`` optional)::

    substrate = "spiking"
    network = "poisson_lif"      # (a) Song et al. 2000 set-up, or "brunel" (b) recurrent E/I, or a
                                 # reward task: "distal_reward" | "digits" (tasks.py; needs a reward rule)
    target = "cython"            # Brian2 codegen target: numpy | cython | cpp_standalone
    duration_s = 100.0           # biological time
    chunk_s = 10.0               # runtime targets: metrics + checkpoint every chunk
    seed = 1
    dt_ms = 0.1
    threads = 1                  # CPU threads: > 1 runs cpp_standalone with that many OpenMP threads
    [rule]                       # plastic synapses (E->E / inputs->neuron)
    name = "madam"               # additive | weight_dependent | van_rossum | gutig | madam | log_stdp
    w_max = 0.01                 # + any parameter of that rule (times as *_ms numbers)
    [inh_rule]                   # optional: plastic inhibitory synapses (I->E / inh inputs)
    name = "madam"
    [network_params]             # poisson_lif: n_inputs, rate_hz, n_inhibitory, inh_rate_hz,
                                 #   w_init (number, or "uniform"/"constant" of one RMS), w_init_max
                                 # brunel: n_exc, epsilon, g, j_mv, nu_ext_ratio, delay_ms,
                                 #         w_max_factor, record_fraction, ee_init ("constant" |
                                 #         "uniform", same RMS), record_synapses (subsample size per
                                 #         plastic group whose weights are digested every record_dt_s)

Outputs (through :class:`synapse_madam.runs.RunFolder`): spec.toml, metrics.jsonl (one line per
chunk: rates and the weight digest of every plastic group; for a brunel network with
record_synapses > 0 on cpp_standalone, one line per record_dt_s with the rates of that interval and
the digest of each group's recorded subsample), summary.json (with the stationarity of sigma ln|w|),
weights.npz and weights_init.npz (signed weights per group: "EE", and "IE" when inhibitory synapses
are plastic), weight_samples.npz (the recorded subsamples: t, EE, IE), figures.
"""

from __future__ import annotations

import inspect
import shutil
import time

import numpy as np

from .. import io
from ..biology.digest import stationarity
from ..runs import WEIGHTS_INIT, RunFolder, headline_part, join_headline
from . import analysis
from . import digits as _digits
from . import distal as _distal
from .backend import TARGETS

CHECKPOINT = "checkpoint.b2"

NETWORKS = {
    "poisson_lif": {"n_inputs", "rate_hz", "n_inhibitory", "inh_rate_hz", "w_init", "w_init_max"},
    "brunel": {"n_exc", "epsilon", "g", "j_mv", "nu_ext_ratio", "delay_ms", "w_max_factor", "record_fraction",
               "ee_init", "record_synapses", "record_dt_s"},
    # reward-learning tasks (tasks.py): rule = madam_reward | additive_reward, runtime targets
    "distal_reward": set(_distal.DEFAULTS),
    "digits": set(_digits.DEFAULTS),
}
TOP_KEYS = {"substrate", "name", "network", "target", "threads", "duration_s", "chunk_s", "seed", "dt_ms",
            "rule", "inh_rule", "network_params", "description"}
DEFAULTS = {"network": "poisson_lif", "target": "cython", "duration_s": 100.0, "chunk_s": 10.0, "seed": 1, "dt_ms": 0.1,
            "threads": 1}


#: rule parameters that are strings (Madam-STDP's bound: "hard" | "soft" | "none"); all others are numbers
_STRING_RULE_KEYS = {"bound", "eligibility"}


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
        if k in _STRING_RULE_KEYS:
            if not isinstance(v, str):
                raise ValueError(f"{source}: {key}.{k} must be a string, got {v!r}.")
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{source}: {key}.{k} must be a number, got {v!r}.")
    return {"name": section["name"], **_rule_defaults(section["name"]), **section}


def _rule_defaults(name: str) -> dict:
    """The rule's own numeric and string defaults (e.g. Madam-STDP's lr), so that spec.toml states
    the parameters the run used; defaults computed from other parameters (None) stay implicit."""
    from .plasticity import RULES

    out = {}
    for p in inspect.signature(RULES[name]).parameters.values():
        d = p.default
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or d is p.empty or d is None or p.name.startswith("tau_") \
                or p.name.endswith("_dt"):
            continue
        if isinstance(d, str) or (isinstance(d, (int, float)) and not isinstance(d, bool)):
            out[p.name] = d
    return out


def validate(spec: dict, source: str) -> dict:
    """Return the resolved spec (defaults filled in); ValueError naming the key otherwise."""
    raw, spec = spec, {**DEFAULTS, **spec}
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
    threads = spec["threads"]
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"{source}: key 'threads' must be an integer >= 1, got {threads!r}.")
    if threads > 1 and spec["target"] != "cpp_standalone":
        raise ValueError(f"{source}: threads = {threads} needs target = \"cpp_standalone\" (Brian2's OpenMP); "
                         f"the {spec['target']} target runs on one thread.")
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
    if spec["network"] in _tasks().TASKS:
        return _tasks().validate_task(spec, raw, source)
    return spec


def _tasks():
    from . import tasks

    return tasks


def seeded_rule(spec: dict):
    """Set Brian2's clock (``dt_ms``) and every seed (``seed``: Brian2's and numpy's) for a
    build, and return the spec's plastic rule (``rule``); shared by every spiking builder."""
    import brian2 as b2

    from .plasticity import make_rule

    b2.defaultclock.dt = spec["dt_ms"] * b2.ms
    b2.seed(spec["seed"])
    np.random.seed(spec["seed"])
    return make_rule(**spec["rule"])


def build(spec: dict):
    """Build the network of a validated spec (in the current Brian2 device/target)."""
    import brian2 as b2

    from .networks import brunel_network, poisson_to_lif
    from .plasticity import make_rule

    rule = seeded_rule(spec)
    inh_rule = make_rule(**spec["inh_rule"]) if "inh_rule" in spec else None
    p = dict(spec["network_params"])
    if spec["network"] == "poisson_lif":
        kw = {"n_inputs": p.get("n_inputs", 1000), "n_inhibitory": p.get("n_inhibitory", 0)}
        if "rate_hz" in p:
            kw["rate"] = p["rate_hz"] * b2.Hz
        if "inh_rate_hz" in p:
            kw["inh_rate"] = p["inh_rate_hz"] * b2.Hz
        if "w_init" in p:  # a number (constant), or "uniform" / "constant" (same RMS) up to w_init_max
            if isinstance(p["w_init"], str):
                from .networks import initial_weights

                w_hi = p.get("w_init_max", rule.w_max)
                kw["w"] = initial_weights(p["w_init"], kw["n_inputs"], w_hi, spec["seed"])
            else:
                kw["w"] = float(p["w_init"])
        return poisson_to_lif(rule, inh_rule=inh_rule, **kw)
    if "delay_ms" in p:
        p["delay"] = p.pop("delay_ms") * b2.ms
    if "record_dt_s" in p:
        p["record_dt"] = p.pop("record_dt_s") * b2.second
    p["connectivity_seed"] = spec["seed"]
    return brunel_network(rule, rule_ie=inh_rule, **p)


def _chunk_metrics(net, t0: float, t1: float, initial: dict | None = None) -> dict:
    """Rates of the last chunk and the weight digest of every plastic group (runtime targets)."""
    row = {"t_s": t1}
    if hasattr(net, "neuron"):
        t = np.asarray(net.spikes.t[:], dtype=float)
        row["rate_hz"] = float(np.sum((t >= t0) & (t < t1)) / (t1 - t0))
    else:
        t = np.asarray(net.exc_spikes.t[:], dtype=float)
        row["exc_rate_hz"] = float(np.sum((t >= t0) & (t < t1)) / (net.params["n_rec_exc"] * (t1 - t0)))
    row["weights"] = {key: g.digest() for key, g in weight_groups(net, initial).items()}
    return row


def simulate(spec: dict, run_dir=None, resume: bool = False, log=print):
    """Build and run a validated spec; returns (summary dict, data dict). ``data`` holds numpy
    copies taken before the device is reset: "weights" (signed, per group) and the monitors
    ("trace_t", "trace_w" for poisson_lif; "spike_i", "spike_t" of E neurons for brunel).

    ``run_dir``: an open :class:`synapse_madam.runs.RunFolder`, a path (opened as one, locked;
    ``resume`` continues it) or None. Runtime targets run in chunks of ``chunk_s``: a metrics line
    (rates and the weight digest of every plastic group) after each and, with a run folder, a
    Brian2 checkpoint (``Network.store``) that a resumed run restores. cpp_standalone runs once.
    """
    sim = _tasks().simulate if spec["network"] in _tasks().TASKS else _simulate
    if run_dir is None or isinstance(run_dir, RunFolder):
        return sim(spec, run_dir, log)
    with RunFolder.open(run_dir, spec, resume=resume, free_keys=free_keys(spec)) as folder:
        return sim(spec, folder, log)


def _simulate(spec: dict, folder: RunFolder | None, log):
    import brian2 as b2

    from .backend import codegen_target, last_run_seconds

    duration = float(spec["duration_s"])
    standalone = spec["target"] == "cpp_standalone"
    directory = str(folder.file("standalone")) if (standalone and folder) else None
    openmp = spec["threads"] if spec["threads"] > 1 else 0  # Brian2: 0 = no OpenMP
    with codegen_target(spec["target"], directory=directory, openmp_threads=openmp) as device:
        t_build = time.perf_counter()
        net = build(spec)
        build_s = time.perf_counter() - t_build
        initial = (folder.load_weights(WEIGHTS_INIT) if folder is not None and folder.resuming else None)
        if initial is None and not standalone:  # standalone weights exist only after the run
            initial = net.weights()
            if folder is not None:
                folder.save_weights(initial, WEIGHTS_INIT)
        wall = 0.0
        if standalone:
            t_start = time.perf_counter()
            net.network.run(duration * b2.second)
            total = time.perf_counter() - t_start
            wall = last_run_seconds(device, total)
            compile_s = total - wall
            if folder is not None:
                folder.clear_metrics()
                if getattr(net, "weight_monitors", None):  # one line per recorded snapshot (sigma(t))
                    for row in snapshot_rows(net):
                        folder.append_metrics(row)
                else:  # one metrics line for the whole (single) standalone run
                    folder.append_metrics({**_chunk_metrics(net, 0.0, duration, initial), "wall_s": wall})
        else:
            if folder is not None and folder.resuming and folder.has_checkpoint(CHECKPOINT):
                net.network.restore(filename=str(folder.checkpoint_path(CHECKPOINT)))
                folder.truncate_metrics("t_s", float(net.network.t) + 1e-9)
                log(f"resumed from {folder.checkpoint_path(CHECKPOINT)} at t = {float(net.network.t):.1f} s")
            elif folder is not None:
                folder.clear_metrics()
            compile_s = 0.0
            while float(net.network.t) < duration - 1e-9:
                t0 = float(net.network.t)
                step = min(float(spec["chunk_s"]), duration - t0)
                t_start = time.perf_counter()
                net.network.run(step * b2.second)
                wall += time.perf_counter() - t_start
                row = _chunk_metrics(net, t0, t0 + step, initial)
                row["wall_s"] = wall
                log(" ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, (int, float))))
                if folder is not None:
                    folder.append_metrics(row)
                    folder.write_checkpoint_with(lambda name: net.network.store(filename=name), CHECKPOINT)
        summary = summarize(spec, net, wall, build_s, compile_s, initial)
        if folder is not None:
            sigma = {k: [r.get("weights", {}).get(k, {}).get("sigma_ln") for r in folder.metrics()]
                     for k in summary["weights"]}
            summary["sigma_stationarity"] = {k: stationarity(v) for k, v in sigma.items()}
        data = {"weights": net.weights(), "initial": initial}
        if hasattr(net, "neuron"):
            data["trace_t"] = np.asarray(net.weight_trace.t[:], dtype=float)
            data["trace_w"] = np.asarray(net.weight_trace.w[:], dtype=float)
        else:
            data["spike_i"] = np.asarray(net.exc_spikes.i[:])
            data["spike_t"] = np.asarray(net.exc_spikes.t[:], dtype=float)
            data.update(weight_samples(net))
    return summary, data


def summarize(spec: dict, net, wall_s: float, build_s: float, compile_s: float, initial: dict | None = None) -> dict:
    """Timing, activity statistics and weight statistics of a finished run."""
    duration = float(spec["duration_s"])
    out = {"name": spec.get("name"), "network": spec["network"], "target": spec["target"],
           "rule": spec["rule"], "inh_rule": spec.get("inh_rule"), "duration_s": duration,
           "wall_s": wall_s, "wall_per_bio_s": wall_s / duration, "build_s": build_s,
           "compile_s": compile_s, "params": net.params}
    groups = weight_groups(net, initial)
    # read by `synapse-madam stats runs/NAME` (biology.run_weight_info)
    out["weight_unit"] = net.weight_unit
    out["weight_bounds"] = {k: g.bounds[1] for k, g in groups.items() if g.bounds is not None}
    out["expected_signs"] = {k: g.expected_sign for k, g in groups.items()}
    out["reference"] = analysis.reference_info()
    out["weights"] = {key: analysis.group_statistics(g.w, unit=g.unit, w_max=None if g.bounds is None else g.bounds[1],
                                                     initial=g.initial, expected_sign=g.expected_sign)
                      for key, g in groups.items()}
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
        t_last = max(0.0, duration - LAST_WINDOW_S)
        out["last_window"] = {"t_start_s": t_last, "t_stop_s": duration}
        for pop, mon, n in (("exc", net.exc_spikes, net.params["n_rec_exc"]), ("inh", net.inh_spikes, net.params["n_rec_inh"])):
            out["last_window"][pop] = analysis.spike_statistics(mon.i[:], np.asarray(mon.t[:], dtype=float), n,
                                                                t_last, duration)
        if getattr(net, "weight_monitors", None):
            out["subsample"] = subsample_summary(net)
    return out


#: Activity (rates, CV of ISI) is also reported over the last LAST_WINDOW_S seconds of a run.
LAST_WINDOW_S = 10.0


def weight_samples(net) -> dict:
    """Recorded weight subsamples of a brunel network: {"t": snapshot times (s), group: (n_t, n) signed w}.

    The monitors record at t = 0, record_dt, ...; the weights at the end of the run (read from the
    synapses at the recorded indices) are appended as the last snapshot."""
    out = {}
    t_end = float(net.network.t)
    for key, mon in getattr(net, "weight_monitors", {}).items():
        t = np.asarray(mon.t[:], dtype=float)
        w = np.asarray(mon.w[:], dtype=float).T
        if t.size == 0 or t[-1] < t_end - 1e-9:
            final = np.asarray(net.plastic_groups()[key].w[:], dtype=float)[np.asarray(mon.record)]
            t, w = np.append(t, t_end), np.vstack([w.reshape(t.size, -1), final[None, :]])
        out["t"] = t
        # signed weights as BrunelNetwork.weights: a signed rule stores them, others store |w| of I as +
        unsigned_inh = key.startswith("I") and not net.params.get("signed", {}).get(key)
        out[key] = -w if unsigned_inh else w
    return out


def snapshot_rows(net) -> list[dict]:
    """One metrics row per recorded snapshot: t_s, the E and I rates since the previous snapshot
    (recorded neurons) and ``weights``: {group: biology.digest.digest_weights of the subsample}
    with the group's bounds (0, w_max), its expected sign and its first snapshot as the initial weights."""
    from ..biology.digest import digest_weights

    samples = weight_samples(net)
    t = samples.pop("t")
    spikes = {pop: (np.asarray(mon.t[:], dtype=float), n) for pop, mon, n in
              (("exc", net.exc_spikes, net.params["n_rec_exc"]), ("inh", net.inh_spikes, net.params["n_rec_inh"]))}
    rows = []
    for k, tk in enumerate(t):
        row = {"t_s": float(tk)}
        if k:
            for pop, (ts, n) in spikes.items():
                row[f"{pop}_rate_hz"] = float(np.sum((ts >= t[k - 1]) & (ts < tk)) / (n * (tk - t[k - 1])))
        row["weights"] = {key: digest_weights(w[k], initial=w[0], bounds=(0.0, _w_max_of(net, key)),
                                              expected_sign=-1 if key.startswith("I") else 1)
                          for key, w in samples.items()}
        rows.append(row)
    return rows


def subsample_summary(net) -> dict:
    """Per plastic group: sigma(t) of the recorded subsample, its stationarity over the last third
    (biology.digest.stationarity), and the final snapshot's digest with Hartigan's dip test on ln|w|
    and sigma / sigma(Song 2005)."""
    from .. import biology
    from ..biology.digest import digest_weights, stationarity

    samples = weight_samples(net)
    t = samples.pop("t")
    ref_sigma = analysis.reference_info()["sigma"]
    out = {"t_s": [float(x) for x in t]}
    for key, w in samples.items():
        bounds = (0.0, _w_max_of(net, key))
        sig = [digest_weights(row)["sigma_ln"] for row in w]
        final = digest_weights(w[-1], initial=w[0], bounds=bounds, expected_sign=-1 if key.startswith("I") else 1)
        ln = np.log(np.abs(w[-1][w[-1] != 0]))
        final["dip_p_ln"] = float(biology.dip_test(ln, n_sim=500, seed=0).p_value) if ln.size >= 4 else None
        final["sigma_ratio"] = final["sigma_ln"] / ref_sigma if final["sigma_ln"] is not None else None
        out[key] = {"sigma_t": sig, "mean_ln_t": [digest_weights(row)["mean_ln"] for row in w],
                    "stationarity": stationarity(sig), "final": final}
    return out


def _w_max_of(net, key: str) -> float | None:
    value = net.plastic_groups()[key].namespace.get("w_max")
    return float(value) if value is not None and np.isfinite(value) else None


def weight_groups(source, initial: dict | None = None) -> dict:
    """The plastic groups ("EE", and "IE" when inhibition is plastic): signed weights with their
    expected sign (+1 for E, -1 for I presynaptic neurons), the network's unit and the rule's
    w_max where it has one; from a built network (with ``initial`` weights if given) or from a
    run folder."""
    from ..substrates import WeightGroup, groups_from_folder

    if not hasattr(source, "plastic_groups"):
        return groups_from_folder(source)
    initial = initial or {}
    out = {}
    for key, w in source.weights().items():
        hi = _w_max_of(source, key)
        w0 = initial.get(key)
        out[key] = WeightGroup(key, w, -1 if key.startswith("I") else 1, source.weight_unit,
                               None if hi is None else (0.0, hi), w0 if w0 is not None and w0.shape == w.shape else None)
    return out


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


def free_keys(spec: dict) -> set[str]:
    """Spec keys that may change on --resume: cosmetic ones, and ``duration_s`` (a resumed
    simulation continues the same trajectory for longer)."""
    return {"name", "description", "duration_s", "threads"}


def run_in(spec: dict, folder: RunFolder, *, callbacks=()) -> dict:
    """The protocol's run: train/simulate a resolved spec into an open, locked RunFolder; the summary."""
    from ..biology.figures import weight_distribution_figure
    from .figures import spike_raster, weight_traces

    finished = folder.finished_summary()
    if finished is not None and finished.get("duration_s") == spec["duration_s"]:
        return finished
    summary, data = simulate(spec, folder)
    weights = data["weights"]
    folder.save_weights(weights)
    if "t" in data:  # the recorded subsamples of a brunel network (record_synapses > 0)
        io.atomic_save_npz(folder.file("weight_samples.npz"), **{k: data[k] for k in ("t", "EE", "IE") if k in data})
    fig = weight_distribution_figure(weights, unit=summary["weight_unit"], bounds=summary["weight_bounds"],
                                     reference=summary["reference"]["name"],
                                     title=f"{spec.get('name')}: {spec['rule']['name']} after {spec['duration_s']:g} s")
    folder.save_figure(fig, "weights.png")
    if "rows" in data:  # a reward task
        folder.save_figure(_tasks().task_figure(summary), "task.png")
    elif "trace_t" in data:
        folder.save_figure(weight_traces(data["trace_t"], data["trace_w"], title="two synapses"), "weight_traces.png")
    else:
        folder.save_figure(spike_raster(data["spike_i"], data["spike_t"], title="excitatory neurons"), "raster.png")
    folder.write_summary(summary)
    folder.remove_checkpoint(CHECKPOINT)
    # cpp_standalone's raw result arrays (tens of MB) duplicate weights.npz; the generated code stays
    shutil.rmtree(folder.file("standalone") / "results", ignore_errors=True)
    return summary


def headline(summary: dict) -> str:
    """One line for the CLI: biological time, firing rates, sigma of ln|w| and sign flips per
    plastic group, wall time."""
    s = summary
    parts = [f"{s.get('network')}: {s.get('duration_s'):g} s of biological time",
             headline_part("output rate", s.get("rate_hz"), ".2f", " Hz")]
    if isinstance(s.get("results"), dict):
        parts += _tasks().headline_parts(s)
    parts += [headline_part(f"{pop} rate", s[pop].get("rate_hz"), ".2f", " Hz")
              for pop in ("exc", "inh") if isinstance(s.get(pop), dict)]
    for key, d in (s.get("weights") or {}).items():
        parts.append(f"{key}: {headline_part('sigma ln|w|', d.get('sigma_ln'), '.3f') or 'sigma ln|w| n/a'}, "
                     f"sign flips {d.get('sign_flips')}")
    parts.append(headline_part("wall time", s.get("wall_s"), ".1f", " s"))
    return join_headline(parts, s)
