"""The main window: open a study, place landmarks, see calcium, distances and risk flags.

Thin on purpose: loading and analysis are core calls run on worker threads, the 3D view is
:func:`annulusview.scene.build.build_scene`, geometry is :mod:`annulusview.core.reformat`.
"""

from __future__ import annotations

import logging
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QWidget,
)

import annulusview
from annulusview.app import messages
from annulusview.app.dialogs import SeriesDialog, SettingsDialog
from annulusview.app.exports import install_export_actions
from annulusview.app.mitral_panel import MA_CURVE, MitralUI
from annulusview.app.panels import LandmarkPanel, ResultsPanel
from annulusview.app.session import (
    AnalysisSettings,
    Session,
    autosave_path,
    load_session,
    log_dir,
    save_session,
)
from annulusview.app.slice_view import ObliqueSource, OrthoSource, Overlay, SliceView
from annulusview.app.viewer3d import Viewer3D
from annulusview.app.workers import Task
from annulusview.core.errors import InputError
from annulusview.core.landmarks import Landmarks, read_landmarks, write_landmarks
from annulusview.core.resources import resource_path
from annulusview.core.volume import Volume
from annulusview.scene import geometry
from annulusview.scene.build import calcium_mesh, prepare_labels
from annulusview.scene.state import COLOR_BY_FIELD, SceneState, SceneToggles

log = logging.getLogger(__name__)

MAX_RECENT = 8
ANALYSIS_DEBOUNCE_MS = 350
AUTOSAVE_DEBOUNCE_MS = 1500
PROGRESS_INTERVAL_S = 0.25
SCENE_DELAY_MS = 20  # lets a pending 2-D repaint go first
STUDY_FILTER = "Studies (*.zip *.nii *.nii.gz *.dcm);;All files (*)"


