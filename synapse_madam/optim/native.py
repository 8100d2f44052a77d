"""The native CPU kernel of the published Madam step: build once, load, call.

``madam_kernel.c`` (beside this file) does the whole step in one pass over memory: it reads w, g
and v once and writes w and v once, 20 bytes per float32 parameter, the least a Madam step can
move. torch's elementwise ops need one pass per operation, which is why the foreach and for-loop
paths cost 1.5-2.7x Adam(foreach) on the CPU (issue 12). The kernel handles a whole parameter
group per call: a table of tensor pointers, cut into chunks that OpenMP threads take in turn.

Build: at first use, with the system C compiler (``$CC``, else ``cc``, ``gcc`` or ``clang``),
``-O3 -march=native -fopenmp`` and glibc's vector exp (libmvec) where available, into a cache
directory (``$SYNAPSE_MADAM_CACHE``, else ``~/.cache/synapse_madam``) under a name that hashes the
source, the compiler, the flags and the CPU, so a changed kernel or machine gets a new build.
A build takes well under a second; later processes load the cached library. Where no compiler
works, one :class:`NativeKernelWarning` says so and Madam runs its for-loop path (same rule,
slower). ``SYNAPSE_MADAM_NATIVE=0`` turns the kernel off.

Python's ``ctypes`` calls the library (no torch headers to compile, which would take ~1 min).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

from ._state import copy_split_

__all__ = ["NativeKernelWarning", "available", "madam_native", "supports", "kernel_info", "lns_supports",
           "lns_madam_native", "uniform_quantize_native"]

SOURCE = Path(__file__).with_name("madam_kernel.c")
CHUNK = 1 << 15  # elements per work item: 128 KiB of float32 per stream, cache-friendly
SERIAL_BELOW = 1 << 16  # groups smaller than this run on one thread (no fork/join cost)
BASE_FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-fPIC", "-shared"]
# Tried in order; the first that builds is used.
FLAG_LADDER = (
    ["-march=native", "-fopenmp", "-DSM_MVEC", "-lmvec"],
    ["-march=native", "-fopenmp"],
    ["-fopenmp"],
    [],
)
_DTYPES = {torch.float32: ("madam_step_f32", ctypes.c_float), torch.float64: ("madam_step_f64", ctypes.c_double)}
_LNS_KERNELS = {(torch.int8, torch.float32): "lns_madam_step_i8", (torch.int16, torch.float32): "lns_madam_step_i16",
                (torch.int8, torch.bfloat16): "lns_madam_step_i8_bf16",
                (torch.int16, torch.bfloat16): "lns_madam_step_i16_bf16",
                (torch.int8, torch.uint8): "lns_madam_step_i8_log8", (torch.int16, torch.uint8): "lns_madam_step_i16_log8"}
_LOG8 = (torch.uint8,)  # second moments stored as log_moment codes: the kernels with an exponent per tensor


class NativeKernelWarning(UserWarning):
    """The native Madam kernel could not be built; the slower for-loop path is used instead."""


def _cache_dir() -> Path:
    env = os.environ.get("SYNAPSE_MADAM_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "synapse_madam"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _cpu_signature() -> str:
    """What -march=native depends on: the machine and, on Linux, the CPU's feature flags."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        flags = ""
    return platform.machine() + flags


def _build(cc: str) -> tuple[Path, list[str]] | None:
    """Compile the kernel into the cache (atomically: a temporary name, then rename). Returns
    (library path, flags) or None when no flag set builds."""
    source = SOURCE.read_bytes()
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    for flags in FLAG_LADDER:
        key = hashlib.sha256(b"\0".join([source, cc.encode(), version.encode(), " ".join(BASE_FLAGS + flags).encode(),
                                         _cpu_signature().encode()])).hexdigest()[:16]
        for directory in (_cache_dir(), Path(tempfile.gettempdir()) / f"synapse_madam-{os.getuid()}"):
            lib = directory / f"madam_kernel-{key}.so"
            if lib.is_file():
                return lib, flags
            try:
                directory.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(suffix=".so", dir=directory)
                os.close(fd)
            except OSError:
                continue  # not writable: try the next directory
            compile_cmd = [cc, *BASE_FLAGS, str(SOURCE), "-o", tmp, *[f for f in flags if f != "-lmvec"], "-lm",
                           *[f for f in flags if f == "-lmvec"]]
            done = subprocess.run(compile_cmd, capture_output=True, text=True, timeout=120)
            if done.returncode == 0:
                os.replace(tmp, lib)
                return lib, flags
            os.unlink(tmp)
            break  # this flag set does not build with this compiler: try the next one
    return None


