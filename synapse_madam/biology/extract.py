"""Get synaptic weights out of models and files as named groups of signed numpy arrays.

Every extractor returns ``dict[name, np.ndarray]`` (signed weights, any shape), the in-memory form
of a run's ``weights.npz`` (one array per named weight group, e.g. "fc1.weight", "EE", "IE").
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from ._checks import as_finite_1d

__all__ = ["weights_from_torch", "weights_from_brian2", "weights_from_array", "weights_from_csv",
           "weights_from_npz", "load_weights", "run_weight_info", "WEIGHTS_FILE", "SUMMARY_FILE"]

WEIGHTS_FILE = "weights.npz"
SUMMARY_FILE = "summary.json"


def weights_from_torch(module, *, include_1d: bool = False) -> dict[str, np.ndarray]:
    """Weights of a torch module per parameter, named as in ``module.named_parameters()``.

    By default only tensors with >= 2 dimensions (the weight matrices / kernels of Linear, Conv,
    attention, ...): biases and normalisation gains are not synapses. ``include_1d=True`` keeps all.
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"weights_from_torch: expected a torch.nn.Module, got {type(module).__name__}.")
    out = {name: p.detach().cpu().float().numpy().copy() for name, p in module.named_parameters()
           if p.numel() and torch.is_floating_point(p) and (include_1d or p.ndim >= 2)}
    if not out:
        raise ValueError("weights_from_torch: the module has no weight tensors with >= 2 dimensions "
                         "(pass include_1d=True to include biases and 1-D parameters).")
    return out


def weights_from_brian2(synapses, variable: str = "w", *, unit=None) -> tuple[np.ndarray, str]:
    """The synaptic variable ``variable`` of a Brian2 ``Synapses`` object, units stripped.

    Returns ``(values, unit_name)``. A dimensionless variable gives unit "1". For a physical one the
    values are expressed in ``unit`` (a Brian2 unit, e.g. ``mV`` or ``nS``) or, by default, in
    the best unit Brian2 picks for them (e.g. "mV"), and that unit's name is returned.
    """
    variables = getattr(synapses, "variables", None)
    if variables is None or not hasattr(synapses, "source"):
        raise TypeError(f"weights_from_brian2: expected a brian2.Synapses object, got {type(synapses).__name__}.")
    if variable not in variables:
        names = sorted(k for k in variables.keys() if not k.startswith("_") and not k.startswith("N"))
        raise ValueError(f"weights_from_brian2: Synapses has no variable {variable!r}; it has {names}.")
    q = getattr(synapses, variable)[:]
    raw = np.asarray(getattr(synapses, variable + "_")[:], dtype=np.float64)
    dim = variables[variable].dim
    if dim.is_dimensionless:
        return raw.copy(), "1"
    if unit is None:
        unit = q.get_best_unit()
    from brian2.units.fundamentalunits import have_same_dimensions

    if not have_same_dimensions(unit, q):
        raise ValueError(f"weights_from_brian2: unit {unit} does not match the dimensions of {variable} ({q.dim}).")
    return np.asarray(q / unit, dtype=np.float64), str(unit)


def weights_from_array(x, name: str = "weights") -> dict[str, np.ndarray]:
    """Wrap one array (list, numpy, tensor) as a weight group, checked for NaN/inf."""
    return {name: as_finite_1d(x, name)}


def weights_from_csv(path, column: str | int | None = None) -> dict[str, np.ndarray]:
    """Weights from a CSV file, one group per numeric column (header row optional).

    ``column`` (name or 0-based index) selects one column. Empty cells are skipped; any other
    non-numeric cell is an error naming the line and column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file {str(path)!r} not found.")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path}: the CSV file is empty.")
    try:
        [float(c) for c in rows[0] if c.strip()]
        header, body, first = [f"col{i}" for i in range(len(rows[0]))], rows, 1
    except ValueError:
        header, body, first = [h.strip() for h in rows[0]], rows[1:], 2
    if column is not None:
        if isinstance(column, int) or (isinstance(column, str) and column.isdigit() and column not in header):
            idx = int(column)
            if not 0 <= idx < len(header):
                raise ValueError(f"{path}: column index {idx} out of range (file has {len(header)} columns).")
        elif column in header:
            idx = header.index(column)
        else:
            raise ValueError(f"{path}: no column {column!r}; columns are {header}.")
        cols = [idx]
    else:
        cols = range(len(header))
    out = {}
    for j in cols:
        vals = []
        for i, r in enumerate(body, start=first):
            cell = r[j].strip() if j < len(r) else ""
            if not cell:
                continue
            try:
                vals.append(float(cell))
            except ValueError:
                raise ValueError(f"{path} line {i}, column {header[j]!r}: {cell!r} is not a number.") from None
        if vals:
            out[header[j]] = np.asarray(vals)
    if not out:
        raise ValueError(f"{path}: no numeric values found.")
    return out


def weights_from_npz(path) -> dict[str, np.ndarray]:
    """A run's ``weights.npz``: one signed array per weight group (common run-folder format)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} not found.")
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: np.asarray(z[k]) for k in z.files}
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz of numeric arrays ({exc}).") from None
    if not out:
        raise ValueError(f"{path}: holds no arrays.")
    for k, v in out.items():
        if not np.issubdtype(v.dtype, np.number):
            raise ValueError(f"{path}: array {k!r} has dtype {v.dtype}; weight groups must be numeric.")
    return out


def load_weights(path) -> tuple[dict[str, np.ndarray], Path]:
    """Weight groups from a run folder (``runs/NAME/`` with weights.npz), .npz, .npy or .csv file.

    Returns ``(groups, folder)`` where folder is the run folder or the file's folder.
    """
    path = Path(path)
    if path.is_dir():
        f = path / WEIGHTS_FILE
        if not f.is_file():
            raise FileNotFoundError(f"run folder {str(path)!r} has no {WEIGHTS_FILE} (runs write it when they finish).")
        return weights_from_npz(f), path
    if not path.exists():
        raise FileNotFoundError(f"{str(path)!r} not found; give a run folder (runs/NAME) or a .npz/.npy/.csv file.")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return weights_from_npz(path), path.parent
    if suffix == ".npy":
        return {path.stem: np.load(path, allow_pickle=False)}, path.parent
    if suffix in (".csv", ".txt"):
        return weights_from_csv(path), path.parent
    raise ValueError(f"{path}: unknown file type {suffix!r}; use a run folder, .npz, .npy or .csv.")


def run_weight_info(folder) -> tuple[str | None, dict[str, float]]:
    """What a run says about its weights: ``(unit, bounds)`` from its ``summary.json``, if any.

    Run folders may record two optional top-level keys in summary.json: ``"weight_unit"`` (e.g.
    "mV" for delta-synapse PSP jumps in a Brian2 network, which are EPSP amplitudes comparable
    with Song et al. 2005 in mV) and ``"weight_bounds"`` ({group: upper bound of |w|}, e.g. g_max
    of a hard-bounded STDP rule). Missing file or keys give ``(None, {})``.
    """
    f = Path(folder) / SUMMARY_FILE
    if not f.is_file():
        return None, {}
    try:
        summary = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise ValueError(f"{f}: not readable JSON ({exc}).") from None
    if not isinstance(summary, dict):
        return None, {}
    unit = summary.get("weight_unit")
    unit = str(unit) if isinstance(unit, str) and unit else None
    raw = summary.get("weight_bounds") or {}
    bounds = {str(k): float(v) for k, v in raw.items()
              if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0}
    return unit, bounds
