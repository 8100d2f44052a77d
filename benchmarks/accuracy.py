"""Issue 13: untuned sign-keeping candidates (lr 0.01) against tuned Adam / AdamW / SGD, every task.

    # cheap tasks on the CPU (digits, regression), 3 seeds, both schedules, the lr check:
    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/accuracy.py --tasks digits,regression --device cpu \
        --workers 2 --lr-check madam,eg_pm --out runs/accuracy/cpu
    # the GPU tasks (one H100, parallel worker processes), raw JSON packed into one tar.gz:
    PYTHONPATH=$PWD python3 benchmarks/accuracy.py --tasks fashion_mlp,fashion_cnn,fashion_deep_mlp,transformer \
        --device cuda --workers 14 --budget-s 145 --hard-s 175 --out /tmp/acc13 --tar $OUT/acc13.tar.gz
    # the table from raw JSON (any number of run folders or tar.gz files):
    python benchmarks/accuracy.py --from-raw runs/accuracy/cpu gpu_out/acc13.tar.gz

Every run is one (task, optimizer, lr, schedule, seed) point trained by the library's own loop
(``synapse_madam.deep.trainer.train``; the regression task by the same optimizer registry, lr
schedule and weight digest with a squared loss) and written as one JSON file (score, losses, the
weight digest summary: sigma of ln|w| over Song et al. 2005's 0.9355, fraction at a known bound,
sign flips). Candidates run at lr 0.01 only (nothing tuned per task); the baselines take a small lr
grid and the best mean over lr x schedule is "tuned". ``--lr-check NAMES`` adds those candidates at
0.003 and 0.03 (is 0.01 still their best lr?). Jobs run seed by seed, so a ``--budget-s`` deadline
(no job starts after it) cuts the last seeds first; ``--hard-s`` stops the workers. ``--from-raw`` writes docs/accuracy.md and
docs/accuracy.png (mean +- std over seeds, candidate x task, the gap to tuned Adam, the weight
statistics, the commands and the load average).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SONG_SIGMA = 0.9355  # sigma of ln EPSP, Song et al. 2005 (synapse_madam.biology.references "song2005")

# name -> spec of the deep substrate (or "regression"), and the baselines' lr grid
IMAGE = {"batch_size": 128, "amp": "off", "progress": False, "threads": 1}
TASKS = {
    "digits": ({"dataset": "digits", "net": "mlp", "net_options": {"width": 64, "depth": 2}, "epochs": 30,
                **IMAGE, "batch_size": 64}, "cpu"),
    "regression": ({"dataset": "friedman1", "net": "mlp", "net_options": {"width": 64, "depth": 2}, "epochs": 60,
                    "batch_size": 32}, "cpu"),
    "fashion_mlp": ({"dataset": "fashion_mnist", "net": "mlp", "net_options": {"width": 256, "depth": 2},
                     "epochs": 3, "train_subset": 20000, **IMAGE}, "gpu"),
    "fashion_cnn": ({"dataset": "fashion_mnist", "net": "cnn", "net_options": {"channels": 32, "hidden": 128},
                     "epochs": 3, "train_subset": 10000, **IMAGE}, "gpu"),
    "fashion_deep_mlp": ({"dataset": "fashion_mnist", "net": "mlp", "net_options": {"width": 128, "depth": 16},
                          "epochs": 4, "train_subset": 20000, **IMAGE}, "gpu"),
    "transformer": ({"dataset": "fortunes", "net": "transformer", "net_options": {"d_model": 64, "layers": 2, "heads": 4},
                     "data_options": {"block_size": 64}, "epochs": 5, **IMAGE, "batch_size": 32}, "gpu"),
    # CPU-sized tasks (one thread per run): the ResNet-14 of models/fashion_resnet.toml at half width on a
    # subset, the character Transformer for 4x the epochs of "transformer", the CNN on 6000 images
    "fashion_resnet_cpu": ({"dataset": "fashion_mnist", "net": "resnet", "net_options": {"width": 8, "blocks": 2},
                            "epochs": 3, "train_subset": 5000, "test_subset": 5000, **IMAGE}, "cpu"),
    "transformer_long": ({"dataset": "fortunes", "net": "transformer", "net_options": {"d_model": 64, "layers": 2,
                          "heads": 4}, "data_options": {"block_size": 64}, "epochs": 20, **IMAGE, "batch_size": 32},
                         "cpu"),
    "fashion_cnn_cpu": ({"dataset": "fashion_mnist", "net": "cnn", "net_options": {"channels": 32, "hidden": 128},
                         "epochs": 3, "train_subset": 6000, "test_subset": 5000, **IMAGE}, "cpu"),
    # the rate substrate: an E/I rate RNN (Dale's law) trained by BPTT on perceptual decision making
    "rate_dm": ({"substrate": "rate", "spec": "rate_perceptual_dm", "steps": 600, "batch_size": 64}, "cpu"),
}
CANDIDATES = ["madam", "madam_neuron_bound", "madam_scaling", "madam_nero", "madam_momentum", "eg_pm", "paired_madam",
              "nero"]
# names used by earlier runs (raw JSON, commands in docs/accuracy.md) -> today's registry name
RENAMED = {"eg_pm_momentum": "paired_madam"}
PUBLISHED = "madam"
BASELINE_LRS = {"adam": [3e-4, 1e-3, 3e-3], "adamw": [3e-4, 1e-3, 3e-3], "sgd": [0.03, 0.1, 0.3]}
TRANSFORMER_LRS = {"adam": [1e-3, 3e-3, 1e-2], "adamw": [1e-3, 3e-3, 1e-2], "sgd": [0.1, 0.3, 1.0]}
SCHEDULES = ["constant", "warmup_cosine"]
CHECK_LRS = [0.003, 0.03]


def jobs_for(tasks, seeds: int, lr_check=(), candidates=CANDIDATES, baselines=tuple(BASELINE_LRS)) -> list[dict]:
    """Every point, seed by seed (a deadline then cuts the last seeds, never a whole task); then
    the candidates named in ``lr_check`` at the CHECK_LRS, seed by seed."""
    out = []
    for seed in range(seeds):
        for task in tasks:
            grid = TRANSFORMER_LRS if task.startswith("transformer") else BASELINE_LRS
            for sched in SCHEDULES:
                out += [dict(task=task, optimizer=c, lr=0.01, schedule=sched, seed=seed) for c in candidates]
                out += [dict(task=task, optimizer=b, lr=lr, schedule=sched, seed=seed) for b in baselines for lr in grid[b]]
    out += [dict(task=t, optimizer=c, lr=lr, schedule="constant", seed=s)
            for s in range(seeds) for t in tasks for c in lr_check for lr in CHECK_LRS]
    return out


def job_name(job: dict) -> str:
    return f"{job['task']}/{job['optimizer']}_lr{job['lr']:g}_{job['schedule']}_s{job['seed']}"


# ------------------------------------------------------------------------------------------ one run


def weight_stats(digests: dict) -> dict:
    """sigma ratio to Song 2005 (mean over weight matrices), fraction at a known bound (entries
    weighted; None when no matrix has a bound) and sign flips (count and fraction of entries)."""
    sig = [d["sigma_ln"] / SONG_SIGMA for d in digests.values() if d.get("sigma_ln") is not None]
    n = sum(d["n"] for d in digests.values())
    bounded = [(d["frac_at_bounds"], d["n"]) for d in digests.values() if d.get("frac_at_bounds") is not None]
    flips = sum(d.get("sign_flips") or 0 for d in digests.values())
    return {"sigma_ratio": sum(sig) / len(sig) if sig else None,
            "frac_at_bounds": sum(f * k for f, k in bounded) / sum(k for _f, k in bounded) if bounded else None,
            "sign_flips": flips, "frac_sign_flips": flips / n if n else None}


def _regression_data(seed: int = 0):
    """Friedman #1 (Friedman 1991; sklearn.datasets.make_friedman1): 10 inputs, 5 relevant,
    y = 10 sin(pi x1 x2) + 20 (x3 - 0.5)^2 + 10 x4 + 5 x5 + N(0, 1); 1000 train / 500 test, standardised."""
    import numpy as np
    import torch
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=1500, n_features=10, noise=1.0, random_state=seed)
    xtr, xte, ytr, yte = x[:1000], x[1000:], y[:1000], y[1000:]
    mx, sx, my, sy = xtr.mean(0), xtr.std(0), ytr.mean(), ytr.std()
    f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return f((xtr - mx) / sx), f((ytr - my) / sy), f((xte - mx) / sx), f((yte - my) / sy), float(np.var((yte - my) / sy))


def _run_regression(job: dict, spec: dict, device: str) -> dict:
    import torch

    from synapse_madam.deep.nets import MLP
    from synapse_madam.deep.trainer import LRSchedule, weight_digests
    from synapse_madam.optim import make_optimizer

    xtr, ytr, xte, yte, var = _regression_data()
    dev = torch.device(device)
    torch.manual_seed(job["seed"])
    model = MLP((10,), 1, **spec["net_options"]).to(dev)
    xtr, ytr, xte, yte = xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev)
    initial = {n: p.detach().float().cpu().numpy().copy() for n, p in model.named_parameters()}
    opt = make_optimizer(job["optimizer"], list(model.parameters()), job["lr"])
    bs, n = spec["batch_size"], len(xtr)
    steps = n // bs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, LRSchedule(job["schedule"], steps * spec["epochs"]))
    g = torch.Generator().manual_seed(job["seed"])
    t0, diverged = time.perf_counter(), False
    for _epoch in range(spec["epochs"]):
        perm = torch.randperm(n, generator=g).to(dev)
        for i in range(steps):
            idx = perm[i * bs:(i + 1) * bs]
            loss = torch.mean((model(xtr[idx]).squeeze(-1) - ytr[idx]) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if not math.isfinite(float(loss)):
            diverged = True
            break
    with torch.no_grad():
        mse = float(torch.mean((model(xte).squeeze(-1) - yte) ** 2))
    score = 1.0 - mse / var if math.isfinite(mse) else None
    return {"score": score, "metric": "test R^2", "final_test_loss": mse, "diverged": diverged,
            "train_time_s": time.perf_counter() - t0, "weights": weight_digests(model, opt, initial)}


def _run_rate(job: dict, spec: dict, device: str) -> dict:
    """The rate task: the packaged spec ``spec["spec"]`` (an E/I rate RNN with Dale's law; additive
    optimizers get the library's Dale projection, sign-keeping ones none) trained by BPTT for
    ``steps`` batches under the job's lr schedule; score = accuracy on 2000 held-out trials."""
    import numpy as np
    import torch

    from synapse_madam.deep.trainer import LRSchedule
    from synapse_madam.rate.runner import build, validate
    from synapse_madam.rate.tasks import evaluate
    from synapse_madam.rate.train import weight_digests
    from synapse_madam.runs import divergence
    from synapse_madam.substrates import load_spec

    base = load_spec(spec["spec"])
    base.update(seed=job["seed"] + 1, steps=spec["steps"], batch_size=spec["batch_size"], device=device,
                progress=False, learning=dict(base.get("learning", {}), optimizer=job["optimizer"], lr=job["lr"]))
    full = validate({k: v for k, v in base.items() if k != "substrate"}, job_name(job))
    task, model, learner = build(full)
    model.to(device)
    initial = model.weight_groups()
    sched = torch.optim.lr_scheduler.LambdaLR(learner.optimizer, LRSchedule(job["schedule"], full["steps"]))
    rng, gen = np.random.default_rng(full["seed"]), torch.Generator().manual_seed(full["seed"])
    torch.manual_seed(full["seed"])
    t0, diverged, first = time.perf_counter(), None, None
    for _ in range(full["steps"]):
        out = learner.step(task.generate(full["batch_size"], rng).to(device), gen)
        sched.step()
        first = out["loss"] if first is None else first
        diverged = divergence(out["loss"], first)
        if diverged:
            break
    ev = None if diverged else evaluate(model, task, n_trials=2000, seed=54321, device=device)
    return {"score": None if ev is None else ev["accuracy"], "metric": "accuracy (2000 trials)",
            "final_test_loss": None if ev is None else ev["loss"], "diverged": bool(diverged),
            "train_time_s": time.perf_counter() - t0, "weights": weight_digests(model, learner, initial)}


def run_job(job: dict, device: str, spec: dict | None = None) -> dict:
    """Train one point (``spec``: the task's, default TASKS[task]); the result record (never
    raises: an error is recorded as the result)."""
    import torch

    torch.set_num_threads(1)
    spec = TASKS[job["task"]][0] if spec is None else spec
    t0 = time.perf_counter()
    try:
        if spec.get("substrate") == "rate":
            res = _run_rate(job, spec, device)
        elif spec["dataset"] == "friedman1":
            res = _run_regression(job, spec, device)
        else:
            from synapse_madam.deep.data import load_dataset
            from synapse_madam.deep.nets import build_net
            from synapse_madam.deep.runner import _train_config, validate
            from synapse_madam.deep.trainer import train

            full = validate(dict(spec, optimizer=job["optimizer"], lr=job["lr"], schedule=job["schedule"],
                                 seed=job["seed"], device=device), job_name(job))
            data = load_dataset(full["dataset"], train_subset=full["train_subset"] or None,
                                test_subset=full["test_subset"] or None, **full["data_options"])
            model = build_net(full["net"], data.input_shape, data.num_classes, seed=job["seed"], **full["net_options"])
            summary = train(model, data, _train_config(full))
            res = {"score": summary["final_test_acc"], "metric": "test accuracy",
                   "final_test_loss": summary["final_test_loss"], "diverged": summary["diverged"],
                   "train_time_s": summary["train_time_s"], "weights": summary["weights"],
                   "failed": summary.get("failed"), "train_examples": len(data.x_train)}
        res["error"] = None
    except Exception as exc:  # a crashed point is a data point, reported in the table
        res = {"score": None, "error": f"{type(exc).__name__}: {exc}", "weights": {}}
    res.update(job, device=device, wall_s=time.perf_counter() - t0, spec=spec, **weight_stats(res["weights"]))
    if device.startswith("cuda"):
        res["device_name"] = torch.cuda.get_device_name()
    return res


def _worker(args):
    job, device, out, deadline, spec = args
    if time.time() > deadline:
        return None
    res = run_job(job, device, spec)
    path = Path(out) / "raw" / (job_name(job) + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(res, default=float))
    tmp.replace(path)
    return res


def finished(out: Path, job: dict) -> bool:
    """True when ``out`` holds a result of ``job`` that did not crash (a crashed one is run again:
    its error may have been the environment's, e.g. a library version, not the point's)."""
    names = [job["optimizer"]] + [old for old, new in RENAMED.items() if new == job["optimizer"]]
    for path in (out / "raw" / (job_name(dict(job, optimizer=n)) + ".json") for n in names):
        try:
            if path.is_file() and json.loads(path.read_text()).get("error") is None:
                return True
        except (json.JSONDecodeError, OSError):
            pass
    return False


def run_all(jobs, device: str, workers: int, out: Path, budget_s: float, hard_s: float = math.inf) -> list[dict]:
    """Run the jobs not yet in ``out`` (no job starts after ``budget_s``); at ``hard_s`` the
    workers are terminated and the runs finished so far are what there is."""
    start = time.time()
    deadline = start + budget_s
    done = []
    todo = [j for j in jobs if not finished(out, j)]
    args = [(j, device, str(out), deadline, TASKS[j["task"]][0]) for j in todo]  # the spec travels: workers
    # are fresh processes (spawn) and would otherwise see the module's TASKS, not this process's
    pool = None
    if workers <= 1:
        results = iter(map(_worker, args))
    else:
        pool = mp.get_context("spawn").Pool(workers)
        results = pool.imap_unordered(_worker, args, chunksize=1)
    while True:
        left = start + hard_s - time.time()
        if left <= 0:
            print(f"hard limit of {hard_s:.0f} s reached: stopping the workers", flush=True)
            break
        try:
            r = results.next(timeout=min(left, 1e6)) if pool else next(results)
        except StopIteration:
            break
        except mp.TimeoutError:
            continue
        if r is not None:
            done.append(r)
            sc = "-" if r["score"] is None else f"{r['score']:.4f}"
            print(f"[{time.time() - start:6.1f} s] {job_name(r)} {sc} {r['wall_s']:.1f}s"
                  + (f" ERROR {r['error']}" if r.get("error") else ""), flush=True)
    if pool:
        pool.terminate()
        pool.join()
    return done


# ------------------------------------------------------------------------------------------ report


def read_raw(sources) -> list[dict]:
    """Every per-run JSON under the given folders or inside the given .tar.gz files (optimizer
    names of earlier runs mapped to today's, RENAMED)."""
    rows = []
    for src in sources:
        src = Path(src)
        if src.is_file() and src.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(src) as tar:
                for m in tar.getmembers():
                    if m.isfile() and m.name.endswith(".json") and "/raw/" in "/" + m.name:
                        rows.append(json.loads(tar.extractfile(m).read()))
                    elif m.isfile() and m.name.endswith("meta.json"):
                        pass
        elif src.is_dir():
            rows += [json.loads(p.read_text()) for p in sorted(src.rglob("raw/**/*.json"))]
        else:
            raise FileNotFoundError(f"--from-raw: {src} is neither a run folder nor a .tar.gz file.")
    for r in rows:
        r["optimizer"] = RENAMED.get(r["optimizer"], r["optimizer"])
    return rows


def read_meta(sources) -> list[dict]:
    metas = []
    for src in map(Path, sources):
        if src.is_file():
            with tarfile.open(src) as tar:
                found = [json.loads(tar.extractfile(m).read()) for m in tar.getmembers() if m.name.endswith("meta.json")]
        elif (src / "meta.json").is_file():
            found = [json.loads((src / "meta.json").read_text())]
        else:
            found = []
        for f in found:
            metas += f if isinstance(f, list) else [f]
    return metas


def _stats(vals):
    import numpy as np

    v = [0.0 if x is None else float(x) for x in vals]
    return (float(np.mean(v)), float(np.std(v)), len(v)) if v else (None, None, 0)


def summarise(rows: list[dict]) -> dict:
    """{(task, optimizer, lr, schedule): {score: (mean, std, n), sigma_ratio, frac_at_bounds,
    frac_sign_flips, device}} (a failed run's score counts as 0)."""
    import numpy as np

    groups: dict = {}
    for r in rows:
        groups.setdefault((r["task"], r["optimizer"], float(r["lr"]), r["schedule"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        def mean_of(k):
            v = [r[k] for r in rs if r.get(k) is not None]
            return float(np.mean(v)) if v else None
        out[key] = {"score": _stats([r["score"] for r in rs]), "sigma_ratio": mean_of("sigma_ratio"),
                    "frac_at_bounds": mean_of("frac_at_bounds"), "frac_sign_flips": mean_of("frac_sign_flips"),
                    "device": ", ".join(sorted({r.get("device_name") or r["device"] for r in rs})),
                    "errors": sum(1 for r in rs if r.get("error"))}
    return out


def tuned(summary: dict, task: str, opt: str):
    """(lr, schedule, stats) of ``opt``'s best mean score on ``task`` over its lr grid x schedules."""
    best = None
    for (t, o, lr, s), st in summary.items():
        if t == task and o == opt and (best is None or st["score"][0] > best[2]["score"][0]):
            best = (lr, s, st)
    return best


def _cell(st) -> str:
    m, s, n = st["score"]
    return f"{100 * m:.1f} ± {100 * s:.1f} ({n})" + (" ⚠" if st.get("errors") else "")


def budget(spec: dict) -> str:
    """One line: what a task trains, on how much data, for how long."""
    if spec.get("substrate") == "rate":
        return (f"rate substrate, spec {spec['spec']} (E/I rate RNN, Dale's law, BPTT), {spec['steps']} steps, "
                f"batch {spec['batch_size']}, accuracy on 2000 held-out trials")
    return (f"{spec['dataset']}, {spec['net']} {spec['net_options']}, {spec.get('train_subset') or 'all'} train, "
            f"{spec['epochs']} epochs, batch {spec['batch_size']}")


README_RULES = [("madam", "`madam` (published)"), ("madam_momentum", "`madam_momentum`"),
                ("paired_madam", "`paired_madam` (chosen)"), ("nero", "`nero` (baseline, signs not kept)")]
README_START, README_END = "<!-- accuracy-gaps:start -->", "<!-- accuracy-gaps:end -->"


def update_readme(readme: Path, gaps: dict, order, sources) -> bool:
    """Rewrite README's block between README_START and README_END: the gap to tuned Adam of the
    README_RULES (constant lr 0.01) on every task, from the same numbers as docs/accuracy.md.
    False (README untouched) when the markers are missing."""
    text = readme.read_text() if readme.is_file() else ""
    if README_START not in text or README_END not in text:
        return False
    lines = [README_START, f"<!-- generated by: python benchmarks/accuracy.py --from-raw {' '.join(map(str, sources))} -->",
             "", "| rule (constant lr 0.01) | " + " | ".join(order) + " | worst |", "|---|" + "---:|" * (len(order) + 1)]
    for name, label in README_RULES:
        g = gaps.get((name, "constant"))
        if g is None:
            continue
        have = [x for x in g if x is not None]
        lines.append(f"| {label} | " + " | ".join("-" if x is None else f"{x:+.1f}" for x in g)
                     + f" | {min(have):+.1f} |")
    head, rest = text.split(README_START, 1)
    readme.write_text(head + "\n".join(lines + ["", README_END]) + rest.split(README_END, 1)[1])
    return True


def write_report(rows: list[dict], metas: list[dict], docs: Path, sources) -> dict:
    import numpy as np

    summary = summarise(rows)
    order = [t for t in TASKS if any(k[0] == t for k in summary)]
    dev = {t: sorted({v["device"] for k, v in summary.items() if k[0] == t}) for t in order}
    L = ["# Accuracy at lr 0.01: sign-keeping candidates vs tuned Adam (issue 13)", "",
         "Generated by `benchmarks/accuracy.py --from-raw` from the per-run JSON; regenerate with", "",
         f"    python benchmarks/accuracy.py --from-raw {' '.join(map(str, sources))}", "",
         "The runs were made by these commands (load average before / after, from each run's meta.json):", ""]
    for m in metas:
        L += [f"    {m['command']}", f"    # device {m['device']}; load {m['load_before']} -> {m['load_after']}; "
              f"{m['n_done']} runs in {m['wall_s']:.0f} s; {m['date']}"]
    L += ["", "Score: test accuracy in % (regression: test R² x 100), mean ± std over seeds (n seeds); a crashed",
          "or diverged run counts as 0 and is marked ⚠. Candidates run at lr 0.01 with nothing tuned per task;",
          "**tuned** baselines take the best mean over their lr grid x schedule (constant, warmup_cosine = 5%",
          "linear warm-up then cosine decay). Budgets are short (listed below): they compare optimizers under",
          "one budget, they are not final accuracies.", "",
          "| task | device | budget |", "|---|---|---|"]
    for t in order:
        spec = next((r["spec"] for r in rows if r["task"] == t and r.get("spec")), TASKS[t][0])
        L.append(f"| {t} | {'; '.join(dev[t])} | {budget(spec)} |")
    L += ["", "## Score, candidate x task", "", "| optimizer | schedule | " + " | ".join(order) + " |",
          "|---|---|" + "---|" * len(order)]
    for c in CANDIDATES:
        for s in SCHEDULES:
            cells = [(_cell(summary[(t, c, 0.01, s)]) if (t, c, 0.01, s) in summary else "-") for t in order]
            if all(x == "-" for x in cells):
                continue
            L.append(f"| {c} @ 0.01 | {s} | " + " | ".join(cells) + " |")
    for b in BASELINE_LRS:
        cells = []
        for t in order:
            tb = tuned(summary, t, b)
            cells.append(f"{_cell(tb[2])} [lr {tb[0]:g}, {tb[1]}]" if tb else "-")
        if all(x == "-" for x in cells):
            continue
        L.append(f"| **tuned {b}** | best | " + " | ".join(cells) + " |")
    L += ["", "## Gap to tuned Adam (points; mean of candidate minus mean of tuned Adam)", "",
          "| optimizer | schedule | " + " | ".join(order) + " | worst | within 1 / 2 points everywhere |",
          "|---|---|" + "---|" * (len(order) + 2)]
    gaps = {}
    for c in CANDIDATES + ["adamw", "sgd"]:
        for s in SCHEDULES:
            g = []
            for t in order:
                ta = tuned(summary, t, "adam")
                key = (t, c, 0.01, s) if c in CANDIDATES else None
                if c not in CANDIDATES:
                    tb = tuned(summary, t, c)
                    st = tb[2] if tb and s == SCHEDULES[0] else None
                else:
                    st = summary.get(key)
                g.append(None if (st is None or ta is None) else 100 * (st["score"][0] - ta[2]["score"][0]))
            if all(x is None for x in g):
                continue
            gaps[(c, s)] = g
            worst = min(x for x in g if x is not None)
            label = f"{c} @ 0.01" if c in CANDIDATES else f"tuned {c}"
            L.append(f"| {label} | {s if c in CANDIDATES else 'best'} | "
                     + " | ".join("-" if x is None else f"{x:+.1f}" for x in g)
                     + f" | {worst:+.1f} | {'yes' if worst >= -1 else 'no'} / {'yes' if worst >= -2 else 'no'} |")
    # adoption rule (issue 13): the CLI default changes only if a candidate beats the published rule on every task
    L += ["", "## Against the published rule (Madam @ 0.01 at its better schedule per task): tasks won", ""]
    for c in CANDIDATES[1:]:
        for s in SCHEDULES:
            have = [t for t in order if (t, c, 0.01, s) in summary]
            pub = {t: max(summary[k]["score"][0] for k in [(t, PUBLISHED, 0.01, x) for x in SCHEDULES] if k in summary)
                   for t in have if any((t, PUBLISHED, 0.01, x) in summary for x in SCHEDULES)}
            wins = [t for t in pub if summary[(t, c, 0.01, s)]["score"][0] > pub[t]]
            if have:
                L.append(f"- {c} ({s}): better than published Madam on {len(wins)} of {len(pub)} tasks"
                         + (f" ({', '.join(wins)})" if wins else "") + (" — **every task**" if pub and len(wins) == len(pub) else ""))
    # best lr check
    L += ["", "## Is lr 0.01 still each candidate's best? (constant schedule; best lr, then the mean score at lr",
          "0.003 / 0.01 / 0.03)", "",
          "| optimizer | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
    for c in CANDIDATES:
        cells = []
        for t in order:
            pts = {lr: summary[(t, c, lr, "constant")]["score"][0] for lr in [0.003, 0.01, 0.03]
                   if (t, c, lr, "constant") in summary}
            cells.append("-" if len(pts) < 2 else f"**{max(pts, key=pts.get):g}** ("
                         + " / ".join(f"{100 * pts[lr]:.1f}" if lr in pts else "-" for lr in [0.003, 0.01, 0.03]) + ")")
        L.append(f"| {c} | " + " | ".join(cells) + " |")
    L += ["", "## Weight statistics at the end (mean over seeds and weight matrices)", "",
          "σ ratio: σ of ln|w| over Song et al. 2005's 0.9355; at bound: fraction of entries within 0.1% of a known",
          "bound (- : the optimizer declares no single bound); flips: fraction of entries whose sign differs from",
          "the initial weights (EG±: of the connection w = w⁺ − w⁻; its synapses w⁺, w⁻ stay positive).", "",
          "| optimizer | schedule | " + " | ".join(order) + " |", "|---|---|" + "---|" * len(order)]
    for c in CANDIDATES + list(BASELINE_LRS):
        for s in SCHEDULES:
            cells = []
            for t in order:
                if c in CANDIDATES:
                    st = summary.get((t, c, 0.01, s))
                else:
                    tb = tuned(summary, t, c)
                    st = tb[2] if tb and tb[1] == s else None
                if st is None:
                    cells.append("-")
                    continue
                sr = "-" if st["sigma_ratio"] is None else f"{st['sigma_ratio']:.2f}"
                fb = "-" if st["frac_at_bounds"] is None else f"{st['frac_at_bounds']:.3f}"
                ff = "-" if st["frac_sign_flips"] is None else f"{st['frac_sign_flips']:.3f}"
                cells.append(f"σ {sr}, bound {fb}, flips {ff}")
            if any(x != "-" for x in cells):
                L.append(f"| {c if c in CANDIDATES else 'tuned ' + c} | {s} | " + " | ".join(cells) + " |")
    notes = docs / "accuracy_notes.md"
    if notes.is_file():
        L += ["", notes.read_text().rstrip()]
    L += ["", "![gap to tuned Adam](accuracy.png)", ""]
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "accuracy.md").write_text("\n".join(L) + "\n")
    _figure(gaps, order, docs / "accuracy.png")
    del np
    return {"gaps": gaps, "order": order}


def _figure(gaps: dict, order, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from synapse_madam import plots

    keys = list(gaps)
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(order)), 5))
    width = 0.8 / max(len(keys), 1)
    for i, k in enumerate(keys):
        y = [np.nan if v is None else v for v in gaps[k]]
        ax.bar(np.arange(len(order)) + (i - len(keys) / 2 + 0.5) * width, y, width, color=plots.colour(k[0]),
               hatch="///" if k[1] == "warmup_cosine" and k[0] in CANDIDATES else None, edgecolor="white", lw=0,
               label=f"{k[0]} ({k[1]})" if k[0] in CANDIDATES else f"tuned {k[0]}")
    for lvl in (-1, -2):
        ax.axhline(lvl, color="k", lw=0.6, ls=":")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(order)), order, rotation=20, ha="right")
    ax.set_ylabel("score minus tuned Adam (points)")
    ax.set_title("lr 0.01, nothing tuned per task, vs tuned Adam")
    lo = min([v for g in gaps.values() for v in g if v is not None] + [-3])
    floor = max(lo - 1, -15.0)
    ax.set_ylim(floor, None)
    for i, k in enumerate(keys):  # bars below the axis: their value, printed at the bottom
        for j, v in enumerate(gaps[k]):
            if v is not None and v < floor:
                ax.text(j + (i - len(keys) / 2 + 0.5) * width, floor + 0.3, f"{v:.0f}", rotation=90, fontsize=5,
                        ha="center", va="bottom")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plots.save_figure(fig, path)


