"""LNSMadam: Madam trained natively in a logarithmic number system (integer exponent codes)."""

from __future__ import annotations

import warnings

import torch
from torch.optim import Optimizer

from .. import rule
from ..hashnoise import hash_normal, hash_uniform_keys, segment_keys, stream_seed
from ..lns import LNSFormat, check_rounding, hash_uniform, round_to_integer
from . import log_moment, native
from ._state import copy_split_, evaluate_closure, load_state_dict_keeping_dtypes
from .madam import ZeroParameterWarning

__all__ = ["LNSMadam", "SECOND_MOMENT_DTYPES"]

# noise seed = rounding seed + NOISE_STREAM, so the fluctuations get their own stream: the hash keys
# on seed * 0x9E3779B9 + counter * 0x85EBCA6B mod 2^32, and with this offset the rounding and the
# noise streams of any two parameters among the first 200 meet only for counters > 5 million apart.
NOISE_STREAM = 0x2545F491
# second_moment_dtype -> storage dtype of exp_avg_sq; "log8": uint8 log codes (optim/log_moment.py)
SECOND_MOMENT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, log_moment.LOG8: torch.uint8}


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

    Opt-in log-space terms (those of :mod:`synapse_madam.rule`, off by default), in code space.
    Since ln|w| = ln(scale) - k ln(base), the set point mu = ln(set_point * RMS(W_0)) is the real
    code k_mu = (ln(scale) - mu) / ln(base) and the exact OU step of ln|w| reads::

        k' = k + delta * s(k)                                             (Madam step, soft bound s)
        k' = k_mu + (k' - k_mu) * exp(-restore) - (sd / ln(base)) * xi    (homeostasis + fluctuation)
        k  <- clip(k + round(k' - k), 0, 2**(B-1) - 1)

    with sd = noise * sqrt((1 - exp(-2 restore)) / (2 restore)) (``rule.ou_coefficients``),
    xi = hash_normal(seed_p + NOISE_STREAM, t) and the same rounding as the plain step (stochastic
    rounding keeps the sub-level restoring drift on average; nearest rounding loses drifts
    below half a level). ``bound="soft"`` scales steps that decrease k (grow |w|) by
    s(k) = max(0, 1 - base**(-k)) = max(0, 1 - |w|/scale), so they stop at k = 0.
    ``bound="none"`` drops that factor; the format itself still has no level above k = 0
    (|w| = scale) or below k_max, so codes always saturate there.

    Args:
        params: tensors, ``(name, tensor)`` pairs or param-group dicts.
        lr: Madam's eta (default 0.01); schedulers drive it as usual.
        bits: total bits per weight, 2..16 (1 sign bit + bits-1 exponent bits; default 8).
        base, gamma: the level ratio, base = 2**(1/gamma); by default the levels span LNS-Madam's
            8-bit range 2**(127/8) (gamma = 8 at 8 bits), see :class:`~synapse_madam.lns.LNSFormat`.
        levels: magnitude levels per sign (default 2**(bits-1)); e.g. ``bits=6, levels=26,
            base=math.exp(2 * 0.083)`` is Bartol et al. 2015's synapse format (26 sizes, 4.7 bits).
        rounding: "stochastic" (default) or "nearest".
        p_scale, g_bound, beta, eps: as in :class:`synapse_madam.Madam`.
        second_moment_dtype: "float32" (default), "bfloat16" (2 bytes/param instead of 4) or
            "log8": v as an 8-bit logarithmic code, 1 byte/param plus one exponent per tensor
            (:mod:`synapse_madam.optim.log_moment`: 8 levels per octave of v, range 2^31.75 below
            the tensor's largest v, unbiased stochastic rounding keyed on (seed, step)); with
            ``bits <= 8`` the whole per-parameter state is 2 bytes. This step's g_hat uses the
            unrounded v of this step; the code carries v to the next. The native CPU kernel has
            it (the same bits as the torch step); the flat multi-tensor step does not (an exponent
            per tensor): off the kernel, log8 tensors step one by one.
        seed: seed of the stateless rounding noise (a hash of seed, step and element index, so
            resumed runs round exactly as uninterrupted ones), and of the fluctuation noise.
        restore, noise, set_point, bound: the log-space terms above, as in :class:`synapse_madam.Madam`.

    State per parameter (``weight_state_keys`` hold the weights themselves): ``codes`` (int8 for <= 8 bits, else int16), ``scale`` (0-dim float32),
    ``exp_avg_sq`` (float32, bfloat16 or, for "log8", uint8 codes with ``exp_avg_sq_exponent``, 0-dim
    float32), ``step`` (0-dim float32), ``seed`` (0-dim int64) and ``log_set_point``
    (mu, 0-dim float32, from the weights at construction).
    """

    weight_state_keys = ("codes", "scale")

    def __init__(self, params, lr: float = rule.DEFAULT_LR, *, bits: int = 8, base: float | None = None,
                 gamma: float | None = None, levels: int | None = None, rounding: str = "stochastic",
                 p_scale: float = rule.DEFAULT_P_SCALE,
                 g_bound: float = rule.DEFAULT_G_BOUND, beta: float = rule.DEFAULT_BETA, eps: float = 0.0,
                 second_moment_dtype: str = "float32", seed: int = 0, restore: float = rule.DEFAULT_RESTORE,
                 noise: float = rule.DEFAULT_NOISE, set_point: float = rule.DEFAULT_SET_POINT,
                 bound: str = rule.DEFAULT_BOUND):
        fmt = LNSFormat(bits, base=base, gamma=gamma, magnitudes=levels)
        defaults = dict(lr=lr, bits=fmt.bits, base=fmt.base, levels=fmt.magnitudes, rounding=rounding, p_scale=p_scale,
                        g_bound=g_bound, beta=beta, eps=eps, second_moment_dtype=second_moment_dtype, seed=seed,
                        restore=restore, noise=noise, set_point=set_point, bound=bound)
        super().__init__(params, defaults)
        self._encode_all()
        self._constructed = True

    def add_param_group(self, param_group: dict) -> None:
        """Add a group; its hyperparameters and LNS format are validated."""
        super().add_param_group(param_group)
        g = self.param_groups[-1]
        rule.validate_hyperparameters(g["lr"], g["beta"], g["g_bound"], g["p_scale"], g["eps"],
                                      restore=g["restore"], noise=g["noise"], set_point=g["set_point"],
                                      bound=g["bound"])
        if isinstance(g["seed"], bool) or not isinstance(g["seed"], int) or g["seed"] < 0:
            raise TypeError(f"LNSMadam: seed must be an integer >= 0, got {g['seed']!r}.")
        self.format_of(g)
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
        return LNSFormat(group["bits"], base=group["base"], magnitudes=group.get("levels"))

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
                if state["exp_avg_sq"].dtype == torch.uint8:  # log8: v = 0 (code 0) under exponent 0
                    state["exp_avg_sq_exponent"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["seed"] = torch.tensor(stream_seed(group["seed"], position), dtype=torch.int64, device=p.device)
                state["log_set_point"] = rule.initial_log_set_point(p.detach().to(torch.float32), group["set_point"])
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
        load_state_dict_keeping_dtypes(self, state_dict, ("codes", "exp_avg_sq", "exp_avg_sq_exponent", "seed", "scale",
                                                         "log_set_point"))
        self.__dict__.pop("_flat_cache", None)  # its scales and seeds were those of the old state
        with torch.no_grad():
            for group in self.param_groups:
                fmt = self.format_of(group)
                for p in group["params"]:
                    if "codes" in self.state[p]:
                        p.copy_(fmt.decode(self.state[p]["codes"], self.state[p]["scale"], dtype=p.dtype))

    def magnitude_bounds(self, p) -> tuple[float, float] | None:
        """(smallest, largest) representable |w| of parameter ``p``: (scale * base**-k_max, scale)."""
        state = self.state.get(p, {})
        group = next((g for g in self.param_groups if any(q is p for q in g["params"])), None)
        if "scale" not in state or group is None:
            return None
        return self.format_of(group).magnitude_range(float(state["scale"]))

    @torch.no_grad()
    def step(self, closure=None):
        """One LNS-Madam step: integer add on the codes, then decode the forward weights.

        A group with the published step (terms off) and float32 weights on the CPU runs in the
        native kernel (:func:`synapse_madam.optim.native.lns_madam_native`, one
        pass over memory); elsewhere (CUDA) a group's tensors with the published step go through
        :func:`lns_madam_update_` once, laid end to end (:meth:`_flat_update`: a few dozen kernel
        launches per step instead of a few dozen per tensor, the same noise and codes), and the
        rest per tensor. All give the same codes."""
        loss = evaluate_closure(closure)
        for group in self.param_groups:
            fmt = self.format_of(group)
            todo = []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LNSMadam does not support sparse gradients; use a dense layer.")
                todo.append(p)
            terms_off = group["restore"] == 0.0 and group["noise"] == 0.0 and group["bound"] == "hard"
            if terms_off and native.available():
                fast = [p for p in todo if native.lns_supports(p, p.grad, self.state[p]["exp_avg_sq"], self.state[p]["codes"])]
                kinds = {(self.state[p]["codes"].dtype, self.state[p]["exp_avg_sq"].dtype) for p in fast}
                if len(kinds) > 1:  # one kernel call takes one code and one moment dtype (a mixed state_dict)
                    first = next(iter(kinds))
                    fast = [p for p in fast if (self.state[p]["codes"].dtype, self.state[p]["exp_avg_sq"].dtype) == first]
                if fast:
                    states = [self.state[p] for p in fast]
                    native.lns_madam_native(
                        fast, [p.grad for p in fast], [s["exp_avg_sq"] for s in states], [s["codes"] for s in states],
                        [self._levels(fmt, s["scale"]) for s in states], [s["step"] for s in states],
                        [s["seed"] for s in states], c=float(group["lr"]) / fmt.log_base, beta=group["beta"],
                        g_bound=group["g_bound"], eps=group["eps"], k_max=fmt.k_max,
                        stochastic=group["rounding"] == "stochastic",
                        exponents=[s.get("exp_avg_sq_exponent") for s in states])
                    todo = [p for p in todo if not any(p is q for q in fast)]
            if terms_off and len(todo) >= self.flat_min_tensors:
                flat = self._flat_eligible(todo)
                if len(flat) >= self.flat_min_tensors:
                    self._flat_update(flat, fmt, group)
                    todo = [p for p in todo if not any(p is q for q in flat)]
            for p in todo:
                lns_madam_update_(p, p.grad, self.state[p], fmt, group)
        return loss

    flat_min_tensors = 2  # fewer tensors than this (or a huge value: never) go tensor by tensor

    def _flat_eligible(self, params) -> list:
        """The largest set of ``params`` one flat update can take: same device, float32 contiguous
        weights and gradients, one code dtype and one moment dtype, a float moment (a log8 moment's
        exponent is per tensor: those tensors go tensor by tensor)."""
        params = [p for p in params if self.state[p]["exp_avg_sq"].is_floating_point()]
        if not params:
            return []
        first = params[0]
        kind = (first.device, self.state[first]["codes"].dtype, self.state[first]["exp_avg_sq"].dtype)
        return [p for p in params if p.dtype == torch.float32 and p.grad.dtype == torch.float32 and p.is_contiguous()
                and (p.device, self.state[p]["codes"].dtype, self.state[p]["exp_avg_sq"].dtype) == kind]

    def _flat_update(self, params, fmt: LNSFormat, group: dict) -> None:
        """:func:`lns_madam_update_` on ``params`` laid end to end: per-element scale, step and
        hash keys (:func:`synapse_madam.hashnoise.segment_keys`) make every element's update,
        noise included, the one it gets tensor by tensor."""
        states = [self.state[p] for p in params]
        sizes = [p.numel() for p in params]
        cache = self.__dict__.setdefault("_flat_cache", {})
        key = tuple(id(p) for p in params)
        if key not in cache:
            n = sum(sizes)
            counts = torch.as_tensor(sizes, device=params[0].device)
            cache[key] = (segment_keys([s["seed"] for s in states], sizes, params[0].device), counts,
                          torch.repeat_interleave(torch.stack([s["scale"].reshape(()) for s in states]), counts,
                                                  output_size=n))
        keys, counts, scale = cache[key]
        n = keys.numel()
        steps = [s["step"] for s in states]
        flat_state = {"exp_avg_sq": torch.cat([s["exp_avg_sq"].reshape(-1) for s in states]),
                      "codes": torch.cat([s["codes"].reshape(-1) for s in states]), "scale": scale,
                      "step": torch.repeat_interleave(torch.stack(steps), counts, output_size=n)}
        torch._foreach_add_(steps, 1.0)
        uniform = None
        if group["rounding"] == "stochastic":
            uniform = hash_uniform_keys(keys, flat_state["step"] + 1.0)
        w = torch.empty(n, dtype=torch.float32, device=params[0].device)
        lns_madam_update_(w, torch.cat([p.grad.reshape(-1) for p in params]), flat_state, fmt, group, uniform=uniform)
        copy_split_([s["exp_avg_sq"] for s in states], flat_state["exp_avg_sq"])
        copy_split_([s["codes"] for s in states], flat_state["codes"])
        copy_split_(list(params), w)

    def _levels(self, fmt: LNSFormat, scale: torch.Tensor) -> torch.Tensor:
        """The decoded magnitudes scale * base**(-k), k = 0..k_max (float32), as ``fmt.decode``
        computes them; cached per (format, scale value)."""
        cache = self.__dict__.setdefault("_level_cache", {})
        key = (fmt.bits, fmt.base, fmt.n_levels, float(scale), scale.device)
        if key not in cache:
            k = torch.arange(fmt.k_max + 1, device=scale.device).to(fmt.torch_storage_dtype)
            cache[key] = fmt.decode(k, scale, dtype=torch.float32).contiguous()
        return cache[key]


def lns_madam_update_(p, grad, state, fmt: LNSFormat, group: dict, *, uniform=None) -> None:
    """One LNS-Madam step on one tensor, in place (see :class:`LNSMadam`). ``uniform``: the
    rounding noise when the caller has drawn it (default: hash of the state's seed and step)."""
    v_dtype = state["exp_avg_sq"].dtype
    g = rule.sanitize_gradient(grad).to(torch.float32)
    state["step"] += 1
    if v_dtype == torch.uint8:  # log8 codes: decode, the EMA in float32, re-encode (stochastic, unbiased)
        v = rule.second_moment(log_moment.decode(state["exp_avg_sq"], state["exp_avg_sq_exponent"]), g, group["beta"])
        noise = hash_uniform(state["seed"] + log_moment.V_STREAM, state["step"], v.shape, v.device)
        state["exp_avg_sq"].copy_(log_moment.encode(v, noise, state["exp_avg_sq_exponent"]))
    else:
        v = rule.second_moment(state["exp_avg_sq"].to(torch.float32), g, group["beta"])
        state["exp_avg_sq"].copy_(v)  # rounds to bfloat16 when stored compactly
        if v_dtype != torch.float32:
            v = state["exp_avg_sq"].to(torch.float32)
    g_hat = rule.normalized_gradient(g, v, state["step"], group["beta"], group["g_bound"], group["eps"])
    sign, k = fmt.unpack(state["codes"])
    delta = (group["lr"] / fmt.log_base) * sign * g_hat  # |w| shrinks when k grows
    if uniform is None and group["rounding"] == "stochastic":
        uniform = hash_uniform(state["seed"], state["step"], p.shape, p.device)
    k = k.to(torch.float32)
    if group.get("restore", 0.0) or group.get("noise", 0.0) or group.get("bound", "hard") != "hard":
        delta = _code_space_terms(k, delta, state, fmt, group, p)
    k_new = torch.clamp(k + round_to_integer(delta, group["rounding"], uniform), 0, fmt.k_max)
    state["codes"].copy_(fmt.pack(sign, k_new))
    p.copy_(fmt.decode(state["codes"], state["scale"], dtype=p.dtype))


def _code_space_terms(k, delta, state, fmt: LNSFormat, group: dict, p):
    """The real-valued change of k with the log-space terms: soft bound on the Madam step, then
    the exact OU step of ln|w| written for k (see :class:`LNSMadam`)."""
    if group["bound"] == "soft":  # s(k) = max(0, 1 - base^-k) on steps that lower k (grow |w|)
        delta = torch.where(delta < 0, delta * torch.clamp(-torch.expm1(-fmt.log_base * k), min=0.0), delta)
    decay, sd = rule.ou_coefficients(group["restore"], group["noise"])
    if decay == 1.0 and sd == 0.0:
        return delta
    k_step = k + delta
    if decay != 1.0:
        if "log_set_point" not in state:  # state saved before the terms existed: from W now
            state["log_set_point"] = rule.initial_log_set_point(p.detach().to(torch.float32), group["set_point"])
        k_mu = (torch.log(state["scale"]) - state["log_set_point"]) / fmt.log_base
        k_step = k_mu + (k_step - k_mu) * decay
    if sd:
        xi = hash_normal(state["seed"] + NOISE_STREAM, state["step"], p.shape, like=p).to(torch.float32)
        k_step = k_step - (sd / fmt.log_base) * xi
    return k_step - k