@functools.cache
def _load():
    """(ctypes library, flags) or None, with one NativeKernelWarning saying why when None."""
    if os.environ.get("SYNAPSE_MADAM_NATIVE", "1") == "0":
        return None
    cc = _compiler()
    why = None
    if cc is None:
        why = "no C compiler was found (install gcc or set CC)"
    else:
        try:
            built = _build(cc)
        except (OSError, subprocess.SubprocessError) as exc:
            built, why = None, f"building it with {cc} failed ({exc})"
        if built is None:
            why = why or f"{cc} could not build {SOURCE.name}"
        else:
            lib_path, flags = built
            try:
                lib = ctypes.CDLL(str(lib_path))
            except OSError as exc:
                why = f"loading {lib_path} failed ({exc})"
            else:
                for name, scalar in _DTYPES.values():
                    fn = getattr(lib, name)
                    ptr = ctypes.c_void_p
                    fn.argtypes = [ctypes.c_int64, ptr, ptr, ptr, ptr, ptr, ptr, scalar, scalar, scalar, scalar,
                                   scalar, ctypes.c_int32, ctypes.c_int32, ctypes.c_int64]
                    fn.restype = ctypes.c_int64
                for (_, v_dtype), name in _LNS_KERNELS.items():
                    fn = getattr(lib, name)
                    log8 = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64] if v_dtype in _LOG8 else []
                    fn.argtypes = [ctypes.c_int64] + [ctypes.c_void_p] * 9 + log8 + [ctypes.c_float] * 5 \
                        + [ctypes.c_int32] * 3 + [ctypes.c_int64]
                    fn.restype = ctypes.c_int64
                lib.uniform_quantize_f32.argtypes = [ctypes.c_int64] + [ctypes.c_void_p] * 5 + [
                    ctypes.c_float, ctypes.c_int32, ctypes.c_int32, ctypes.c_int64]
                lib.uniform_quantize_f32.restype = ctypes.c_int64
                lib.madam_kernel_openmp.restype = ctypes.c_int32
                return lib, flags, str(lib_path)
    warnings.warn(f"synapse_madam: the native Madam CPU kernel is unavailable: {why}. Madam runs its "
                  "for-loop path on the CPU instead (the same rule, about 3-5x slower per step).",
                  NativeKernelWarning, stacklevel=4)
    return None


def available() -> bool:
    """True when the native kernel is built and loaded (builds it on first call)."""
    return _load() is not None


def kernel_info() -> dict:
    """What was built: library path, flags, whether it is multi-threaded; {} when unavailable."""
    loaded = _load()
    if loaded is None:
        return {}
    lib, flags, path = loaded
    return {"library": path, "flags": BASE_FLAGS + flags, "openmp": bool(lib.madam_kernel_openmp())}


def supports(p: torch.Tensor, g: torch.Tensor, v: torch.Tensor) -> bool:
    """Whether the kernel can update this tensor: CPU, float32/float64, one dtype, contiguous."""
    return (p.device.type == "cpu" and p.dtype in _DTYPES and g.dtype == p.dtype and v.dtype == p.dtype
            and g.device.type == "cpu" and p.is_contiguous() and g.is_contiguous() and v.is_contiguous()
            and not g.is_sparse)


def madam_native(params, grads, exp_avg_sqs, steps, w_maxs, *, lr, beta, g_bound, eps, maximize) -> None:
    """The published Madam step over tensors of one dtype in one kernel call (see module doc).

    Same arguments and in-place semantics as ``madam_functional.madam_foreach``: params and
    exp_avg_sqs are updated, steps incremented, grads never written. The caller checks
    :func:`supports` for every tensor and :func:`available`.
    """
    if not params:
        return
    lib = _load()[0]
    dtype = params[0].dtype
    name, scalar = _DTYPES[dtype]
    torch._foreach_add_(steps, 1.0)
    # bias corrections 1 - beta^t in at least float32, then v's dtype (as rule._bias_correction)
    pow_dtype = torch.promote_types(dtype, torch.float32)
    bias_corrections = (1.0 - torch.pow(beta, torch.stack(steps).to(pow_dtype))).to(dtype).contiguous()
    w_max = torch.stack(w_maxs).to(dtype).contiguous()
    table = torch.tensor([[p.data_ptr(), g.data_ptr(), v.data_ptr(), p.numel()]
                          for p, g, v in zip(params, grads, exp_avg_sqs)], dtype=torch.int64).t().contiguous()
    n_elements = int(table[3].sum())
    n_threads = 1 if n_elements < SERIAL_BELOW else torch.get_num_threads()
    getattr(lib, name)(len(params), table[0].data_ptr(), table[1].data_ptr(), table[2].data_ptr(),
                       table[3].data_ptr(), bias_corrections.data_ptr(), w_max.data_ptr(),
                       scalar(float(lr)), scalar(beta), scalar(1.0 - beta), scalar(g_bound), scalar(eps),
                       int(bool(maximize)), n_threads, CHUNK)
    _mark_written(params, exp_avg_sqs)


