"""The run folder: the one place that reads and writes a run's results on disk.

Every substrate runner (deep, rate, spiking), ``sweep`` and ``stats`` go through
:class:`RunFolder`; runners never open result files themselves. A run folder holds::

    spec.toml         the resolved spec (defaults filled in), compared on --resume and sweep reuse
    metrics.jsonl     one JSON record per logging point; appended, truncated to the checkpoint on resume
    checkpoint.pt     (deep, rate) or checkpoint.b2 (spiking): everything needed to continue exactly
    summary.json      the final summary (written last: its presence means "finished")
    weights.npz       final signed weights per group (weights_init.npz: the initial ones)
    data_files.json   every data file the run read, with its size and sha256
    *.png             figures
    .lock             the exclusive lock (fcntl.flock) held while a run writes here

Rules (issue 10):

* **one writer**: :meth:`RunFolder.open` takes an exclusive, non-blocking ``flock`` on ``.lock``;
  a second run into the same folder stops with one line naming the folder (and the holder's pid).
* **no silent loss**: starting fresh where a checkpoint or results exist is refused unless
  ``overwrite`` (then the run's own files are deleted first) or ``resume``.
* **no silent mix**: on ``resume`` the stored spec.toml is compared with the new resolved spec;
  any difference (except keys the substrate declares free, such as ``progress``) is refused,
  naming the keys. The same comparison guards a sweep's reuse of a finished point, and the data
  files' checksums are compared too.
* **atomic, normal permissions**: files are written through :mod:`synapse_madam.io` (temp file +
  rename, mode 0666 & ~umask).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterable

from . import io

__all__ = ["RunFolder", "RunFolderError", "spec_diff", "flatten_spec", "stats_output_names", "sha256_file",
           "divergence", "outcome", "headline_part", "join_headline",
           "DIVERGENCE_FACTOR", "reusable_summary", "read_json", "SPEC", "METRICS", "SUMMARY", "WEIGHTS", "WEIGHTS_INIT", "DATA_FILES", "CHECKPOINTS", "LOCK"]

SPEC, METRICS, SUMMARY = "spec.toml", "metrics.jsonl", "summary.json"
WEIGHTS, WEIGHTS_INIT, DATA_FILES, LOCK = "weights.npz", "weights_init.npz", "data_files.json", ".lock"
CHECKPOINTS = ("checkpoint.pt", "checkpoint.b2")
MODEL = "model.pt"
# files whose presence means the folder holds results of a run (a fresh start over them loses data)
RESULTS = (METRICS, SUMMARY, WEIGHTS, *CHECKPOINTS)
# everything a run writes (deleted by --overwrite); figures and stats outputs by pattern
OWNED = (SPEC, METRICS, SUMMARY, WEIGHTS, WEIGHTS_INIT, DATA_FILES, MODEL, *CHECKPOINTS)
OWNED_PATTERNS = ("*.png", "stats_*.json", "stats_*.md", "stats.json", "stats.md")
OWNED_DIRS = ("standalone",)


class RunFolderError(ValueError):
    """A run folder cannot be used as asked (busy, holds other results, spec differs, not writable)."""


# ------------------------------------------------------------------------------------ specs


def flatten_spec(spec: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": 1, "t": {"b": 2}} -> {"a": 1, "t.b": 2}; tuples become lists (as TOML reads them back)."""
    out = {}
    for k, v in spec.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_spec(v, key + "."))
        else:
            out[key] = list(v) if isinstance(v, tuple) else v
    return out


_ABSENT = object()


def spec_diff(old: dict, new: dict, free: Iterable[str] = ()) -> list[tuple[str, Any, Any]]:
    """Keys (dotted, e.g. "net_options.width") whose values differ between two resolved specs, as
    (key, old, new) with ``None`` for an absent key; keys in ``free`` (or under a free table) are ignored."""
    free = set(free)
    a, b = flatten_spec(old), flatten_spec(new)

    def is_free(key):
        return key in free or any(key.startswith(f + ".") for f in free)

    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, _ABSENT), b.get(key, _ABSENT)
        if is_free(key) or (va is not _ABSENT and vb is not _ABSENT and _same(va, vb)):
            continue
        out.append((key, None if va is _ABSENT else va, None if vb is _ABSENT else vb))
    return out


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # nan == nan for specs
    return a == b


def _describe_diff(diff) -> str:
    return ", ".join(f"{k} ({a!r} -> {b!r})" for k, a, b in diff)


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _files_record(paths: Iterable) -> list[dict]:
    out = []
    for p in sorted({str(Path(p).resolve()) for p in paths}):
        out.append({"path": p, "bytes": os.path.getsize(p), "sha256": sha256_file(p)})
    return out


