"""Landmark editing on the window's study: place, move, delete, jump, import and export.

Every change goes through the undo stack as a :class:`SetLandmarkCommand` acting on the
:class:`Study`; the views and panels follow the study's ``landmarks_changed`` signal. The editor
holds the one piece of editing state, the landmark being placed (``placing``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annulusview.app import messages
from annulusview.app.undo import ReplaceLandmarksCommand, SetLandmarkCommand
from annulusview.core.errors import InputError
from annulusview.core.landmarks import Landmarks, read_landmarks, write_landmarks

if TYPE_CHECKING:
    from annulusview.app.main_window import MainWindow


class LandmarkEditor:
    """The landmark commands of one window (menus, panel buttons and view clicks call these)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.placing: str | None = None

    def start_placing(self, name: str) -> None:
        w = self.window
        if w.volume is None:
            w.status_label.setText("Open a study first.")
            return
        self.placing = name
        w.landmark_panel.select(name)
        for view in w.views.values():
            view.placing = True
            view.set_landmarks(dict(w.landmarks.points), name, w.landmarks.proposed)
        w.landmark_panel.update_landmarks(w.landmarks, name)
        w.status_label.setText(f"Click in a view to place {name}.")

    def stop_placing(self) -> None:
        w = self.window
        self.placing = None
        for view in w.views.values():
            view.placing = False
            view.update()
        w.landmark_panel.update_landmarks(w.landmarks)

    def place_landmark(self, name: str, lps: Any) -> None:
        """Place or move ``name`` at ``lps`` (undoable)."""
        w = self.window
        old = w.landmarks.get(name)
        verb = "Move" if old is not None else "Place"
        self.stop_placing()
        w.undo_stack.push(SetLandmarkCommand(w.study, name, old, lps, f"{verb} {name}"))
        w.status_label.setText(
            f"{name} at LPS ({', '.join(f'{v:.1f}' for v in np.asarray(lps))}) mm"
        )

    def landmark_dragged(self, name: str, old: Any, new: Any) -> None:
        w = self.window
        w.undo_stack.push(SetLandmarkCommand(w.study, name, old, new, f"Move {name}"))

    def delete_landmark(self, name: str) -> None:
        w = self.window
        old = w.landmarks.get(name)
        if old is not None:
            w.undo_stack.push(SetLandmarkCommand(w.study, name, old, None, f"Delete {name}"))

    def place_selected(self) -> None:
        name = self.window.landmark_panel.selected_name()
        if name:
            self.start_placing(name)

    def delete_selected(self) -> None:
        name = self.window.landmark_panel.selected_name()
        if name:
            self.delete_landmark(name)

    def jump_to_landmark(self, name: str) -> None:
        w = self.window
        pos = w.landmarks.get(name)
        if pos is not None:
            w.set_crosshair(pos, centre=True)
            w.viewer3d.centre_on(pos)

    def import_landmarks(self, path: Path) -> None:
        """Read a markups file and apply every point as one undoable step."""
        w = self.window
        try:
            lms = read_landmarks(path)
        except InputError as exc:
            messages.show_error(w, exc, "Import landmarks")
            return
        old = w.landmarks
        # one undoable step that keeps the file's "proposed" marks: an imported proposal is
        # still to be reviewed, not confirmed by being imported
        new = Landmarks(
            {**old.points, **lms.points},
            old.source,
            (old.proposed - set(lms.points)) | lms.proposed,
        )
        w.undo_stack.push(ReplaceLandmarksCommand(w.study, old, new, f"Import {Path(path).name}"))
        unknown = lms.unknown_names
        if unknown:
            w.status_label.setText(
                f"Imported; unknown names kept but not used: {', '.join(unknown)}"
            )

    def import_landmarks_dialog(self) -> None:
        path = self.window.ask_open_file(
            "Import landmarks", "3D Slicer markups (*.mrk.json *.json)"
        )
        if path:
            self.import_landmarks(path)

    def export_landmarks_dialog(self) -> None:
        w = self.window
        path = w.ask_save_file(
            "Export landmarks", "3D Slicer markups (*.mrk.json)", "landmarks.mrk.json"
        )
        if path:
            try:
                write_landmarks(path, w.landmarks)
                w.status_label.setText(f"Landmarks written to {path}")
            except Exception as exc:
                messages.show_error(w, exc, "Export landmarks")
