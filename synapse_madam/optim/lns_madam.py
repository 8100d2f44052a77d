"""LNSMadam: Madam trained natively in a logarithmic number system (integer exponent codes)."""

from __future__ import annotations

import warnings

import torch
from torch.optim import Optimizer

from .. import rule
from ..lns import LNSFormat, check_rounding, hash_uniform, round_to_integer
from ._state import evaluate_closure, load_state_dict_keeping_dtypes
from .madam import ZeroParameterWarning

__all__ = ["LNSMadam", "SECOND_MOMENT_DTYPES"]

SECOND_MOMENT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class LNSMadam(Optimizer):
    r"""Madam whose persistent weights are B-bit LNS codes: the step is an integer add.

    Each weight is ``w = sign * scale * base**(-k)`` (:class:`synapse_madam.lns.LNSFormat`), with
    one ``scale`` per tensor equal to Madam's bound w_max = p_scale * RMS(W_0), so k = 0 is the
    largest magnitude. Madam's log-space step log|w| <- log|w| - lr*sign(w)*g_hat becomes
    (Bernstein et al. 2020, integer Madam; Zhao et al. 2022, LNS-Madam)::

        k <- clip(k + round(lr * sign(w) * g_hat / ln(base)), 0, 2**(B-1) - 1)

    with g_hat from :mod:`synapse_madam.rule` (second moment, bias correction, clip) and ``round``
    stochastic (unbiased: floor(x + u)) or to nearest. Signs never change; |w| <= scale always.
    After each step the parameter tensors used by the forward pass are decoded from the codes:
    they are a cache, the codes are the state (no full-precision master copy).

    Construction encodes the existing weights (nearest level; magnitudes kept, not randomised).

    Args:
        params: tensors, ``(name, tensor)`` pairs or param-group dicts.
        lr: Madam's eta (default 0.01); schedulers drive it as usual.
        bits: total bits per weight, 2..16 (1 sign bit + bits-1 exponent bits; default 8).
        base, gamma: the level ratio, base = 2**(1/gamma); by default the levels span LNS-Madam's
            8-bit range 2**(127/8) (gamma = 8 at 8 bits), see :class:`~synapse_madam.lns.LNSFormat`.
        rounding: "stochastic" (default) or "nearest".
        p_scale, g_bound, beta, eps: as in :class:`synapse_madam.Madam`.
        second_moment_dtype: "float32" (default) or "bfloat16" (2 bytes/param instead of 4).
        seed: seed of the stateless rounding noise (a hash of seed, step and element index, so
            resumed runs round exactly as uninterrupted ones).

    State per parameter (``weight_state_keys`` hold the weights themselves): ``codes`` (int8 for <= 8 bits, else int16), ``scale`` (0-dim float32),
    ``exp_avg_sq``, ``step`` (0-dim float32) and ``seed`` (0-dim int64).
    """

    weight_state_keys = ("codes", "scale")

    def __init__(self, params, lr: float = rule.DEFAULT_LR, *, bits: int = 8, base: float | None = None,
                 gamma: float | None = None, rounding: str = "stochastic", p_scale: float = rule.DEFAULT_P_SCALE,
                 g_bound: float = rule.DEFAULT_G_BOUND, beta: float = rule.DEFAULT_BETA, eps: float = 0.0,
                 second_moment_dtype: str = "float32", seed: int = 0):
        fmt = LNSFormat(bits, base=base, gamma=gamma)
        defaults = dict(lr=lr, bits=fmt.bits, base=fmt.base, rounding=rounding, p_scale=p_scale,
                        g_bound=g_bound, beta=beta, eps=eps, second_moment_dtype=second_moment_dtype, seed=seed)
        super().__init__(params, defaults)
        self._encode_all()
        self._constructed = True

    def add_param_group(self, param_group: dict) -> None:
        """Add a group; its hyperparameters and LNS format are validated."""
        super().add_param_group(param_group)
        g = self.param_groups[-1]
        rule.validate_hyperparameters(g["lr"], g["beta"], g["g_bound"], g["p_scale"], g["eps"])
        LNSFormat(g["bits"], base=g["base"])
        check_rounding(g["rounding"])
        if g["second_moment_dtype"] not in SECOND_MOMENT_DTYPES:
            raise ValueError(f"LNSMadam: second_moment_dtype must be one of {list(SECOND_MOMENT_DTYPES)}, "
                             f"got {g['second_moment_dtype']!r}.")
        for p in g["params"]:
            if not torch.is_floating_point(p):
                raise TypeError(f"LNSMadam: parameters must be real floating point, got dtype {p.dtype}.")
        if getattr(self, "_constructed", False):
            self._encode_all()  # a group added later is encoded at once, like the first ones

    @staticmethod
    def format_of(group: dict) -> LNSFormat:
        return LNSFormat(group["bits"], base=group["base"])

    @torch.no_grad()
    def _encode_all(self) -> None:
        """Encode every parameter to its nearest LNS level and write the decoded weights back."""
        zero_tensors = []
        position = 0
        for group in self.param_groups:
            fmt = self.format_of(group)
            names = group.get("param_names")
            for i, p in enumerate(group["params"]):
                position += 1
                state = self.state[p]
                if state:
                    continue
                scale = rule.initial_w_max(p.detach(), group["p_scale"]).to(torch.float32)
                if not torch.isfinite(scale) or scale <= 0:
                    zero_tensors.append(names[i] if names else f"#{i} (shape {tuple(p.shape)})")
                    scale = torch.ones((), dtype=torch.float32, device=p.device)
                state["scale"] = scale
                state["codes"] = fmt.encode(p.detach().to(torch.float32), scale, "nearest")
                state["exp_avg_sq"] = torch.zeros_like(p, dtype=SECOND_MOMENT_DTYPES[group["second_moment_dtype"]])
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["seed"] = torch.tensor(group["seed"] * 1_000_003 + position, dtype=torch.int64, device=p.device)
                p.copy_(fmt.decode(state["codes"], scale, dtype=p.dtype))
        if zero_tensors:
            warnings.warn(
                "LNSMadam: these parameters are all zero, which has no LNS code; they now hold the "
                "smallest level of scale 1 and will train from there: " + ", ".join(zero_tensors)
                + ". Initialise them with small random values (synapse_madam.reinit_zero_tensors).",
                ZeroParameterWarning, stacklevel=3,
            )

    def load_state_dict(self, state_dict: dict) -> None:
        """Load state (torch semantics) keeping the integer codes and moment dtype as saved."""
        load_state_dict_keeping_dtypes(self, state_dict, ("codes", "exp_avg_sq", "seed", "scale"))
        with torch.no_grad():
            for group in self.param_groups:
                fmt = self.format_of(group)
                for p in group["params"]:
                    if "codes" in self.state[p]:
                        p.copy_(fmt.decode(self.state[p]["codes"], self.state[p]["scale"], dtype=p.dtype))

    @torch.no_grad()
    def step(self, closure=None):
        """One LNS-Madam step: integer add on the codes, then decode the forward weights."""
        loss = evaluate_closure(closure)
        for group in self.param_groups:
            fmt = self.format_of(group)
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LNSMadam does not support sparse gradients; use a dense layer.")
                lns_madam_update_(p, p.grad, self.state[p], fmt, group)
        return loss


