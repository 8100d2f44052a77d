"""torch optimizers: Madam and a registry of baselines by name."""

from .fixed_point import UniformQuantized
from .float_formats import FloatQuantized
from .init import constant_magnitude_, reinit_zero_tensors
from .lns_madam import LNSMadam
from .eg_pm import EGPM, PairedMadam
from .log_adam import LogAdam
from .nero import Nero
from .neuron_madam import NeuronMadam
from .madam import Madam, ZeroParameterWarning
from .memory import training_state_bytes
from .registry import OPTIMIZERS, OptimizerInfo, check_options, make_optimizer, optimizer_info

__all__ = ["Madam", "NeuronMadam", "Nero", "EGPM", "PairedMadam", "LNSMadam", "LogAdam", "UniformQuantized", "FloatQuantized",
           "ZeroParameterWarning", "reinit_zero_tensors",
           "constant_magnitude_", "training_state_bytes", "OPTIMIZERS", "OptimizerInfo", "make_optimizer",
           "optimizer_info", "check_options"]
