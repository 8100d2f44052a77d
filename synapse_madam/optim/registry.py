"""Optimizers by name, with metadata: Madam and the torch.optim baselines it is compared with.

Each entry is an :class:`OptimizerInfo` that *declares* what the rest of the library needs to
know, so no code ever tests a substring of a name:

* ``sign_preserving``: the step can never flip the sign of a weight (Madam's multiplicative
  w <- w exp(-eta sign(w) g_hat) and LNSMadam's sign-magnitude codes). Rate networks need no
  Dale's-law projection for such an optimizer;
* ``default_lr``: the learning rate used when a spec gives none;
* ``options``: the keyword options the constructor accepts, read from the signature of the
  class (and of the wrapper for the fixed-point baselines), so a new keyword-only parameter of
  Madam or LNSMadam becomes an allowed spec option with no other edit. An unknown option is one
  ValueError listing the allowed ones (:func:`check_options`), raised before anything runs.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch

from .fixed_point import UniformQuantized
from .float_formats import FloatQuantized
from .lns_madam import LNSMadam
from .eg_pm import EGPM, PairedMadam
from .log_adam import LogAdam
from .madam import Madam
from .nero import Nero
from .neuron_madam import NeuronMadam

__all__ = ["OPTIMIZERS", "OptimizerInfo", "make_optimizer", "optimizer_info", "check_options"]

_NOT_OPTIONS = {"self", "params", "lr", "inner"}


def _keywords(cls) -> tuple[str, ...]:
    sig = inspect.signature(cls.__init__)
    return tuple(p.name for p in sig.parameters.values()
                 if p.name not in _NOT_OPTIONS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


@dataclass(frozen=True)
class OptimizerInfo:
    """One registered optimizer: ``cls`` (its torch.optim class), ``description``, the declared
    ``sign_preserving`` and ``default_lr``, ``defaults`` (options set unless given, e.g.
    momentum 0.9) and ``wrapper`` (a class that wraps ``cls``, e.g. :class:`UniformQuantized`).
    How an optimizer runs on a device (its path) is the optimizer's own choice, not the registry's."""

    name: str
    cls: type
    description: str
    sign_preserving: bool
    default_lr: float
    defaults: dict = field(default_factory=dict)
    wrapper: type | None = None

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options the constructor accepts (read from the class signatures)."""
        own = _keywords(self.cls)
        return own + tuple(k for k in _keywords(self.wrapper) if k not in own) if self.wrapper else own

    def build(self, params, lr: float | None = None, **kwargs) -> torch.optim.Optimizer:
        check_options(self.name, kwargs)
        lr = self.default_lr if lr is None else lr
        kw = {**self.defaults, **kwargs}
        if self.wrapper is None:
            return self.cls(params, lr=lr, **kw)
        wrap_keys, own_keys = set(_keywords(self.wrapper)), set(_keywords(self.cls))
        # an option both take (Madam's and the grid's p_scale, seed) goes to both
        inner = self.cls(params, lr=lr, **{k: v for k, v in kw.items() if k not in wrap_keys or k in own_keys})
        return self.wrapper(inner, **{k: v for k, v in kw.items() if k in wrap_keys})


