"""One training loop for every optimizer: CPU or GPU, bf16 autocast, data-parallel, exact resume.

``train(model, data, config, run_dir)`` minimises the cross-entropy of ``model`` on a
:class:`~synapse_madam.deep.data.TensorDataset` with the optimizer named in ``config`` (built by
:func:`synapse_madam.optim.make_optimizer`, so Madam and its baselines share every line of the
loop). Per epoch it appends one record to the run folder's ``metrics.jsonl`` and atomically writes
its ``checkpoint.pt``; ``resume=True`` continues from that checkpoint and reproduces the
uninterrupted run's metrics exactly, because everything random is restored or re-derived:

* the order of examples in epoch e is a permutation drawn from a generator seeded by (seed, e),
  so no sampler state needs saving;
* the global torch / numpy / python RNG states (dropout) are saved and restored;
* model, optimizer and lr-scheduler state dicts are saved and restored.

Divergence ends the run early and is recorded as a result, never raised: in an lr sweep a
diverging lr is a data point. A run *diverged* when its training loss becomes non-finite or rises
above ``DIVERGENCE_FACTOR`` (1e3) x the loss of its first step; it *failed* when it diverged or
its final test accuracy is at chance (:func:`chance_level`, the majority-class frequency of
the test labels, plus three binomial standard errors). The summary says which
(``diverged``, ``divergence``, ``failed``, ``failure``, ``chance_acc``; :func:`synapse_madam.runs.outcome`).

Every epoch's record carries the weight digest (:func:`synapse_madam.biology.digest_weights`)
of each weight matrix (``weights``: {name: digest}), so sigma(t) of ln|w| is in metrics.jsonl.
All files go through a :class:`synapse_madam.runs.RunFolder`.

Data parallel: under ``torchrun`` (or any launcher that sets WORLD_SIZE/RANK), call
:func:`init_distributed` first; every rank then takes its slice of each global batch of
``batch_size`` examples and DistributedDataParallel averages the gradients, so N processes
compute the same update as one process with the whole batch (up to float summation order).
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F

from .. import rule
from ..biology.digest import digest_weights, stationarity
from ..optim import OPTIMIZERS, check_options, make_optimizer, optimizer_info, training_state_bytes
from ..progress import progress_bar
from ..runs import DIVERGENCE_FACTOR, RunFolder, outcome
from ..runs import divergence as divergence_reason

__all__ = ["TrainConfig", "train", "evaluate", "LRSchedule", "SCHEDULES", "init_distributed",
           "resolve_device", "weight_digests", "chance_level", "DIVERGENCE_FACTOR"]

SCHEDULES = {
    "constant": "lr stays at its initial value",
    "step": "lr divided by 10 at 50% and again at 75% of the training steps",
    "cosine": "lr * (1 + cos(pi * step / total_steps)) / 2",
    "warmup_cosine": "linear warm-up over the first 5% of the steps, then cosine decay to 0 (rule.warmup_cosine)",
}
WARMUP_FRACTION = 0.05
AMP_MODES = ("auto", "bf16", "off")


class LRSchedule:
    """The factor multiplying the base lr at optimizer step ``step`` of ``total_steps``.

    A picklable callable, so ``torch.optim.lr_scheduler.LambdaLR`` saves it in its state_dict.
    """

    def __init__(self, kind: str, total_steps: int):
        if kind not in SCHEDULES:
            raise ValueError(f"unknown lr schedule {kind!r}; allowed values: {', '.join(SCHEDULES)}.")
        self.kind, self.total_steps = kind, max(int(total_steps), 1)

    def __call__(self, step: int) -> float:
        frac = min(step / self.total_steps, 1.0)
        if self.kind == "warmup_cosine":  # LambdaLR's step s sets the lr of optimizer step s + 1
            return rule.warmup_cosine(step + 1, max(1, round(WARMUP_FRACTION * self.total_steps)), self.total_steps)
        if self.kind == "step":
            return 1.0 if frac < 0.5 else 0.1 if frac < 0.75 else 0.01
        if self.kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * frac))
        return 1.0


@dataclass
class TrainConfig:
    """Everything the loop needs besides the model and the data.

    ``batch_size`` is the global batch (split evenly across data-parallel ranks); ``amp`` is
    "auto" (bf16 autocast on CUDA, off on CPU), "bf16" or "off"; ``device`` is "auto" (CUDA when
    present), "cpu", "cuda" or "cuda:N". ``optimizer_options`` go to the optimizer's constructor.
    """

    optimizer: str = "madam"
    lr: float = 0.01
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    schedule: str = "constant"
    optimizer_options: dict = field(default_factory=dict)
    device: str = "auto"
    amp: str = "auto"
    eval_batch_size: int = 1000
    progress: bool = True

    def validate(self, source: str = "TrainConfig") -> "TrainConfig":
        """Check every field; ValueError naming the field, the value and the allowed values."""
        key = self.optimizer.lower().replace("-", "_").replace("+", "_")
        if key not in OPTIMIZERS:
            raise ValueError(f"{source}: optimizer {self.optimizer!r} unknown; allowed values: {', '.join(OPTIMIZERS)}.")
        if not (isinstance(self.lr, (int, float)) and not isinstance(self.lr, bool) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"{source}: lr must be a positive number, got {self.lr!r}.")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{source}: {name} must be an integer >= 1, got {v!r}.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"{source}: seed must be an integer >= 0, got {self.seed!r}.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"{source}: schedule {self.schedule!r} unknown; allowed values: {', '.join(SCHEDULES)}.")
        if self.amp not in AMP_MODES:
            raise ValueError(f"{source}: amp {self.amp!r} unknown; allowed values: {', '.join(AMP_MODES)}.")
        if not (self.device in ("auto", "cpu", "cuda") or str(self.device).startswith("cuda:")):
            raise ValueError(f"{source}: device {self.device!r} unknown; allowed values: auto, cpu, cuda, cuda:N.")
        if not isinstance(self.optimizer_options, dict):
            raise TypeError(f"{source}: optimizer_options must be a table, got {type(self.optimizer_options).__name__}.")
        try:
            check_options(key, self.optimizer_options)
        except ValueError as exc:
            raise ValueError(f"{source}: optimizer_options: {exc}") from None
        return self


# --------------------------------------------------------------------------------- distributed


def init_distributed() -> tuple[int, int]:
    """Join the process group a launcher (``torchrun``) described in the environment; return (rank, world).

    Uses NCCL when CUDA is available and gloo otherwise. Without WORLD_SIZE > 1 it does
    nothing and returns (0, 1).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" -> this rank's CUDA device when CUDA is available, else the CPU."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use device = \"auto\" or \"cpu\".")
    return torch.device(device)


