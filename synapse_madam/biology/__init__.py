"""Measured synapse statistics, distribution fitting and comparisons (shared analysis layer).

    from synapse_madam import biology
    groups = biology.weights_from_torch(model)               # {"fc1.weight": array, ...}
    report = biology.analyze(groups, "song2005")             # fits, CIs, bimodality, levels
    print(report.to_text())
    biology.compare(groups["fc1.weight"], "song2005")        # sigma ratio, KS vs cortex, E/I split

Modules, one job each: ``references`` (measured data with sources), ``fitting`` (log-normal,
normal, gamma, 2-log-normal mixture; AIC, KS, Anderson–Darling), ``bimodality`` (bounds, dip
test), ``compare`` (E/I split, comparison with a reference), ``precision`` (Bartol levels/bits,
LNS formats), ``extract`` (weights from torch, Brian2, arrays, CSV, weights.npz), ``digest`` (the one
weight digest every run logs: ln|w| moments, signs, known bounds, stationarity), ``summary``
(everything for named groups, as text/markdown/JSON).
"""

from .bimodality import Bimodality, DipResult, assess_bimodality, dip_statistic, dip_test, fraction_near_bounds
from .compare import Comparison, compare, ks_distance_normals, split_by_sign
from .digest import digest_weights, stationarity
from .extract import (load_weights, run_weight_info, weights_from_array, weights_from_brian2, weights_from_csv,
                      weights_from_npz, weights_from_torch)
from .fitting import (DistributionFit, FitComparison, LogNormalFit, compare_fits, fit_gamma, fit_lognormal,
                      fit_lognormal_mixture, fit_normal, lognormal_gof)
from .precision import levels_from_range_cv, levels_from_sizes, lns_format_for, lns_precision
from .references import (Citation, Dataset, LogNormalReference, Statistic, available_references, load_references,
                         reference_distribution)
from .summary import StatsReport, analyze

__all__ = [
    "Bimodality", "DipResult", "assess_bimodality", "dip_statistic", "dip_test", "fraction_near_bounds",
    "Comparison", "compare", "ks_distance_normals", "split_by_sign",
    "digest_weights", "stationarity",
    "load_weights", "run_weight_info", "weights_from_array", "weights_from_brian2", "weights_from_csv", "weights_from_npz",
    "weights_from_torch",
    "DistributionFit", "FitComparison", "LogNormalFit", "compare_fits", "fit_gamma", "fit_lognormal",
    "fit_lognormal_mixture", "fit_normal", "lognormal_gof",
    "levels_from_range_cv", "levels_from_sizes", "lns_format_for", "lns_precision",
    "Citation", "Dataset", "LogNormalReference", "Statistic", "available_references", "load_references",
    "reference_distribution",
    "StatsReport", "analyze",
]
