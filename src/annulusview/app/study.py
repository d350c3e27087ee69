"""The open case as one object the window's parts share.

:class:`Study` owns what the user is working on: the study path and series, the volume, the
landmarks, the analysis settings and the latest results. Landmark changes are signalled (the
window shows them everywhere and reruns the analysis); undoable edits
(:mod:`annulusview.app.undo`) make them. It holds no widgets, so its state is the same
whichever panels are open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from annulusview.app.session import AnalysisSettings
from annulusview.core.landmarks import Landmarks
from annulusview.core.results import Results
from annulusview.core.volume import Volume


class Study(QObject):
    """The open study.

    Signals
    -------
    landmarks_changed(landmarks)
        The landmarks were set (placed, moved, deleted, imported, undone or restored).
    """

    landmarks_changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.series_id: str | None = None
        self.skipped: list[Any] = []
        self.volume: Volume | None = None
        self.landmarks = Landmarks()
        self.results: Results | None = None
        self.settings = AnalysisSettings()

    def set_volume(self, volume: Volume, path: Path, series_id: str | None) -> None:
        """A newly loaded series: the results of the previous one no longer apply."""
        self.volume = volume
        self.path = path
        self.series_id = series_id
        self.results = None

    def set_landmarks(self, landmarks: Landmarks) -> None:
        self.landmarks = landmarks
        self.landmarks_changed.emit(landmarks)

    def set_results(self, results: Results | None) -> None:
        self.results = results
