"""torch optimizers: Madam and a registry of baselines by name."""

from .init import reinit_zero_tensors
from .madam import Madam, ZeroParameterWarning
from .registry import OPTIMIZERS, make_optimizer

__all__ = ["Madam", "ZeroParameterWarning", "reinit_zero_tensors", "OPTIMIZERS", "make_optimizer"]
