"""One call that answers the user's questions for named weight groups, and its table/JSON forms.

For every weight group (e.g. a layer, or a Brian2 pathway such as "EE") and every sign class
(E: w > 0, I: |w| for w < 0) :func:`analyze` reports

* is it log-normal? — log-normal, normal, gamma and 2-log-normal-mixture fits ranked by AIC, and
  the Anderson–Darling / KS tests of the log-normal (bootstrap p-values);
* how does it compare with cortex? — sigma / sigma_ref and KS distances to a measured reference
  (default Song et al. 2005), see :func:`synapse_madam.biology.compare`;
* is it bimodal? — fraction at the bounds and Hartigan's dip test on |w| and ln|w|;
* how many distinguishable levels / bits? — Bartol et al. (2015) levels = ln(R) / (2 CV) over the
  0.5–99.5 % range R of |w| at Bartol's pairwise CV (from the reference data, tag M).

A class of more than ``max_resample`` (10^5) values is bootstrapped and dip-tested on a random
subsample of that size (see ``fitting`` and ``bimodality``); the report names each such class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_finite_1d
from ._sampling import MAX_RESAMPLE, subsample_note
from .bimodality import Bimodality, assess_bimodality
from .compare import SIGN_CLASSES, ClassComparison, compare_class, split_by_sign
from .fitting import FitComparison, compare_fits
from .precision import Precision, levels_from_sizes
from .references import LogNormalReference, load_references, reference_distribution

__all__ = ["ClassStats", "GroupStats", "StatsReport", "analyze", "bartol_pair_cv"]

RANGE_QUANTILES = (0.005, 0.995)


def bartol_pair_cv() -> float:
    """Bartol et al. (2015) pairwise CV of spine-head size, from the reference data (tag M)."""
    return load_references()["bartol2015"].value("pair_cv")


@dataclass(frozen=True)
class ClassStats:
    """All statistics of one sign class of one weight group."""

    sign_class: str
    n: int
    fits: FitComparison
    comparison: ClassComparison
    bimodality: Bimodality
    precision: Precision
    alpha: float
    max_resample: int | None = MAX_RESAMPLE

    @property
    def resample_note(self) -> str | None:
        """"bootstrap and dip test on a random subsample of M of N values", or None (all used)."""
        return subsample_note(max(self.n, self.bimodality.dip_linear.n), self.max_resample)

    @property
    def lognormal_rejected(self) -> bool:
        """Anderson–Darling test of the log-normal (bootstrap p) rejects at alpha."""
        return self.fits["lognormal"].ad_p < self.alpha

    def to_dict(self) -> dict:
        ln = self.fits.lognormal
        b = self.bimodality
        return {
            "class": self.sign_class, "n": self.n,
            "resampling": {"note": self.resample_note, "bootstrap_n": self.fits.lognormal.boot_size,
                           "dip_n": self.bimodality.dip_linear.n_tested,
                           "dip_log_n": self.bimodality.dip_log.n_tested if self.bimodality.dip_log else None},
            "lognormal": {"mu": ln.mu, "mu_ci": list(ln.mu_ci), "sigma": ln.sigma, "sigma_ci": list(ln.sigma_ci),
                          "ci_level": ln.ci_level, "n_boot": ln.n_boot, "median": ln.median, "mean": ln.mean,
                          "mode": ln.mode, "ks": self.fits["lognormal"].ks, "ks_p": self.fits["lognormal"].ks_p,
                          "ad": self.fits["lognormal"].ad, "ad_p": self.fits["lognormal"].ad_p,
                          "rejected": self.lognormal_rejected},
            "fits": {f.name: {"params": f.params, "loglik": f.loglik, "aic": f.aic, "bic": f.bic,
                              "delta_aic": self.fits.delta_aic[f.name], "ks": f.ks, "ks_p": f.ks_p,
                              "ad": f.ad, "ad_p": f.ad_p} for f in self.fits.fits},
            "best_fit": self.fits.best.name,
            "reference": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self.comparison).items()
                          if k not in ("sign_class", "n")},
            "bimodality": {"bimodal": b.bimodal, "alpha": b.alpha,
                           "fraction_at_lower": b.near_bounds.at_lower, "fraction_at_upper": b.near_bounds.at_upper,
                           "bounds": [b.near_bounds.lower, b.near_bounds.upper], "rtol": b.near_bounds.rtol,
                           "dip_linear": b.dip_linear.dip, "dip_linear_p": b.dip_linear.p_value,
                           "dip_log": b.dip_log.dip if b.dip_log else None,
                           "dip_log_p": b.dip_log.p_value if b.dip_log else None, "n_sim": b.dip_linear.n_sim},
            "precision": {"size_range": self.precision.size_range, "range_quantiles": list(RANGE_QUANTILES),
                          "pair_cv": self.precision.cv, "levels": self.precision.levels, "bits": self.precision.bits},
        }


@dataclass(frozen=True)
class GroupStats:
    """One named weight group: its shape, zero count and per-class statistics."""

    name: str
    shape: tuple
    n_zero: int
    classes: tuple[ClassStats, ...]
    magnitudes: dict


@dataclass(frozen=True)
class StatsReport:
    """The answer for a set of weight groups; ``to_text``/``to_markdown``/``to_dict`` render it."""

    source: str
    reference: LogNormalReference
    unit: str
    groups: tuple[GroupStats, ...]
    settings: dict

    def to_dict(self) -> dict:
        r = self.reference
        return {
            "source": self.source, "unit": self.unit, "settings": self.settings,
            "reference": {"name": r.name, "mu": r.mu, "sigma": r.sigma, "unit": r.unit, "measure": r.measure,
                          "confirmed": r.confirmed, "citation": str(r.citation)},
            "groups": [{"group": g.name, "shape": list(g.shape), "n_zero": g.n_zero,
                        "classes": [c.to_dict() for c in g.classes]} for g in self.groups],
        }

    def table_rows(self) -> list[list[str]]:
        head = ["group", "class", "n", "mu [95% CI]", "sigma [95% CI]", "sigma/ref", "KS fit", "KS raw",
                "best fit", "log-normal AD p", "bimodal (dip p lin/log)", "at bounds", "levels (bits)"]
        rows = [head]
        for g in self.groups:
            for c in g.classes:
                ln, cmp_, b, p = c.fits.lognormal, c.comparison, c.bimodality, c.precision
                lo, hi = ln.mu_ci
                s_lo, s_hi = ln.sigma_ci
                dl = f"{b.dip_log.p_value:.3f}" if b.dip_log else "-"
                best = c.fits.best.name.replace("lognormal_mixture", "2-lognormal mix")
                runner = f" (dAIC ln {c.fits.delta_aic['lognormal']:.0f})" if c.fits.best.name != "lognormal" else ""
                rows.append([g.name, c.sign_class, str(c.n), f"{ln.mu:.3f} [{lo:.3f}, {hi:.3f}]",
                             f"{ln.sigma:.3f} [{s_lo:.3f}, {s_hi:.3f}]",
                             f"{cmp_.sigma_ratio:.2f}", f"{cmp_.ks_fit:.3f}",
                             "n/a" if cmp_.ks_raw is None else f"{cmp_.ks_raw:.3f}", best + runner,
                             f"{c.fits['lognormal'].ad_p:.3f}" + (" (rejected)" if c.lognormal_rejected else ""),
                             ("yes" if b.bimodal else "no") + f" ({b.dip_linear.p_value:.3f}/{dl})",
                             _at_bounds_text(b.near_bounds), f"{p.levels:.1f} ({p.bits:.2f})"])
        return rows

    def _header_lines(self) -> list[str]:
        r = self.reference
        return [f"Synapse statistics of {self.source} (weights in {self.unit})",
                f"Reference {r.name}: ln x ~ N({r.mu:.3f}, {r.sigma:.4f}^2), x = {r.measure} in {r.unit} "
                f"[{r.confirmed}]; {r.citation}",
                f"Levels: Bartol 2015 ln(R)/(2 CV), CV = {self.settings['pair_cv']} [M], R = q99.5/q0.5 of |w|. "
                f"Bimodal: dip test p < {self.settings['alpha']}/2 on |w| or ln|w|. "
                f"At bounds: |w| within {self.settings['rtol']:.0%} of the range from 0 or the upper bound "
                f"({_bounds_text(self.settings.get('bounds'))}). "
                f"KS fit: KS distance of ln|w| to its own fitted normal (is it log-normal?); KS raw: fit vs "
                f"reference as they are "
                f"(only when the weights are in {r.unit})."]

    def resample_notes(self) -> list[str]:
        """One line per sign class whose bootstrap and dip test ran on a subsample."""
        return [f"{g.name} [{c.sign_class}]: {c.resample_note}" for g in self.groups for c in g.classes
                if c.resample_note]

    def to_text(self) -> str:
        rows = self.table_rows()
        widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
        zeros = [f"{g.name}: {g.n_zero} exact zeros dropped" for g in self.groups if g.n_zero]
        return "\n".join(self._header_lines() + [""] + [fmt(rows[0]), fmt(["-" * w for w in widths])]
                         + [fmt(r) for r in rows[1:]] + zeros + self.resample_notes())

    def to_markdown(self) -> str:
        rows = self.table_rows()
        md = ["# " + self._header_lines()[0], ""] + [f"- {line}" for line in self._header_lines()[1:]] + [""]
        md.append("| " + " | ".join(rows[0]) + " |")
        md.append("|" + "---|" * len(rows[0]))
        md += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        notes = [f"- {g.name}: {g.n_zero} exact zeros dropped" for g in self.groups if g.n_zero]
        notes += [f"- {line}" for line in self.resample_notes()]
        return "\n".join(md + ([""] + notes if notes else [])) + "\n"


def _bounds_text(bounds) -> str:
    if not bounds:
        return "none known: only exact zeros count"
    return ", ".join(f"{k}: {v:.4g}" for k, v in bounds.items()) + "; other groups: none known, only exact zeros count"


def _at_bounds_text(near) -> str:
    if near.upper_known:
        return f"{100 * near.total:.1f}%"
    return f"{100 * near.at_lower:.1f}% at 0 (no bound known)"


def analyze(groups, reference: str | LogNormalReference = "song2005", *, unit: str = "a.u.",
            zeros: str = "error", source: str = "weights", ci_level: float = 0.95, n_boot: int = 1000,
            n_mc: int = 500, n_sim: int = 500, alpha: float = 0.05, rtol: float = 0.01,
            pair_cv: float | None = None, bounds: dict | None = None, seed: int | None = 0,
            max_resample: int | None = MAX_RESAMPLE, progress: bool = False) -> StatsReport:
    """Fits, reference comparison, bimodality and precision for every group and sign class.

    ``groups``: a dict name -> signed weights (any shapes), or a single array. Sign classes with
    fewer than 4 weights or a single distinct value are skipped (and so reported missing).
    ``zeros``: "error" (default) or "drop" (exact zeros are dropped from the fits and counted per
    group; in a group with one sign only, e.g. excitatory STDP weights in [0, g_max], they still
    count as weights at the lower bound for the bimodality measures).
    ``pair_cv``: CV for the level count (default: Bartol 2015's, from the reference data).
    ``bounds``: group name -> the upper bound of |w| of a hard-bounded rule (e.g. g_max of additive
    STDP, Song et al. 2000), for the fraction at the bounds; groups not named have no known upper
    bound (fraction at the upper bound: None; at the lower: the exact zeros).
    ``max_resample``: classes with more values are bootstrapped and dip-tested on a random
    subsample of this size (None: never). ``progress``: a bar over the classes and their steps
    (on a terminal only, see :mod:`synapse_madam.progress`).
    """
    from ..progress import progress_bar

    ref = reference_distribution(reference)
    if not isinstance(groups, dict):
        groups = {"weights": groups}
    if not groups:
        raise ValueError("analyze: no weight groups given.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r}; must be in (0, 1).")
    cv = bartol_pair_cv() if pair_cv is None else pair_cv
    bounds = {str(k): float(v) for k, v in (bounds or {}).items() if v is not None}
    for k, v in bounds.items():
        if not v > 0:
            raise ValueError(f"bounds[{k!r}] = {v!r}; an upper bound of |w| must be > 0.")
    out = []
    bar = progress_bar(total=3 * 2 * len(groups), desc="stats", enabled=progress, unit="step")
    for name, w in groups.items():
        flat = as_finite_1d(w, f"weight group {name!r}")
        classes, n_zero = split_by_sign(flat, zeros=zeros, name=f"weight group {name!r}")
        stats_, mags = [], {}
        for cls in SIGN_CLASSES:
            x = classes.get(cls)
            if x is None or x.size < 4 or x.min() == x.max():
                bar.update(3)
                continue
            x = np.sort(x)  # once: the fits' KS/AD statistics and the reference comparison need it sorted
            bar.set_description(f"stats {name} [{cls}] fits ({x.size:,} values)")
            fits = compare_fits(x, ci_level=ci_level, n_boot=n_boot, n_mc=n_mc, seed=seed, max_resample=max_resample)
            bar.update(1)
            bar.set_description(f"stats {name} [{cls}] reference, dip test")
            cmp_ = compare_class(cls, x, fits.lognormal, ref, unit == ref.unit)
            # weights at exactly 0 sit at the lower bound: in an unsigned group they belong to its
            # one class and count for the bounds and the linear-scale dip (ln|w| ignores them)
            with_zeros = np.concatenate([x, np.zeros(n_zero)]) if n_zero and len(classes) == 1 else x
            bim = assess_bimodality(with_zeros, upper=bounds.get(str(name)), rtol=rtol, alpha=alpha, n_sim=n_sim,
                                    seed=seed, max_size=max_resample)
            bar.update(1)
            prec = levels_from_sizes(x, cv, quantiles=RANGE_QUANTILES)
            bar.update(1)
            stats_.append(ClassStats(cls, x.size, fits, cmp_, bim, prec, alpha, max_resample))
            mags[cls] = x
        if not stats_:
            raise ValueError(f"weight group {name!r}: no sign class has >= 4 weights with >= 2 distinct values.")
        out.append(GroupStats(str(name), tuple(np.shape(w)), n_zero, tuple(stats_), mags))
    bar.close()
    settings = {"ci_level": ci_level, "n_boot": n_boot, "n_mc": n_mc, "n_sim": n_sim, "alpha": alpha,
                "rtol": rtol, "pair_cv": cv, "zeros": zeros, "bounds": bounds, "seed": seed,
                "max_resample": max_resample}
    return StatsReport(source, ref, unit, tuple(out), settings)
