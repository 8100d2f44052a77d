"""Progress bars that appear only on a terminal.

Every loop that shows progress (deep trainer and sweep, rate training, ``stats``) goes through
:func:`progress_bar`. A bar is drawn only when asked for *and* its stream is a terminal: written
to a log file or a pipe, tqdm's carriage-return redraws pile up as escape codes (hundreds of KB
per run), so there the bar is silent and the loop's own printed lines carry the information.
"""

from __future__ import annotations

import sys

__all__ = ["is_terminal", "progress_bar"]


def is_terminal(stream=None) -> bool:
    """True when ``stream`` (default ``sys.stderr``) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(iterable=None, *, total: int | None = None, desc: str = "", enabled: bool = True, file=None,
                 **kwargs):
    """A tqdm bar over ``iterable`` (or a manual one of ``total`` steps) on ``file`` (default
    stderr), disabled unless ``enabled`` and ``file`` is a terminal. A disabled bar still
    iterates and accepts ``update``/``set_postfix``/``close``, and writes nothing."""
    file = sys.stderr if file is None else file
    if not (enabled and is_terminal(file)):
        return _SilentBar(iterable)  # draws nothing, so tqdm is not needed (GPU hosts may lack it)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, file=file, disable=not (enabled and is_terminal(file)),
                dynamic_ncols=True, **kwargs)


class _SilentBar:
    """What a disabled bar must do: iterate ``iterable`` and accept tqdm's calls, writing nothing."""

    def __init__(self, iterable=None):
        self._iterable = iterable

    def __iter__(self):
        return iter(self._iterable if self._iterable is not None else ())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n=1):
        return None

    def set_postfix(self, *args, **kwargs):
        return None

    def set_description(self, *args, **kwargs):
        return None

    def set_postfix_str(self, *args, **kwargs):
        return None

    def close(self):
        return None
