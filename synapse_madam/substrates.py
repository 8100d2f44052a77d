"""Substrates: the protocol deep, rate and spiking implement, their static registry, and specs.

A spec (models/*.toml) names its ``substrate``. A substrate is an object with::

    name: str
    validate(spec, source) -> dict        the resolved spec (defaults filled in); ValueError naming
                                          the file, the key and the allowed values
    free_keys(spec) -> set[str]           spec keys that may change on --resume and sweep reuse
                                          without changing results (e.g. "progress")
    run(spec, folder, *, callbacks=()) -> dict
                                          train/simulate into a locked runs.RunFolder; the summary
    headline(summary) -> str              one line for the CLI (accuracy, loss, divergence, time)
    weight_groups(source) -> {name: WeightGroup}
                                          signed weights with expected sign, unit and known bounds,
                                          from a built model/network or from a run folder

This module and cli.py are the only places that know all substrates (DESIGN.md); the registry
below is static (no import strings), so a missing substrate fails at import, not at run time.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .runs import RunFolder

__all__ = ["Substrate", "WeightGroup", "SUBSTRATES", "get", "load_spec", "apply_overrides", "validate", "run",
           "substrate_module", "groups_from_folder", "open_folder", "ModuleSubstrate"]


@dataclass(frozen=True)
class WeightGroup:
    """One group of synapses: signed weights ``w``, their ``expected_sign`` (+1 excitatory,
    -1 inhibitory, None when the substrate prescribes none, as in deep nets), ``unit``, the
    known ``bounds`` (lo, hi) on |w| (None: none known) and the ``initial`` weights if known."""

    name: str
    w: np.ndarray
    expected_sign: int | None = None
    unit: str = "a.u."
    bounds: tuple[float, float] | None = None
    initial: np.ndarray | None = None

    def digest(self, **kwargs) -> dict:
        """biology.digest_weights of this group with its initial weights, bounds and expected sign."""
        from .biology.digest import digest_weights

        return digest_weights(self.w, initial=self.initial, bounds=self.bounds, expected_sign=self.expected_sign,
                              **kwargs)


def groups_from_folder(path) -> dict[str, WeightGroup]:
    """The weight groups a finished run folder recorded: weights.npz (signed), weights_init.npz
    (initial values, if written), and from summary.json ``weight_unit``, ``weight_bounds``
    ({group: upper bound on |w|}) and ``expected_signs`` ({group: +1/-1})."""
    from .runs import SUMMARY, read_json

    folder = RunFolder(path)
    weights = folder.load_weights()
    if weights is None:
        raise FileNotFoundError(f"run folder {str(path)!r} has no weights.npz (runs write it when they finish).")
    initial = folder.load_weights("weights_init.npz") or {}
    summary = read_json(Path(path) / SUMMARY) if (Path(path) / SUMMARY).is_file() else {}
    unit = summary.get("weight_unit") or "a.u."
    bounds = summary.get("weight_bounds") or {}
    signs = summary.get("expected_signs") or {}
    out = {}
    for name, w in weights.items():
        w0 = initial.get(name)
        hi = bounds.get(name)
        out[name] = WeightGroup(name, w, signs.get(name), unit, None if hi is None else (0.0, float(hi)),
                                w0 if w0 is not None and w0.shape == w.shape else None)
    return out


@runtime_checkable
class Substrate(Protocol):
    name: str

    def validate(self, spec: dict, source: str) -> dict: ...

    def free_keys(self, spec: dict) -> set[str]: ...

    def run(self, spec: dict, folder: RunFolder, *, callbacks=()) -> dict: ...

    def headline(self, summary: dict) -> str: ...

    def weight_groups(self, source: Any) -> dict[str, WeightGroup]: ...


@dataclass(frozen=True)
class ModuleSubstrate:
    """A substrate whose protocol functions are a module's ``validate``, ``free_keys``, ``run_in``
    (the protocol's ``run``), ``headline`` and ``weight_groups``."""

    name: str
    module: ModuleType

    def validate(self, spec: dict, source: str) -> dict:
        return self.module.validate(spec, source)

    def free_keys(self, spec: dict) -> set[str]:
        return set(self.module.free_keys(spec))

    def run(self, spec: dict, folder: RunFolder, *, callbacks=()) -> dict:
        return self.module.run_in(spec, folder, callbacks=callbacks)

    def headline(self, summary: dict) -> str:
        return self.module.headline(summary)

    def weight_groups(self, source: Any) -> dict[str, WeightGroup]:
        return self.module.weight_groups(source)


def _registry() -> dict[str, Substrate]:
    from .deep import runner as deep
    from .rate import runner as rate
    from .spiking import runner as spiking

    return {s.name: s for s in (ModuleSubstrate("deep", deep), ModuleSubstrate("rate", rate),
                                ModuleSubstrate("spiking", spiking))}


SUBSTRATES: dict[str, Substrate] = _registry()


def get(name) -> Substrate:
    """The substrate called ``name``; ValueError listing the allowed names."""
    if name not in SUBSTRATES:
        raise ValueError(f"key 'substrate' is {name!r}; allowed values: {', '.join(sorted(SUBSTRATES))}.")
    return SUBSTRATES[name]


# ------------------------------------------------------------------------------------ specs


def load_spec(path: str | Path) -> dict:
    """Read a TOML spec (a path, or the name of a packaged spec: "fashion_mlp"); clear errors for a
    missing file or bad TOML. ``name`` defaults to the stem."""
    from .models import resolve

    path = resolve(path)
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    spec.setdefault("name", path.stem)
    return spec


def apply_overrides(spec: dict, overrides: list[str], source: str = "--set") -> dict:
    """Apply ``key=value`` / ``section.key=value`` overrides; values are parsed as TOML scalars."""
    spec = {k: (dict(v) if isinstance(v, dict) else v) for k, v in spec.items()}
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"{source}: {item!r} is not key=value (e.g. --set lr=0.01).")
        key, raw = item.split("=", 1)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw  # a bare string
        *sections, leaf = key.strip().split(".")
        target = spec
        for s in sections:
            target = target.setdefault(s, {})
            if not isinstance(target, dict):
                raise ValueError(f"{source}: {key!r}: {s!r} is not a section.")
        target[leaf] = value
    return spec


def substrate_of(spec: dict, source: str = "spec") -> Substrate:
    try:
        return get(spec.get("substrate"))
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


substrate_module = substrate_of  # the name experiments.py used


def validate(spec: dict, source: str = "spec") -> dict:
    """The resolved spec of the substrate the spec names."""
    return substrate_of(spec, source).validate(spec, source)


def open_folder(spec: dict, out, *, resume: bool = False, overwrite: bool = False, source: str = "spec") -> RunFolder:
    """The locked run folder for a resolved spec (only rank 0 of a data-parallel launch writes)."""
    writer = int(os.environ.get("RANK", "0")) == 0
    return RunFolder.open(out, spec, resume=resume, overwrite=overwrite,
                          free_keys=substrate_of(spec, source).free_keys(spec), writer=writer, source=source)


def run(spec: dict, out, *, source: str = "spec", resume: bool = False, overwrite: bool = False,
        callbacks=()) -> dict:
    """Validate ``spec``, open its run folder ``out`` and run it there; return the summary."""
    resolved = validate(spec, source)
    substrate = substrate_of(resolved, source)
    with open_folder(resolved, out, resume=resume, overwrite=overwrite, source=source) as folder:
        return substrate.run(resolved, folder, callbacks=callbacks)