# -------------------------------------------------------------------------------------- the loop


def _loss(logits, y):
    """Mean cross-entropy over every target (classes, or every position of a sequence)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))


@torch.no_grad()
def evaluate(model, x, y, *, batch_size: int = 1000, amp: bool = False) -> dict:
    """Mean cross-entropy loss and top-1 accuracy of ``model`` on (x, y), in eval mode."""
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        with torch.autocast(device_type=xb.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(xb)
        n = yb.numel()
        total_loss += float(_loss(logits, yb)) * n
        correct += int((logits.argmax(-1) == yb).sum())
        count += n
    model.train(was_training)
    return {"loss": total_loss / count, "acc": correct / count}


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    # the checkpoint is loaded onto the training device; RNG states must be CPU byte tensors
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of training examples in ``epoch``: a function of (seed, epoch) only."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def train(model: torch.nn.Module, data, config: TrainConfig, run_dir: str | Path | RunFolder | None = None, *,
          resume: bool = False, overwrite: bool = False, callbacks=()) -> dict:
    """Train ``model`` on ``data`` as ``config`` says; return a summary dict.

    With ``run_dir`` (a path, or an open :class:`~synapse_madam.runs.RunFolder`): metrics go to
    its ``metrics.jsonl`` (one JSON record per epoch) and a checkpoint to ``checkpoint.pt`` after
    every epoch; ``resume=True`` continues from it (a finished run is returned as is). A path is
    opened as a RunFolder (locked; a fresh start over results needs ``overwrite=True``).
    ``callbacks`` are called as ``cb(record)`` after each epoch's record is saved; an exception there (e.g. KeyboardInterrupt) stops the run with the
    checkpoint of that epoch intact.
    """
    config.validate()
    rank, world = _rank_world()
    device = resolve_device(config.device)
    use_amp = config.amp == "bf16" or (config.amp == "auto" and device.type == "cuda")
    if config.batch_size % world:
        raise ValueError(f"batch_size={config.batch_size} must be divisible by the number of processes ({world}).")
    if run_dir is None or isinstance(run_dir, RunFolder):
        folder = run_dir
        return _train(model, data, config, folder, folder.resuming if folder else False, callbacks,
                      rank, world, device, use_amp)
    with RunFolder.open(run_dir, None, resume=resume, overwrite=overwrite, writer=rank == 0) as folder:
        return _train(model, data, config, folder, folder.resuming, callbacks, rank, world, device, use_amp)


def _train(model, data, config: TrainConfig, folder: RunFolder | None, resume: bool, callbacks,
           rank: int, world: int, device, use_amp: bool) -> dict:
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    random.seed(config.seed)

    model.to(device)
    opt = make_optimizer(config.optimizer, list(model.parameters()), config.lr, **config.optimizer_options)
    after_step = getattr(model, "after_optimizer_step", None)
    if callable(after_step):  # a model's constraint after every step (e.g. SpikingMLP's Dale projection)
        opt.register_step_post_hook(lambda *_: after_step())
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    x_test, y_test = data.x_test.to(device), data.y_test.to(device)
    n_train = len(x_train)
    steps_per_epoch = max(n_train // config.batch_size, 1)  # the last partial batch is dropped
    batch = min(config.batch_size, n_train)
    local = batch // world
    total_steps = steps_per_epoch * config.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, LRSchedule(config.schedule, total_steps))

    start_epoch, divergence, elapsed, initial_loss = 1, None, 0.0, None
    ckpt_path = folder.checkpoint_path() if folder else None
    initial = None
    if resume and folder.has_checkpoint():
        ckpt = folder.load_checkpoint(map_location=device)
        _check_resumable(ckpt["config"], config, ckpt_path)
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError as exc:
            raise ValueError(f"{ckpt_path}: the checkpoint's parameters do not fit this net ({str(exc).splitlines()[0]}); "
                             "resume with the spec that made it, or start a fresh run without --resume.") from None
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        _set_rng_state(ckpt["rng"])
        start_epoch, elapsed = ckpt["epoch"] + 1, ckpt["elapsed_s"]
        divergence, initial_loss = ckpt.get("divergence"), ckpt.get("initial_loss")
        if divergence is None and ckpt.get("diverged"):
            divergence = "non-finite loss"
        folder.truncate_metrics("epoch", ckpt["epoch"])  # drop records written after the checkpoint
        initial = folder.load_weights("weights_init.npz")
    elif folder:
        folder.clear_metrics()
        folder.remove_checkpoint()
    if initial is None:
        initial = {n: p.detach().float().cpu().numpy().copy() for n, p in model.named_parameters()}
        if folder:
            folder.save_weights(initial, "weights_init.npz")

    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    if world > 1:
        dist.barrier()

    records = folder.metrics() if (folder and rank == 0) else []
    step = (start_epoch - 1) * steps_per_epoch
    for epoch in range(start_epoch, config.epochs + 1):
        if divergence:
            break
        t0 = time.perf_counter()
        net.train()
        perm = _epoch_permutation(n_train, config.seed, epoch).to(device)
        loss_sum = torch.zeros((), device=device)
        bar = _progress(steps_per_epoch, f"{config.optimizer} lr={config.lr:g} epoch {epoch}/{config.epochs}",
                        config.progress and rank == 0)
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch][rank * local:(rank + 1) * local]
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = net(x_train[idx])
            loss = _loss(logits, y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            loss_sum += loss.detach()
            if initial_loss is None:
                initial_loss = _all_mean(loss.detach(), world)
            if (i + 1) % 20 == 0 or i + 1 == steps_per_epoch:
                running = _all_mean(loss_sum, world) / (i + 1)
                divergence = divergence_reason(running, initial_loss)
                if divergence:
                    break
                bar.set_postfix(loss=f"{running:.4f}")
            bar.update(1)
        bar.close()
        train_loss = _all_mean(loss_sum, world) / max(i + 1, 1)
        divergence = divergence or divergence_reason(train_loss, initial_loss)
        test = evaluate(model, x_test, y_test, batch_size=config.eval_batch_size, amp=use_amp)
        epoch_time = time.perf_counter() - t0
        elapsed += epoch_time
        record = {"epoch": epoch, "step": step, "lr": opt.param_groups[0]["lr"],
                  "train_loss": train_loss if math.isfinite(train_loss) else None,
                  "test_loss": test["loss"] if math.isfinite(test["loss"]) else None,
                  "test_acc": test["acc"], "diverged": divergence is not None, "epoch_time_s": epoch_time,
                  "weights": weight_digests(model, opt, initial)}
        if rank == 0:
            records.append(record)
            if folder:
                folder.append_metrics(record)
                folder.save_checkpoint({
                    "epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "rng": _rng_state(), "diverged": divergence is not None,
                    "divergence": divergence, "initial_loss": initial_loss,
                    "elapsed_s": elapsed, "config": asdict(config),
                })
        if world > 1:
            dist.barrier()
        for cb in callbacks:
            cb(record)

    summary = _summary(model, config, records, divergence, elapsed, device, world, use_amp)
    summary.update(_failure(summary, divergence, data))
    summary["initial_loss"] = initial_loss
    summary["weights"] = weight_digests(model, opt, initial)
    summary["weight_bounds"] = {k: v[1] for k, v in _bounds(model, opt).items()}
    summary["sigma_stationarity"] = {k: stationarity([r.get("weights", {}).get(k, {}).get("sigma_ln") for r in records])
                                     for k in summary["weights"]}
    summary["state_bytes_per_param"] = training_state_bytes(opt)["persistent_bytes_per_param"]
    if world > 1:
        summary["ranks_max_param_diff"] = _rank_param_diff(model)
    return summary


# Fields that must match for a checkpoint to continue the same run (epochs may grow at a constant lr).
_RESUME_FIELDS = ("optimizer", "lr", "batch_size", "seed", "schedule", "optimizer_options")


def _check_resumable(saved: dict, config: TrainConfig, path) -> None:
    now = asdict(config)
    changed = [k for k in _RESUME_FIELDS if saved.get(k) != now[k]]
    if config.schedule != "constant" and saved.get("epochs") != config.epochs:
        changed.append("epochs (the lr schedule depends on it)")
    if changed:
        diffs = ", ".join(f"{k.split()[0]}: {saved.get(k.split()[0])!r} -> {now[k.split()[0]]!r}" for k in changed)
        raise ValueError(f"{path}: cannot resume, the run was started with other settings ({diffs}); "
                         "resume with the same spec or start a fresh run (without --resume, or another --out).")


def _bounds(model, opt) -> dict[str, tuple[float, float]]:
    """The known bound on |w| of each weight matrix: the optimizer's ``magnitude_bounds(p)`` where
    it declares them (Madam: (0, w_max) unless bound="none"; LNSMadam: the format's range), else
    (0, w_max) where it keeps a w_max in its state (Madam's p_scale x initial RMS); none otherwise."""
    declared = getattr(opt, "magnitude_bounds", None)
    if declared is not None:
        return {name: b for name, p in model.named_parameters() if (b := declared(p)) is not None}
    out = {}
    for name, p in model.named_parameters():
        w_max = opt.state.get(p, {}).get("w_max") if hasattr(opt, "state") else None
        if w_max is not None and torch.is_tensor(w_max) and w_max.numel() == 1:
            out[name] = (0.0, float(w_max))
    return out


@torch.no_grad()
def weight_digests(model, opt=None, initial: dict | None = None) -> dict:
    """:func:`synapse_madam.biology.digest_weights` of every weight matrix (ndim > 1) of ``model``,
    with sign flips against ``initial`` ({name: array}) and the optimizer's known bound on |w|.

    Multiplicative updates move ln|w| additively, so under Madam sigma_ln drifts like a random
    walk in log space (towards log-normal weights, as measured for synapses); additive optimizers
    move |w| instead.
    """
    bounds = _bounds(model, opt) if opt is not None else {}
    return {name: digest_weights(p, initial=None if initial is None else initial.get(name), bounds=bounds.get(name))
            for name, p in model.named_parameters() if p.ndim > 1}


def chance_level(y) -> float:
    """The accuracy of always answering the most frequent class of labels ``y``."""
    y = torch.as_tensor(y).reshape(-1)
    if y.numel() == 0:
        return float("nan")
    return float(torch.bincount(y.long()).max()) / y.numel()


def _failure(summary: dict, divergence: str | None, data) -> dict:
    """diverged / failed / chance_acc for the summary (see the module docstring)."""
    return outcome(divergence, summary.get("final_test_acc"), chance_level(data.y_test), data.y_test.numel())


def _all_mean(t: torch.Tensor, world: int) -> float:
    if world > 1:
        t = t.clone()
        dist.all_reduce(t)
        t /= world
    return float(t)


@torch.no_grad()
def _rank_param_diff(model) -> float:
    """Largest |difference| between this rank's parameters and rank 0's (0.0 when in sync)."""
    flat = torch.cat([p.detach().float().reshape(-1) for p in model.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    diff = (flat - ref).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff)


def _summary(model, config, records, divergence, elapsed, device, world, use_amp) -> dict:
    last = records[-1] if records else {}
    accs = [r["test_acc"] for r in records if r.get("test_acc") is not None]
    return {
        "optimizer": config.optimizer, "lr": config.lr, "seed": config.seed, "schedule": config.schedule,
        "epochs": config.epochs, "epochs_completed": last.get("epoch", 0), "batch_size": config.batch_size,
        "final_test_acc": last.get("test_acc"), "final_test_loss": last.get("test_loss"),
        "best_test_acc": max(accs) if accs else None, "final_train_loss": last.get("train_loss"),
        "diverged": divergence is not None, "train_time_s": elapsed,
        "epoch_time_s": (elapsed / len(records)) if records else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": str(device), "world_size": world, "bf16_autocast": use_amp,
    }


def _progress(total: int, desc: str, enabled: bool):
    return progress_bar(total=total, desc=desc, enabled=enabled, leave=False)
