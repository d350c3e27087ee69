"""Run long core work off the GUI thread, with progress signals and cancellation."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from annulusview.core.errors import AnnulusViewError, Cancelled
from annulusview.core.progress import CancelToken

log = logging.getLogger(__name__)

Job = Callable[[Callable[[float, str], None], CancelToken], Any]


WORKER_NICE = 10


def _lower_thread_priority() -> None:
    """Give the calling worker thread (and processes it starts) a lower CPU priority.

    On a machine with few cores, loading and analysis would otherwise take CPU time from the
    GUI thread and the window stutters. Linux: per-thread nice value (raising it needs no
    rights); elsewhere nothing happens.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        nice = int(os.environ.get("ANNULUSVIEW_WORKER_NICE", WORKER_NICE))
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (OSError, AttributeError, ValueError):  # defensive: some sandboxes refuse it
        log.debug("could not lower the worker thread priority", exc_info=True)


class _Runner(QObject):
    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    done = Signal()

    def __init__(self, job: Job, cancel: CancelToken) -> None:
        super().__init__()
        self._job = job
        self._cancel = cancel
        self._last_emit = 0.0

    def _progress(self, fraction: float, text: str) -> None:
        # throttle: the GUI thread need not repaint more than ~30 times a second
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last_emit > 0.03:
            self._last_emit = now
            self.progressed.emit(float(fraction), str(text))

    @Slot()
    def run(self) -> None:
        _lower_thread_priority()
        try:
            result = self._job(self._progress, self._cancel)
        except Cancelled:
            self.cancelled.emit()
        except AnnulusViewError as exc:
            self.failed.emit(exc)
        except Exception as exc:  # a bug: log the traceback, show plain words
            log.error("Background task failed:\n%s", traceback.format_exc())
            self.failed.emit(exc)
        else:
            if self._cancel.cancelled:
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self.done.emit()


class Task(QObject):
    """One background job on its own ``QThread``.

    Signals are delivered on the GUI thread. Keep a reference to the task until ``finished``.

    Parameters
    ----------
    job
        ``job(progress, cancel) -> result``; runs on the worker thread.
    name
        For logs.
    """

    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    finished = Signal()

    # Tasks stay referenced here until their thread ends, so replacing a caller's reference
    # while the thread is still winding down never destroys a running QThread.
    _live: ClassVar[set[Task]] = set()

    def __init__(self, job: Job, name: str = "task", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.cancel_token = CancelToken()
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._runner = _Runner(job, self.cancel_token)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.progressed.connect(self.progressed)
        self._runner.succeeded.connect(self.succeeded)
        self._runner.failed.connect(self.failed)
        self._runner.cancelled.connect(self.cancelled)
        # Direct: quit the thread's event loop from the thread itself, so wait() from the GUI
        # thread (shutdown, tests) never waits for a queued quit that it is itself blocking.
        self._runner.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._on_thread_finished)
        self._running = False

    def start(self) -> None:
        log.debug("starting %s", self.name)
        self._running = True
        Task._live.add(self)
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def running(self) -> bool:
        return self._running

    @classmethod
    def wait_all(cls, timeout_ms: int = 30000) -> None:
        """Cancel nothing, just wait for every live task's thread to end."""
        for task in list(cls._live):
            task.wait(timeout_ms)

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until the thread ends (for shutdown and tests)."""
        return bool(self._thread.wait(timeout_ms))

    def _on_thread_finished(self) -> None:
        # QThread.finished is emitted from the worker thread just before it really ends. When
        # this slot drops the last reference to the task, the QThread is destroyed; destroying
        # a QThread that is still running is a Qt fatal error (abort). Wait for the end first:
        # the thread is at its very last step, so this returns at once.
        self._thread.wait()
        self._running = False
        self.finished.emit()
        Task._live.discard(self)
