"""Experiment specs (models/*.toml): load, validate, dispatch to the substrate that runs them.

A spec is a TOML file whose top-level key ``substrate`` names who runs it. Each substrate module
provides ``validate(spec: dict, source: str) -> dict`` (returns the resolved spec with defaults,
raising ValueError naming the file, key and allowed values) and
``run(spec: dict, run_dir: Path, *, resume: bool = False) -> dict`` (returns the summary).
This module and cli.py are the only places that know all substrates (DESIGN.md).
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

# substrate name -> module that provides validate() and run()
SUBSTRATES = {
    "deep": "synapse_madam.deep.runner",
    "spiking": "synapse_madam.spiking.runner",
    "rate": "synapse_madam.rate.runner",
}


def load_spec(path: str | Path) -> dict:
    """Read a TOML spec (a path, or the name of a packaged spec: "fashion_mlp"); clear errors for
    a missing file, bad TOML or an unknown substrate."""
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


def substrate_module(spec: dict, source: str):
    name = spec.get("substrate")
    if name not in SUBSTRATES:
        allowed = ", ".join(sorted(SUBSTRATES)) or "(none installed)"
        raise ValueError(f"{source}: key 'substrate' is {name!r}; allowed values: {allowed}.")
    return importlib.import_module(SUBSTRATES[name])


def validate(spec: dict, source: str) -> dict:
    return substrate_module(spec, source).validate(spec, source)


def run(spec: dict, run_dir: str | Path, *, source: str = "spec", resume: bool = False) -> dict:
    resolved = validate(spec, source)
    return substrate_module(resolved, source).run(resolved, Path(run_dir), resume=resume)
