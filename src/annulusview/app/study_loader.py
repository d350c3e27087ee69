"""Opening a study in the window: scan off the GUI thread, let the user pick a series when
there are several, then read only the pixels of that series (each header is read once)."""

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
    """

    loaded = Signal(object, object, object)
    failed = Signal(object, str)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.task: Task | None = None
        self.series_dialog: SeriesDialog | None = None
        self.pending_landmarks: Path | None = None

    def open(
        self, path: Path | str, series: str | None = None, landmarks: Path | None = None
    ) -> None:
        """Scan ``path`` (a folder, zip, file or NIfTI) and load a series of it."""
        path = Path(path).expanduser()
        if self.task is not None and self.task.running:
            self.task.cancel()
        self.pending_landmarks = landmarks

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

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _start(self, task: Task, text: str, done: Any) -> None:
        w = self.window
        task.progressed.connect(w.guard(w.show_progress))
        task.succeeded.connect(w.guard(done))
        task.failed.connect(w.guard(lambda exc: self.failed.emit(exc, "Open study")))
        task.cancelled.connect(w.guard(lambda: w.set_busy("Loading cancelled.", None)))
        self.task = task
        w.set_busy(text, task)
        task.start()

    def _scanned(self, path: Path, result: ScanResult, series: str | None) -> None:
        w = self.window
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

        self._start(
            Task(job, "load"),
            f"Loading {path.name}…",
            lambda volume: self.loaded.emit(path, series, volume),
        )
