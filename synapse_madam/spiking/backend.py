"""Brian2 code-generation targets: runtime numpy / cython, or the C++ standalone device.

Brian2 (Stimberg, Brette & Goodman 2019, eLife 8:e47314) turns model equations into code for a
*target*: ``numpy`` (pure Python fallback, no compiler), ``cython`` (compiled runtime, cached on
disk) or ``cpp_standalone`` (a whole C++ program generated, compiled and run at ``run()``; fastest
for long plastic simulations, but values are only readable after the run).
"""

from __future__ import annotations

from contextlib import contextmanager

TARGETS = ("numpy", "cython", "cpp_standalone")


def validate_target(target: str, source: str = "target") -> str:
    """Return target if it is one of TARGETS, else raise ValueError listing them."""
    if target not in TARGETS:
        raise ValueError(f"{source}: codegen target {target!r} is not supported; allowed: {', '.join(TARGETS)}.")
    return target


@contextmanager
def codegen_target(target: str, directory: str | None = None, openmp_threads: int = 0):
    """Run the enclosed Brian2 model building and ``run()`` on ``target``.

    For ``cpp_standalone`` the project is written to ``directory`` (a temporary one if None) and
    built at the first ``run()``; on exit the device is reset to runtime so that later models
    start clean. Yields the active Brian2 device.
    """
    import brian2 as b2

    validate_target(target)
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=directory, build_on_run=True)
        b2.prefs.devices.cpp_standalone.openmp_threads = int(openmp_threads)
        try:
            yield b2.get_device()
        finally:
            b2.get_device().reinit()
            b2.set_device("runtime")
    else:
        previous = b2.prefs.codegen.target
        b2.prefs.codegen.target = target
        try:
            yield b2.get_device()
        finally:
            b2.prefs.codegen.target = previous


def last_run_seconds(device, fallback: float) -> float:
    """Wall time of the simulation proper: for cpp_standalone the C++ program's own run time
    (compilation excluded), otherwise ``fallback`` (measured around ``Network.run``)."""
    value = getattr(device, "_last_run_time", None)
    return float(value) if value is not None else float(fallback)
