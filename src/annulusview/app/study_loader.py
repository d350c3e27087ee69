"""Opening a study in the window: scan off the GUI thread, let the user pick a series when
there are several, then read only the pixels of that series (each header is read once).
Another series of the scanned study (a cardiac phase) loads from the same scan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from annulusview.app.dialogs import SeriesDialog
from annulusview.app.workers import Task
from annulusview.core.io.types import ScanResult
from annulusview.core.volume import Volume

if TYPE_CHECKING:
    from annulusview.app.main_window import MainWindow


class StudyLoader(QObject):
    """Scan, pick, load.

    Signals
    -------
    loaded(path, series_id, volume)
    failed(exception, context)
    cancelled()
        The user cancelled the scan or load.

    Attributes
    ----------
    scan, scanned_path
        The last finished scan and the path it was asked for (None before one).
    phase_switch
        The load in progress is :meth:`switch_series` (the window keeps the landmarks).
    """

    loaded = Signal(object, object, object)
    failed = Signal(object, str)
    cancelled = Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.task: Task | None = None
        self.series_dialog: SeriesDialog | None = None
        self.pending_landmarks: Path | None = None
        self.scan: ScanResult | None = None
        self.scanned_path: Path | None = None
        self.phase_switch = False

    def open(
        self, path: Path | str, series: str | None = None, landmarks: Path | None = None
    ) -> None:
        """Scan ``path`` (a folder, zip, file or NIfTI) and load a series of it."""
        path = Path(path).expanduser()
        if self.task is not None and self.task.running:
            self.task.cancel()
        self.pending_landmarks = landmarks
        self.phase_switch = False

        def job(progress: Any, cancel: Any) -> Any:
            # imported here: the first import of the DICOM stack must not block the GUI thread
            from annulusview.core.io.loader import no_series_error, scan

            result = scan(path, progress, cancel)
            if not result.series:
                raise no_series_error(Path(result.path), result.skipped)
            return result

        self._start(
            Task(job, "scan"), f"Reading {path.name}…", lambda r: self._scanned(path, r, series)
        )

    def switch_series(self, series: str) -> None:
        """Load another series of the last scan (another cardiac phase) off the GUI thread;
        no header is read again. ``loaded`` follows with :attr:`phase_switch` set."""
        if self.scan is None or self.scanned_path is None:
            return
        if self.task is not None and self.task.running:
            self.task.cancel()
        self.pending_landmarks = None
        self.phase_switch = True
        self._load(self.scanned_path, self.scan, series)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _start(self, task: Task, text: str, done: Any) -> None:
        w = self.window

        def current(slot: Any) -> Any:
            # a superseded task (another open or phase switch started) says nothing more
            return w.guard(lambda *args: slot(*args) if task is self.task else None)

        task.progressed.connect(current(w.show_progress))
        task.succeeded.connect(current(done))
        task.failed.connect(current(self._failed))
        task.cancelled.connect(current(self._cancelled))
        self.task = task
        w.set_busy(text, task)
        task.start()

    def _failed(self, exc: BaseException) -> None:
        context = "Switch cardiac phase" if self.phase_switch else "Open study"
        self.phase_switch = False
        self.failed.emit(exc, context)

    def _cancelled(self) -> None:
        self.phase_switch = False
        self.window.set_busy("Loading cancelled.", None)
        self.cancelled.emit()

    def _scanned(self, path: Path, result: ScanResult, series: str | None) -> None:
        w = self.window
        self.scan, self.scanned_path = result, path
        w.study.skipped = list(result.skipped)
        if series is None and len(result.series) > 1:
            w.set_busy(f"{len(result.series)} series found: choose one.", None)
            dialog = SeriesDialog(result.series, len(result.skipped), w)
            dialog.accepted.connect(lambda: self._load(path, result, dialog.selected_id()))
            dialog.rejected.connect(lambda: w.set_busy("Opening cancelled.", None))
            self.series_dialog = dialog
            dialog.open()
            return
        chosen = series or (result.series[0].id if result.series else None)
        self._load(path, result, chosen)

    def _load(self, path: Path, scanned: ScanResult, series: str | None) -> None:
        """Read the pixels of one scanned series (the headers are not read again)."""

        def job(progress: Any, cancel: Any) -> Volume:
            from annulusview.core.io.loader import load_scanned

            return load_scanned(scanned, series, progress, cancel)

        def done(volume: Volume) -> None:
            try:
                self.loaded.emit(path, series, volume)
            finally:
                self.phase_switch = False

        what = "another cardiac phase of " if self.phase_switch else ""
        self._start(Task(job, "load"), f"Loading {what}{path.name}…", done)
