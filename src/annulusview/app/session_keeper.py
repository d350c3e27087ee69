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
from annulusview.app.session import (
    NewerSessionError,
    Session,
    SessionError,
    ViewState,
    autosave_path,
    load_session,
    save_session,
    set_aside,
)
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
        axial = self.window.views["axial"]
        crosshair: Any = axial.crosshair_lps
        camera: Any = None
        if self.window.viewer3d.plotter is not None and self.window.volume is not None:
            camera = tuple(
                tuple(map(float, v)) for v in self.window.viewer3d.plotter.camera_position
            )
        view = ViewState(
            crosshair_lps=None if crosshair is None else tuple(map(float, crosshair)),
            window=(float(axial.window_width), float(axial.window_level)),
            color_by=self.window.scene_state.color_by,
            toggles={k: a.isChecked() for k, a in self.window.toggle_actions.items()},
            camera=camera,
        )
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
        if study is not None and not _exists(study):
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

    def apply_view_state(self, view: ViewState) -> None:
        """Bring back a checked view state (:meth:`Session.from_dict` checked every value)."""
        if view.window is not None:
            self.window.set_window(*view.window)
        for key, value in view.toggles.items():
            if key in self.window.toggle_actions:
                self.window.toggle_actions[key].setChecked(value)
        if view.color_by is not None:
            self.window.set_color_by(view.color_by)
        if view.crosshair_lps is not None:
            self.window.set_crosshair(view.crosshair_lps)
        if view.camera is not None and self.window.viewer3d.plotter is not None:
            self.window.refresh_scene()
            self.window.viewer3d.set_camera_position(view.camera)

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
        """After a crash: offer to reopen the autosaved session (non-blocking).

        An autosave that cannot be used (damaged, or from a newer AnnulusView) is set aside
        as ``NAME.broken`` and said once; the window starts clean and the next start finds
        nothing to recover. Returns the box shown, if any."""
        path = autosave_path()
        if not path.exists():
            return None
        try:
            session = load_session(path)
        except Exception as exc:
            return self._set_aside(path, exc)
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

    def _set_aside(self, path: Path, exc: BaseException) -> QMessageBox:
        if isinstance(exc, SessionError):
            reason = exc.message
            log.warning("autosave %s not used: %s", path, exc.user_text())
        else:  # a bug: still never a window that cannot start
            reason = messages.error_text(exc)[0]
            log.error("autosave %s not used", path, exc_info=exc)
        kept = set_aside(path)
        if kept is not None:
            where = f"It was kept as {kept}."
        else:
            where = f"It could not be moved aside; delete {path} to stop this message."
        if isinstance(exc, NewerSessionError):
            text = "The autosaved work was made by a newer AnnulusView and cannot be reopened."
        else:
            text = "The autosaved work is damaged and cannot be reopened."
        return messages.show_message(
            self.window,
            "Recover session",
            f"{text} AnnulusView starts clean.",
            f"{reason} {where}",
            QMessageBox.Icon.Warning,
        )


def _exists(path: Path) -> bool:
    """``path.exists()``, False for a name the system refuses (too long, bad characters)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False
