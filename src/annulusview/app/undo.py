"""Undoable edits of the open study (Edit > Undo / Redo act on these)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtGui import QUndoCommand

from annulusview.app.study import Study
from annulusview.core.landmarks import Landmarks


class SetLandmarkCommand(QUndoCommand):
    """Place, move or delete one landmark of ``study`` (``new`` None deletes)."""

    def __init__(self, study: Study, name: str, old: Any, new: Any, text: str) -> None:
        super().__init__(text)
        self.study = study
        self.name = name
        self.old = None if old is None else np.asarray(old, dtype=float).copy()
        self.new = None if new is None else np.asarray(new, dtype=float).copy()

    def _apply(self, value: Any) -> None:
        lms = self.study.landmarks
        lms = lms.without(self.name) if value is None else lms.with_point(self.name, value)
        self.study.set_landmarks(lms)

    def redo(self) -> None:
        self._apply(self.new)

    def undo(self) -> None:
        self._apply(self.old)


class ReplaceLandmarksCommand(QUndoCommand):
    """Replace all of ``study``'s landmarks in one step, keeping which are proposed (a
    proposal, an import of a proposed file, a person accepting a proposed point)."""

    def __init__(self, study: Study, old: Landmarks, new: Landmarks, text: str) -> None:
        super().__init__(text)
        self.study = study
        self.old = old
        self.new = new

    def redo(self) -> None:
        self.study.set_landmarks(self.new)

    def undo(self) -> None:
        self.study.set_landmarks(self.old)
