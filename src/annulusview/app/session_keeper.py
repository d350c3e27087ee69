"""Sessions in the window: save, open, restore (asking where a moved study went), autosave
after every edit, and the offer to recover after a crash. The file format is
:mod:`annulusview.app.session`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from annulusview.app import messages
from annulusview.app.session import Session, autosave_path, load_session, save_session
from annulusview.core.errors import InputError

if TYPE_CHECKING:
    from annulusview.app.main_window import MainWindow

log = logging.getLogger(__name__)
AUTOSAVE_DEBOUNCE_MS = 1500


class SessionKeeper:
    """The window's session: what :meth:`current` captures and :meth:`restore` brings back.

    Attributes
    ----------
    enabled
        Autosave on (off for tests that simulate a crash).
    pending
        A session waiting for its study to load (its view state is applied then).
    """

    def __init__(self, window: MainWindow, autosave: bool = True) -> None:
        self.window = window
        self.enabled = autosave
        self.pending: Session | None = None
        self.timer = QTimer(window)
        self.timer.setSingleShot(True)
        self.timer.setInterval(AUTOSAVE_DEBOUNCE_MS)
        self.timer.timeout.connect(self.autosave)

    def current(self) -> Session:
        view: dict[str, Any] = {}
        axial = self.window.views["axial"]
        if axial.crosshair_lps is not None:
            view["crosshair_lps"] = [float(v) for v in axial.crosshair_lps]
        view["window"] = [axial.window_width, axial.window_level]
        view["color_by"] = self.window.scene_state.color_by
        view["toggles"] = {k: a.isChecked() for k, a in self.window.toggle_actions.items()}
        if self.window.viewer3d.plotter is not None and self.window.volume is not None:
            view["camera"] = [
                list(map(float, v)) for v in self.window.viewer3d.plotter.camera_position
            ]
        return Session(
            study_path=str(self.window.study_path or ""),
            series=self.window.series_id,
            landmarks=self.window.landmarks,
            settings=self.window.analysis_settings,
            view=view,
        )

    def save_to(self, path: Path) -> None:
        try:
            save_session(path, self.current())
        except Exception as exc:
            messages.show_error(self.window, exc, "Save session")
            return
        self.window.status_label.setText(f"Session saved to {path}")

    def save_dialog(self) -> None:
        path = self.window.ask_save_file(
            "Save session", "AnnulusView session (*.json)", "case.session.json"
        )
        if path:
            self.save_to(path)

    def open_dialog(self) -> None:
        path = self.window.ask_open_file("Open session", "AnnulusView session (*.json)")
        if path:
            self.open(path)

    def open(self, path: Path) -> None:
        try:
            session = load_session(path)
        except InputError as exc:
            messages.show_error(self.window, exc, "Open session")
            return
        self.restore(session)

    def restore(self, session: Session) -> None:
        """Reopen the study of ``session`` (asking for its new place if it moved)."""
        study = Path(session.study_path) if session.study_path else None
        if study is not None and not study.exists():
            new = self.window.ask_study_location(str(study))
            if new is None:
                messages.show_message(
                    self.window,
                    "Session",
                    f"The study {study} was not found; the session was not opened.",
                )
                return
            study = new
        self.window.study.settings = session.settings
        if study is None:
            self.window.set_landmarks(session.landmarks)
            return
        self.pending = session
        self.window.open_path(study, series=session.series)

    def apply_view_state(self, view: dict[str, Any]) -> None:
        if "window" in view:
            self.window.set_window(*view["window"])
        for key, value in (view.get("toggles") or {}).items():
            if key in self.window.toggle_actions:
                self.window.toggle_actions[key].setChecked(bool(value))
        if view.get("color_by"):
            self.window.set_color_by(view["color_by"])
        if "crosshair_lps" in view:
            self.window.set_crosshair(view["crosshair_lps"])
        if view.get("camera") and self.window.viewer3d.plotter is not None:
            self.window.refresh_scene()
            self.window.viewer3d.set_camera_position(view["camera"])

    def schedule_autosave(self) -> None:
        if self.enabled and self.window.volume is not None:
            self.timer.start()

    def autosave(self) -> None:
        if not self.enabled or self.window.volume is None:
            return
        try:
            save_session(autosave_path(), self.current())
        except Exception:
            log.exception("autosave failed")

    def offer_recovery(self) -> QMessageBox | None:
        """After a crash: offer to reopen the autosaved session (non-blocking)."""
        path = autosave_path()
        if not path.is_file():
            return None
        try:
            session = load_session(path)
        except InputError:
            path.unlink(missing_ok=True)
            return None
        box = messages.show_message(
            self.window,
            "Recover session",
            "AnnulusView did not close normally last time.",
            f"Reopen the unsaved work on {session.study_path or 'the last study'}?",
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.accepted.connect(lambda: self.restore(session))
        box.finished.connect(lambda _=0: path.unlink(missing_ok=True))
        return box
