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
    from tqdm.auto import tqdm

    file = sys.stderr if file is None else file
    return tqdm(iterable, total=total, desc=desc, file=file, disable=not (enabled and is_terminal(file)),
                dynamic_ncols=True, **kwargs)
