"""The "deep" substrate: validate a models/*.toml spec and run it into a run folder.

A deep spec (all keys but ``substrate`` optional)::

    substrate = "deep"
    dataset = "fashion_mnist"     # digits | fashion_mnist | fortunes
    net = "mlp"                   # mlp | cnn | resnet | transformer | snn (spiking, deep/spiking.py)
    optimizer = "madam"           # any name of synapse_madam.optim.OPTIMIZERS
    lr = 0.01                     # default: the optimizer's declared default_lr
    epochs = 5
    batch_size = 128
    seed = 0
    schedule = "constant"         # constant | step | cosine | warmup_cosine
    train_subset = 0              # 0 = the whole training split, else a seeded subset
    init = "default"              # default | constant_magnitude (same RMS, one magnitude per tensor)
    threads = 0                   # CPU threads; 0 = by the size of a step (synapse_madam.threads)
    [net_options]                 # passed to the net (e.g. width, depth)
    [data_options]                # passed to the dataset loader (e.g. data_dir, block_size)
    [optimizer_options]           # passed to the optimizer; allowed: its declared options (e.g. p_scale)

``run`` writes, through :class:`synapse_madam.runs.RunFolder`, ``spec.toml`` (resolved),
``metrics.jsonl`` (with the weight digest of every weight matrix per epoch), ``checkpoint.pt``,
``summary.json``, ``data_files.json`` (the data files read, with sha256), ``weights.npz`` and
``weights_init.npz`` (every named parameter, signed) and ``curves.png`` / ``weights.png``.
"""

from __future__ import annotations

import math
from dataclasses import fields


from ..io import spec_to_toml
from ..runs import RunFolder, headline_part, join_headline
from ..threads import choose_threads, use_threads
from .data import DATASETS
from .nets import INITS, NETS, net_options
from .trainer import AMP_MODES, SCHEDULES, TrainConfig

__all__ = ["DEFAULTS", "validate", "run", "spec_to_toml", "build", "run_in", "headline", "weight_groups", "free_keys"]

DEFAULTS = {
    "substrate": "deep", "name": "deep", "description": "",
    "dataset": "digits", "net": "mlp", "optimizer": "madam", "lr": None, "epochs": 10,
    "batch_size": 128, "seed": 0, "schedule": "constant", "device": "auto", "amp": "auto",
    "train_subset": 0, "test_subset": 0, "eval_batch_size": 1000, "progress": True,
    "net_options": {}, "data_options": {}, "optimizer_options": {}, "init": "default", "threads": 0,
}
_TABLES = ("net_options", "data_options", "optimizer_options")


def validate(spec: dict, source: str = "spec") -> dict:
    """Resolve ``spec`` against DEFAULTS; ValueError naming ``source``, the key and the allowed values."""
    from ..optim import OPTIMIZERS

    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; allowed keys: {', '.join(DEFAULTS)}.")
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    out.update({k: (dict(v) if isinstance(v, dict) else v) for k, v in spec.items()})
    choices = {"dataset": DATASETS, "net": NETS, "schedule": SCHEDULES, "amp": AMP_MODES, "init": INITS}
    for key, allowed in choices.items():
        if out[key] not in allowed:
            raise ValueError(f"{source}: key {key!r} is {out[key]!r}; allowed values: {', '.join(allowed)}.")
    opt = str(out["optimizer"]).lower().replace("-", "_").replace("+", "_")
    if opt not in OPTIMIZERS:
        raise ValueError(f"{source}: key 'optimizer' is {out['optimizer']!r}; allowed values: {', '.join(OPTIMIZERS)}.")
    out["optimizer"] = opt
    if out["lr"] is None:  # the optimizer's declared default (registry metadata)
        out["lr"] = OPTIMIZERS[opt].default_lr
    if isinstance(out["lr"], int) and not isinstance(out["lr"], bool):
        out["lr"] = float(out["lr"])
    for key in ("train_subset", "test_subset"):
        if not isinstance(out[key], int) or isinstance(out[key], bool) or out[key] < 0:
            raise ValueError(f"{source}: key {key!r} must be an integer >= 0 (0 = all), got {out[key]!r}.")
    try:
        choose_threads(out["threads"], 0)
    except ValueError as exc:
        raise ValueError(f"{source}: key 'threads': {exc}") from None
    for key in _TABLES:
        if not isinstance(out[key], dict):
            raise ValueError(f"{source}: key {key!r} must be a table ([{key}]), got {out[key]!r}.")
    if (NETS[out["net"]][1] == "tokens") != (out["dataset"] == "fortunes"):
        raise ValueError(f"{source}: net {out['net']!r} does not fit dataset {out['dataset']!r} "
                         "(the transformer takes the text dataset 'fortunes'; the other nets take images).")
    allowed_net = net_options(out["net"])
    bad = sorted(set(out["net_options"]) - set(allowed_net))
    if bad:
        raise ValueError(f"{source}: key 'net_options.{bad[0]}' is not an option of net {out['net']!r}; "
                         f"allowed: {', '.join(allowed_net)}.")
    allowed_data = DATASETS[out["dataset"]][1]
    bad = sorted(set(out["data_options"]) - set(allowed_data))
    if bad:
        raise ValueError(f"{source}: key 'data_options.{bad[0]}' is not an option of dataset {out['dataset']!r}; "
                         f"allowed: {', '.join(allowed_data) or 'none'}.")
    _train_config(out).validate(source)
    return out