# ------------------------------------------------------------------------------------------ main


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="digits,regression", help="comma-separated, from: " + ", ".join(TASKS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    ap.add_argument("--budget-s", type=float, default=1e9, help="no job starts after this many seconds")
    ap.add_argument("--hard-s", type=float, default=math.inf,
                    help="stop the workers after this many seconds and keep the runs finished so far")
    ap.add_argument("--lr-check", default="", help="comma-separated candidates also run at lr 0.003 and 0.03 "
                    "(after every other job), e.g. madam,eg_pm")
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    ap.add_argument("--baselines", default=",".join(BASELINE_LRS))
    ap.add_argument("--tiny", action="store_true", help="smoke test: 1 epoch on small subsets")
    ap.add_argument("--out", default="runs/accuracy/cpu")
    ap.add_argument("--tar", default=None, help="pack the raw JSON of --out into this .tar.gz")
    ap.add_argument("--from-raw", nargs="+", default=None, metavar="SRC",
                    help="only write docs/accuracy.md + .png from raw folders / .tar.gz files")
    ap.add_argument("--docs", default="docs")
    ap.add_argument("--readme", default="README.md", help="with --from-raw: rewrite the gap table between "
                    f"{README_START} and {README_END} in this file ('' : leave it)")
    args = ap.parse_args(argv)
    if args.from_raw:
        rows = read_raw(args.from_raw)
        if not rows:
            raise FileNotFoundError(f"--from-raw: no per-run JSON found in {args.from_raw}.")
        rep = write_report(rows, read_meta(args.from_raw), Path(args.docs), args.from_raw)
        print(f"wrote {args.docs}/accuracy.md and accuracy.png from {len(rows)} runs")
        if args.readme and update_readme(Path(args.readme), rep["gaps"], rep["order"], args.from_raw):
            print(f"updated the gap table in {args.readme}")
        return 0
    tasks = args.tasks.split(",")
    bad = [t for t in tasks if t not in TASKS]
    if bad:
        raise SystemExit(f"unknown task(s) {bad}; choose from {', '.join(TASKS)}.")
    if args.tiny:
        for t in tasks:
            spec = TASKS[t][0]
            spec.update(epochs=1)
            if spec["dataset"] in ("fashion_mnist",):
                spec.update(train_subset=512, test_subset=500)
    if "transformer" in tasks:
        try:
            from synapse_madam.deep.data import find_fortunes

            find_fortunes()
        except (FileNotFoundError, ValueError) as exc:
            print(f"skipping transformer: {exc}", flush=True)
            tasks.remove("transformer")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device here.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = lambda text: [RENAMED.get(c, c) for c in text.split(",") if c]  # noqa: E731
    jobs = jobs_for(tasks, args.seeds, names(args.lr_check), names(args.candidates), names(args.baselines))
    load0, t0 = _load(), time.perf_counter()
    print(f"{len(jobs)} jobs on {args.device} x {args.workers} workers; load {load0}", flush=True)
    done = run_all(jobs, args.device, args.workers, out, args.budget_s, args.hard_s)
    wall = time.perf_counter() - t0
    meta_path = out / "meta.json"
    metas = json.loads(meta_path.read_text()) if meta_path.is_file() else []
    metas = metas if isinstance(metas, list) else [metas]
    import torch

    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({os.cpu_count()} cores visible)"
    meta = {"command": "python benchmarks/accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "device": dev, "load_before": load0, "load_after": _load(), "wall_s": wall, "n_jobs": len(jobs),
            "n_done": len(done), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "torch": torch.__version__}
    meta_path.write_text(json.dumps(metas + [meta], indent=1))
    print(f"{len(done)} of {len(jobs)} jobs done in {wall:.0f} s; load {meta['load_before']} -> {meta['load_after']}")
    by = summarise([json.loads(p.read_text()) for p in sorted(out.rglob("raw/**/*.json"))])
    for (t, o, lr, s), st in sorted(by.items()):
        if lr == 0.01 and o in CANDIDATES or (o not in CANDIDATES and tuned(by, t, o)[:2] == (lr, s)):
            print(f"  {t:18s} {o:20s} lr {lr:<7g} {s:14s} {_cell(st)}")
    if args.tar:
        tar_path = Path(args.tar)
        tar_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=tar_path.parent, suffix=".tmp", delete=False) as f:
            with tarfile.open(fileobj=f, mode="w:gz") as tar:
                tar.add(out / "raw", arcname="acc13/raw")
                tar.add(meta_path, arcname="acc13/meta.json")
        os.chmod(f.name, 0o644)
        os.replace(f.name, tar_path)
        print(f"wrote {tar_path} ({tar_path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
