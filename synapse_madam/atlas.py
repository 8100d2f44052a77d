"""The atlas: the ln|w| distributions of runs from any substrate against measured cortex (issue 11).

``synapse-madam atlas RUN... [--reference song2005] [--out DIR]`` reads finished run folders
(deep, rate or spiking: ``weights.npz``, ``summary.json``, ``metrics.jsonl`` and, when the run
wrote it, ``weights_init.npz``) and gives, per run and weight group, the numbers that say whether
a learning rule produced a stationary, cortex-like log-normal:

* ``sigma_ln`` = sd of ln|w| and ``sigma_ratio`` = sigma_ln / sigma_ref. Unit-free: rescaling the
  weights shifts ln|w| only, so runs in arbitrary units compare with a reference in mV.
* ``ks_D``: Kolmogorov-Smirnov distance between ln|w| and the normal with ln|w|'s *own* mean and
  sd, i.e. the data against its fitted log-normal. (Not the distance between two fitted
  log-normals, which depends on the two sigmas only and cannot see a bimodal or clipped shape.)
* ``ad``: Anderson-Darling A^2 of the same comparison (weights the tails, where a bound piles
  weights up; Anderson & Darling 1954).
* ``frac_at_bounds``: fraction within 0.1 % of a bound the run *declares* (summary.json
  ``weight_bounds``); None without one (the largest weight is not a bound).
* ``sign_flips``: entries whose sign differs from the initial weights'.
* ``stationarity`` of sigma(t), the sigma_ln values the run logged during training
  (metrics.jsonl): relative change over the last third, stationary when < 5 %.

Every statistic of the final weights is :func:`synapse_madam.biology.digest.digest_weights`
(the one digest every run logs), so the atlas and a run's own log agree to the last digit.

The figure (:func:`synapse_madam.biology.figures.atlas_figure`) draws every group's ln|w|
density centred at its median, so weights in different units share one log axis, with the
reference's log-normal, and sigma(t) / sigma_ref over the run.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .biology.digest import digest_weights, stationarity
from .biology.fitting import ks_ad_statistics
from .biology.references import LogNormalReference, reference_distribution
from .io import read_jsonl

__all__ = ["AtlasGroup", "Atlas", "load_run_groups", "sigma_series", "build_atlas", "write_atlas", "ATLAS_FILES"]

METRICS, SPEC = "metrics.jsonl", "spec.toml"
ATLAS_FILES = ("atlas.md", "atlas.json", "atlas.png")


@dataclass(frozen=True)
class AtlasGroup:
    """One weight group of one run: its digest, AD, sigma(t) and ln|w| (for the density)."""

    run: str
    substrate: str | None
    learner: str | None
    group: str
    digest: dict
    ad: float | None
    sigma_ratio: float | None
    sigma_t: tuple[tuple[float, float], ...]
    stationarity: dict
    ln_w: np.ndarray = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.run} {self.group}"

    def row(self) -> dict:
        d = self.digest
        return {"run": self.run, "substrate": self.substrate, "learner": self.learner, "group": self.group,
                "n": d["n"], "n_zero": d["n_zero"], "mean_ln": d["mean_ln"], "sigma_ln": d["sigma_ln"],
                "sigma_ratio": self.sigma_ratio, "ks_D": d["ks_D"], "ad": self.ad,
                "frac_at_lower": d["frac_at_lower"], "frac_at_upper": d["frac_at_upper"],
                "frac_at_bounds": d["frac_at_bounds"], "sign_flips": d["sign_flips"],
                "sigma_rel_change": self.stationarity["rel_change"], "stationary": self.stationarity["stationary"],
                "sigma_points": self.stationarity["n_points"]}


@dataclass(frozen=True)
class Atlas:
    """The atlas of a set of runs against one reference; ``to_markdown`` / ``to_dict`` render it."""

    reference: LogNormalReference
    groups: tuple[AtlasGroup, ...]
    sources: tuple[str, ...]

    def rows(self) -> list[dict]:
        return [g.row() for g in self.groups]

    def to_dict(self) -> dict:
        r = self.reference
        return {"reference": {"name": r.name, "mu": r.mu, "sigma": r.sigma, "unit": r.unit, "measure": r.measure,
                              "citation": str(r.citation)},
                "runs": list(self.sources), "rows": self.rows(),
                "sigma_t": {g.label: [list(p) for p in g.sigma_t] for g in self.groups}}

    def to_markdown(self) -> str:
        r = self.reference
        head = ["run", "substrate", "learner", "group", "n", "σ ln|w|", "σ/σ_ref", "KS D (data vs own log-normal fit)",
                "AD A²", "at bounds", "sign flips", "σ(t) change, last third (points logged)", "stationary (<5 %)"]
        lines = [f"# Atlas: ln|w| against {r.citation.short}", "",
                 f"Reference {r.name}: ln x ~ N({r.mu:.3f}, {r.sigma:.4f}²), x = {r.measure} in {r.unit} "
                 f"[{r.confirmed}]; {r.citation}", "",
                 "σ ln|w|: sd of ln|w| of the nonzero weights; σ/σ_ref is unit-free. KS D and AD A²: ln|w| against "
                 "the normal with its own mean and sd (0 = exactly log-normal). At bounds: within 0.1 % of a bound "
                 "the run declares (n/a: none declared). Sign flips: weights whose sign differs from the initial "
                 "weights' (n/a: the run kept no initial weights). σ(t) change: (max - min) / mean of the σ ln|w| "
                 "values logged over the last third of the run, with the number of values logged in the whole run "
                 "(n/a: fewer than 3; few points make a weak test).", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows():
            lines.append("| " + " | ".join([
                row["run"], row["substrate"] or "?", row["learner"] or "?", row["group"], str(row["n"]),
                _f(row["sigma_ln"], 3), _f(row["sigma_ratio"], 2), _f(row["ks_D"], 4), _f(row["ad"], 1),
                _pct(row["frac_at_bounds"]), "n/a" if row["sign_flips"] is None else str(row["sign_flips"]),
                _pct(row["sigma_rel_change"]) + ("" if row["sigma_rel_change"] is None else f" ({row['sigma_points']} pts)"),
                "n/a" if row["stationary"] is None else ("yes" if row["stationary"] else "no")]) + " |")
        lines += ["", "Runs: " + ", ".join(f"`{s}`" for s in self.sources), ""]
        return "\n".join(lines)


def _f(v, digits: int) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


# ------------------------------------------------------------------------------------ reading runs


def _read_spec(folder: Path) -> dict:
    f = folder / SPEC
    if not f.is_file():
        return {}
    try:
        return tomllib.loads(f.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ValueError(f"{f}: not readable TOML ({exc}).") from None


def _read_summary(folder: Path) -> dict:
    f = folder / "summary.json"
    if not f.is_file():
        return {}
    try:
        s = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise ValueError(f"{f}: not readable JSON ({exc}).") from None
    return s if isinstance(s, dict) else {}


def _terms(options) -> str:
    """" + restore + noise, bound=soft" for the rule's opt-in terms that a run switched on
    (rule.py: restore, noise / noise_std, bound other than the published "hard")."""
    if not isinstance(options, dict):
        return ""
    out = [k for k in ("restore", "noise") if _positive(options.get(k))]
    if "noise" not in out and _positive(options.get("noise_std")):
        out.append("noise")
    bound = options.get("bound")
    if isinstance(bound, str) and bound != "hard":
        out.append(f"bound={bound}")
    return "".join(f" + {t}" for t in out)


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _learner(spec: dict, summary: dict) -> str | None:
    """What learned: the optimizer (deep; rate, with its rule when not BPTT) or the plasticity rule
    (spiking's [rule] name), followed by the rule's opt-in terms the run switched on
    (e.g. "madam + restore + noise"; the published rule has none)."""
    for src in (spec, summary):
        if isinstance(src.get("optimizer"), str):
            return src["optimizer"] + _terms(src.get("optimizer_options"))
        learning = src.get("learning")
        if isinstance(learning, dict) and isinstance(learning.get("optimizer"), str):
            rule = learning.get("rule")
            return (learning["optimizer"] + (f" ({rule})" if isinstance(rule, str) and rule != "bptt" else "")
                    + _terms(learning))
        rule = src.get("rule")
        if isinstance(rule, dict) and isinstance(rule.get("name"), str):
            return rule["name"] + ("-STDP" if src.get("substrate") == "spiking" else "") + _terms(rule)
        if isinstance(rule, str):
            return rule
    return None


def load_run_groups(path) -> tuple[dict, dict, dict]:
    """(weight groups, spec, summary) of one finished run folder.

    The groups come from the run's substrate (:func:`synapse_madam.substrates.get`, named by the
    folder's spec.toml): signed weights, initial weights, known bounds and expected sign of each
    group, exactly as the substrate digests them while it runs. A folder without a substrate in
    its spec (weights from elsewhere) is read as recorded (weights.npz, weights_init.npz,
    summary.json). One clear error for a path that is not a run folder or has no weights.npz.
    """
    from . import substrates

    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{str(path)!r} is not a run folder; give folders like runs/NAME that hold "
                                "weights.npz (runs write it when they finish).")
    if not (folder / "weights.npz").is_file():
        raise FileNotFoundError(f"run folder {str(path)!r} has no weights.npz (runs write it when they finish).")
    spec, summary = _read_spec(folder), _read_summary(folder)
    name = spec.get("substrate") or summary.get("substrate")
    groups = substrates.get(name).weight_groups(folder) if name else substrates.groups_from_folder(folder)
    return groups, spec, summary


def sigma_series(records: list[dict], group: str) -> list[tuple[float, float]]:
    """The (time, sigma_ln) points a run logged for ``group`` in metrics.jsonl.

    A record carries the digest of each group under ``"weights"`` ({group: digest_weights(...)});
    time is the record's ``step``, else ``epoch``, else ``t_s``, else its position.
    """
    out = []
    for i, rec in enumerate(records):
        dg = rec.get("weights")
        if not isinstance(dg, dict) or not isinstance(dg.get(group), dict):
            continue
        s = dg[group].get("sigma_ln")
        if s is None:
            continue
        t = next((rec[k] for k in ("step", "epoch", "t_s") if isinstance(rec.get(k), (int, float))), i)
        out.append((float(t), float(s)))
    return out


def _ad_of_ln(ln: np.ndarray) -> float | None:
    """Anderson-Darling A^2 of ln|w| against the normal with its own mean and sd (ddof 0)."""
    if ln.size < 2:
        return None
    sd = float(ln.std())
    if not sd > 0:
        return None
    from scipy import stats

    return float(ks_ad_statistics(np.sort(stats.norm.cdf((ln - ln.mean()) / sd)))[1])


def _run_labels(paths: list[Path]) -> list[str]:
    """Short unique labels: the folder name, with as many parent names as it takes to be unique."""
    parts = [p.resolve().parts for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    raise ValueError(f"the same run folder is given twice: {[str(p) for p in paths]}; give each run once.")


def build_atlas(runs, reference: str | LogNormalReference = "song2005", *, groups=None) -> Atlas:
    """The atlas of the run folders ``runs`` against ``reference`` (see the module docstring).

    ``groups``: only these weight groups (each must exist in at least one run). A group whose
    weights are all zero, or that has no weights, is an error naming the run and the group.
    """
    ref = reference_distribution(reference)  # unknown name -> one line listing the allowed ones
    paths = [Path(p) for p in runs]
    if not paths:
        raise ValueError("atlas: give at least one run folder (e.g. runs/fashion_mlp).")
    labels = _run_labels(paths)
    wanted = None if groups is None else list(groups)
    found: set[str] = set()
    every: dict = {}
    out = []
    for path, label in zip(paths, labels):
        run_groups, spec, summary = load_run_groups(path)
        records = read_jsonl(path / METRICS) if (path / METRICS).is_file() else []
        substrate = spec.get("substrate") or summary.get("substrate")
        every.update(run_groups)
        for name, g in run_groups.items():
            if wanted is not None and name not in wanted:
                continue
            found.add(name)
            w = np.asarray(g.w)
            if w.size == 0 or not np.any(w != 0):
                raise ValueError(f"{path}: weight group {name!r} has no nonzero weights ({w.size} entries), so no "
                                 "ln|w| to draw; leave it out (--group NAME for the ones to keep).")
            d = g.digest()
            ln = np.log(np.abs(w[(w != 0) & np.isfinite(w)].astype(np.float64)))
            series = sigma_series(records, name)
            out.append(AtlasGroup(label, substrate, _learner(spec, summary), name, d, _ad_of_ln(ln),
                                  None if d["sigma_ln"] is None else d["sigma_ln"] / ref.sigma,
                                  tuple(series), stationarity([s for _, s in series]), ln))
    if wanted is not None:
        missing = [g for g in wanted if g not in found]
        if missing:
            raise ValueError(f"no weight group(s) {missing} in any of the runs; they have "
                             f"{sorted(every)}.")
    return Atlas(ref, tuple(out), tuple(str(p) for p in paths))


def write_atlas(atlas: Atlas, out, *, figure: bool = True) -> list[Path]:
    """Write atlas.md, atlas.json and (unless ``figure=False``) atlas.png into folder ``out``."""
    from .io import atomic_write_json, atomic_write_text

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file; give a folder for atlas.md, atlas.json and atlas.png.")
    written = [atomic_write_text(out / "atlas.md", atlas.to_markdown()),
               atomic_write_json(out / "atlas.json", atlas.to_dict())]
    if figure:
        from .biology.figures import atlas_figure
        from .plots import save_figure

        written.append(save_figure(atlas_figure(atlas), out / "atlas.png"))
    return written


# ------------------------------------------------------------------------------------ the demo's last part

# the groups the demo's atlas draws: the first weight matrix of a deep net, E->E elsewhere
DEMO_GROUPS = {"rate": "EE", "spiking": "EE"}


def _demo_runs(out_dir: Path) -> list[Path]:
    """The demo's run folders to put in its atlas: each deep optimizer's best run (by final test
    accuracy, as the demo's own table picks them), and every rate and spiking run."""
    runs: list[Path] = []
    best: dict = {}
    for folder in sorted((out_dir / "deep").glob("*/")):
        summary = _read_summary(folder)
        if (folder / "weights.npz").is_file() and isinstance(summary.get("final_test_acc"), (int, float)):
            opt = summary.get("optimizer")
            if opt not in best or summary["final_test_acc"] > best[opt][0]:
                best[opt] = (summary["final_test_acc"], folder)
    runs += [f for _, f in best.values()]
    for part in ("rate", "spiking"):
        runs += [f for f in sorted((out_dir / part).glob("*/")) if (f / "weights.npz").is_file()]
    return runs


def run_atlas_demo(out_dir: str | Path = "runs/demo", *, progress: bool = True, print_fn=print) -> dict:
    """The demo's last part: the atlas of the runs the other parts wrote into ``out_dir`` (see
    :func:`_demo_runs`), one group per run (a deep net's first weight matrix, E->E of the rate and
    spiking networks); writes ``out_dir/atlas.{png,md,json}`` and returns {"atlas", "report"}."""
    import dataclasses

    out_dir = Path(out_dir)
    runs = _demo_runs(out_dir)
    if not runs:
        raise FileNotFoundError(f"{out_dir}: no finished demo runs (deep/, rate/, spiking/ with weights.npz) to draw.")
    atlas = build_atlas(runs, "song2005")
    first_deep: dict = {}
    keep = []
    for g in atlas.groups:
        if g.substrate == "deep":
            if first_deep.setdefault(g.run, g.group) == g.group:
                keep.append(g)
        elif g.group == DEMO_GROUPS.get(g.substrate, g.group):
            keep.append(g)
    atlas = dataclasses.replace(atlas, groups=tuple(keep))
    write_atlas(atlas, out_dir)
    for row in atlas.rows():
        print_fn(f"  {row['run']:28s} {row['group']:14s} σ/σ_Song {_f(row['sigma_ratio'], 2)}   KS {_f(row['ks_D'], 3)}"
                 f"   sign flips {'n/a' if row['sign_flips'] is None else row['sign_flips']}")
    table = atlas.to_markdown().split("\n")
    start = next(i for i, line in enumerate(table) if line.startswith("| run"))
    flips: dict = {}
    for row in atlas.rows():
        if row["sign_flips"] is not None:
            flips[row["learner"] or "?"] = flips.get(row["learner"] or "?", 0) + row["sign_flips"]
    moving = [f"{r['run']} {r['group']}" for r in atlas.rows() if r["stationary"] is False]
    report = "\n".join([
        "# Atlas: every substrate against cortex", "",
        "The ln|w| of the runs above on one log axis, each centred at its median, against the log-normal of "
        f"{atlas.reference.citation.short} (left), and σ(t) over each run (right); the table has the numbers "
        "(`synapse-madam atlas RUN...` draws it for any runs). KS D and AD A²: ln|w| against the normal with "
        "its own mean and sd.", "", "![atlas](atlas.png)", "",
        "Sign flips against the initial weights, per learner: "
        + ", ".join(f"{k} {v}" for k, v in flips.items()) + ". "
        + (f"σ(t) still moved more than 5 % over the last third in: {', '.join(moving)}. " if moving else "")
        + "These are the demo's short runs: the evidence protocol (stationary σ, two initialisations, "
        "≥ 3 seeds, the published rule as control) is applied on the pages linked from docs/bridge.md.", "",
        *table[start:], ""])
    return {"atlas": atlas, "report": report}