def _mark_written(*tensor_lists) -> None:
    """Bump the autograd version counters of tensors the kernel wrote through raw pointers, as an
    in-place torch op would (so autograd still detects use of a stale saved tensor)."""
    torch.autograd.graph.increment_version([t for ts in tensor_lists for t in ts])


def _pointer_table(*tensor_lists) -> torch.Tensor:
    """int64 table, one row per list: the data pointers of its tensors (kept alive by the caller)."""
    return torch.tensor([[t.data_ptr() for t in ts] for ts in tensor_lists], dtype=torch.int64)


def lns_supports(p: torch.Tensor, g: torch.Tensor, v: torch.Tensor, codes: torch.Tensor) -> bool:
    """Whether the LNS kernel can update this tensor: CPU, float32 weights and gradient, float32,
    bfloat16 or log8 (uint8 codes) second moment, int8/int16 codes, all contiguous."""
    return (p.device.type == "cpu" and p.dtype == torch.float32 and g.dtype == torch.float32
            and (codes.dtype, v.dtype) in _LNS_KERNELS and g.device.type == "cpu"
            and not g.is_sparse and all(t.is_contiguous() for t in (p, g, v, codes)))


def lns_madam_native(params, grads, exp_avg_sqs, codes, levels, steps, seeds, *, c, beta, g_bound, eps, k_max,
                     stochastic, exponents=None) -> None:
    """One LNSMadam step (terms off) over tensors whose codes share one dtype, in one kernel call.

    ``levels[i]`` holds tensor i's decoded magnitudes for k = 0..k_max (float32), ``c`` is
    lr / ln(base); the codes share one dtype, and so do the second moments. ``steps`` are incremented; the rounding noise is keyed on (seeds[i], new step).
    Log8 second moments (uint8, :mod:`synapse_madam.optim.log_moment`) need ``exponents``, the
    tensors' 0-dim float32 exponents, updated in place.
    The caller checks :func:`lns_supports` and :func:`available`.
    """
    if not params:
        return
    lib = _load()[0]
    torch._foreach_add_(steps, 1.0)
    step_values = torch.stack(steps)
    bias_corrections = (1.0 - torch.pow(beta, step_values)).to(torch.float32).contiguous()
    counters = step_values.to(torch.int64).contiguous()
    seed_values = torch.stack(seeds).to(torch.int64).contiguous()
    table = _pointer_table(params, grads, exp_avg_sqs, codes, levels)
    sizes = torch.tensor([p.numel() for p in params], dtype=torch.int64)
    n_threads = 1 if int(sizes.sum()) < SERIAL_BELOW else torch.get_num_threads()
    log8 = []
    if exp_avg_sqs[0].dtype in _LOG8:
        from . import log_moment

        exponent_values = torch.stack([e.reshape(()) for e in exponents]).to(torch.float32).contiguous()
        fractions = torch.tensor(log_moment.FRACTIONS, dtype=torch.float64)
        log8 = [exponent_values.data_ptr(), fractions.data_ptr(), log_moment.V_STREAM]
    done = getattr(lib, _LNS_KERNELS[(codes[0].dtype, exp_avg_sqs[0].dtype)])(
        len(params), *(table[r].data_ptr() for r in range(5)), sizes.data_ptr(), bias_corrections.data_ptr(),
        seed_values.data_ptr(), counters.data_ptr(), *log8, float(c), beta, 1.0 - beta, g_bound, eps, int(k_max),
        int(bool(stochastic)), n_threads, CHUNK)
    if done < 0:
        raise MemoryError("lns_madam_native: the kernel could not allocate its work buffers.")
    if log8:
        copy_split_(list(exponents), exponent_values)
    _mark_written(params, exp_avg_sqs, codes)


def uniform_quantize_native(params, deltas, seeds, counters, *, q_max: int, stochastic: bool) -> None:
    """Round float32 contiguous CPU tensors onto their uniform grids in place (one kernel call):
    w <- clip(round(w / delta_i), -q_max, q_max) * delta_i, stochastic rounding keyed on
    (seeds[i], counters[i]) as ``hashnoise.hash_uniform``. The caller checks the tensors."""
    if not params:
        return
    lib = _load()[0]
    table = _pointer_table(params)
    sizes = torch.tensor([p.numel() for p in params], dtype=torch.int64)
    delta_values = torch.stack(deltas).to(torch.float32).contiguous()
    seed_values = torch.stack(seeds).to(torch.int64).contiguous()
    counter_values = torch.stack(counters).to(torch.int64).contiguous()
    n_threads = 1 if int(sizes.sum()) < SERIAL_BELOW else torch.get_num_threads()
    lib.uniform_quantize_f32(len(params), table[0].data_ptr(), sizes.data_ptr(), delta_values.data_ptr(),
                             seed_values.data_ptr(), counter_values.data_ptr(), float(q_max), int(bool(stochastic)),
                             n_threads, CHUNK)
    _mark_written(params)
