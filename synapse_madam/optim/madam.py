"""Madam: the multiplicative Adam optimizer (Bernstein et al., NeurIPS 2020, arXiv:2006.14560)."""

from __future__ import annotations

import warnings

import torch
from torch.optim import Optimizer

from .. import rule
from ..hashnoise import stream_seed
from ._state import evaluate_closure, load_state_dict_keeping_dtypes
from .madam_functional import Terms, madam

__all__ = ["Madam", "ZeroParameterWarning"]


class ZeroParameterWarning(UserWarning):
    """A parameter holds exact zeros, which a multiplicative update can never move."""


class Madam(Optimizer):
    r"""Madam, the multiplicative Adam: a sign-preserving step in log-magnitude space.

    For each parameter tensor W with gradient g at step t (Bernstein et al., NeurIPS 2020)::

        v      <- beta * v + (1 - beta) * g**2
        g_hat  <- clip(g / sqrt(v / (1 - beta**t)), -g_bound, g_bound)      (0/0 -> 0)
        W      <- W * exp(-lr * sign(W) * g_hat)
        W      <- clip(W, -w_max, w_max),   w_max = p_scale * RMS(W at its first step)

    Every weight changes by a factor of about e^{+-lr} per step (at most e^{+-lr*g_bound}), its
    sign never flips, and the same lr = 0.01 works across networks. The defaults reproduce the
    published rule exactly; ``eps`` and the log-space terms below are additions, all off by
    default. The math lives in :mod:`synapse_madam.rule`; this class keeps torch.optim
    conventions around it.

    Opt-in log-space terms (``rule.madam_update``; x = ln|w|, mu = ln(set_point * RMS(W_1))),
    applied after the multiplicative step::

        x <- mu + (x - mu) * exp(-restore) + noise * sqrt((1 - exp(-2 restore)) / (2 restore)) * xi

    an exact Ornstein-Uhlenbeck step (log-space homeostasis plus multiplicative fluctuations;
    with zero gradient ln|w| becomes N(mu, noise^2 / (2 restore))). xi = hash_normal(seed_p, t)
    (:mod:`synapse_madam.hashnoise`) with seed_p = seed * 1000003 + the parameter's position in
    the optimizer, so the noise needs no generator state and resumes exactly. ``bound="soft"``
    scales steps that grow |w| by max(0, 1 - |w|/w_max) and clips nothing; ``bound="none"``
    removes the bound.

    Args:
        params: iterable of tensors, of ``(name, tensor)`` pairs (``model.named_parameters()``,
            names then appear in warnings), or of param-group dicts.
        lr: learning rate eta, the typical relative change of |w| per step (default 0.01).
        p_scale: magnitude bound as a multiple of each tensor's initial RMS (default 3).
        g_bound: clip for the normalised gradient (default 10).
        beta: decay of the second-moment average (default 0.999).
        eps: added to sqrt(v_hat) as in Adam (default 0: the published rule has none).
        maximize: ascend the objective instead of descending it.
        foreach: True: the multi-tensor ``torch._foreach_*`` path; False: one tensor at a time.
            None (default) lets ``madam_functional.choose_path`` pick the fastest path: the
            native one-pass CPU kernel (built with the system C compiler at first use, see
            :mod:`synapse_madam.optim.native`), the foreach path on CUDA.
        fused: True: a single-pass kernel, the native kernel on the CPU and the
            ``torch.compile``-d multi-tensor step on a GPU. Cannot be combined with foreach.
            A group with any log-space term on (restore, noise, bound != "hard") takes the
            foreach or for-loop path: the single-pass kernels are the published rule only.
        restore: log-space restoring rate theta per step (default 0: off).
        noise: fluctuation amplitude of ln|w| per sqrt(step) (default 0: off).
        set_point: the set point of |w| as a multiple of the tensor's initial RMS (default 1).
        bound: "hard" (published clip at w_max, default), "soft" or "none".
        seed: base seed of the fluctuation noise (default 0).

    State per parameter (all tensors, so ``state_dict`` round-trips exactly): ``step`` (float32,
    0-dim, on the parameter's device), ``exp_avg_sq`` (v, like the parameter; float32 for float16
    parameters, whose g^2 would overflow), ``w_max`` (0-dim, the parameter's dtype),
    ``log_set_point`` (mu, 0-dim, at least float32; set at the first step like w_max) and
    ``seed`` (0-dim int64, the parameter's noise seed).

    Exact zeros never move (sign(0) = 0): parameters holding zeros get one
    :class:`ZeroParameterWarning` at their first step; see
    :func:`synapse_madam.optim.reinit_zero_tensors`.
    """

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = rule.DEFAULT_LR,
        *,
        p_scale: float = rule.DEFAULT_P_SCALE,
        g_bound: float = rule.DEFAULT_G_BOUND,
        beta: float = rule.DEFAULT_BETA,
        eps: float = 0.0,
        maximize: bool = False,
        foreach: bool | None = None,
        fused: bool | None = None,
        restore: float = rule.DEFAULT_RESTORE,
        noise: float = rule.DEFAULT_NOISE,
        set_point: float = rule.DEFAULT_SET_POINT,
        bound: str = rule.DEFAULT_BOUND,
        seed: int = 0,
    ):
        rule.validate_hyperparameters(lr, beta, g_bound, p_scale, eps, restore=restore, noise=noise,
                                      set_point=set_point, bound=bound)
        _check_seed(seed)
        if foreach and fused:
            raise ValueError("Madam: foreach=True and fused=True are exclusive; pick one path.")
        defaults = dict(
            lr=lr, p_scale=p_scale, g_bound=g_bound, beta=beta, eps=eps,
            maximize=maximize, foreach=foreach, fused=fused,
            restore=restore, noise=noise, set_point=set_point, bound=bound, seed=seed,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group; its own hyperparameters are validated like the constructor's."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        rule.validate_hyperparameters(group["lr"], group["beta"], group["g_bound"], group["p_scale"], group["eps"],
                                      restore=group["restore"], noise=group["noise"],
                                      set_point=group["set_point"], bound=group["bound"])
        _check_seed(group["seed"])
        for p in group["params"]:
            if torch.is_complex(p):
                raise TypeError(
                    f"Madam: complex parameter of shape {tuple(p.shape)} is not supported "
                    "(sign(w) is undefined); optimize its real and imaginary parts as separate real tensors."
                )
            if not torch.is_floating_point(p):
                raise TypeError(f"Madam: parameters must be floating point, got dtype {p.dtype}.")

    def _position_offset(self, group) -> int:
        """Number of parameters in the groups before ``group`` (positions key the noise seeds)."""
        offset = 0
        for g in self.param_groups:
            if g is group:
                return offset
            offset += len(g["params"])
        return offset

    def _init_term_state(self, state, p, group, i: int, offset: int | None) -> int:
        """State of the opt-in terms for parameter ``i`` of ``group``: the set point
        mu = ln(set_point * RMS(W)) and the noise seed stream_seed(seed, position). Returns the
        group's position offset (computed once per step, on first need)."""
        if offset is None:
            offset = self._position_offset(group)
        state["log_set_point"] = rule.initial_log_set_point(p.detach(), group["set_point"])
        state["seed"] = torch.tensor(stream_seed(group["seed"], offset + i), dtype=torch.int64, device=p.device)
        return offset

    def _init_group(self, group, params, grads, exp_avg_sqs, steps, w_maxs, log_set_points=None, seeds=None):
        """Collect the tensors to update; create state (and warn about zeros) at a first step."""
        names = group.get("param_names")
        zero_reports = []
        offset = None
        for i, p in enumerate(group["params"]):
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(
                    "Madam does not support sparse gradients; use a dense layer (e.g. nn.Embedding(sparse=False))."
                )
            if torch.is_complex(p.grad):
                raise TypeError("Madam does not support complex gradients.")
            state = self.state[p]
            if len(state) == 0:
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["exp_avg_sq"] = torch.zeros_like(
                    p, dtype=rule.state_dtype(p), memory_format=torch.preserve_format
                )
                state["w_max"] = rule.initial_w_max(p.detach(), group["p_scale"])
                offset = self._init_term_state(state, p, group, i, offset)
                n_zero = int((p.detach() == 0).sum())
                if n_zero:
                    name = names[i] if names else f"#{i} (shape {tuple(p.shape)})"
                    zero_reports.append(f"{name}: {n_zero} of {p.numel()} entries")
            params.append(p)
            grads.append(p.grad)
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
            w_maxs.append(state["w_max"])
            if log_set_points is not None:
                if "log_set_point" not in state:  # state saved before the terms existed: from W now
                    offset = self._init_term_state(state, p, group, i, offset)
                log_set_points.append(state["log_set_point"])
                seeds.append(state["seed"])
        if zero_reports:
            warnings.warn(
                "Madam: these parameters hold exact zeros, which a multiplicative update never moves "
                "(sign(0) = 0): " + "; ".join(zero_reports) + ". Re-initialise them with small random "
                "values before creating the optimizer (synapse_madam.reinit_zero_tensors(model)), "
                "or freeze them.",
                ZeroParameterWarning,
                stacklevel=3,
            )

    def load_state_dict(self, state_dict: dict) -> None:
        """Load optimizer state (torch semantics); the second moment keeps its saved dtype
        (float32 for float16 parameters, see ``rule.state_dtype``) instead of being cast."""
        load_state_dict_keeping_dtypes(self, state_dict, ("exp_avg_sq", "log_set_point", "seed"))
        self._fill_term_defaults()  # groups saved before the log-space terms existed

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one Madam step; ``closure`` re-evaluates the model and returns the loss."""
        loss = evaluate_closure(closure)
        for group in self.param_groups:
            params, grads, exp_avg_sqs, steps, w_maxs, log_set_points, seeds = [], [], [], [], [], [], []
            self._init_group(group, params, grads, exp_avg_sqs, steps, w_maxs, log_set_points, seeds)
            madam(params, grads, exp_avg_sqs, steps, w_maxs, lr=group["lr"], beta=group["beta"],
                  g_bound=group["g_bound"], eps=group["eps"], maximize=group["maximize"],
                  foreach=group["foreach"], fused=group["fused"],
                  terms=Terms(group["restore"], group["noise"], group["bound"], log_set_points, seeds))
        return loss

    def magnitude_bounds(self, p) -> tuple[float, float] | None:
        """(0, w_max) of parameter ``p`` when its group has a bound ("hard" clips there, "soft"
        stops potentiation there); None for bound="none" or before p's first step."""
        state = self.state.get(p, {})
        group = next((g for g in self.param_groups if any(q is p for q in g["params"])), None)
        if "w_max" not in state or group is None or group["bound"] == "none":
            return None
        return 0.0, float(state["w_max"])

    def __setstate__(self, state):
        super().__setstate__(state)
        self._fill_term_defaults()  # optimizers pickled before the log-space terms existed

    def _fill_term_defaults(self) -> None:
        for group in self.param_groups:
            group.setdefault("restore", rule.DEFAULT_RESTORE)
            group.setdefault("noise", rule.DEFAULT_NOISE)
            group.setdefault("set_point", rule.DEFAULT_SET_POINT)
            group.setdefault("bound", rule.DEFAULT_BOUND)
            group.setdefault("seed", 0)


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TypeError(f"Madam: seed must be an integer >= 0 (the noise seed), got {seed!r}.")
