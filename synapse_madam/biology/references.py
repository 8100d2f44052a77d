"""Measured synapse statistics with their sources, as typed records.

The data live in two CSV files shipped inside the package (``synapse_madam/biology/data/``):

* ``datasets.csv`` — one row per study: full citation, species, preparation, what was measured;
* ``statistics.csv`` — one row per statistic: dataset id, quantity, value (blank for a finding
  stated in words), unit, ``confirmed`` and the source of the value.

``confirmed`` follows the fact sheet's tags: ``S`` confirmed in the cited source, ``M`` recalled
but not confirmed (check before relying on it), ``C`` derived by arithmetic from other rows.

Log-normal references (``reference_distribution``) are the datasets that carry ``ln_mu`` and
``ln_sigma``: ln(x) ~ N(mu, sigma^2) with x in the dataset's unit, e.g. Song et al. (2005), PLoS
Biol 3:e68: ln(EPSP / mV) ~ N(-0.702, 0.9355^2).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ["Citation", "Statistic", "Dataset", "LogNormalReference", "DATA_DIR", "load_references",
           "reference_distribution", "available_references"]

DATA_DIR = Path(__file__).with_name("data")
CONFIRMED_TAGS = {"S": "confirmed in the cited source", "M": "recalled, not confirmed",
                  "C": "derived by arithmetic from other values"}


@dataclass(frozen=True)
class Citation:
    """A literature reference."""

    authors: str
    year: int
    title: str
    journal: str
    volume: str = ""
    pages: str = ""
    doi: str = ""

    def __str__(self) -> str:
        where = self.journal + (f" {self.volume}" if self.volume else "") + (f":{self.pages}" if self.pages else "")
        doi = f" doi:{self.doi}" if self.doi else ""
        return f"{self.authors} ({self.year}). {self.title}. {where}.{doi}"

    @property
    def short(self) -> str:
        """'Song et al. 2005'-style label."""
        names = [a.strip().rsplit(" ", 1)[0] for a in self.authors.split(",")]  # "van Rossum MCW" -> "van Rossum"
        if len(names) == 1:
            return f"{names[0]} {self.year}"
        return f"{names[0]} & {names[1]} {self.year}" if len(names) == 2 else f"{names[0]} et al. {self.year}"


@dataclass(frozen=True)
class Statistic:
    """One reported number or finding. ``value`` is None for a finding stated in words."""

    dataset: str
    quantity: str
    value: float | None
    unit: str
    confirmed: str
    statement: str
    source: str

    @property
    def is_confirmed(self) -> bool:
        """True for values tagged S (in the source) or C (arithmetic on other values)."""
        return self.confirmed in ("S", "C")


@dataclass(frozen=True)
class Dataset:
    """One study with its citation and its statistics."""

    id: str
    citation: Citation
    species: str
    preparation: str
    measure: str
    kind: str
    statistics: tuple[Statistic, ...] = field(default_factory=tuple)

    def get(self, quantity: str) -> Statistic:
        """The statistic named ``quantity``; KeyError lists the ones available."""
        for s in self.statistics:
            if s.quantity == quantity:
                return s
        raise KeyError(f"{self.id} has no statistic {quantity!r}; it has: "
                       f"{', '.join(s.quantity for s in self.statistics)}.")

    def value(self, quantity: str) -> float:
        """The numeric value of ``quantity`` (ValueError for a finding stated only in words)."""
        s = self.get(quantity)
        if s.value is None:
            raise ValueError(f"{self.id}.{quantity} is a finding without a number: {s.statement}")
        return s.value


@dataclass(frozen=True)
class LogNormalReference:
    """A measured log-normal: ln(x / unit) ~ N(mu, sigma^2).

    mean = exp(mu + sigma^2/2), median = exp(mu), mode = exp(mu - sigma^2).
    """

    name: str
    mu: float
    sigma: float
    unit: str
    measure: str
    citation: Citation
    confirmed: str

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    @property
    def median(self) -> float:
        return math.exp(self.mu)

    @property
    def mode(self) -> float:
        return math.exp(self.mu - self.sigma**2)

    @property
    def label(self) -> str:
        return f"{self.citation.short} ({self.measure})"


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"reference data file {str(path)!r} not found; it ships in "
                                f"synapse_madam/biology/data/ (reinstall the package if it is missing).")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _parse_statistic(row: dict, where: str) -> Statistic:
    tag = row["confirmed"].strip()
    if tag not in CONFIRMED_TAGS:
        raise ValueError(f"{where}: confirmed={tag!r}; must be one of S, M, C ({CONFIRMED_TAGS}).")
    raw = row["value"].strip()
    try:
        value = float(raw) if raw else None
    except ValueError:
        raise ValueError(f"{where}: value {raw!r} is not a number (leave it blank for a finding in words).") from None
    return Statistic(row["dataset"].strip(), row["quantity"].strip(), value, row["unit"].strip(), tag,
                     row["statement"].strip(), row["source"].strip())


def load_references(directory: str | Path | None = None) -> dict[str, Dataset]:
    """All reference datasets, keyed by id (e.g. ``"song2005"``), with their statistics.

    ``directory`` holds ``datasets.csv`` and ``statistics.csv`` (default: the files shipped with
    the package); pass your own to load measurements in the same format.
    """
    directory = Path(directory) if directory is not None else DATA_DIR
    if directory == DATA_DIR:
        return dict(_load_default())
    return _load(directory)


@lru_cache(maxsize=1)
def _load_default() -> tuple[tuple[str, Dataset], ...]:
    return tuple(_load(DATA_DIR).items())


def _load(directory: Path) -> dict[str, Dataset]:
    stats: dict[str, list[Statistic]] = {}
    for i, row in enumerate(_read_csv(directory / "statistics.csv"), start=2):
        s = _parse_statistic(row, f"{directory / 'statistics.csv'} line {i}")
        stats.setdefault(s.dataset, []).append(s)
    datasets = {}
    for row in _read_csv(directory / "datasets.csv"):
        cit = Citation(row["authors"], int(row["year"]), row["title"], row["journal"], row["volume"],
                       row["pages"], row["doi"])
        datasets[row["id"]] = Dataset(row["id"], cit, row["species"], row["preparation"], row["measure"],
                                      row["kind"], tuple(stats.pop(row["id"], [])))
    if stats:
        raise ValueError(f"{directory / 'statistics.csv'}: dataset id(s) {sorted(stats)} are not in datasets.csv.")
    return datasets


def available_references() -> list[str]:
    """Names accepted by :func:`reference_distribution` (datasets with ln_mu and ln_sigma)."""
    names = []
    for name, ds in load_references().items():
        q = {s.quantity for s in ds.statistics if s.value is not None}
        if {"ln_mu", "ln_sigma"} <= q:
            names.append(name)
    return names


def reference_distribution(name: str) -> LogNormalReference:
    """The log-normal reference ``name`` (e.g. ``"song2005"``: ln EPSP/mV ~ N(-0.702, 0.9355^2)).

    Raises ValueError listing the allowed names for an unknown one.
    """
    if isinstance(name, LogNormalReference):
        return name
    allowed = available_references()
    if name not in allowed:
        raise ValueError(f"unknown reference {name!r}; choose one of: {', '.join(allowed)}.")
    ds = load_references()[name]
    mu, sigma = ds.get("ln_mu"), ds.get("ln_sigma")
    confirmed = "S" if mu.confirmed == sigma.confirmed == "S" else ("M" if "M" in (mu.confirmed, sigma.confirmed) else "C")
    unit = mu.unit[3:-1] if mu.unit.startswith("ln(") and mu.unit.endswith(")") else mu.unit
    return LogNormalReference(name, mu.value, sigma.value, unit, ds.measure, ds.citation, confirmed)
