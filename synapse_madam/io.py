"""Atomic result files: write to a temporary file in the same folder, then rename over the target.

A crash mid-write leaves the previous file intact, never a truncated one (DESIGN.md conventions).
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["spec_to_toml", "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "atomic_save_npz",
           "atomic_torch_save", "atomic_write_with", "append_jsonl", "read_jsonl", "jsonl_line"]


def _umask() -> int:
    """The process umask: read from /proc on Linux (no change of process state), else set and restore."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _normal_mode(fd: int) -> None:
    """tempfile.mkstemp creates files with mode 0600; results get 0666 & ~umask like open() would."""
    os.fchmod(fd, 0o666 & ~_umask())


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + fsync + os.replace), mode 0666 & ~umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _normal_mode(fd)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_with(path: str | os.PathLike, write) -> Path:
    """Atomically create ``path`` with a writer that insists on a file name (``write(tmp_name)``,
    e.g. Brian2's ``Network.store(filename=...)``): write to a temp name, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        Path(tmp).unlink()  # some writers refuse or append to an existing file
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_save_npz(path, **arrays) -> Path:
    """np.savez_compressed(path, **arrays), atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())


def atomic_torch_save(path, obj: Any) -> Path:
    """torch.save(obj, path), atomically (checkpoints)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def append_jsonl(path, record: dict) -> None:
    """Append one JSON line (metrics logs). A torn last line is skipped by read_jsonl."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(jsonl_line(record))
        f.flush()


def read_jsonl(path) -> list[dict]:
    """Records of a JSON-lines file, ignoring a torn (incomplete) final line."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def jsonl_line(record: dict) -> str:
    """One record as a JSON line (the format of append_jsonl)."""
    return json.dumps(record, default=_json_default) + "\n"


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def spec_to_toml(spec: dict) -> str:
    """A resolved experiment spec (scalars, lists of scalars and one level of tables) as TOML text
    (what every run writes as spec.toml; tomllib reads it back to the same dict)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            v = float(v)
            return repr(v) if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if v is None:
            raise TypeError("TOML has no null; leave the key out instead.")
        raise TypeError(f"cannot write {type(v).__name__} to TOML.")

    lines = [f"{k} = {value(v)}" for k, v in spec.items() if not isinstance(v, dict)]
    for k, v in spec.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"