def window_presets() -> list[tuple[str, float, float]]:
    """(name, width, level) from resources/presets/windows.toml."""
    with resource_path("presets", "windows.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return [(w["name"], float(w["width_hu"]), float(w["level_hu"])) for w in data["window"]]


class SetLandmarkCommand(QUndoCommand):
    """Place, move or delete one landmark (``new`` None deletes)."""

    def __init__(self, window: MainWindow, name: str, old: Any, new: Any, text: str) -> None:
        super().__init__(text)
        self.window = window
        self.name = name
        self.old = None if old is None else np.asarray(old, dtype=float).copy()
        self.new = None if new is None else np.asarray(new, dtype=float).copy()

    def _apply(self, value: Any) -> None:
        lms = self.window.landmarks
        lms = lms.without(self.name) if value is None else lms.with_point(self.name, value)
        self.window.set_landmarks(lms)

    def redo(self) -> None:
        self._apply(self.new)

    def undo(self) -> None:
        self._apply(self.old)


class MainWindow(QMainWindow):
    """AnnulusView's main window.

    Tests and scripts drive it through the same methods the menus call: :meth:`open_path`,
    :meth:`place_landmark`, :meth:`save_session_to`, :meth:`open_session`.
    """

    def __init__(self, settings_org: str = "AnnulusView", autosave: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("AnnulusView")
        self.setObjectName("main-window")
        icon = resource_path("icons", "annulusview.svg")
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.qsettings = QSettings(settings_org, "AnnulusView")
        self.autosave_enabled = autosave
        self.last_message: QMessageBox | None = None
        self.series_dialog: SeriesDialog | None = None
        self.volume: Volume | None = None
        self.study_path: Path | None = None
        self.series_id: str | None = None
        self.skipped: list[Any] = []
        self.landmarks = Landmarks()
        self.results: Any = None
        self.results_dict: dict[str, Any] | None = None
        self.analysis_settings = AnalysisSettings()
        self.analysis_runs = 0
        self.placing: str | None = None
        self.load_task: Task | None = None
        self.analysis_task: Task | None = None
        self._analysis_generation = 0
        self._pending_landmarks: Path | None = None
        self._pending_session: Session | None = None
        self.undo_stack = QUndoStack(self)
        self.scene_state = SceneState()
        self.presets = window_presets()
        self.setAcceptDrops(True)
        self._closed = False
        self._last_progress = 0.0
        self._scene_reset = False

        self._build_views()
        self._build_panels()
        self._build_actions()
        self._build_status()
        self.mitral_ui = MitralUI(self)  # mitral dock, valve controls, neo-LVOT tab
        self._analysis_timer = QTimer(self)
        self._analysis_timer.setSingleShot(True)
        self._analysis_timer.setInterval(ANALYSIS_DEBOUNCE_MS)
        self._analysis_timer.timeout.connect(self.run_analysis)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_DEBOUNCE_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        # the 3D scene is rebuilt from the event loop, after the 2-D views have painted
        self._scene_timer = QTimer(self)
        self._scene_timer.setSingleShot(True)
        self._scene_timer.setInterval(SCENE_DELAY_MS)
        self._scene_timer.timeout.connect(self._scheduled_scene)
        self._surface_ready: tuple[int, str] | None = None
        self.warm_task: Task | None = None
        QTimer.singleShot(0, self._warm_up)
        QTimer.singleShot(50, self._warm_up_3d)
        self.resize(1400, 900)

    def _warm_up_3d(self) -> None:
        if not self._closed and self.volume is None and self.isVisible():
            self.viewer3d.warm_up()

    def _warm_up(self) -> None:
        """Import the loader and the analysis on a worker while the window sits idle, so the
        first study opened does not wait for (or stall on) those imports."""
        if self._closed:
            return

        def job(progress: Any, cancel: Any) -> None:
            import annulusview.core.analysis
            import annulusview.core.io.loader  # noqa: F401

        self.warm_task = Task(job, "warm-up")
        self.warm_task.start()

    # --- construction ----------------------------------------------------------------------

    def _guard(self, fn: Any) -> Any:
        """Wrap a worker-signal slot so it does nothing once the window has closed (a task may
        still deliver a queued signal after the widgets are gone)."""

        def wrapper(*args: Any) -> None:
            if not self._closed:
                fn(*args)

        return wrapper

    def _build_views(self) -> None:
        self.views: dict[str, SliceView] = {}
        for name in ("axial", "coronal", "sagittal", "annulus", "lvot"):
            title = {"annulus": "annulus plane", "lvot": "LVOT long axis"}.get(name, name)
            view = SliceView(title)
            view.clicked.connect(lambda lps, n=name: self._view_clicked(n, lps))
            view.landmark_dragged.connect(self._landmark_dragged)
            view.window_changed.connect(self.set_window)
            self.views[name] = view
        self.oblique_tabs = QTabWidget()
        self.oblique_tabs.addTab(self.views["annulus"], "Annulus plane")
        self.oblique_tabs.addTab(self.views["lvot"], "LVOT long axis")
        grid_widget = QWidget()
        grid = QGridLayout(grid_widget)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        grid.addWidget(self.views["axial"], 0, 0)
        grid.addWidget(self.views["coronal"], 0, 1)
        grid.addWidget(self.views["sagittal"], 1, 0)
        grid.addWidget(self.oblique_tabs, 1, 1)
        self.viewer3d = Viewer3D()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(grid_widget)
        splitter.addWidget(self.viewer3d)
        splitter.setSizes([640, 520])
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.setCentralWidget(splitter)

    def _build_panels(self) -> None:
        self.landmark_panel = LandmarkPanel()
        self.landmark_panel.place_requested.connect(self.start_placing)
        self.landmark_panel.delete_requested.connect(self.delete_landmark)
        self.landmark_panel.jump_requested.connect(self.jump_to_landmark)
        self.landmark_panel.import_requested.connect(self.import_landmarks_dialog)
        self.landmark_panel.export_requested.connect(self.export_landmarks_dialog)
        dock = QDockWidget("Landmarks", self)
        dock.setObjectName("dock-landmarks")
        dock.setWidget(self.landmark_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.results_panel = ResultsPanel()
        self.results_panel.lesion_selected.connect(self.select_lesion)
        dock = QDockWidget("Analysis", self)
        dock.setObjectName("dock-results")
        dock.setWidget(self.results_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.landmark_panel.update_landmarks(self.landmarks)
        self.landmark_panel.setMinimumWidth(200)
        self.results_panel.setMinimumWidth(280)
        docks = [
            self.findChild(QDockWidget, "dock-landmarks"),
            self.findChild(QDockWidget, "dock-results"),
        ]
        self.resizeDocks(docks, [220, 320], Qt.Orientation.Horizontal)

    def _action(
        self, text: str, slot: Any, shortcut: Any = None, checkable: bool = False
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(
            self._action("Open folder…", self.open_folder_dialog, QKeySequence.StandardKey.Open)
        )
        file_menu.addAction(
            self._action("Open zip or NIfTI file…", self.open_file_dialog, "Ctrl+Shift+O")
        )
        self.recent_menu = file_menu.addMenu("Recent studies")
        self._rebuild_recent()
        file_menu.addSeparator()
        file_menu.addAction(self._action("Open session…", self.open_session_dialog, "Ctrl+Alt+O"))
        file_menu.addAction(
            self._action("Save session…", self.save_session_dialog, QKeySequence.StandardKey.Save)
        )
        file_menu.addSeparator()
        file_menu.addAction(
            self._action("Import landmarks…", self.import_landmarks_dialog, "Ctrl+I")
        )
        file_menu.addAction(
            self._action("Export landmarks…", self.export_landmarks_dialog, "Ctrl+E")
        )
        install_export_actions(self)  # File > Export (app/exports.py)
        file_menu.addSeparator()
        file_menu.addAction(self._action("Quit", self.close, QKeySequence.StandardKey.Quit))

        edit = bar.addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        edit.addAction(undo)
        edit.addAction(redo)
        edit.addSeparator()
        edit.addAction(self._action("Place selected landmark", self._place_selected, "P"))
        edit.addAction(
            self._action(
                "Delete selected landmark", self._delete_selected, QKeySequence.StandardKey.Delete
            )
        )
        edit.addAction(self._action("Stop placing", self.stop_placing, "Esc"))
        edit.addSeparator()
        edit.addAction(self._action("Analysis settings…", self.open_settings, "Ctrl+,"))
        edit.addAction(self._action("Run analysis now", self.run_analysis, "F5"))

        view = bar.addMenu("&View")
        tools = self.addToolBar("View")
        tools.setObjectName("toolbar-view")
        tools.addWidget(QLabel(" Window "))
        self.window_box = QComboBox()
        self.window_box.setObjectName("window-preset")
        for n, (name, width, level) in enumerate(self.presets):
            self.window_box.addItem(f"{name} (W{width:.0f}/L{level:.0f})")
            view.addAction(
                self._action(
                    f"Window: {name}", lambda _=False, i=n: self.apply_window_preset(i), str(n + 1)
                )
            )
        self.window_box.activated.connect(self.apply_window_preset)
        tools.addWidget(self.window_box)
        tools.addSeparator()
        tools.addWidget(QLabel(" Colour calcium by "))
        self.color_box = QComboBox()
        self.color_box.setObjectName("color-by")
        self.color_box.addItem("distance to conduction zone", "conduction")
        self.color_box.addItem("distance to LVOT", "lvot")
        self.color_box.activated.connect(lambda _: self.set_color_by(self.color_box.currentData()))
        tools.addWidget(self.color_box)
        tools.addSeparator()
        self.toggle_actions: dict[str, QAction] = {}
        toggles = (
            ("calcium", "Calcium", "C"),
            ("annulus", "Annulus", "A"),
            ("lvot", "LVOT", "L"),
            ("conduction", "Conduction zone", "Z"),
            ("landmarks", "Landmarks", None),
            ("distance_lines", "Distances", "D"),
            ("lumen_volume", "Lumen (volume)", "V"),
            ("teaching", "Teaching", "T"),
        )
        defaults = SceneToggles()
        for key, text, shortcut in toggles:
            act = self._action(text, lambda _=False: self.refresh_scene(), shortcut, checkable=True)
            act.setChecked(getattr(defaults, key))
            self.toggle_actions[key] = act
            tools.addAction(act)
            view.addAction(act)
        view.addSeparator()
        view.addAction(
            self._action("Reset 3D camera", lambda: self.viewer3d.set_preset("front"), "R")
        )
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("Skipped files…", self.show_skipped, None))
        help_menu.addAction(
            self._action(
                "Show log folder",
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_dir()))),
                None,
            )
        )
        help_menu.addAction(self._action("About", self.show_about, None))

    def _build_status(self) -> None:
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(240)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_loading)
        self.status_label = QLabel("Open a study: File > Open, or drop a folder or zip here.")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

    # --- recent studies --------------------------------------------------------------------

    def recent_studies(self) -> list[str]:
        value = self.qsettings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember(self, path: Path) -> None:
        items = [str(path)] + [p for p in self.recent_studies() if p != str(path)]
        self.qsettings.setValue("recent", items[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_studies():
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, path=p: self.open_path(Path(path)))
        self.recent_menu.setEnabled(bool(self.recent_studies()))

    # --- file dialogs (tests replace the ask_* methods) ------------------------------------

    def ask_open_folder(self) -> Path | None:
        path = QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        return Path(path) if path else None

    def ask_open_file(self, title: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self, title, "", filters)
        return Path(path) if path else None

    def ask_save_file(self, title: str, filters: str, suggested: str = "") -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, filters)
        return Path(path) if path else None

    def ask_study_location(self, missing: str) -> Path | None:
        """The study of a session moved: ask where it is now."""
        path = QFileDialog.getExistingDirectory(
            self, f"The study {missing} was moved or deleted. Where is it now?"
        )
        return Path(path) if path else None

    def open_folder_dialog(self) -> None:
        path = self.ask_open_folder()
        if path:
            self.open_path(path)

    def open_file_dialog(self) -> None:
        path = self.ask_open_file("Open zip or NIfTI", STUDY_FILTER)
        if path:
            self.open_path(path)

    # --- loading ---------------------------------------------------------------------------

    def _busy(self, text: str, task: Task | None) -> None:
        active = task is not None
        self.progress.setVisible(active)
        self.cancel_button.setVisible(active)
        self.progress.setValue(0)
        self.status_label.setText(text)

    def _on_progress(self, fraction: float, text: str) -> None:
        # Each change repaints the window (the whole window is composited with the 3D view):
        # a few updates a second are enough for a progress bar.
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        value = int(fraction * 1000)
        if value != self.progress.value():
            self.progress.setValue(value)
        if text and text != self.status_label.text():
            self.status_label.setText(text)

    def open_path(
        self, path: Path | str, series: str | None = None, landmarks: Path | None = None
    ) -> None:
        """Open a study: scan it off the GUI thread, ask for a series if there are several,
        then load the series. ``landmarks`` (a markups file) is applied once it has loaded."""
        path = Path(path).expanduser()
        if self.load_task is not None and self.load_task.running:
            self.load_task.cancel()
        self._pending_landmarks = landmarks

        def job(progress: Any, cancel: Any) -> Any:
            # imported here: the first import of the DICOM stack must not block the GUI thread
            from annulusview.core.io.loader import load, scan

            result = scan(path, progress, cancel)
            if not result.series:
                load(path, None, None, cancel)  # raises NoSeriesError with the reasons
            return result

        task = Task(job, "scan")
        task.progressed.connect(self._guard(self._on_progress))
        task.succeeded.connect(self._guard(lambda result: self._scanned(path, result, series)))
        task.failed.connect(self._guard(lambda exc: self._load_failed(exc, "Open study")))
        task.cancelled.connect(self._guard(lambda: self._busy("Loading cancelled.", None)))
        self.load_task = task
        self._busy(f"Reading {path.name}…", task)
        task.start()

    def _scanned(self, path: Path, result: Any, series: str | None) -> None:
        self.skipped = list(result.skipped)
        if series is None and len(result.series) > 1:
            self._busy(f"{len(result.series)} series found: choose one.", None)
            dialog = SeriesDialog(result.series, len(result.skipped), self)
            dialog.accepted.connect(lambda: self._load_series(path, dialog.selected_id()))
            dialog.rejected.connect(lambda: self._busy("Opening cancelled.", None))
            self.series_dialog = dialog
            dialog.open()
            return
        chosen = series or (result.series[0].id if result.series else None)
        self._load_series(path, chosen)

    def _load_series(self, path: Path, series: str | None) -> None:
        def job(progress: Any, cancel: Any) -> Volume:
            from annulusview.core.io.loader import load

            return load(path, series, progress, cancel)

        task = Task(job, "load")
        task.progressed.connect(self._guard(self._on_progress))
        task.succeeded.connect(self._guard(lambda volume: self._loaded(path, series, volume)))
        task.failed.connect(self._guard(lambda exc: self._load_failed(exc, "Open study")))
        task.cancelled.connect(self._guard(lambda: self._busy("Loading cancelled.", None)))
        self.load_task = task
        self._busy(f"Loading {path.name}…", task)
        task.start()

    def cancel_loading(self) -> None:
        if self.load_task is not None:
            self.load_task.cancel()

    def _load_failed(self, exc: BaseException, context: str) -> None:
        self._busy("Could not open the study.", None)
        self._pending_session = None
        messages.show_error(self, exc, context)

    def _loaded(self, path: Path, series: str | None, volume: Volume) -> None:
        self._busy("", None)
        self.volume = volume
        self.study_path = path
        self.series_id = series
        self.results = None
        self.results_dict = None
        self.results_panel.clear()
        self.undo_stack.clear()
        self.scene_state = SceneState(
            volume=volume, toggles=self.scene_state.toggles, color_by=self.scene_state.color_by
        )
        for name in ("axial", "coronal", "sagittal"):
            self.views[name].set_source(OrthoSource(volume, name))  # type: ignore[arg-type]
        for name in ("annulus", "lvot"):
            self.views[name].set_source(None)
        centre = volume.index_to_lps((np.array(volume.shape[::-1]) - 1) / 2.0)
        self.set_crosshair(centre)
        self.apply_window_preset(0)
        self._remember(path)
        notes = [
            f"{volume.description or path.name}: {volume.shape[0]} slices, "
            f"{volume.spacing_mm[0]:.2f} mm"
        ]
        if self.skipped:
            notes.append(f"{len(self.skipped)} file(s) skipped (Help > Skipped files)")
        self.status_label.setText("; ".join(notes))
        for warning in volume.warnings:
            log.warning("study: %s", warning)
        self.results_panel.warnings.setText("\n".join(f"⚠ {w}" for w in volume.warnings))
        self.setWindowTitle(f"AnnulusView - {path.name}")
        landmarks = Landmarks()
        pending_session = self._pending_session
        self._pending_session = None
        if pending_session is not None:
            landmarks = pending_session.landmarks
        elif self._pending_landmarks is not None:
            try:
                landmarks = read_landmarks(self._pending_landmarks)
            except InputError as exc:
                messages.show_error(self, exc, "Landmarks")
        self._pending_landmarks = None
        self.set_landmarks(landmarks)
        if not landmarks.missing_aortic:
            self.run_analysis()  # landmarks came with the study: no need to wait for edits
        if pending_session is not None:
            self._apply_view_state(pending_session.view)
        self.schedule_scene(reset_camera=True)

    def show_skipped(self) -> None:
        if not self.skipped:
            messages.show_message(self, "Skipped files", "No files were skipped.")
            return
        lines = [f"{s.path}: {s.reason}" for s in self.skipped[:200]]
        messages.show_message(
            self,
            "Skipped files",
            f"{len(self.skipped)} file(s) in the study were not used.",
            "They are not CT images of this study (see details).",
            details="\n".join(lines),
        )

    # --- drag and drop ---------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls:
            return
        path = Path(urls[0].toLocalFile())
        event.acceptProposedAction()
        self.open_dropped(path)

    def open_dropped(self, path: Path) -> None:
        name = path.name.lower()
        if name.endswith(".mrk.json"):
            self.import_landmarks(path)
        elif name.endswith(".json"):
            self.open_session(path)
        else:
            self.open_path(path)

    # --- window / crosshair ----------------------------------------------------------------

    def apply_window_preset(self, index: int) -> None:
        _, width, level = self.presets[int(index)]
        self.window_box.setCurrentIndex(int(index))
        self.set_window(width, level)

    def set_window(self, width: float, level: float) -> None:
        for view in self.views.values():
            view.set_window(width, level)

    def set_crosshair(self, lps: Any, centre: bool = False) -> None:
        lps = np.asarray(lps, dtype=float)
        for view in self.views.values():
            if view.source is None:
                continue
            if centre:
                view.centre_on(lps)
            else:
                s, _, _ = view.source.from_lps(lps)
                view.crosshair_lps = lps
                view.set_index(round(s))
                view.update()

    def _view_clicked(self, view_name: str, lps: Any) -> None:
        if self.placing == MA_CURVE:  # successive clicks add MA_01, MA_02, ...
            self.mitral_ui.add_curve_point(lps)
            return
        if self.placing is not None:
            self.place_landmark(self.placing, lps)
            return
        self.set_crosshair(lps)

    # --- landmarks -------------------------------------------------------------------------

    def set_landmarks(self, landmarks: Landmarks) -> None:
        """Show ``landmarks`` everywhere and schedule the analysis (not undoable by itself)."""
        self.landmarks = landmarks
        points = dict(landmarks.points)
        for view in self.views.values():
            view.set_landmarks(points, self.placing)
        self.landmark_panel.update_landmarks(landmarks, self.placing)
        self._update_obliques()
        self.scene_state.landmarks = landmarks
        if self.results is None:
            self.schedule_scene()
        self.schedule_analysis()
        self.schedule_autosave()

    def start_placing(self, name: str) -> None:
        if self.volume is None:
            self.status_label.setText("Open a study first.")
            return
        self.placing = name
        self.landmark_panel.select(name)
        for view in self.views.values():
            view.placing = True
            view.set_landmarks(dict(self.landmarks.points), name)
        self.landmark_panel.update_landmarks(self.landmarks, name)
        self.status_label.setText(f"Click in a view to place {name}.")

    def stop_placing(self) -> None:
        self.placing = None
        for view in self.views.values():
            view.placing = False
            view.update()
        self.landmark_panel.update_landmarks(self.landmarks)

    def place_landmark(self, name: str, lps: Any) -> None:
        """Place or move ``name`` at ``lps`` (undoable)."""
        old = self.landmarks.get(name)
        verb = "Move" if old is not None else "Place"
        self.stop_placing()
        self.undo_stack.push(SetLandmarkCommand(self, name, old, lps, f"{verb} {name}"))
        self.status_label.setText(
            f"{name} at LPS ({', '.join(f'{v:.1f}' for v in np.asarray(lps))}) mm"
        )

    def _landmark_dragged(self, name: str, old: Any, new: Any) -> None:
        self.undo_stack.push(SetLandmarkCommand(self, name, old, new, f"Move {name}"))

    def delete_landmark(self, name: str) -> None:
        old = self.landmarks.get(name)
        if old is not None:
            self.undo_stack.push(SetLandmarkCommand(self, name, old, None, f"Delete {name}"))

    def _place_selected(self) -> None:
        name = self.landmark_panel.selected_name()
        if name:
            self.start_placing(name)

    def _delete_selected(self) -> None:
        name = self.landmark_panel.selected_name()
        if name:
            self.delete_landmark(name)

    def jump_to_landmark(self, name: str) -> None:
        pos = self.landmarks.get(name)
        if pos is not None:
            self.set_crosshair(pos, centre=True)
            self.viewer3d.centre_on(pos)

    def import_landmarks(self, path: Path) -> None:
        try:
            lms = read_landmarks(path)
        except InputError as exc:
            messages.show_error(self, exc, "Import landmarks")
            return
        old = dict(self.landmarks.points)
        self.undo_stack.beginMacro(f"Import {Path(path).name}")
        for name, pos in lms.points.items():
            self.undo_stack.push(
                SetLandmarkCommand(self, name, old.get(name), pos, f"Import {name}")
            )
        self.undo_stack.endMacro()
        unknown = lms.unknown_names
        if unknown:
            self.status_label.setText(
                f"Imported; unknown names kept but not used: {', '.join(unknown)}"
            )

    def import_landmarks_dialog(self) -> None:
        path = self.ask_open_file("Import landmarks", "3D Slicer markups (*.mrk.json *.json)")
        if path:
            self.import_landmarks(path)

    def export_landmarks_dialog(self) -> None:
        path = self.ask_save_file(
            "Export landmarks", "3D Slicer markups (*.mrk.json)", "landmarks.mrk.json"
        )
        if path:
            try:
                write_landmarks(path, self.landmarks)
                self.status_label.setText(f"Landmarks written to {path}")
            except Exception as exc:
                messages.show_error(self, exc, "Export landmarks")

    # --- oblique views ---------------------------------------------------------------------

    def _frame(self) -> geometry.RegionGeometry | None:
        return geometry.region_geometry(self.results_dict, self.landmarks)

    def _update_obliques(self) -> None:
        geom = self._frame()
        if self.volume is None or geom is None:
            for name in ("annulus", "lvot"):
                self.views[name].set_source(None)
            return
        # annulus plane: screen axes close to an axial view (patient left right, posterior down)
        right = np.array([1.0, 0.0, 0.0]) - geom.normal[0] * geom.normal
        down = np.array([0.0, 1.0, 0.0]) - geom.normal[1] * geom.normal
        try:
            ann = ObliqueSource(self.volume, "annulus", geom.origin, right, down, size_mm=60.0)
        except ValueError:
            ann = ObliqueSource(self.volume, "annulus", geom.origin, geom.u, geom.v, size_mm=60.0)
        theta = geom.conduction[0]
        radial = geom.to_lps(np.array(1.0), np.array(theta), np.array(0.0)) - geom.origin
        lvot = ObliqueSource(
            self.volume, "lvot", geom.origin, radial, -geom.normal, size_mm=70.0, pixel_mm=0.3
        )
        keep = self.views["annulus"].source is not None
        self.views["annulus"].set_source(ann, keep_index=keep)
        self.views["lvot"].set_source(lvot, keep_index=keep)
        self._update_oblique_overlays(geom)

    def _update_oblique_overlays(self, geom: geometry.RegionGeometry) -> None:
        res = self.results_dict
        contour = geometry.annulus_contour_points(res, geom)
        ann_overlay = Overlay()
        if contour is not None:
            ann_overlay.polylines.append((contour, "#FFFFFF"))
        a = (res or {}).get("annulus") or {}
        if a.get("perimeter_mm") is not None:
            ann_overlay.text = [
                f"Perimeter {a['perimeter_mm']:.1f} mm  Area {a['area_mm2']:.0f} mm²",
                f"Dmin {a['d_min_mm']:.1f}  Dmax {a['d_max_mm']:.1f} mm",
                f"Dperim {a['d_perimeter_mm']:.1f}  Darea {a['d_area_mm']:.1f} mm",
            ]
        else:
            ann_overlay.text = [f"Hinge circle Ø {2 * geom.radius_mm:.1f} mm (no analysis yet)"]
        self.views["annulus"].overlay = ann_overlay
        t0, _half, h_lo, h_hi, r_lo, r_hi = geom.conduction
        corners = [
            geom.to_lps(np.array(r), np.array(t0), np.array(h))
            for r, h in ((r_lo, h_lo), (r_hi, h_lo), (r_hi, h_hi), (r_lo, h_hi))
        ]
        lvot_overlay = Overlay()
        lvot_overlay.polylines.append((np.array(corners), "#EE7733"))
        width = geom.radius_mm + 5.0
        plane = [geom.to_lps(np.array(width), np.array(t), np.array(0.0)) for t in (t0, t0 + 180.0)]
        lvot_overlay.polylines.append((np.array(plane), "#FFFFFF"))
        lvot_overlay.text = ["orange: conduction zone, white: annulus plane"]
        if res and res.get("ms_length_mm") is not None:
            lvot_overlay.text.append(f"MS length {res['ms_length_mm']:.1f} mm")
        self.views["lvot"].overlay = lvot_overlay
        for name in ("annulus", "lvot"):
            self.views[name].update()

    # --- analysis --------------------------------------------------------------------------

    def schedule_analysis(self) -> None:
        if self.volume is not None and not self.landmarks.missing_aortic:
            self._analysis_timer.start()
        elif self.volume is not None:
            self.results_panel.set_status(
                f"Place {', '.join(self.landmarks.missing_aortic)} to run the analysis."
            )

    def _rules(self) -> Any:
        if not self.analysis_settings.regions:
            return None
        from annulusview.core.rules import Rules, load_rules

        base = load_rules().to_dict()
        base["regions"].update(self.analysis_settings.regions)
        return Rules(base, "default + settings")

    def _valve(self) -> Any:
        s = self.analysis_settings
        if s.valve_size_mm is None and s.implant_depth_mm is None:
            return None
        from annulusview.core.risk import PlannedValve

        return PlannedValve(s.valve_size_mm, s.valve_type, s.implant_depth_mm)

    def run_analysis(self) -> None:
        """Start the analysis on a worker thread (a running one is cancelled)."""
        self._analysis_timer.stop()
        if self.volume is None or self.landmarks.missing_aortic:
            return
        if self.analysis_task is not None and self.analysis_task.running:
            self.analysis_task.cancel()
        self._analysis_generation += 1
        generation = self._analysis_generation
        volume, landmarks = self.volume, self.landmarks
        settings = self.analysis_settings
        rules, valve = self._rules(), self._valve()
        mitral_valve = self.mitral_ui.valve()

        def job(progress: Any, cancel: Any) -> Any:
            from annulusview.core.analysis import analyze

            results = analyze(
                volume,
                landmarks,
                rules,
                threshold=settings.threshold,
                valve=valve,
                sex=settings.sex,
                mitral_valve=mitral_valve,
                progress=progress,
                cancel=cancel,
            )
            # Only numpy work here: the lesion label crop. The VTK surfaces are built on the GUI
            # thread by build_scene (about 15 ms): VTK is not thread-safe, and filters running
            # here while the 3D view renders risk memory corruption.
            scene = SceneState(volume=volume, results=results, landmarks=landmarks)
            prepare_labels(scene)
            as_dict = results.to_dict() if hasattr(results, "to_dict") else dict(results)
            return results, as_dict, scene.cache

        task = Task(job, "analysis")
        task.progressed.connect(
            self._guard(lambda f, t: self.results_panel.set_status(f"Analysing… {t}"))
        )
        task.succeeded.connect(self._guard(lambda res: self._analysed(generation, res)))
        task.failed.connect(self._guard(lambda exc: self._analysis_failed(generation, exc)))
        self.analysis_task = task
        self.results_panel.set_status("Analysing…")
        task.start()

    def _analysis_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._analysis_generation:
            return
        message, hint = messages.error_text(exc)
        self.results_panel.set_status(f"Analysis not possible: {message} {hint}".strip())
        log.warning("analysis failed: %s", message)

    def _analysed(self, generation: int, outcome: Any) -> None:
        if generation != self._analysis_generation:
            return  # a newer run is on its way
        results, as_dict, cache = outcome
        self.analysis_runs += 1
        self.results = results
        self.results_dict = as_dict
        self.results_panel.show_results(self.results_dict)
        self.mitral_ui.show_results(results, self.results_dict)
        n = len(self.results_dict.get("lesions") or [])
        raised = [
            f
            for f in self.results_dict.get("flags") or []
            if f.get("level") in ("high", "moderate")
        ]
        self.results_panel.set_status(
            f"Analysis done: {n} lesion(s), {len(raised)} risk flag(s) raised."
        )
        self.scene_state.results = results
        self.scene_state.cache = cache
        self.scene_state.highlight_lesion = None
        self._update_obliques()
        markers = [
            (np.asarray(les["centroid_lps"]), "#FDE725")
            for les in self.results_dict.get("lesions") or []
        ]
        for name in ("axial", "coronal", "sagittal"):
            self.views[name].overlay = Overlay(markers=markers)
            self.views[name].update()
        self.schedule_scene()

    def select_lesion(self, lesion: dict[str, Any]) -> None:
        """Centre every view on a lesion and highlight it in 3D."""
        centre = np.asarray(lesion["centroid_lps"], dtype=float)
        self.set_crosshair(centre, centre=True)
        for view in self.views.values():
            view.highlight_lps = centre
            view.update()
        self.scene_state.highlight_lesion = int(lesion["id"])
        self.refresh_scene()
        self.viewer3d.centre_on(centre)
        self.status_label.setText(
            f"Lesion {lesion['id']}: {lesion.get('volume_mm3', 0):.1f} mm³, "
            f"{lesion.get('region')}, {lesion.get('cusp')}"
        )

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.analysis_settings, self)
        dialog.accepted.connect(lambda: self.set_analysis_settings(dialog.settings()))
        self.settings_dialog = dialog
        dialog.open()

    def set_analysis_settings(self, settings: AnalysisSettings) -> None:
        self.analysis_settings = settings
        self.schedule_analysis()
        self.schedule_autosave()

    # --- 3D --------------------------------------------------------------------------------

    def set_color_by(self, choice: str) -> None:
        self.scene_state.color_by = "lvot" if choice == "lvot" else "conduction"
        self.color_box.setCurrentIndex(0 if self.scene_state.color_by == "conduction" else 1)
        self.refresh_scene()

    def schedule_scene(self, reset_camera: bool = False) -> None:
        """Rebuild the 3D scene on the next turn of the event loop (requests coalesce), so the
        2-D views paint first and no single GUI-thread step grows long."""
        self._scene_reset = self._scene_reset or reset_camera
        self._scene_timer.start(SCENE_DELAY_MS)

    def _scheduled_scene(self) -> None:
        """A scheduled rebuild: make the calcium surface in one event-loop turn and add the
        actors in the next, so neither GUI-thread step grows long."""
        state = self.scene_state
        res = state.results_dict
        if self.volume is not None and res is not None and res.get("lesions"):
            key = (id(state.results), state.color_by)
            if key != self._surface_ready:
                self._surface_ready = key
                state.volume = self.volume
                calcium_mesh(state, COLOR_BY_FIELD[state.color_by])
                self._scene_timer.start(0)
                return
        self.refresh_scene()

    def refresh_scene(self, reset_camera: bool = False) -> None:
        """Rebuild the 3D scene now (a scheduled rebuild is folded in)."""
        self._scene_timer.stop()
        reset_camera = reset_camera or self._scene_reset
        self._scene_reset = False
        toggles = self.scene_state.toggles
        for key, action in self.toggle_actions.items():
            setattr(toggles, key, action.isChecked())
        self.scene_state.volume = self.volume
        self.scene_state.landmarks = self.landmarks
        if self.volume is None:
            return
        self.viewer3d.show_state(self.scene_state, reset_camera=reset_camera)

    # --- sessions --------------------------------------------------------------------------

    def current_session(self) -> Session:
        view: dict[str, Any] = {}
        axial = self.views["axial"]
        if axial.crosshair_lps is not None:
            view["crosshair_lps"] = [float(v) for v in axial.crosshair_lps]
        view["window"] = [axial.window_width, axial.window_level]
        view["color_by"] = self.scene_state.color_by
        view["toggles"] = {k: a.isChecked() for k, a in self.toggle_actions.items()}
        if self.viewer3d.plotter is not None and self.volume is not None:
            view["camera"] = [list(map(float, v)) for v in self.viewer3d.plotter.camera_position]
        return Session(
            study_path=str(self.study_path or ""),
            series=self.series_id,
            landmarks=self.landmarks,
            settings=self.analysis_settings,
            view=view,
        )

    def save_session_to(self, path: Path) -> None:
        try:
            save_session(path, self.current_session())
        except Exception as exc:
            messages.show_error(self, exc, "Save session")
            return
        self.status_label.setText(f"Session saved to {path}")

    def save_session_dialog(self) -> None:
        path = self.ask_save_file(
            "Save session", "AnnulusView session (*.json)", "case.session.json"
        )
        if path:
            self.save_session_to(path)

    def open_session_dialog(self) -> None:
        path = self.ask_open_file("Open session", "AnnulusView session (*.json)")
        if path:
            self.open_session(path)

    def open_session(self, path: Path) -> None:
        try:
            session = load_session(path)
        except InputError as exc:
            messages.show_error(self, exc, "Open session")
            return
        self.restore_session(session)

    def restore_session(self, session: Session) -> None:
        """Reopen the study of ``session`` (asking for its new place if it moved)."""
        study = Path(session.study_path) if session.study_path else None
        if study is not None and not study.exists():
            new = self.ask_study_location(str(study))
            if new is None:
                messages.show_message(
                    self, "Session", f"The study {study} was not found; the session was not opened."
                )
                return
            study = new
        self.analysis_settings = session.settings
        if study is None:
            self.set_landmarks(session.landmarks)
            return
        self._pending_session = session
        self.open_path(study, series=session.series)

    def _apply_view_state(self, view: dict[str, Any]) -> None:
        if "window" in view:
            self.set_window(*view["window"])
        for key, value in (view.get("toggles") or {}).items():
            if key in self.toggle_actions:
                self.toggle_actions[key].setChecked(bool(value))
        if view.get("color_by"):
            self.set_color_by(view["color_by"])
        if "crosshair_lps" in view:
            self.set_crosshair(view["crosshair_lps"])
        if view.get("camera") and self.viewer3d.plotter is not None:
            self.refresh_scene()
            self.viewer3d.plotter.camera_position = [tuple(v) for v in view["camera"]]
            self.viewer3d._has_camera = True

    def schedule_autosave(self) -> None:
        if self.autosave_enabled and self.volume is not None:
            self._autosave_timer.start()

    def autosave(self) -> None:
        if not self.autosave_enabled or self.volume is None:
            return
        try:
            save_session(autosave_path(), self.current_session())
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
            self,
            "Recover session",
            "AnnulusView did not close normally last time.",
            f"Reopen the unsaved work on {session.study_path or 'the last study'}?",
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.accepted.connect(lambda: self.restore_session(session))
        box.finished.connect(lambda _=0: path.unlink(missing_ok=True))
        return box

    # --- misc ------------------------------------------------------------------------------

    def show_about(self) -> None:
        messages.show_message(
            self,
            "About AnnulusView",
            f"AnnulusView {annulusview.__version__}",
            annulusview.DISCLAIMER,
        )

    def closeEvent(self, event: Any) -> None:
        self._closed = True
        self._analysis_timer.stop()
        self._autosave_timer.stop()
        tasks = (
            self.load_task,
            self.analysis_task,
            getattr(self, "demo_task", None),
            self.warm_task,
        )
        for task in tasks:
            if task is not None and task.running:
                task.cancel()
                task.wait(10000)
        self.viewer3d.close_plotter()
        if self.autosave_enabled:
            autosave_path().unlink(missing_ok=True)  # a clean exit: nothing to recover
        super().closeEvent(event)

    def wait_idle(self, timeout_ms: int = 60000) -> None:
        """Block until background tasks end (scripts and benchmarks)."""
        for task in (self.load_task, self.analysis_task):
            if task is not None and task.running:
                task.wait(timeout_ms)
