"""Spiking networks in Brian2 with Madam-derived multiplicative plasticity.

    from synapse_madam.spiking import make_rule, poisson_to_lif
    rule = make_rule("madam", w_max=0.01)           # or "additive", "van_rossum", "gutig", "log_stdp",
                                                    # "vogels_madam", "madam_reward", "additive_reward"
    net = poisson_to_lif(rule, duration=...)         # Brian2 objects, ready to compose and run

Brian2 is imported lazily inside the functions that need it, so ``import synapse_madam`` and
``import synapse_madam.spiking`` work on machines without Brian2 (e.g. a GPU box).
"""

from .plasticity import (
    RULES,
    AdditiveSTDP,
    LogSTDP,
    MadamSTDP,
    PlasticityRule,
    WeightDependentSTDP,
    gutig_stdp,
    make_rule,
    van_rossum_stdp,
)
from .inhibitory import VogelsMadam
from .reward import AdditiveReward, MadamReward, deliver_reward, reward_operation

__all__ = [
    "RULES",
    "AdditiveSTDP",
    "LogSTDP",
    "MadamSTDP",
    "PlasticityRule",
    "WeightDependentSTDP",
    "gutig_stdp",
    "make_rule",
    "van_rossum_stdp",
    "VogelsMadam",
    "AdditiveReward",
    "MadamReward",
    "deliver_reward",
    "reward_operation",
    "poisson_to_lif",
    "brunel_network",
]


def __getattr__(name):  # networks import Brian2 only when used
    if name in ("poisson_to_lif", "brunel_network"):
        from . import networks

        return getattr(networks, name)
    raise AttributeError(name)