# ------------------------------------------------------------------------------------ the folder


def _prepare_dir(path: Path) -> None:
    """Create ``path`` (and parents); one clear RunFolderError when that cannot work."""
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"run folder {str(path)!r} is a file, not a folder; choose another --out.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RunFolderError(f"cannot create run folder {str(path)!r}: a parent of it is a file; "
                             "choose another --out.") from None
    except PermissionError:
        raise RunFolderError(f"cannot create run folder {str(path)!r}: permission denied; "
                             "choose a writable --out.") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunFolderError(f"run folder {str(path)!r} is not writable; choose a writable --out.")


class RunFolder:
    """One run's folder, locked for writing while open. Use :meth:`open` (a context manager).

    ``spec``: the resolved spec (None for library calls that have none: no spec checks).
    ``resume``: continue what is there (refused if the stored spec differs outside ``free_keys``).
    ``overwrite``: delete the run's own files first. Neither: refuse if results exist.
    ``writer``: False on data-parallel ranks other than 0 (they read, never lock or write).

    After opening, ``resuming`` says whether a checkpoint or results from the same spec are
    there to continue from, and :meth:`finished_summary` returns the summary of a finished run.
    """

    def __init__(self, path, spec: dict | None = None, *, resume: bool = False, overwrite: bool = False,
                 free_keys: Iterable[str] = (), writer: bool = True, source: str = "spec"):
        if resume and overwrite:
            raise RunFolderError("--resume and --overwrite contradict each other; give one of them.")
        self.path = Path(path)
        self.spec = spec
        self.resume, self.overwrite, self.writer = bool(resume), bool(overwrite), bool(writer)
        self.free_keys = tuple(free_keys)
        self.source = source
        self._lock_fd: int | None = None
        self.resuming = False
        self.data_files: list[dict] | None = None

    # -- opening and closing

    @classmethod
    def open(cls, path, spec: dict | None = None, **kwargs) -> "RunFolder":
        """Lock the folder, check it against the mode and the spec, write spec.toml; see the class doc."""
        folder = cls(path, spec, **kwargs)
        folder._open()
        return folder

    def _open(self) -> None:
        if self.writer:
            _prepare_dir(self.path)
            self._lock()
        try:
            self._check_and_prepare()
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        lock = self.path / LOCK
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise RunFolderError(f"cannot lock run folder {str(self.path)!r}: {exc.strerror}.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.read(fd, 64).decode(errors="replace").strip()
            except OSError:
                holder = ""
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise RunFolderError(f"run folder {str(self.path)!r} is in use by another run{who}; wait for it "
                                 "to finish or choose another --out.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def close(self) -> None:
        """Release the lock (the folder's files stay)."""
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> "RunFolder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _existing_results(self) -> list[str]:
        return [name for name in RESULTS if (self.path / name).exists()]

    def _check_and_prepare(self) -> None:
        present = self._existing_results()
        if self.overwrite:
            if self.writer:
                self._delete_owned()
            present = []
        elif not self.resume and present:
            raise RunFolderError(
                f"run folder {str(self.path)!r} already holds results ({', '.join(present)}); continue it "
                "with --resume, start over with --overwrite (deletes them), or choose another --out.")
        if self.resume and present:
            stored = self.stored_spec()
            if self.spec is not None:
                if stored is None:
                    raise RunFolderError(
                        f"cannot resume {str(self.path)!r}: it holds results ({', '.join(present)}) but no {SPEC} "
                        "to check them against; start over with --overwrite or choose another --out.")
                diff = spec_diff(stored, self.spec, self.free_keys)
                if diff:
                    raise RunFolderError(
                        f"cannot resume {str(self.path)!r}: its results were made with another spec: "
                        f"{_describe_diff(diff)}; resume with the same spec, start over with --overwrite, "
                        "or choose another --out.")
            self.resuming = True
        if self.writer and self.spec is not None:
            io.atomic_write_text(self.path / SPEC, io.spec_to_toml(self.spec))

    def _delete_owned(self) -> None:
        for name in OWNED:
            (self.path / name).unlink(missing_ok=True)
        for pattern in OWNED_PATTERNS:
            for f in self.path.glob(pattern):
                if f.is_file():
                    f.unlink()
        for d in OWNED_DIRS:
            shutil.rmtree(self.path / d, ignore_errors=True)

    # -- the spec

    def stored_spec(self) -> dict | None:
        """The spec.toml in the folder as a dict (None when there is none)."""
        f = self.path / SPEC
        if not f.is_file():
            return None
        try:
            return tomllib.loads(f.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RunFolderError(f"{f}: not valid TOML ({exc}); start over with --overwrite.") from None

    # -- metrics.jsonl

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    def append_metrics(self, record: dict) -> None:
        """Append one record to metrics.jsonl."""
        if self.writer:
            io.append_jsonl(self.metrics_path, record)

    def metrics(self) -> list[dict]:
        """Every record of metrics.jsonl (a torn last line is skipped); [] when there is none."""
        return io.read_jsonl(self.metrics_path) if self.metrics_path.is_file() else []

    def truncate_metrics(self, key: str, upto) -> list[dict]:
        """Keep only the records with ``record[key] <= upto`` (those the checkpoint covers: a crash
        between a metrics line and its checkpoint leaves lines the resumed run writes again); return them."""
        kept = [r for r in self.metrics() if r.get(key) is not None and r[key] <= upto]
        if self.writer:
            io.atomic_write_text(self.metrics_path, "".join(io.jsonl_line(r) for r in kept))
        return kept

    def clear_metrics(self) -> None:
        if self.writer:
            self.metrics_path.unlink(missing_ok=True)

    # -- checkpoints

    def checkpoint_path(self, name: str = "checkpoint.pt") -> Path:
        if name not in CHECKPOINTS:
            raise ValueError(f"unknown checkpoint name {name!r}; allowed: {', '.join(CHECKPOINTS)}.")
        return self.path / name

    def has_checkpoint(self, name: str = "checkpoint.pt") -> bool:
        return self.checkpoint_path(name).is_file()

    def save_checkpoint(self, obj: Any, name: str = "checkpoint.pt") -> None:
        """torch.save(obj) to the checkpoint, atomically."""
        if self.writer:
            io.atomic_torch_save(self.checkpoint_path(name), obj)

    def write_checkpoint_with(self, write: Callable[[str], None], name: str = "checkpoint.b2") -> None:
        """Let a library write the checkpoint to a path (e.g. Brian2's ``Network.store(filename=...)``),
        atomically: ``write(tmp)`` then rename over the checkpoint."""
        if self.writer:
            io.atomic_write_with(self.checkpoint_path(name), write)

    def load_checkpoint(self, name: str = "checkpoint.pt", map_location=None) -> Any:
        import torch

        return torch.load(self.checkpoint_path(name), map_location=map_location, weights_only=False)

    def remove_checkpoint(self, name: str | None = None) -> None:
        if self.writer:
            for n in ([name] if name else CHECKPOINTS):
                self.checkpoint_path(n).unlink(missing_ok=True)

    # -- results

    def write_summary(self, summary: dict) -> None:
        if self.writer:
            io.atomic_write_json(self.path / SUMMARY, summary)

    def finished_summary(self) -> dict | None:
        """The summary of a finished run being resumed (None otherwise)."""
        f = self.path / SUMMARY
        if not (self.resuming and f.is_file()):
            return None
        return read_json(f)

    def save_weights(self, weights: dict, name: str = WEIGHTS) -> None:
        """Signed weights per group to an .npz (weights.npz, weights_init.npz)."""
        if self.writer:
            io.atomic_save_npz(self.path / name, **weights)

    def load_weights(self, name: str = WEIGHTS) -> dict | None:
        import numpy as np

        f = self.path / name
        if not f.is_file():
            return None
        with np.load(f, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def save_torch(self, obj: Any, name: str = MODEL) -> None:
        if self.writer:
            io.atomic_torch_save(self.path / name, obj)

    def load_torch(self, name: str = MODEL) -> Any:
        """torch.load of a file the run saved with :meth:`save_torch` (model.pt)."""
        import torch

        f = self.path / name
        if not f.is_file():
            raise FileNotFoundError(f"{str(f)!r} not found; the run writes it when it finishes.")
        return torch.load(f, weights_only=False)

    def save_figure(self, fig, name: str) -> Path | None:
        """Save a matplotlib Figure as ``name`` (PNG) in the folder and close it."""
        if not self.writer:
            return None
        from . import plots

        return plots.save_figure(fig, self.path / name)

    def file(self, name: str) -> Path:
        """Path of a file in the folder, for a library that must write it itself (e.g. Brian2's
        cpp_standalone project folder)."""
        return self.path / name

    # -- data files

    def record_data_files(self, paths: Iterable) -> list[dict]:
        """Record the data files the run reads (path, bytes, sha256) in data_files.json. On resume,
        refuse when they differ from the recorded ones (other data would mix into the results)."""
        record = _files_record(paths)
        f = self.path / DATA_FILES
        if self.resuming and f.is_file():
            old = read_json(f).get("files", [])
            if [(r["path"], r["sha256"]) for r in old] != [(r["path"], r["sha256"]) for r in record]:
                was = ", ".join(r["path"] for r in old) or "none"
                now = ", ".join(r["path"] for r in record) or "none"
                raise RunFolderError(f"cannot resume {str(self.path)!r}: its data files differ from the recorded "
                                     f"ones (recorded: {was}; now: {now}, compared by sha256); resume with the same "
                                     "data or start over with --overwrite.")
        if self.writer:
            io.atomic_write_json(f, {"files": record})
        self.data_files = record
        return record


def read_json(path) -> dict:
    """A JSON file's content; one clear error for an unreadable one."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise RunFolderError(f"{path}: not readable JSON ({exc}).") from None


COSMETIC_KEYS = ("name", "description", "progress")


def reusable_summary(path, spec: dict, free_keys: Iterable[str] = (), *, overwrite: bool = False) -> dict | None:
    """For a sweep point: the summary of a finished run in ``path`` made with the same spec
    (up to cosmetic keys: name, description, progress), else None (run or resume it).

    A folder whose stored spec differs outside ``free_keys`` is refused naming the keys, unless
    ``overwrite`` (then None: the caller reruns it with overwrite=True). A difference only in free
    keys (e.g. more epochs) gives None, so the caller resumes and extends the run."""
    path = Path(path)
    folder = RunFolder(path)
    stored = folder.stored_spec()
    if stored is None or not folder._existing_results():
        return None  # nothing there yet that another spec could have made
    diff = spec_diff(stored, spec, set(free_keys) | set(COSMETIC_KEYS))
    if diff:
        if overwrite:
            return None
        raise RunFolderError(f"sweep point {str(path)!r} holds results made with another spec: {_describe_diff(diff)}; "
                             "rerun with --overwrite to replace them, or choose another --out.")
    if spec_diff(stored, spec, COSMETIC_KEYS):
        return None
    f = path / SUMMARY
    return read_json(f) if f.is_file() else None


# ------------------------------------------------------------------------------------ outcomes

DIVERGENCE_FACTOR = 1e3  # a training loss above this x the run's first loss has diverged


def divergence(loss, initial_loss=None) -> str | None:
    """Why a training loss counts as diverged, or None: a non-finite loss, or one above
    ``DIVERGENCE_FACTOR`` x the run's initial loss (the loss of its first step)."""
    loss = float(loss)
    if not math.isfinite(loss):
        return "non-finite loss"
    if initial_loss is not None and math.isfinite(initial_loss) and initial_loss > 0 \
            and loss > DIVERGENCE_FACTOR * initial_loss:
        return f"loss {loss:.3g} > {DIVERGENCE_FACTOR:g} x the initial loss {initial_loss:.3g}"
    return None


def outcome(diverged: str | None, accuracy, chance: float, n_eval: int) -> dict:
    """The summary keys every substrate with a task records: ``diverged`` (bool), ``divergence``
    (why), ``failed`` (diverged, or final accuracy within three binomial standard errors of
    ``chance`` or below it, or no accuracy at all), ``failure`` (why) and ``chance_acc``."""
    se = math.sqrt(max(chance * (1 - chance), 1e-12) / max(int(n_eval), 1))
    at_chance = accuracy is None or not math.isfinite(accuracy) or accuracy <= chance + 3 * se
    reason = diverged or (f"accuracy {accuracy if accuracy is not None else 'n/a'} at chance level ({chance:.3g})"
                          if at_chance else None)
    return {"diverged": diverged is not None, "divergence": diverged, "failed": reason is not None,
            "failure": reason, "chance_acc": chance}


def headline_part(label: str, value, fmt: str = ".4f", unit: str = "") -> str | None:
    """"label value unit" for a CLI headline, or None when the value is missing."""
    return None if value is None else f"{label} {value:{fmt}}{unit}"


def join_headline(parts, summary: dict) -> str:
    """One CLI line: the non-empty parts, then why the run failed (``failure``) if it did."""
    parts = [p for p in parts if p]
    if summary.get("failed"):
        parts.append(f"FAILED: {summary.get('failure')}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------ stats outputs


def stats_output_names(input_path, out_dir=None) -> dict[str, Path]:
    """Where ``stats`` writes for an input: names derived from the input, so two stats calls on
    different files of one folder never overwrite each other.

    A run folder (its weights.npz) -> ``<folder>/stats_weights.{json,md}``; a file ``a.npz`` ->
    ``<out>/stats_a.{json,md}``; figures ``stats_<stem>_<group>.png`` and ``stats_<stem>_sigma.png``.
    """
    p = Path(input_path)
    stem = Path(WEIGHTS).stem if p.is_dir() else p.stem
    folder = Path(out_dir) if out_dir else (p if p.is_dir() else p.parent)
    base = f"stats_{stem}"
    return {"folder": folder, "stem": base, "json": folder / f"{base}.json", "md": folder / f"{base}.md"}
