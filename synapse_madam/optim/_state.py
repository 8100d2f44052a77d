"""State-dict helpers shared by the optimizers."""

from __future__ import annotations

import torch
from torch.optim import Optimizer


def evaluate_closure(closure):
    """The loss returned by ``closure`` (run with gradients enabled), or None without one."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def load_state_dict_keeping_dtypes(optimizer: Optimizer, state_dict: dict, keys: tuple[str, ...]) -> None:
    """``Optimizer.load_state_dict``, then restore the saved dtype of the state entries ``keys``.

    torch.optim casts every state tensor of a floating-point parameter to the parameter's dtype on
    load; state that deliberately has another dtype (integer LNS codes, a float32 second moment of
    a float16 parameter, a bfloat16 one of a float32 parameter) is put back exactly as saved.
    """
    saved_ids = [pid for group in state_dict["param_groups"] for pid in group["params"]]
    saved = {pid: {k: s[k] for k in keys if k in s} for pid, s in state_dict["state"].items()}
    Optimizer.load_state_dict(optimizer, state_dict)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for pid, p in zip(saved_ids, params):
        for key, value in saved.get(pid, {}).items():
            optimizer.state[p][key] = value.to(device=p.device, copy=True)


def copy_split_(targets: list, flat: torch.Tensor) -> None:
    """Copy the consecutive pieces of ``flat`` into ``targets`` (same sizes, in order): one
    multi-tensor copy where torch has one for the dtype, else one copy per tensor."""
    sizes = [t.numel() for t in targets]
    pieces = [x.view_as(t) for x, t in zip(flat.split(sizes), targets)]
    try:
        torch._foreach_copy_(targets, pieces)
    except (RuntimeError, NotImplementedError):  # a dtype the multi-tensor kernel lacks
        for t, x in zip(targets, pieces):
            t.copy_(x)


class WrapsInner(Optimizer):
    """Plumbing of an optimizer that wraps ``self.inner`` and keeps its own per-weight state (the
    grid wrappers UniformQuantized and FloatQuantized): ``zero_grad`` is the inner one's, and the
    state dict is ``{"inner": ..., "grid": ...}``, the grid part loaded with the tensors named in
    ``GRID_KEYS`` kept in their saved dtypes."""

    GRID_KEYS: tuple[str, ...] = ("seed",)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none)

    def state_dict(self) -> dict:
        return {"inner": self.inner.state_dict(), "grid": super().state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"inner", "grid"}:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'inner' and 'grid' "
                             f"(as written by {name}.state_dict()).")
        self.inner.load_state_dict(state_dict["inner"])
        load_state_dict_keeping_dtypes(self, state_dict["grid"], self.GRID_KEYS)
        self.__dict__.pop("_flat_cache", None)
        self.param_groups = self.inner.param_groups