def lns_madam_update_(p, grad, state, fmt: LNSFormat, group: dict) -> None:
    """One LNS-Madam step on one tensor, in place (see :class:`LNSMadam`)."""
    v_dtype = state["exp_avg_sq"].dtype
    g = rule.sanitize_gradient(grad).to(torch.float32)
    state["step"] += 1
    v = rule.second_moment(state["exp_avg_sq"].to(torch.float32), g, group["beta"])
    state["exp_avg_sq"].copy_(v)  # rounds to bfloat16 when stored compactly
    if v_dtype != torch.float32:
        v = state["exp_avg_sq"].to(torch.float32)
    g_hat = rule.normalized_gradient(g, v, state["step"], group["beta"], group["g_bound"], group["eps"])
    sign, k = fmt.unpack(state["codes"])
    delta = (group["lr"] / fmt.log_base) * sign * g_hat  # |w| shrinks when k grows
    uniform = hash_uniform(state["seed"], state["step"], p.shape, p.device) if group["rounding"] == "stochastic" else None
    k_new = torch.clamp(k.to(torch.float32) + round_to_integer(delta, group["rounding"], uniform), 0, fmt.k_max)
    state["codes"].copy_(fmt.pack(sign, k_new))
    p.copy_(fmt.decode(state["codes"], state["scale"], dtype=p.dtype))
