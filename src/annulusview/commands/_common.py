"""Helpers shared by the sub-commands: progress on stderr."""

from __future__ import annotations

import sys
from collections.abc import Callable


def stderr_progress(label: str) -> Callable[[float, str], None]:
    """A progress callback: a bar on a terminal, a few plain lines otherwise."""
    tty = sys.stderr.isatty()
    last = {"decile": -1}

    def progress(fraction: float, text: str) -> None:
        if tty:
            width = 30
            filled = round(fraction * width)
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r{label} [{bar}] {fraction * 100:5.1f}% {text[:40]:<40}")
            if fraction >= 1.0:
                sys.stderr.write("\n")
            sys.stderr.flush()
        else:
            decile = int(fraction * 10)
            if decile != last["decile"]:
                last["decile"] = decile
                print(f"{label}: {fraction * 100:.0f}% {text}", file=sys.stderr)

    return progress