def _train_config(spec: dict) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in spec.items() if k in names})


def build(spec: dict):
    """(data, model, TrainConfig) for a resolved spec."""
    from .data import load_dataset
    from .nets import build_net

    data = load_dataset(spec["dataset"], train_subset=spec["train_subset"] or None,
                        test_subset=spec["test_subset"] or None, **spec["data_options"])
    model = build_net(spec["net"], data.input_shape, data.num_classes, seed=spec["seed"], init=spec["init"],
                      **spec["net_options"])
    return data, model, _train_config(spec)


def free_keys(spec: dict) -> set[str]:
    """Spec keys that may change on --resume / sweep reuse: cosmetic ones, and ``epochs`` at a
    constant lr (a run extended by more epochs continues the same trajectory)."""
    keys = {"name", "description", "progress", "eval_batch_size", "threads"}
    if spec.get("schedule") == "constant":
        keys.add("epochs")
    return keys


def run(spec: dict, run_dir, *, resume: bool = False, overwrite: bool = False, callbacks=()) -> dict:
    """Train the model a resolved spec describes into the run folder ``run_dir``; the summary."""
    from .. import substrates

    return substrates.run(spec, run_dir, resume=resume, overwrite=overwrite, callbacks=callbacks)


def run_in(spec: dict, folder: RunFolder, *, callbacks=()) -> dict:
    """The protocol's run: train/simulate a resolved spec into an open, locked RunFolder; the summary."""
    import torch.distributed as dist

    from .trainer import init_distributed, train

    joined_here = not (dist.is_available() and dist.is_initialized())
    rank, world = init_distributed()
    data, model, config = build(spec)
    folder.record_data_files(data.info.get("files", []))
    work = sum(p.numel() for p in model.parameters() if p.requires_grad) * config.batch_size
    threads = use_threads(spec["threads"], work)
    summary = train(model, data, config, folder, callbacks=callbacks)
    summary.update(name=spec["name"], dataset=spec["dataset"], net=spec["net"], threads=threads,
                   train_examples=len(data.x_train), test_examples=len(data.x_test),
                   data_files=folder.data_files, weight_unit="a.u.")
    if spec["dataset"] == "fortunes" and summary.get("final_test_loss") is not None:
        summary["final_test_bits_per_char"] = summary["final_test_loss"] / math.log(2)
    weights = {n: p.detach().float().cpu().numpy() for n, p in model.named_parameters()}
    folder.write_summary(summary)
    folder.save_weights(weights)
    if folder.writer:
        _figures(folder, weights, summary)
    if world > 1 and joined_here:
        # every rank waits here until rank 0 has written the run folder: a rank that tore its gloo
        # group down while rank 0 was still writing once aborted at exit ("terminate called
        # without an active exception", CI, 2 busy cores)
        dist.barrier()
        dist.destroy_process_group()
    return summary


def headline(summary: dict) -> str:
    """One line for the CLI: accuracy, loss, epochs, wall time, optimizer state; why it failed."""
    s = summary
    return join_headline([
        headline_part("test accuracy", s.get("final_test_acc")), headline_part("test loss", s.get("final_test_loss")),
        headline_part("bits/char", s.get("final_test_bits_per_char"), ".3f"),
        f"epochs {s.get('epochs_completed')}/{s.get('epochs')}",
        headline_part("train time", s.get("train_time_s"), ".1f", " s (wall)"),
        headline_part("optimizer state", s.get("state_bytes_per_param"), "g", " B/param")], s)


def weight_groups(source) -> dict:
    """Every weight matrix (ndim > 1) of a built net (nn.Module) or of a run folder's weights.npz,
    with its initial values (run folders) and Madam's bound where the run recorded one; deep nets
    prescribe no sign."""
    from ..substrates import WeightGroup, groups_from_folder

    if hasattr(source, "named_parameters"):
        return {n: WeightGroup(n, p.detach().float().cpu().numpy()) for n, p in source.named_parameters() if p.ndim > 1}
    return {k: g for k, g in groups_from_folder(source).items() if g.w.ndim > 1}



def _figures(folder: RunFolder, weights: dict, summary: dict) -> None:
    from .figures import log_weight_histograms, training_curves

    title = f"{summary['name']}: {summary['optimizer']} lr={summary['lr']:g}"
    folder.save_figure(training_curves({title: folder.metrics()}), "curves.png")
    folder.save_figure(log_weight_histograms({summary["optimizer"]: weights}), "weights.png")
