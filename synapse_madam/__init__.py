"""synapse-madam: Madam, the multiplicative Adam, for deep nets, rate networks and spiking synapses.

    from synapse_madam import Madam
    optimizer = Madam(model.parameters())          # lr = 0.01 works across networks
"""

from . import rule
from .optim import LNSMadam, LogAdam, Madam, ZeroParameterWarning, make_optimizer, reinit_zero_tensors

__version__ = "0.1.0"
__all__ = ["Madam", "LNSMadam", "LogAdam", "ZeroParameterWarning", "make_optimizer", "reinit_zero_tensors", "rule", "__version__"]
