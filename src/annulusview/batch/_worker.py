"""What the batch installs on, or asks of, the Dask workers (imports distributed)."""

from __future__ import annotations

import contextlib
import signal
from typing import Any

from distributed import WorkerPlugin


def annulusview_version() -> str:
    """The annulusview version a worker imports (fails there when it is not installed)."""
    import annulusview

    return annulusview.__version__


class IgnoreInterrupt(WorkerPlugin):
    """Let the workers of the embedded cluster ignore SIGINT.

    Ctrl-C in a terminal reaches every process of the foreground group; the batch itself
    stops the cluster in order, so a worker must not die first (its nanny would restart it
    while the cluster closes).
    """

    def setup(self, worker: Any) -> None:
        with contextlib.suppress(ValueError):  # not the main thread: nothing to do
            signal.signal(signal.SIGINT, signal.SIG_IGN)