OPTIMIZERS: dict[str, OptimizerInfo] = {info.name: info for info in (
    OptimizerInfo("madam", Madam, "Madam, multiplicative Adam (default lr 0.01; options: p_scale, g_bound, beta, eps, "
                  "restore, noise, set_point, bound=hard|soft|none, seed)", True, 0.01),
    OptimizerInfo("sgd", torch.optim.SGD, "plain SGD", False, 0.05),
    OptimizerInfo("sgd_momentum", torch.optim.SGD, "SGD with momentum 0.9", False, 0.01, {"momentum": 0.9}),
    OptimizerInfo("adam", torch.optim.Adam, "Adam", False, 1e-3),
    OptimizerInfo("adamw", torch.optim.AdamW, "AdamW (weight decay 0.01)", False, 1e-3),
    OptimizerInfo("lns_madam", LNSMadam, "LNSMadam: B-bit log-number-system weights, integer-code steps (options: bits, "
                  "rounding, second_moment_dtype=float32|bfloat16|log8, ..., restore, noise, set_point, bound, seed)", True, 0.01),
    # w = sign(w0) exp(theta): the sign is fixed by construction
    OptimizerInfo("log_adam", LogAdam, "control: Adam on theta with w = sign(w0)*exp(theta) (options: betas, eps, "
                  "restore, noise, set_point, seed)", True, 0.01),
    OptimizerInfo("log_sgd", LogAdam, "control: SGD on theta with w = sign(w0)*exp(theta) (options: momentum, restore, "
                  "noise, set_point, seed)", True, 0.01, {"method": "sgd"}),
    OptimizerInfo("sgd_uniform", torch.optim.SGD, "baseline: SGD on B-bit uniform fixed-point weights "
                  "(options: bits, rounding)", False, 0.05, wrapper=UniformQuantized),
    # issue 13: candidates for closing the accuracy gap at lr 0.01 (docs/accuracy.md), and Nero
    OptimizerInfo("neuron_madam", NeuronMadam, "sign-keeping Madam with per-neuron options (defaults = published Madam; "
                  "options: momentum, grad_norm=element|neuron, scaling=none|neuron, bound=tensor|neuron|none, "
                  "warmup, total_steps, ...)", True, 0.01),
    OptimizerInfo("madam_neuron_bound", NeuronMadam, "candidate: Madam with a per-neuron magnitude bound "
                  "(p_scale x each neuron's initial RMS)", True, 0.01, {"bound": "neuron"}),
    OptimizerInfo("madam_scaling", NeuronMadam, "candidate: Madam + per-neuron multiplicative homeostatic scaling to "
                  "the initial neuron norm (no other bound)", True, 0.01, {"scaling": "neuron", "bound": "none"}),
    OptimizerInfo("madam_nero", NeuronMadam, "candidate: Nero's per-neuron gradient normalisation and norm, in "
                  "sign-keeping multiplicative form", True, 0.01,
                  {"grad_norm": "neuron", "scaling": "neuron", "bound": "none"}),
    OptimizerInfo("madam_momentum", NeuronMadam, "candidate: Madam with momentum 0.9 of the log-space step", True, 0.01,
                  {"momentum": 0.9}),
    # w = w+ - w-: every synapse keeps its sign, the connection may change its own
    OptimizerInfo("eg_pm", EGPM, "candidate: EG+- paired positive synapses w = w+ - w-, each stepped by Madam "
                  "(options: offset, p_scale, normalize=none|neuron, warmup, total_steps)", False, 0.01),
    OptimizerInfo("paired_madam", PairedMadam, "Paired Madam (issue 13's best candidate, docs/accuracy.md): EG+- pairs "
                  "w = w+ - w-, each synapse stepped by Madam with momentum 0.9 (options as eg_pm)", False, 0.01),
    OptimizerInfo("nero", Nero, "baseline: Nero (Liu et al. 2021), per-neuron projected steps; does NOT keep signs "
                  "(options: beta, warmup, total_steps)", False, 0.01),
    OptimizerInfo("adam_uniform", torch.optim.Adam, "baseline: Adam on B-bit uniform fixed-point weights "
                  "(options: bits, rounding)", False, 1e-3, wrapper=UniformQuantized),
    OptimizerInfo("adam_float", torch.optim.Adam, "baseline: Adam on FP8/bf16 weights (options: format="
                  "float8_e4m3fn|float8_e5m2|bfloat16, master, rounding)", False, 1e-3, wrapper=FloatQuantized),
    OptimizerInfo("madam_float", Madam, "baseline: Madam on FP8/bf16 weights (options: format, master, rounding)",
                  True, 0.01, wrapper=FloatQuantized),
)}


def _key(name) -> str:
    return str(name).lower().replace("-", "_").replace("+", "_")


def optimizer_info(name: str) -> OptimizerInfo:
    """The registry entry of ``name`` (case and -/_ insensitive); ValueError listing the names."""
    key = _key(name)
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}.")
    return OPTIMIZERS[key]


def check_options(name: str, options: dict) -> None:
    """ValueError naming the unknown option(s) of optimizer ``name`` and listing the allowed ones."""
    info = optimizer_info(name)
    bad = sorted(set(options) - set(info.options))
    if bad:
        raise ValueError(f"optimizer {info.name!r}: unknown option(s) {', '.join(bad)}; allowed: "
                         f"{', '.join(info.options)}.")


def make_optimizer(name: str, params, lr: float | None = None, **kwargs) -> torch.optim.Optimizer:
    """Build the optimizer called ``name`` (see OPTIMIZERS) over ``params`` with learning rate
    ``lr`` (None: its declared default_lr) and the keyword options it declares."""
    return optimizer_info(name).build(params, lr, **kwargs)
