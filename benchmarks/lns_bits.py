"""Synaptic precision: LNS training at 8, 5 and ~4.7 bits against fair low-precision baselines.

    python3 benchmarks/lns_bits.py --device cuda --budget gpu240 --workers 12 --wall 228 --tar OUT/lns15.tar.gz
    python3 benchmarks/lns_bits.py --device cpu --smoke --workers 2 --wall 120      # end-to-end check, tiny
    python3 benchmarks/lns_bits.py --from-raw docs/lns_bits_cuda_gpu240.json        # rebuild md + png
    python3 benchmarks/lns_bits.py --device cpu --budget deep20k --tasks deep_mlp --workers 1 --wall 5700
                                                      # the 16-layer MLP on one CPU core (no GPU lent)
    python3 benchmarks/lns_bits.py --device cpu --budget mem --configs lns8,lns8_bf16,lns8_log8 --seeds 5 --workers 1 --wall 3000
                                                      # the memory study (2 bytes/param), CPU tasks
    python3 benchmarks/lns_bits.py --device cpu --budget tf25 --tasks transformer --workers 2 --wall 5400
                                                      # the character Transformer, every format, on 2 CPU cores
    python3 benchmarks/lns_bits.py --device cpu --budget cnnfull --tasks cnn --workers 2 --wall 7200 --out runs/lns_cnnfull
                                                      # the CNN on the full data, tier 1 in one 2-core sitting
    python3 benchmarks/lns_bits.py --device cpu --budget cnn30 --tasks cnn --workers 2 --wall 7200 --out runs/lns_cnn30 \
        --resume-from docs/lns_bits_cpu_cnn30.json     # a study over several sittings: each goes on from the
                                                      # report the last one committed (the first omits --resume-from)
    python3 benchmarks/lns_bits_summary.py            # one tasks x formats table from every report's .json

Tasks (packaged model specs, the deep/ nets and trainer): the 16-layer MLP and the CNN on
Fashion-MNIST, the ResNet on a subset, the character Transformer on the fortune files. Every
run is fp32 forward (amp off), so only the stored weights change between formats.

Formats (each a registered optimizer, :mod:`synapse_madam.optim`):
  * FP32 Madam (lr 0.01), the reference every gap is measured against;
  * LNSMadam at 8, 5 (and 4) bits, and Bartol et al. 2015's synapse format: 26 magnitude levels
    (log2 26 = 4.7 bits) spaced by the factor e^(2 * 0.083) ~ 1.18, stored with the sign in a
    6-bit code. All at lr 0.01, stochastic rounding, float32 second moment: nothing tuned;
  * the spacing sensitivity: 26 levels at spacing e^(2 * 0.083 * f), f = 1/4 .. 4;
  * fair baselines, each at its own best lr from the one grid LR_GRID (chosen on seed 0, then
    seeds 1.. at that lr): the uniform fixed-point grid with stochastic rounding + Adam at 4, 5
    and 8 bits; FP8 (e4m3, e5m2) weights with Adam and with Madam and bf16 weights, stochastic
    rounding and no master copy (the equal-bits comparison); FP8 e4m3 + Adam with an FP32
    master copy (Micikevicius et al. 2022's recipe, not a low-bit state); FP32 Adam.
  * FP32 Madam for LONG_FACTOR x the budget (seed 0): how far the budget is from convergence
    (where a budget sets an lr schedule, e.g. ``deep20k``'s cosine decay, the longer run anneals
    over its own longer span);
  * the memory study: 8-bit LNSMadam with its second moment in bfloat16 or as an 8-bit log code
    (``second_moment_dtype="log8"``, :mod:`synapse_madam.optim.log_moment`): 3 and 2 bytes/param,
    at lr 0.01, nothing tuned. Budget ``mem`` runs it on CPU-sized tasks (the digits MLP, the
    2 x 256 Fashion-MNIST MLP on 10 000 images, the CNN on 5 000 images).

Runs go to a pool of worker processes (one device, ``--workers`` at once) in priority order;
a run that would not end before ``--wall`` is not started, one still running then is stopped,
and the report lists both. Every finished run writes one JSON file (raw/); the report is
built from those files only, so ``--from-raw`` regenerates it exactly. Output per device and
budget: docs/lns_bits_<device>_<budget>.md, .png and .json (all runs, compact).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import statistics
import sys
import tarfile
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BARTOL_LOG_SPACING = 2 * 0.083          # ln of the size ratio between adjacent levels (Bartol 2015)
BARTOL_LEVELS = 26
SPACING_FACTORS = (0.25, 0.5, 2.0, 4.0)  # the sensitivity study (f = 1 is Bartol's own spacing)
LR_GRID = (0.001, 0.01, 0.1)
LONG_FACTOR = 3
SEPARATION_POINTS = 1.0                  # 4 vs 8 bits (uniform + SR) must differ by >= 1 point ...
SEPARATION_P = 0.05                      # ... with Welch's p < 0.05

TASKS = {  # name -> (packaged spec, short description)
    "deep_mlp": ("fashion_deep_mlp", "16-layer MLP (16 x 128) on Fashion-MNIST"),
    "cnn": ("fashion_cnn", "small CNN on Fashion-MNIST"),
    "transformer": ("fortunes_transformer", "char Transformer (2 layers, d 128) on the fortune files"),
    "resnet": ("fashion_resnet", "ResNet-14 on a Fashion-MNIST subset"),
    "digits_mlp": ("digits_mlp", "MLP (3 x 128) on scikit-learn's 8x8 digits"),
    "mlp": ("fashion_mlp", "MLP (2 x 256) on Fashion-MNIST"),
}

# budget -> task -> (spec overrides, prior seconds per run on that device: only for scheduling)
BUDGETS = {
    "gpu240": {
        "deep_mlp": (["epochs=8", "train_subset=20000"], 12.0),
        "cnn": (["epochs=5"], 8.0),
        "transformer": (["epochs=25"], 10.0),
        "resnet": (["epochs=6", "train_subset=10000"], 10.0),
    },
    "deep20k": {  # the 16-layer MLP on one CPU core: 20 000 images, 30 epochs, cosine decay from lr (FP32 Madam
                  # 84.95 % at 30 and 85.44 % at 90 epochs, seed 0, in the probe that picked it)
        "deep_mlp": (["epochs=30", "train_subset=20000", 'schedule="cosine"'], 45.0),
    },
    "tf25": {  # the character Transformer on one CPU core: gpu240's budget for it (25 epochs, constant lr),
               # 4 s per epoch on a quiet core
        "transformer": (["epochs=25"], 100.0),
    },
    "resnet4k": {  # the ResNet on one CPU core: 4000 images, 8 epochs, the spec's cosine decay
        "resnet": (["epochs=8", "train_subset=4000"], 130.0),
    },
    "cnnfull": {  # the CNN on all 60 000 Fashion-MNIST images on 2 CPU cores: 8 epochs with the cosine decay, so
                  # that tier 1 (40 runs of ~6 min) fits one sitting. 5 epochs did not converge (FP32 Madam
                  # seed 0: 88.73 % at 5 epochs, 90.84 % at 15, both cosine; the H100's constant lr: +2.5)
        "cnn": (["epochs=8", 'schedule="cosine"'], 360.0),
    },
    "cnn30": {  # the CNN on the full data at a budget meant to converge: a power law A - B E^-c fitted to FP32
                # Madam's accuracy after E cosine epochs, seed 0 (88.73, 89.79, 90.84, 91.45 % at E = 5, 8, 15,
                # 24: cnnfull and a probe) puts 3x the epochs +0.84 ahead at 30. About 14 CPU core-hours for
                # tier 1 (several sittings with --resume-from), minutes on a GPU. Converged: 3x is +0.42
                # (docs/lns_bits_cpu_cnn30.md)
        "cnn": (["epochs=30", 'schedule="cosine"'], 1300.0),
    },
    "cnn5k": {  # the spacing study where no GPU is left: the CNN on 5000 images, 3 epochs
        "cnn": (["epochs=3", "train_subset=5000"], 10.0),
    },
    "mem": {  # the memory study on one CPU core: minutes per task
        "digits_mlp": (["epochs=20"], 12.0),
        "mlp": (["epochs=30", "train_subset=10000"], 40.0),
        "cnn": (["epochs=3", "train_subset=5000"], 45.0),
    },
    "smoke": {
        "deep_mlp": (["epochs=1", "train_subset=256", "test_subset=256", "net_options.depth=3",
                      "net_options.width=16"], 2.0),
        "cnn": (["epochs=1", "train_subset=256", "test_subset=256", "net_options.channels=4",
                 "net_options.hidden=16"], 2.0),
        "transformer": (["epochs=1", "train_subset=64", "test_subset=32", "net_options.d_model=16",
                         "net_options.heads=2", "net_options.layers=1"], 2.0),
        "resnet": (["epochs=1", "train_subset=128", "test_subset=128", "net_options.width=4",
                    "net_options.blocks=1"], 2.0),
        "digits_mlp": (["epochs=1", "net_options.width=16"], 2.0),
        "mlp": (["epochs=1", "train_subset=256", "test_subset=256", "net_options.width=16"], 2.0),
    },
}
COMMON = ['amp="off"', "progress=false", "threads=1"]


@dataclass(frozen=True)
class Config:
    """One weight format / optimizer: ``lr`` fixed, or None for the best of LR_GRID."""

    key: str
    label: str
    optimizer: str
    options: dict
    lr: float | None
    bits: float | None        # bits per weight (stored), None for FP32
    group: str                 # fp32 | lns | fair | recipe | spacing | long
    tier: int
    spacing: float | None = None  # ln(base) of the LNS formats (the 26-level ones and the default 8/5/4 bits)


def default_spacing(bits: int) -> float:
    """ln(base) of LNSMadam's default B-bit format: 2^(B-1) levels spanning LNS-Madam's 8-bit
    dynamic range 2^(127/8), so ln(base) = (127/8) ln 2 / (2^(B-1) - 1): 0.087 at 8 bits (half
    Bartol's spacing), 0.73 at 5 (4.4 times it), 1.57 at 4."""
    from synapse_madam.lns import LNSFormat

    return LNSFormat(bits).log_base


def configs() -> list[Config]:
    b = BARTOL_LOG_SPACING
    out = [
        Config("madam", "FP32 Madam", "madam", {}, 0.01, None, "fp32", 1),
        Config("lns8", "LNSMadam 8 bits", "lns_madam", {"bits": 8}, 0.01, 8, "lns", 1, default_spacing(8)),
        Config("lns5", "LNSMadam 5 bits", "lns_madam", {"bits": 5}, 0.01, 5, "lns", 1, default_spacing(5)),
        Config("bartol", "Bartol 26 levels (4.7 bits)", "lns_madam",
               {"bits": 6, "levels": BARTOL_LEVELS, "base": math.exp(b)}, 0.01, math.log2(BARTOL_LEVELS), "lns", 1, b),
        Config("uni4", "uniform 4 bits + Adam, SR", "adam_uniform", {"bits": 4, "rounding": "stochastic"}, None, 4, "fair", 1),
        Config("uni5", "uniform 5 bits + Adam, SR", "adam_uniform", {"bits": 5, "rounding": "stochastic"}, None, 5, "fair", 1),
        Config("uni8", "uniform 8 bits + Adam, SR", "adam_uniform", {"bits": 8, "rounding": "stochastic"}, None, 8, "fair", 1),
        Config("e4m3_adam", "FP8 e4m3 + Adam, SR, no master", "adam_float", {"format": "float8_e4m3fn"}, None, 8, "fair", 1),
        Config("bf16_adam", "bf16 + Adam, SR, no master", "adam_float", {"format": "bfloat16"}, None, 16, "fair", 1),
    ]
    out += [Config(f"spacing_{f:g}", f"26 levels, spacing x{f:g}", "lns_madam",
                   {"bits": 6, "levels": BARTOL_LEVELS, "base": math.exp(b * f)}, 0.01, math.log2(BARTOL_LEVELS),
                   "spacing", 2, b * f) for f in SPACING_FACTORS]
    out += [
        Config("e5m2_adam", "FP8 e5m2 + Adam, SR, no master", "adam_float", {"format": "float8_e5m2"}, None, 8, "fair", 3),
        Config("e4m3_madam", "FP8 e4m3 + Madam, SR, no master", "madam_float", {"format": "float8_e4m3fn"}, None, 8, "fair", 3),
        Config("e5m2_madam", "FP8 e5m2 + Madam, SR, no master", "madam_float", {"format": "float8_e5m2"}, None, 8, "fair", 3),
        Config("bf16_madam", "bf16 + Madam, SR, no master", "madam_float", {"format": "bfloat16"}, None, 16, "fair", 3),
        Config("e4m3_master", "FP8 e4m3 + Adam, FP32 master (recipe)", "adam_float",
               {"format": "float8_e4m3fn", "master": True, "rounding": "nearest"}, None, 8, "recipe", 3),
        Config("adam", "FP32 Adam", "adam", {}, None, None, "fp32", 3),
        Config("lns4", "LNSMadam 4 bits", "lns_madam", {"bits": 4}, 0.01, 4, "lns", 3, default_spacing(4)),
        Config("lns8_bf16", "LNSMadam 8 bits, bfloat16 v", "lns_madam", {"bits": 8, "second_moment_dtype": "bfloat16"},
               0.01, 8, "lns", 3),
        Config("lns8_log8", "LNSMadam 8 bits, log8 v", "lns_madam", {"bits": 8, "second_moment_dtype": "log8"},
               0.01, 8, "lns", 3),
    ]
    return out


CONFIGS = {c.key: c for c in configs()}


@dataclass
class Job:
    id: str
    task: str
    config: str
    lr: float
    seed: int
    overrides: list
    epochs_factor: int = 1
    priority: tuple = ()
    depends_on: str | None = None   # config whose seed-0 grid picks this job's lr
    est_s: float = 0.0
    extra: dict = field(default_factory=dict)


def plan(tasks, seeds: int, budget: str, only=None) -> list[Job]:
    """Every job, in priority order: tier 1 of the first tasks, then the spacing study, tier 3,
    and the ResNet last (it is dropped first when time runs out). ``only``: config keys to run
    (default all; FP32 Madam and its longer run always run, every gap is measured against them)."""
    jobs = []
    task_rank = {t: (1 if t == "resnet" else 0, i) for i, t in enumerate(tasks)}
    for task in tasks:
        overrides, est = BUDGETS[budget][task]
        base_epochs = int(next(o.split("=")[1] for o in overrides if o.startswith("epochs=")))
        late, order = task_rank[task]
        jobs.append(Job(f"{task}__long__s0", task, "long", 0.01, 0, overrides, LONG_FACTOR,
                        (late, 0, 0, order, 0), est_s=est * LONG_FACTOR,
                        extra={"epochs": base_epochs * LONG_FACTOR}))
        for ci, c in enumerate(configs()):
            if only is not None and c.key not in only and c.key != "madam":
                continue
            for seed in range(seeds):
                phase = min(seed, 1)
                pr = (late, c.tier, phase, order, ci, seed)
                if c.lr is not None:
                    jobs.append(Job(f"{task}__{c.key}__lr{c.lr:g}__s{seed}", task, c.key, c.lr, seed, overrides,
                                    priority=pr, est_s=est))
                elif seed == 0:
                    for lr in LR_GRID:
                        jobs.append(Job(f"{task}__{c.key}__lr{lr:g}__s0", task, c.key, lr, 0, overrides,
                                        priority=pr, est_s=est))
                else:
                    jobs.append(Job(f"{task}__{c.key}__best__s{seed}", task, c.key, float("nan"), seed, overrides,
                                    priority=pr, depends_on=c.key, est_s=est))
    return sorted(jobs, key=lambda j: j.priority)


def text_corpus_fallback(out: Path):
    """Where no fortune files are installed (a bare GPU machine): spec overrides that train the
    Transformer on the English text of Python's own help topics (``pydoc_data.topics``, shipped
    with CPython, PSF licence), as many training windows as the fortune corpus has (1372) and 152
    test windows; None when that module is missing too."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        return None
    path = out / "pydoc_topics.txt"
    path.write_text("\n\n".join(topics[k] for k in sorted(topics)), encoding="utf-8")
    return [f'data_options.data_dir="{path}"', "train_subset=1372", "test_subset=152"]


# ------------------------------------------------------------------------------------ the worker


def _exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Body of a worker's watchdog thread: end the worker once the scheduler that spawned it is
    gone. A scheduler stopped by a signal (``kill PID``, a session's end) never shuts its pool
    down, and its workers would otherwise train on as orphans, holding the cores the next sitting
    needs. An orphan is re-parented, so its parent pid changes; a run it was training is lost, not
    half-written (its record is written only at its end), and ``--resume`` runs it again."""
    while True:
        time.sleep(poll_s)
        if os.getppid() != parent_pid:
            os._exit(1)


def _worker_init(device: str) -> None:
    import threading

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="exit-with-parent").start()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def worker_pool(workers: int, device: str):
    """The scheduler's pool: ``workers`` spawned processes, each set up by ``_worker_init``."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                               initargs=(device,))


class _OutOfTime(Exception):
    pass


def run_job(job: Job, device: str, deadline: float, raw_dir: str) -> dict:
    """Train one job in this (worker) process; write and return its raw record."""
    t0 = time.time()
    rec = {"id": job.id, "task": job.task, "config": job.config, "lr": job.lr, "seed": job.seed,
           "overrides": job.overrides, "epochs_factor": job.epochs_factor, "pid": os.getpid()}
    try:
        from synapse_madam import substrates
        from synapse_madam.deep import runner
        from synapse_madam.deep.trainer import train

        rec["import_s"] = time.time() - t0  # a worker's first job pays for importing torch

        spec = substrates.load_spec(TASKS[job.task][0])
        spec = substrates.apply_overrides(spec, COMMON + list(job.overrides) + [f'device="{device}"'])
        if job.config == "long":
            c_opt, c_options = "madam", {}
            spec["epochs"] = int(spec["epochs"]) * job.epochs_factor
        else:
            c = CONFIGS[job.config]
            c_opt, c_options = c.optimizer, dict(c.options)
        if c_opt in ("lns_madam", "adam_uniform", "adam_float", "madam_float"):
            c_options["seed"] = job.seed
        spec.update(optimizer=c_opt, lr=job.lr, seed=job.seed, optimizer_options=c_options, name=job.id)
        spec = substrates.validate(spec, job.id)
        data, model, config = runner.build(spec)
        curve = []

        def record(r):
            curve.append({"epoch": r["epoch"], "test_acc": r["test_acc"], "train_loss": r["train_loss"],
                          "test_loss": r["test_loss"], "s": r["epoch_time_s"]})
            if time.time() > deadline and r["epoch"] < config.epochs:
                raise _OutOfTime(f"stopped after epoch {r['epoch']}/{config.epochs}: wall limit")

        s = train(model, data, config, None, callbacks=[record])
        keep = ("final_test_acc", "best_test_acc", "final_test_loss", "final_train_loss", "diverged", "failed",
                "epochs", "epochs_completed", "train_time_s", "epoch_time_s", "parameters", "device",
                "state_bytes_per_param", "batch_size", "schedule")
        rec.update(status="done", summary={k: s.get(k) for k in keep}, curve=curve,
                   train_examples=len(data.x_train), test_examples=len(data.x_test))
    except _OutOfTime as exc:
        rec.update(status="cut", reason=str(exc))
    except Exception as exc:  # a failed run is a recorded result, the pool goes on
        rec.update(status="error", reason=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc()[-2000:])
    rec["wall_s"] = time.time() - t0
    Path(raw_dir, f"{job.id}.json").write_text(json.dumps(rec))
    return rec


# ---------------------------------------------------------------------------------- the scheduler


def schedule(jobs: list[Job], *, device: str, workers: int, deadline: float, raw_dir: Path, log=print,
             done: list[dict] = ()) -> list[dict]:
    """Run ``jobs`` on a pool of ``workers`` processes, in order, as time allows. ``done``: the
    finished runs of an earlier invocation of the same plan (``--resume``): their jobs are not
    run again, and their seed-0 grid runs count when a baseline's lr is picked."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    finished = {r["id"] for r in done if r.get("status") == "done"}
    pending = [j for j in jobs if j.id not in finished]
    results: list[dict] = [r for r in done if r["id"] in finished]
    skipped: list[dict] = []
    observed: dict = {}  # (task, optimizer family) -> seconds per epoch-factor of finished runs
    best_lr: dict = {}

    def note_time(rec):
        fam = "long" if rec["config"] == "long" else CONFIGS[rec["config"]].optimizer
        per = (rec["wall_s"] - rec.get("import_s", 0.0)) / rec.get("epochs_factor", 1)
        observed.setdefault((rec["task"], fam), []).append(per)
        observed.setdefault((rec["task"], "*"), []).append(per)

    for rec in results:
        note_time(rec)

    def estimate(job):
        fam = job.config if job.config == "long" else CONFIGS[job.config].optimizer
        seen = observed.get((job.task, fam)) or observed.get((job.task, "*"))
        return (statistics.median(seen) * job.epochs_factor) if seen else job.est_s

    def grid_done(task, key):
        grid = [j for j in pending if j.task == task and j.config == key and j.seed == 0]
        return not grid and not any(f_job.task == task and f_job.config == key and f_job.seed == 0
                                    for f_job in running.values())

    def pick_lr(task, key):
        rs = [r for r in results if r["task"] == task and r["config"] == key and r["seed"] == 0 and r["status"] == "done"]
        if not rs:
            return None
        best = max(rs, key=lambda r: (r["summary"]["final_test_acc"] or 0.0, -abs(math.log10(r["lr"] / 0.01))))
        return best["lr"]

    running: dict = {}
    pool = worker_pool(workers, device)
    try:
        while pending or running:
            now = time.time()
            while len(running) < workers:
                chosen = None
                for job in pending:
                    if job.depends_on:
                        if not grid_done(job.task, job.depends_on):
                            continue
                        lr = best_lr.setdefault((job.task, job.depends_on), pick_lr(job.task, job.depends_on))
                        if lr is None:
                            pending.remove(job)
                            skipped.append({"id": job.id, "task": job.task, "config": job.config, "seed": job.seed,
                                            "status": "dropped", "reason": "no grid run finished"})
                            break
                        job.lr = lr
                    if now + 1.1 * estimate(job) > deadline:
                        continue
                    chosen = job
                    break
                if chosen is None:
                    break
                pending.remove(chosen)
                try:
                    running[pool.submit(run_job, chosen, device, deadline, str(raw_dir))] = chosen
                except BrokenProcessPool:  # a worker died (killed, crashed): a fresh pool goes on
                    pending.insert(0, chosen)
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = worker_pool(workers, device)
                    break
            if not running:
                if pending and all(now + 1.1 * estimate(j) > deadline or j.depends_on for j in pending):
                    for j in pending:
                        skipped.append({"id": j.id, "task": j.task, "config": j.config, "seed": j.seed,
                                        "status": "dropped", "reason": "would not finish before the wall limit"})
                    pending.clear()
                continue
            done, _ = wait(list(running), timeout=5, return_when=FIRST_COMPLETED)
            for fut in done:
                job = running.pop(fut)
                try:
                    rec = fut.result()
                except Exception as exc:  # the worker process died
                    rec = {"id": job.id, "task": job.task, "config": job.config, "lr": job.lr, "seed": job.seed,
                           "status": "error", "reason": f"worker: {type(exc).__name__}: {exc}", "wall_s": None}
                results.append(rec)
                if rec["status"] == "done":
                    note_time(rec)
                acc = (rec.get("summary") or {}).get("final_test_acc")
                log(f"[{time.strftime('%H:%M:%S')}] {rec['status']:5s} {job.id:45s} lr={rec['lr']:<6g} "
                    f"acc={acc if acc is None else round(100 * acc, 2)} {rec.get('wall_s') or 0:.1f}s "
                    f"left={len(pending)} {rec.get('reason', '')}", flush=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results + skipped


# ------------------------------------------------------------------------------------- the report


def _m(xs):
    xs = [x for x in xs if x is not None]
    return statistics.mean(xs) if xs else None


def _sd(xs):
    xs = [x for x in xs if x is not None]
    return statistics.stdev(xs) if len(xs) > 1 else None


def _fmt(x, spec=".2f", none="–"):
    return none if x is None else format(x, spec)


def summarise(records: list[dict]) -> dict:
    """task -> config -> {lr, accs (%), mean, sd, n, bytes, grid {lr: acc}}; the numbers of the report."""
    out: dict = {}
    done = [r for r in records if r.get("status") == "done"]
    for task in dict.fromkeys(r["task"] for r in records):
        tr = [r for r in done if r["task"] == task]
        rows = {}
        for key in ["long"] + list(CONFIGS):
            rs = [r for r in tr if r["config"] == key]
            if not rs:
                continue
            grid = {r["lr"]: 100 * r["summary"]["final_test_acc"] for r in rs if r["seed"] == 0
                    and r["summary"]["final_test_acc"] is not None}
            c = CONFIGS.get(key)
            if c is not None and c.lr is None and grid:
                lr = max(grid, key=lambda lr: (grid[lr], -abs(math.log10(lr / 0.01))))
            else:
                lr = 0.01
            at = [r for r in rs if r["lr"] == lr]
            accs = [100 * (r["summary"]["final_test_acc"] or 0.0) for r in sorted(at, key=lambda r: r["seed"])]
            rows[key] = {"lr": lr, "accs": accs, "mean": _m(accs), "sd": _sd(accs), "n": len(accs),
                         "bytes": _m([r["summary"].get("state_bytes_per_param") for r in at]),
                         "grid": grid if (c is not None and c.lr is None) else {},
                         "diverged": sum(bool(r["summary"].get("diverged")) for r in at),
                         "epochs": at[0]["summary"]["epochs"] if at else None,
                         "epoch_s": _m([r["summary"].get("epoch_time_s") for r in at]),
                         "curve": [round(100 * e["test_acc"], 2) for e in at[0].get("curve", [])] if at else []}
        out[task] = rows
    return out


def separation(rows: dict) -> dict:
    """Does the task tell 4 from 8 bits? uniform + SR (each at its best lr): >= 1 point, Welch p < 0.05."""
    a, b = rows.get("uni8"), rows.get("uni4")
    if not a or not b or a["n"] < 2 or b["n"] < 2:
        return {"separates": None, "why": "not enough seeds of uniform 4 and 8 bits"}
    from scipy import stats

    diff = a["mean"] - b["mean"]
    p = float(stats.ttest_ind(a["accs"], b["accs"], equal_var=False).pvalue) if (a["sd"] or b["sd"]) else (0.0 if diff else 1.0)
    ok = diff >= SEPARATION_POINTS and p < SEPARATION_P
    return {"separates": ok, "diff": diff, "p": p}


def targets(rows: dict) -> list[tuple]:
    """(target, value, holds) for one task, from the issue's list."""
    ref = rows.get("madam")
    out = []
    if not ref:
        return out

    def gap(key):
        r = rows.get(key)
        return None if not r else r["mean"] - ref["mean"]

    for key, limit, name in (("lns8", 0.5, "8-bit LNSMadam within 0.5 of FP32 Madam"),
                             ("lns5", 1.5, "5-bit LNSMadam within 1.5"),
                             ("bartol", 2.0, "Bartol 26 levels within 2"),
                             ("lns8_log8", 0.5, "8-bit LNSMadam with log8 v within 0.5 of FP32 Madam")):
        g = gap(key)
        out.append((name, g, None if g is None else g >= -limit))
    fair8 = [k for k in ("uni8", "e4m3_adam", "e5m2_adam", "e4m3_madam", "e5m2_madam") if k in rows]
    for key, rivals, name in (("lns8", fair8, "8-bit LNSMadam ahead of the best fair 8-bit baseline"),
                              ("lns5", ["uni5"], "5-bit LNSMadam ahead of uniform 5 bits + SR"),
                              ("bartol", ["uni5"], "Bartol (4.7 bits) ahead of uniform 5 bits + SR")):
        r = [k for k in rivals if k in rows]
        if key not in rows or not r:
            out.append((name, None, None))
            continue
        best = max(r, key=lambda k: rows[k]["mean"])
        d = rows[key]["mean"] - rows[best]["mean"]
        out.append((f"{name} ({CONFIGS[best].label})", d, d > 0))
    d = convergence(rows)
    if d is not None:
        out.append((f"FP32 Madam converged: {LONG_FACTOR}x budget no more than 1 point better (seed 0)", d, d <= 1.0))
    return out


def convergence(rows: dict) -> float | None:
    """FP32 Madam at LONG_FACTOR x the budget minus FP32 Madam at the budget, seed 0 (points); the
    budget counts as converged when this is <= 1. None without both runs."""
    long, ref = rows.get("long"), rows.get("madam")
    if not long or not ref or not ref["accs"]:
        return None
    return long["mean"] - ref["accs"][0]


def memory_comparison(rows: dict) -> str | None:
    """One sentence: the compact second moments against the float32 one at 8 bits, paired by seed
    (every format starts from the same initialisation per seed), with the bytes/param."""
    base = rows.get("lns8")
    if not base:
        return None
    parts = []
    for key in ("lns8_bf16", "lns8_log8"):
        r = rows.get(key)
        if not r:
            continue
        n = min(len(r["accs"]), len(base["accs"]))
        diffs = [a - b for a, b in zip(r["accs"][:n], base["accs"][:n])]
        parts.append(f"{CONFIGS[key].label.split(', ')[1]} minus float32 v: {_m(diffs):+.2f} ± {_fmt(_sd(diffs))} points "
                     f"(paired over {n} seeds) at {_fmt(r['bytes'], '.3f')} bytes/param instead of "
                     f"{_fmt(base['bytes'], '.3f')}")
    return ("8-bit LNSMadam, " + "; ".join(parts) + ".") if parts else None


def schedule_note(meta: dict) -> str | None:
    """A sentence for the tasks whose budget sets an lr schedule (read from the budget lines in
    ``meta``, so a report rebuilt ``--from-raw`` says the same): the lr in the table is then the
    schedule's peak, and the 3x run anneals over its own 3x epochs."""
    import re

    found = {}
    for task, line in meta.get("tasks", {}).items():
        m = re.search(r'schedule="?([a-z_]+)"?', line)
        if m and m.group(1) != "constant":
            found[task] = m.group(1)
    if not found:
        return None
    return ("**lr schedule:** " + ", ".join(f"{t}: {k}" for t, k in found.items()) + ". There every lr of the "
            "table (0.01 for the LNSMadam rows, the grid's for the baselines) is the peak, decayed to 0 over the "
            f"run; the FP32 Madam run at {LONG_FACTOR}x anneals over its own {LONG_FACTOR}x epochs, so the "
            "final accuracy, not one noisy epoch of a constant lr, is compared.")


def report(records: list[dict], meta: dict) -> str:
    summ = summarise(records)
    lines = ["# Synaptic precision: LNS training vs fair low-precision baselines", "",
             f"Command: `{meta['command']}`  ",
             f"Regenerate this file and the figure from the raw runs: `{meta['regenerate']}`  ",
             f"Load average before: {meta['load_before']}, after: {meta['load_after']}  ",
             f"Device: {meta['device_name']} ({meta['device']}); torch {meta['torch']}; python {meta['python']}; "
             f"{meta['workers']} worker processes at once; wall {meta['wall_s']:.0f} s of a {meta['wall_limit']:.0f} s limit; "
             f"{meta['cpu_count']} CPU cores.  ",
             f"Budget `{meta['budget']}`; seeds {meta['seeds']}; mean ± sd of the final test accuracy (%) over seeds.", "",
             "How to read it: every format trains the same net from the same initialisation per seed, fp32 forward "
             "(amp off). LNSMadam rows (and Bartol's) use lr 0.01, stochastic rounding, nothing tuned. Baselines "
             f"marked *grid* ran every lr of {list(LR_GRID)} on seed 0; the best seed-0 accuracy picks the lr at "
             "which the other seeds ran (seed 0 is in the mean: a selection that favours the baselines). "
             "SR = stochastic rounding; bytes/param = persistent training state measured from the tensors "
             "held (weights + optimizer state; the uniform grid keeps its values in float32 parameters, so "
             "its bytes are not a low-bit count). Δ vs FP32 Madam mixes the optimizer with the format for "
             "the Adam rows; *Δ vs own FP32* compares each row with FP32 training by its own optimizer "
             "(FP32 Madam or FP32 Adam at its best grid lr) where that run exists.", ""]
    calls = meta.get("invocations") or []
    if len(calls) > 1:
        lines += [f"**Run in {len(calls)} invocations** of the plan (each later one with `--resume` and the same "
                  "--out, which keeps the finished runs and runs the rest): "
                  + "; ".join(f"{i + 1}. {c['finished']} runs in {c['wall_s']:.0f} s, load {c['load_before']} before, "
                              f"{c['load_after']} after" if c.get("wall_s") is not None else
                              f"{i + 1}. {c['finished']} runs, then stopped before its end (load {c['load_before']} "
                              "before; its runs counted from their files)" for i, c in enumerate(calls))
                  + ". The command above is the last one.", ""]
    note = schedule_note(meta)
    if note:
        lines += [note, ""]
    planned = [r for r in records if r.get("status") in ("done", "cut", "dropped", "error")]
    counts = {k: sum(r.get("status") == k for r in planned) for k in ("done", "cut", "dropped", "error")}
    lines += [f"**Coverage:** {counts['done']} of {len(planned)} planned runs finished; {counts['cut']} were stopped "
              f"at the wall limit, {counts['dropped']} not started (they would not have finished), "
              f"{counts['error']} failed. The tables hold finished runs only (column n: seeds); a missing "
              "row or seed is listed at the end.", ""]
    tasks_note = meta.get("tasks", {})
    for task, rows in summ.items():
        ref = rows.get("madam")
        ep = _m([r["epoch_s"] for r in rows.values() if r.get("epoch_s")])
        lines += [f"## {task}: {TASKS[task][1]}", "", f"Budget: {tasks_note.get(task, '')}"
                  + (f"; {ep:.2f} s per epoch on average with the other workers running" if ep else ""), ""]
        sep = separation(rows)
        if sep["separates"] is None:
            lines.append(f"**Separation check:** {sep['why']}.")
        else:
            lines.append(f"**Separation check:** uniform + SR at 8 bits minus 4 bits = {sep['diff']:+.2f} points "
                         f"(Welch p = {sep['p']:.2g}): this task "
                         f"{'separates precisions' if sep['separates'] else '**does not separate precisions** (its gaps say little)'}.")
        long = rows.get("long")
        if convergence(rows) is not None:
            lines.append(f"**Convergence:** FP32 Madam {ref['mean']:.2f} % at the budget ({ref['epochs']} epochs), "
                         f"{long['mean']:.2f} % at {LONG_FACTOR}x ({long['epochs']} epochs, seed 0; seed 0 at the "
                         f"budget {ref['accs'][0]:.2f} %): "
                         + ("the longer run is no more than 1 point better: converged within 1 point at this budget."
                            if long['mean'] - ref['accs'][0] <= 1.0 else
                            f"the longer run is {long['mean'] - ref['accs'][0]:.1f} points better: **not converged** at "
                            "this budget (the gaps below are those of a short run)."))
        lines += ["", "| format | bits/weight | lr | acc % | Δ vs FP32 Madam | Δ vs own FP32 | n | bytes/param | "
                  "grid (seed 0) |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for key, r in rows.items():
            if key == "long":
                continue
            c = CONFIGS[key]
            d = None if not ref else r["mean"] - ref["mean"]
            grid = ", ".join(f"{lr:g}: {a:.1f}" for lr, a in sorted(r["grid"].items()))
            lr = f"{r['lr']:g}" + (" *grid*" if c.lr is None else "")
            bits = "32" if c.bits is None else f"{c.bits:.3g}"
            div = f" ({r['diverged']} diverged)" if r["diverged"] else ""
            own = rows.get("madam" if c.optimizer in ("madam", "lns_madam", "madam_float") else "adam")
            d_own = None if (not own or key in ("madam", "adam")) else r["mean"] - own["mean"]
            lines.append(f"| {c.label} | {bits} | {lr} | {r['mean']:.2f} ± {_fmt(r['sd'])}{div} | "
                         f"{_fmt(d, '+.2f')} | {_fmt(d_own, '+.2f')} | {r['n']} | {_fmt(r['bytes'], '.3f')} | {grid} |")
        mem = memory_comparison(rows)
        if mem:
            lines += ["", f"**Memory:** {mem}"]
        lines += ["", "| target | value (points) | holds |", "|---|---:|---|"]
        for name, v, ok in targets(rows):
            lines.append(f"| {name} | {_fmt(v, '+.2f')} | {'–' if ok is None else ('yes' if ok else '**no**')} |")
        lines.append("")
    lines += ["## Bartol's format: 26 levels, spacing sensitivity", "",
              f"26 magnitude levels (log2 26 = 4.70 bits; sign fixed, as under Madam and Dale's law), level ratio "
              f"e^(2·0.083·f); f = 1 is Bartol et al. 2015's measured spacing (ratio {math.exp(BARTOL_LOG_SPACING):.3f}, "
              f"range {math.exp(25 * BARTOL_LOG_SPACING):.0f}x). Gap to FP32 Madam (points, mean ± sd over seeds):", "",
              "| task | " + " | ".join(f"f = {f:g} (x{math.exp(BARTOL_LOG_SPACING * f):.3f})"
                                       for f in sorted((1.0,) + SPACING_FACTORS)) + " |",
              "|---|" + "---:|" * (len(SPACING_FACTORS) + 1)]
    for task, rows in summ.items():
        ref = rows.get("madam")
        cells = []
        for f in sorted((1.0,) + SPACING_FACTORS):
            r = rows.get("bartol" if f == 1.0 else f"spacing_{f:g}")
            cells.append("–" if not (r and ref) else f"{r['mean'] - ref['mean']:+.2f} ± {_fmt(r['sd'])}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines += ["", f"Figure: [{meta['stem']}.png]({meta['stem']}.png) (left: gap to FP32 Madam per format and task; "
              "right: the spacing study).", ""]
    not_done = [r for r in records if r.get("status") != "done"]
    lines += ["## Runs not in the tables", ""]
    if not not_done:
        lines.append("None: every planned run finished.")
    else:
        by = {}
        for r in not_done:
            by.setdefault((r["status"], r.get("reason", "").split(":")[0][:60]), []).append(r["id"])
        for (status, why), ids in by.items():
            lines.append(f"- {status} ({why}): {len(ids)} runs: " + ", ".join(sorted(ids)[:40])
                         + (" ..." if len(ids) > 40 else ""))
    lines.append("")
    return "\n".join(lines)


def figure(records: list[dict], path: Path) -> None:
    from synapse_madam import plots
    from synapse_madam.deep.figures import precision_gaps

    plots.save_figure(precision_gaps(gap_panels(summarise(records)), bartol_spacing=BARTOL_LOG_SPACING,
                                     spacing_keys=spacing_labels()), path)


def spacing_labels() -> list[str]:
    """The labels of the 26-level formats, Bartol's spacing first (the figure's right panel)."""
    return [CONFIGS["bartol"].label] + [CONFIGS[f"spacing_{f:g}"].label for f in SPACING_FACTORS]


def gap_panels(summ: dict) -> dict:
    """name -> {format label: (gap to FP32 Madam, sd, ln(base) of the LNS formats or None)}, the
    figure's input, for every task of ``summarise``'s output that has FP32 Madam."""
    panels = {}
    for task, rows in summ.items():
        ref = rows.get("madam")
        if not ref:
            continue
        panels[task] = {CONFIGS[k].label: (r["mean"] - ref["mean"], r["sd"] or 0.0,
                                           CONFIGS[k].spacing if CONFIGS[k].group in ("spacing", "lns") else None)
                        for k, r in rows.items() if k not in ("long", "madam")}
    return panels


def write_outputs(records: list[dict], meta: dict, docs: Path) -> Path:
    from synapse_madam.io import atomic_write_text

    docs.mkdir(parents=True, exist_ok=True)
    stem = meta["stem"]
    compact = [{k: v for k, v in r.items() if k not in ("trace", "pid")} for r in records]
    atomic_write_text(docs / f"{stem}.json", json.dumps({"meta": meta, "runs": compact}, indent=0))
    atomic_write_text(docs / f"{stem}.md", report(records, meta))
    figure(records, docs / f"{stem}.png")
    return docs / f"{stem}.md"


def _load_raw(path: Path) -> tuple[list, dict]:
    """(records, meta) from a compact json, a tar.gz written by a run, or a folder with raw/ and meta.json."""
    if path.suffix == ".json":
        d = json.loads(path.read_text())
        return d["runs"], d["meta"]
    if path.name.endswith((".tar.gz", ".tgz")):
        tmp = Path(tempfile.mkdtemp())
        with tarfile.open(path) as tar:
            tar.extractall(tmp, filter="data")
        path = tmp
    meta = json.loads((path / "meta.json").read_text())
    if "plan" not in meta and (path / "plan.json").is_file():  # a run folder: its plan, for --resume-from
        meta["plan"] = json.loads((path / "plan.json").read_text())
    records = [json.loads(p.read_text()) for p in sorted((path / "raw").glob("*.json"))]
    records += meta.pop("skipped", [])
    return records, meta


def resumable(out: Path, the_plan: dict) -> tuple[list[dict], list[dict]]:
    """(finished run records, earlier invocations) of the run in ``out``, for ``--resume``. A run
    of another plan is refused with one line; runs that were cut or failed are removed (they run
    again)."""
    plan_file = out / "plan.json"
    if not plan_file.is_file():
        raise SystemExit(f"--resume: {out} holds no run of this script (no plan.json); start it without --resume")
    old = json.loads(plan_file.read_text())
    if old != the_plan:
        raise SystemExit(f"--resume: {out} holds a run of another plan ({_plan_diff(old, the_plan)}); "
                         "give the same --budget/--tasks/--seeds/--configs/--device, or a new --out")
    kept = []
    for f in sorted((out / "raw").glob("*.json")):
        rec = json.loads(f.read_text())
        if rec.get("status") == "done":
            kept.append(rec)
        else:
            f.unlink()
    print(f"resuming {out}: {len(kept)} finished runs kept", flush=True)
    return kept, invocations(out)


def _plan_diff(old: dict, new: dict) -> str:
    return ", ".join(f"{k} {old.get(k)!r} there, {v!r} here" for k, v in new.items() if old.get(k) != v)


def restore(report: Path, out: Path, the_plan: dict) -> None:
    """Recreate the run folder ``out`` of a study from its report's .json (``--resume-from``): the
    plan, one raw file per finished run, the invocations. The report is what outlives a machine
    (it is committed to docs/), so a study longer than one sitting goes on in the next one. Only an
    empty ``out`` is written to; a report of another plan is refused with one line."""
    try:
        runs, meta = _load_raw(report)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"--resume-from: {report} is not a report .json of this script ({exc})")
    if "plan" not in meta:
        raise SystemExit(f"--resume-from: {report} does not record its plan (written before --resume-from "
                         "existed); rerun that study with --out and --resume instead")
    if meta["plan"] != the_plan:
        raise SystemExit(f"--resume-from: {report} is a study of another plan ({_plan_diff(meta['plan'], the_plan)}); "
                         "give the same --budget/--tasks/--seeds/--configs/--device")
    if (out / "plan.json").exists() or any((out / "raw").glob("*.json")):
        raise SystemExit(f"--resume-from: {out} already holds a run; give an empty --out (nothing there is "
                         "overwritten), or continue it with --resume")
    (out / "raw").mkdir(parents=True, exist_ok=True)
    for r in runs:
        if r.get("status") == "done":
            (out / "raw" / f"{r['id']}.json").write_text(json.dumps(r))
    (out / INVOCATIONS).write_text(json.dumps(meta.get("invocations", []), indent=1))
    (out / "plan.json").write_text(json.dumps(the_plan))


INVOCATIONS = "invocations.json"  # in --out: one entry per invocation, written when it starts, completed when it ends


def invocations(out: Path) -> list[dict]:
    """The invocations of the run in ``out``, oldest first. One stopped before its end (a session
    that ended, a kill) has no ``wall_s``; its ``finished`` count is that of the finished run files
    written between its start and the next invocation's (counted once: the next invocation records
    it)."""
    file = out / INVOCATIONS
    calls = json.loads(file.read_text()) if file.is_file() else []
    written = [f.stat().st_mtime for f in (out / "raw").glob("*.json")]
    for i, c in enumerate(calls):
        if c.get("wall_s") is None and "finished" not in c:
            until = calls[i + 1]["started"] if i + 1 < len(calls) else math.inf
            c["finished"] = sum(c["started"] <= t < until for t in written)
    return calls


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda or cpu (default cuda)")
    ap.add_argument("--budget", default="gpu240", choices=sorted(BUDGETS))
    ap.add_argument("--smoke", action="store_true", help="the tiny budget (same as --budget smoke)")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--configs", default=None, help="comma-separated config keys to run (default all): "
                    + ", ".join(CONFIGS))
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--wall", type=float, default=228.0, help="wall-clock limit in seconds for the whole command")
    ap.add_argument("--reserve", type=float, default=12.0, help="seconds kept for the report and the archive")
    ap.add_argument("--out", default=None, help="folder for raw/ and meta.json (default: a temporary folder)")
    ap.add_argument("--docs", default="docs", help="where the md/png/json go (default docs)")
    ap.add_argument("--tar", default=None, help="also pack raw/, meta.json and the docs into this .tar.gz")
    ap.add_argument("--from-raw", default=None, help="rebuild the md/png/json from a run's .json, .tar.gz or folder")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out: keep its finished runs, "
                    "run the rest (same --budget, --tasks, --seeds, --configs and --device)")
    ap.add_argument("--resume-from", default=None, metavar="REPORT.json",
                    help="continue a study from its report's .json (e.g. docs/lns_bits_cpu_cnnfull.json, committed "
                    "by an earlier sitting on another machine): its finished runs go to an empty --out, the rest run")
    args = ap.parse_args(argv)
    if args.from_raw:
        records, meta = _load_raw(Path(args.from_raw))
        print(write_outputs(records, meta, Path(args.docs)).read_text())
        return 0
    start = time.time()
    budget = "smoke" if args.smoke else args.budget
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip() and t.strip() in BUDGETS[budget]]
    if not tasks:
        raise SystemExit(f"--tasks: none of {args.tasks} has a budget in {budget!r} ({', '.join(BUDGETS[budget])})")
    only = None if not args.configs else [c.strip() for c in args.configs.split(",") if c.strip()]
    if only is not None and any(c not in CONFIGS for c in only):
        raise SystemExit(f"--configs: unknown {', '.join(c for c in only if c not in CONFIGS)}; allowed: {', '.join(CONFIGS)}")
    bad = [t for t in tasks if t not in TASKS]
    if bad:
        raise SystemExit(f"--tasks: unknown task(s) {', '.join(bad)}; allowed: {', '.join(TASKS)}")
    if args.seeds < 1 or args.workers < 1:
        raise SystemExit("--seeds and --workers must be >= 1")
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available here; use --device cpu (with --smoke for a quick check)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the worker processes
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    load_before = _loadavg()
    if args.resume and not args.out:
        raise SystemExit("--resume needs --out: the folder of the run to continue")
    if args.resume_from and not args.out:
        raise SystemExit("--resume-from needs --out: an empty folder for the study's runs")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="lns_bits_"))
    dev = "cuda" if args.device.startswith("cuda") else "cpu"
    the_plan = {"budget": budget, "tasks": tasks, "seeds": args.seeds, "configs": only, "device": dev}
    if args.resume_from:
        restore(Path(args.resume_from), out, the_plan)
        args.resume = True
    kept, history = ([], []) if not args.resume else resumable(out, the_plan)
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        stale = sorted(raw.glob("*.json"))
        for f in stale:  # a previous invocation's runs: this report holds this invocation's only
            f.unlink()
        if stale:
            print(f"removed {len(stale)} run files of a previous invocation from {raw}", flush=True)
    (out / "plan.json").write_text(json.dumps(the_plan))
    argv_used = sys.argv[1:] if argv is None else list(argv)
    command = "python3 benchmarks/lns_bits.py " + " ".join(shlex.quote(a) for a in argv_used)
    this_call = {"command": command, "load_before": load_before, "started": start}
    history = history + [this_call]
    (out / INVOCATIONS).write_text(json.dumps(history, indent=1))  # before any run: a kill leaves it on record
    skipped = []
    corpus_note = None
    if "transformer" in tasks:
        try:
            from synapse_madam.deep.data import find_fortunes

            find_fortunes()
            corpus_note = "the fortune files (fortunes-min)"
        except FileNotFoundError:
            extra = text_corpus_fallback(out)
            if extra is None:
                tasks.remove("transformer")
                skipped.append({"id": "transformer__all", "task": "transformer", "config": "-", "seed": -1,
                                "status": "not run", "reason": "no fortune files and no pydoc_data on this machine"})
            else:
                own = BUDGETS[budget]["transformer"][0]
                extra = [e for e in extra if e.split("=")[0] not in {o.split("=")[0] for o in own}]
                BUDGETS[budget]["transformer"] = (own + extra, BUDGETS[budget]["transformer"][1])
                corpus_note = ("**not the fortune files** (not installed on this machine): the English text of "
                               "Python's pydoc_data.topics, cut to the fortune corpus' size")
            print(f"transformer corpus: {corpus_note or 'none, not run'}", flush=True)
    jobs = plan(tasks, args.seeds, budget, only)
    deadline = start + args.wall - args.reserve
    device_name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else (platform.processor() or "cpu")
    print(f"{len(jobs)} jobs planned on {args.workers} workers ({len(kept)} finished before); load {load_before}",
          flush=True)
    results = schedule(jobs, device=args.device, workers=args.workers, deadline=deadline, raw_dir=raw, done=kept)
    skipped += [r for r in results if r.get("status") == "dropped"]
    stem = f"lns_bits_{dev}_{budget}"
    this_call.update(load_after=_loadavg(), wall_s=time.time() - start,
                     finished=sum(r.get("status") == "done" for r in results) - len(kept))
    (out / INVOCATIONS).write_text(json.dumps(history, indent=1))
    meta = {"command": command,
            "regenerate": f"python3 benchmarks/lns_bits.py --from-raw docs/{stem}.json --docs docs",
            "load_before": load_before, "load_after": _loadavg(), "device": args.device, "device_name": device_name,
            "torch": torch.__version__, "python": platform.python_version(), "workers": args.workers,
            "wall_s": time.time() - start, "wall_limit": args.wall, "cpu_count": os.cpu_count(), "budget": budget,
            "seeds": args.seeds, "stem": stem, "lr_grid": list(LR_GRID), "invocations": history, "plan": the_plan,
            "tasks": {t: f"spec {TASKS[t][0]} with " + ", ".join(BUDGETS[budget][t][0] + COMMON)
                      + (f"; corpus: {corpus_note}" if t == "transformer" and corpus_note else "")
                      for t in TASKS if t in tasks},
            "skipped": skipped}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    records = [json.loads(p.read_text()) for p in sorted(raw.glob("*.json"))] + skipped
    docs = Path(args.docs)
    md = write_outputs(records, {k: v for k, v in meta.items() if k != "skipped"}, docs)
    if args.tar:
        Path(args.tar).parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(args.tar, "w:gz") as tar:
            tar.add(raw, arcname="raw")
            tar.add(out / "meta.json", arcname="meta.json")
            for suffix in (".md", ".png", ".json"):
                tar.add(docs / f"{stem}{suffix}", arcname=f"docs/{stem}{suffix}")
    text = md.read_text()
    print("\n".join(line for line in text.splitlines() if line.startswith(("|", "**", "##"))))
    print(f"done in {time.time() - start:.0f} s; wrote {md}" + (f" and {args.tar}" if args.tar else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
