"""Deprecated name of :mod:`synapse_madam.substrates` (kept so old imports keep working)."""

from .substrates import apply_overrides, load_spec, run, substrate_module, validate  # noqa: F401
