"""The experiment specs that ship with the package (``NAME.toml`` beside this file).

``synapse-madam run fashion_mlp`` finds ``fashion_mlp.toml`` here, so the specs and the demos
work after a plain ``pip install``; in a checkout ``models/`` at the repository root links to
this folder, so ``synapse-madam run models/fashion_mlp.toml`` works there too (and anywhere
else, where ``models/NAME.toml`` names the packaged spec when no such file exists).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["names", "path", "resolve"]


def _folder() -> Path:
    # a wheel is installed unpacked, so the package folder is a real directory
    return Path(str(resources.files(__name__)))


def names() -> list[str]:
    """Names of the packaged specs (file stems), sorted."""
    return sorted(p.stem for p in _folder().glob("*.toml"))


def path(name: str) -> Path:
    """The packaged spec called ``name`` ("fashion_mlp" or "fashion_mlp.toml")."""
    stem = name[:-5] if name.endswith(".toml") else name
    p = _folder() / f"{stem}.toml"
    if not p.is_file():
        raise FileNotFoundError(f"no packaged spec {name!r}; choose one of: {', '.join(names())}.")
    return p


def resolve(spec: str | Path) -> Path:
    """A spec argument as a file: an existing path as given; else a bare name ("fashion_mlp")
    or ``models/NAME.toml`` as the packaged spec of that name. FileNotFoundError otherwise."""
    p = Path(spec)
    if p.is_file():
        return p
    bare = len(p.parts) == 1 and p.suffix in ("", ".toml")
    in_models = len(p.parts) == 2 and p.parts[0] == "models" and p.suffix == ".toml"
    if (bare or in_models) and (_folder() / f"{p.stem}.toml").is_file():
        return _folder() / f"{p.stem}.toml"
    hint = f"; packaged specs: {', '.join(names())}" if bare or in_models else ""
    raise FileNotFoundError(f"spec file {str(spec)!r} not found (a path to a TOML file, or a packaged spec name{hint}).")
