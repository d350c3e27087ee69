"""Progress reporting and cancellation for long-running core work.

Long steps take an optional ``progress`` callable ``(fraction, text) -> None`` and an optional
:class:`CancelToken`. The GUI passes a callback that emits a Qt signal; the CLI prints lines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from annulusview.core.errors import Cancelled

ProgressCallback = Callable[[float, str], None]


class CancelToken:
    """A thread-safe flag a worker polls to stop early."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def report(progress: ProgressCallback | None, fraction: float, text: str) -> None:
    """Call ``progress`` if given, with ``fraction`` clipped to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), text)


def check(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` was set."""
    if cancel is not None:
        cancel.raise_if_cancelled()
