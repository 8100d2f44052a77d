"""Madam: the multiplicative Adam optimizer (Bernstein et al., NeurIPS 2020, arXiv:2006.14560)."""

from __future__ import annotations

import warnings

import torch
from torch.optim import Optimizer
from torch.utils._foreach_utils import _group_tensors_by_device_and_dtype

from .. import rule
from ._state import evaluate_closure, load_state_dict_keeping_dtypes
from .madam_functional import madam_for_loop, madam_foreach, madam_fused

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
    published rule exactly; ``eps`` is the only addition and is off by default. The math lives in
    :mod:`synapse_madam.rule`; this class keeps torch.optim conventions around it.

    Args:
        params: iterable of tensors, of ``(name, tensor)`` pairs (``model.named_parameters()``,
            names then appear in warnings), or of param-group dicts.
        lr: learning rate eta, the typical relative change of |w| per step (default 0.01).
        p_scale: magnitude bound as a multiple of each tensor's initial RMS (default 3).
        g_bound: clip for the normalised gradient (default 10).
        beta: decay of the second-moment average (default 0.999).
        eps: added to sqrt(v_hat) as in Adam (default 0: the published rule has none).
        maximize: ascend the objective instead of descending it.
        foreach: use the multi-tensor ``torch._foreach_*`` path. None picks it on CUDA.
        fused: use the ``torch.compile``-d single-pass kernel (compiles on the first step; needs
            a C++ compiler on CPU or Triton on GPU). Fastest path; cannot be combined with foreach.

    State per parameter (all tensors, so ``state_dict`` round-trips exactly): ``step`` (float32,
    0-dim, on the parameter's device), ``exp_avg_sq`` (v, like the parameter; float32 for float16
    parameters, whose g^2 would overflow) and ``w_max`` (0-dim, the parameter's dtype).

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
    ):
        rule.validate_hyperparameters(lr, beta, g_bound, p_scale, eps)
        if foreach and fused:
            raise ValueError("Madam: foreach=True and fused=True are exclusive; pick one path.")
        defaults = dict(
            lr=lr, p_scale=p_scale, g_bound=g_bound, beta=beta, eps=eps,
            maximize=maximize, foreach=foreach, fused=fused,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group; its own hyperparameters are validated like the constructor's."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        rule.validate_hyperparameters(group["lr"], group["beta"], group["g_bound"], group["p_scale"], group["eps"])
        for p in group["params"]:
            if torch.is_complex(p):
                raise TypeError(
                    f"Madam: complex parameter of shape {tuple(p.shape)} is not supported "
                    "(sign(w) is undefined); optimize its real and imaginary parts as separate real tensors."
                )
            if not torch.is_floating_point(p):
                raise TypeError(f"Madam: parameters must be floating point, got dtype {p.dtype}.")

    def _init_group(self, group, params, grads, exp_avg_sqs, steps, w_maxs):
        """Collect the tensors to update; create state (and warn about zeros) at a first step."""
        names = group.get("param_names")
        zero_reports = []
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
                n_zero = int((p.detach() == 0).sum())
                if n_zero:
                    name = names[i] if names else f"#{i} (shape {tuple(p.shape)})"
                    zero_reports.append(f"{name}: {n_zero} of {p.numel()} entries")
            params.append(p)
            grads.append(p.grad)
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
            w_maxs.append(state["w_max"])
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
        load_state_dict_keeping_dtypes(self, state_dict, ("exp_avg_sq",))

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one Madam step; ``closure`` re-evaluates the model and returns the loss."""
        loss = evaluate_closure(closure)
        for group in self.param_groups:
            params, grads, exp_avg_sqs, steps, w_maxs = [], [], [], [], []
            self._init_group(group, params, grads, exp_avg_sqs, steps, w_maxs)
            if not params:
                continue
            hyper = dict(
                lr=group["lr"], beta=group["beta"], g_bound=group["g_bound"],
                eps=group["eps"], maximize=group["maximize"],
            )
            if group["fused"] or self._use_foreach(group, params):
                multi_tensor_step = madam_fused if group["fused"] else madam_foreach
                grouped = _group_tensors_by_device_and_dtype([params, grads, exp_avg_sqs, steps, w_maxs])
                for (_device, _dtype), (tensors, _) in grouped.items():
                    multi_tensor_step(*tensors, **hyper)
            else:
                madam_for_loop(params, grads, exp_avg_sqs, steps, w_maxs, **hyper)
        return loss

    @staticmethod
    def _use_foreach(group, params) -> bool:
        if group["foreach"] is not None:
            return bool(group["foreach"])
        return all(p.is_cuda for p in params)
