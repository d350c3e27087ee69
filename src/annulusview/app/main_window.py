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
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QWidget,
)

import annulusview
from annulusview.app import messages
from annulusview.app.actions import build_menus
from annulusview.app.analysis_runner import AnalysisRunner
from annulusview.app.dialogs import SeriesDialog, SettingsDialog
from annulusview.app.help import UserGuideDialog
from annulusview.app.landmark_editor import LandmarkEditor
from annulusview.app.mitral_panel import MA_CURVE, MitralUI
from annulusview.app.oblique_views import RootPlanesView, update_oblique_views
from annulusview.app.panels import LandmarkPanel, ResultsPanel
from annulusview.app.phases import PhasePicker
from annulusview.app.review import ProposalReview, should_propose
from annulusview.app.session import (
    AnalysisSettings,
    autosave_path,
)
from annulusview.app.session_keeper import SessionKeeper
from annulusview.app.slice_view import OrthoSource, Overlay, SliceView
from annulusview.app.start_page import StartPage
from annulusview.app.straightened_view import StraightenedView
from annulusview.app.study import Study
from annulusview.app.study_loader import StudyLoader
from annulusview.app.viewer3d import Viewer3D
from annulusview.app.workers import Task
from annulusview.core.errors import InputError
from annulusview.core.landmarks import Landmarks, read_landmarks
from annulusview.core.presentation import fmt
from annulusview.core.resources import resource_path
from annulusview.core.results import Lesion, Results
from annulusview.core.volume import Volume
from annulusview.scene.build import calcium_mesh
from annulusview.scene.state import COLOR_BY_FIELD, SceneState

log = logging.getLogger(__name__)

MAX_RECENT = 8
PROGRESS_INTERVAL_S = 0.25
SCENE_DELAY_MS = 20  # lets a pending 2-D repaint go first
STUDY_FILTER = "Studies (*.zip *.nii *.nii.gz *.dcm);;All files (*)"
GEOMETRY_KEY = "window/geometry"  # QSettings keys of the window's size, place and panel layout
STATE_KEY = "window/state"
SPLITTER_KEY = "window/splitter"


def window_presets() -> list[tuple[str, float, float]]:
    """(name, width, level) from resources/presets/windows.toml."""
    with resource_path("presets", "windows.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return [(w["name"], float(w["width_hu"]), float(w["level_hu"])) for w in data["window"]]


class MainWindow(QMainWindow):
    """AnnulusView's main window.

    Tests and scripts drive it through the same methods the menus call: :meth:`open_path`,
    :meth:`LandmarkEditor.place_landmark`, ``sessions.save_to``, ``sessions.open``.
    """

    def __init__(
        self, settings_org: str = "AnnulusView", autosave: bool = True, auto_propose: bool = True
    ) -> None:
        super().__init__()
        # propose the aortic landmarks when a study opens without any (app/review.py)
        self.auto_propose = auto_propose
        self.setWindowTitle("AnnulusView")
        self.setObjectName("main-window")
        icon = resource_path("icons", "annulusview.png")  # PNG: no SVG plug-in needed
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.qsettings = QSettings(settings_org, "AnnulusView")
        self.last_message: QMessageBox | None = None
        self.study = Study(self)
        self.study.landmarks_changed.connect(self._show_landmarks)
        self.landmark_editor = LandmarkEditor(self)
        self.undo_stack = QUndoStack(self)
        self.scene_state = SceneState()
        self.presets = window_presets()
        self.setAcceptDrops(True)
        self.closed = False
        self._last_progress = 0.0
        self._scene_reset = False

        self.sessions = SessionKeeper(self, autosave)
        self.loader = StudyLoader(self)
        self.loader.loaded.connect(self.guard(self._loaded))
        self.loader.failed.connect(self.guard(self._load_failed))
        self._build_views()
        self._build_panels()
        build_menus(self)
        self.phases = PhasePicker(self, self.findChild(QToolBar, "toolbar-view"))
        self._build_status()
        self.mitral_ui = MitralUI(self)  # mitral dock, valve controls, neo-LVOT tab
        self.analysis = AnalysisRunner(self.study, self.mitral_ui.valve, self)
        self.analysis.status.connect(self.guard(self.results_panel.set_status))
        self.analysis.finished.connect(self.guard(self._analysed))
        # the 3D scene is rebuilt from the event loop, after the 2-D views have painted
        self._scene_timer = QTimer(self)
        self._scene_timer.setSingleShot(True)
        self._scene_timer.setInterval(SCENE_DELAY_MS)
        self._scene_timer.timeout.connect(self._scheduled_scene)
        self._surface_ready: tuple[int, str] | None = None
        self.warm_task: Task | None = None
        self.user_guide: UserGuideDialog | None = None
        QTimer.singleShot(0, self._warm_up)
        QTimer.singleShot(50, self._warm_up_3d)
        self.resize(1400, 900)

    # The open study lives in ``self.study``; these read it (tests and scripts use them).
    @property
    def volume(self) -> Volume | None:
        return self.study.volume

    @property
    def landmarks(self) -> Landmarks:
        return self.study.landmarks

    @property
    def results(self) -> Results | None:
        return self.study.results

    @property
    def study_path(self) -> Path | None:
        return self.study.path

    @property
    def series_id(self) -> str | None:
        return self.study.series_id

    @property
    def skipped(self) -> list[Any]:
        return self.study.skipped

    @property
    def analysis_settings(self) -> AnalysisSettings:
        return self.study.settings

    def _warm_up_3d(self) -> None:
        # Only once the views are on screen: the start page hides them until a study opens.
        if not self.closed and self.volume is None and self.viewer3d.isVisible():
            self.viewer3d.warm_up()

    def _warm_up(self) -> None:
        """Import the loader and the analysis on a worker while the window sits idle, so the
        first study opened does not wait for (or stall on) those imports."""
        if self.closed:
            return

        def job(progress: Any, cancel: Any) -> None:
            import annulusview.core.analysis
            import annulusview.core.io.loader  # noqa: F401

        self.warm_task = Task(job, "warm-up")
        self.warm_task.start()

    # --- construction ----------------------------------------------------------------------

    def guard(self, fn: Any) -> Any:
        """Wrap a worker-signal slot so it does nothing once the window has closed (a task may
        still deliver a queued signal after the widgets are gone)."""

        def wrapper(*args: Any) -> None:
            if not self.closed:
                fn(*args)

        return wrapper

    def _build_views(self) -> None:
        self.views: dict[str, SliceView] = {}
        for name in ("axial", "coronal", "sagittal", "annulus", "lvot"):
            title = {"annulus": "annulus plane", "lvot": "LVOT long axis"}.get(name, name)
            view = SliceView(title)
            view.clicked.connect(lambda lps, n=name: self._view_clicked(n, lps))
            view.landmark_dragged.connect(self.landmark_editor.landmark_dragged)
            view.window_changed.connect(self.set_window)
            self.views[name] = view
        self.oblique_tabs = QTabWidget()
        self.oblique_tabs.addTab(self.views["annulus"], "Annulus plane")
        self.oblique_tabs.addTab(self.views["lvot"], "LVOT long axis")
        # kept out of self.views: it stays on its measured plane when the crosshair moves
        self.root_planes = RootPlanesView()
        self.oblique_tabs.addTab(self.root_planes, "Root planes")
        self.straightened = StraightenedView()
        self.oblique_tabs.addTab(self.straightened, "Straightened")
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
        splitter.setObjectName("views-splitter")
        splitter.addWidget(grid_widget)
        splitter.addWidget(self.viewer3d)
        # the 3D view gets as much room as the four reformats
        splitter.setSizes([600, 600])
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        self.views_splitter = splitter
        self.start_page = StartPage()
        self.start_page.open_folder_requested.connect(self.open_folder_dialog)
        self.start_page.open_file_requested.connect(self.open_file_dialog)
        self.start_page.demo_requested.connect(self.open_demo)
        self.start_page.guide_requested.connect(self.open_user_guide)
        self.start_page.recent_requested.connect(lambda path: self.open_path(Path(path)))
        self.central_stack = QStackedWidget()
        self.central_stack.addWidget(self.start_page)
        self.central_stack.addWidget(splitter)
        self.setCentralWidget(self.central_stack)

    # --- start page and layout -------------------------------------------------------------

    def showing_start_page(self) -> bool:
        return self.central_stack.currentWidget() is self.start_page

    def show_views(self) -> None:
        """Leave the start page for the views (a study is opening)."""
        if self.showing_start_page():
            self.central_stack.setCurrentWidget(self.views_splitter)
            QTimer.singleShot(50, self._warm_up_3d)

    def show_start_page(self) -> None:
        self.start_page.set_recent(self.recent_studies())
        self.central_stack.setCurrentWidget(self.start_page)

    def open_demo(self) -> None:
        from annulusview.app.demo import open_demo

        self.show_views()
        open_demo(self)

    def open_user_guide(self) -> UserGuideDialog:
        """Help > User guide: the guide shipped with the app, in a window of its own."""
        if self.user_guide is None:
            self.user_guide = UserGuideDialog(self)
        self.user_guide.show()
        self.user_guide.raise_()
        return self.user_guide

    def show_on_start(self) -> None:
        """Show the window: as the user left it, or maximised on the screen the first time."""
        geometry = self.qsettings.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            state = self.qsettings.value(STATE_KEY)
            if isinstance(state, QByteArray):
                self.restoreState(state)
            sizes = self.qsettings.value(SPLITTER_KEY)
            if isinstance(sizes, QByteArray):
                self.views_splitter.restoreState(sizes)
            self.show()
            return
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None:
            self.setGeometry(screen.availableGeometry())
        self.showMaximized()

    def save_layout(self) -> None:
        """Remember the window's size and place and the panel layout (QSettings)."""
        self.qsettings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.qsettings.setValue(STATE_KEY, self.saveState())
        self.qsettings.setValue(SPLITTER_KEY, self.views_splitter.saveState())
        self.qsettings.sync()

    def _build_panels(self) -> None:
        self.landmark_panel = LandmarkPanel()
        self.landmark_panel.place_requested.connect(self.landmark_editor.start_placing)
        self.landmark_panel.delete_requested.connect(self.landmark_editor.delete_landmark)
        self.landmark_panel.jump_requested.connect(self.landmark_editor.jump_to_landmark)
        self.landmark_panel.import_requested.connect(self.landmark_editor.import_landmarks_dialog)
        self.landmark_panel.export_requested.connect(self.landmark_editor.export_landmarks_dialog)
        dock = QDockWidget("Landmarks", self)
        dock.setObjectName("dock-landmarks")
        dock.setWidget(self.landmark_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.review = ProposalReview(self)
        dock = QDockWidget("Review proposed landmarks", self)
        dock.setObjectName("dock-review")
        dock.setWidget(self.review)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.results_panel = ResultsPanel()
        self.results_panel.lesion_selected.connect(self.select_lesion)
        dock = QDockWidget("Analysis", self)
        dock.setObjectName("dock-results")
        dock.setWidget(self.results_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.landmark_panel.update_landmarks(self.landmarks)
        # as narrow as the full landmark names allow (the buttons below them may squeeze)
        self.landmark_panel.setMinimumWidth(self.landmark_panel.names_width_px() + 4)
        self.results_panel.setMinimumWidth(280)
        docks = [
            self.findChild(QDockWidget, "dock-landmarks"),
            self.findChild(QDockWidget, "dock-results"),
        ]
        names_px = self.landmark_panel.minimumWidth()
        self.resizeDocks(docks, [names_px, 320], Qt.Orientation.Horizontal)

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
        self.rebuild_recent()

    def rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_studies():
            # Made here (not by addAction) so the Python wrapper is the action's own: PySide can
            # hand back a stale wrapper of another type for a returned object.
            act = QAction(p, self.recent_menu)
            act.triggered.connect(lambda _=False, path=p: self.open_path(Path(path)))
            self.recent_menu.addAction(act)
        self.recent_menu.setEnabled(bool(self.recent_studies()))
        self.start_page.set_recent(self.recent_studies())

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

    def set_busy(self, text: str, task: Task | None) -> None:
        active = task is not None
        self.progress.setVisible(active)
        self.cancel_button.setVisible(active)
        self.progress.setValue(0)
        self.status_label.setText(text)

    def show_progress(self, fraction: float, text: str) -> None:
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
        self.show_views()
        self.loader.open(path, series, landmarks)

    def cancel_loading(self) -> None:
        self.loader.cancel()

    @property
    def load_task(self) -> Task | None:
        return self.loader.task

    @property
    def series_dialog(self) -> SeriesDialog | None:
        return self.loader.series_dialog

    def _load_failed(self, exc: BaseException, context: str) -> None:
        self.set_busy("Could not open the study.", None)
        self.sessions.pending = None
        if self.volume is None:
            self.show_start_page()
        messages.show_error(self, exc, context)

    def _loaded(self, path: Path, series: str | None, volume: Volume) -> None:
        switch = self.phases.take_switch(volume)  # another phase: same landmarks and view
        self.set_busy("", None)
        self.study.set_volume(volume, path, series)
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
        landmarks = Landmarks() if switch is None else switch.landmarks
        pending_session = self.sessions.pending
        self.sessions.pending = None
        if pending_session is not None:
            landmarks = pending_session.landmarks
        elif self.loader.pending_landmarks is not None:
            try:
                landmarks = read_landmarks(self.loader.pending_landmarks)
            except InputError as exc:
                messages.show_error(self, exc, "Landmarks")
        self.loader.pending_landmarks = None
        self.set_landmarks(landmarks)
        if not landmarks.missing_aortic:
            self.run_analysis()  # landmarks came with the study: no need to wait for edits
        elif self.auto_propose and switch is None and should_propose(landmarks):
            self.review.propose()  # off the GUI thread; a failure says why in the status
        if pending_session is not None:
            self.sessions.apply_view_state(pending_session.view)
        elif switch is not None and switch.view is not None:
            self.sessions.apply_view_state(switch.view)
        self.schedule_scene(reset_camera=switch is None)

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
            self.landmark_editor.import_landmarks(path)
        elif name.endswith(".json"):
            self.sessions.open(path)
        else:
            self.open_path(path)

    # --- window / crosshair ----------------------------------------------------------------

    def apply_window_preset(self, index: int) -> None:
        _, width, level = self.presets[int(index)]
        self.window_box.setCurrentIndex(int(index))
        self.set_window(width, level)

    def set_window(self, width: float, level: float) -> None:
        for view in (*self.views.values(), self.root_planes.view, self.straightened):
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

    @property
    def placing(self) -> str | None:
        """The landmark being placed (None when not placing)."""
        return self.landmark_editor.placing

    def _view_clicked(self, view_name: str, lps: Any) -> None:
        if self.placing == MA_CURVE:  # successive clicks add MA_01, MA_02, ...
            self.mitral_ui.add_curve_point(lps)
            return
        if self.placing is not None:
            self.landmark_editor.place_landmark(self.placing, lps)
            return
        self.set_crosshair(lps)

    # --- landmarks -------------------------------------------------------------------------

    def set_landmarks(self, landmarks: Landmarks) -> None:
        """Make ``landmarks`` the study's (not undoable by itself; the views follow)."""
        self.study.set_landmarks(landmarks)

    def _show_landmarks(self, landmarks: Landmarks) -> None:
        """Show the study's landmarks everywhere and schedule the analysis."""
        points = dict(landmarks.points)
        for view in self.views.values():
            view.set_landmarks(points, self.placing, landmarks.proposed)
        self.review.refresh()
        self.landmark_panel.update_landmarks(landmarks, self.placing)
        self.scene_state.landmarks = landmarks  # the one place the scene follows the study
        self._update_obliques()
        if self.results is None:
            self.schedule_scene()
        self.schedule_analysis()
        self.sessions.schedule_autosave()

    # --- oblique views ---------------------------------------------------------------------

    def _update_obliques(self) -> None:
        update_oblique_views(self.views, self.volume, self.scene_state.regions, self.results)
        self.root_planes.update_planes(self.volume, self.scene_state.regions, self.results)
        self.straightened.update_results(self.volume, self.results)

    # --- analysis --------------------------------------------------------------------------

    def schedule_analysis(self) -> None:
        self.analysis.schedule()

    def run_analysis(self) -> None:
        """Start the analysis now (a running one is cancelled)."""
        self.analysis.run()

    @property
    def analysis_runs(self) -> int:
        return self.analysis.runs

    @property
    def analysis_task(self) -> Task | None:
        return self.analysis.task

    def _analysed(self, results: Results, cache: dict[str, Any]) -> None:
        self.study.set_results(results)
        self.results_panel.show_results(results)
        self.mitral_ui.show_results(results)
        status = (
            f"Analysis done: {len(results.lesions)} lesion(s), "
            f"{len(results.raised_flags)} criterion(s) met."
        )
        if results.calcium_not_assessed_reason:
            status = f"Analysis done. CALCIUM NOT ASSESSED: {results.calcium_not_assessed_reason}"
        self.results_panel.set_status(status)
        self.scene_state.results = results
        self.scene_state.cache = cache
        self.scene_state.highlight_lesion = None
        self._update_obliques()
        markers = [(np.asarray(les.centroid_lps), "#FDE725") for les in results.lesions]
        for name in ("axial", "coronal", "sagittal"):
            self.views[name].overlay = Overlay(markers=markers)
            self.views[name].update()
        self.schedule_scene()

    def select_lesion(self, lesion: Lesion) -> None:
        """Centre every view on a lesion and highlight it in 3D."""
        centre = np.asarray(lesion.centroid_lps, dtype=float)
        self.set_crosshair(centre, centre=True)
        for view in self.views.values():
            view.highlight_lps = centre
            view.update()
        self.scene_state.highlight_lesion = lesion.id
        self.refresh_scene()
        self.viewer3d.centre_on(centre)
        self.status_label.setText(
            f"Lesion {lesion.id}: {fmt(lesion.volume_mm3, 1, 'mm3')}, "
            f"{lesion.region}, {lesion.cusp}"
        )

    def open_settings(self) -> None:
        sizing = () if self.results is None else self.results.sizing
        dialog = SettingsDialog(self.analysis_settings, self, sizing)
        dialog.accepted.connect(lambda: self.set_analysis_settings(dialog.settings()))
        self.settings_dialog = dialog
        dialog.open()

    def set_analysis_settings(self, settings: AnalysisSettings) -> None:
        self.study.settings = settings
        self.schedule_analysis()
        self.sessions.schedule_autosave()

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
        res = state.results
        if self.volume is not None and res is not None and res.lesions:
            key = (id(state.results), state.color_by)
            if key != self._surface_ready:
                self._surface_ready = key
                state.volume = self.volume
                calcium_mesh(state, COLOR_BY_FIELD[state.color_by])
                # 1 ms, not 0: timers already due run between the calcium step and the build
                self._scene_timer.start(1)
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
        if self.volume is None:
            return
        self.viewer3d.show_state(self.scene_state, reset_camera=reset_camera)

    # --- misc ------------------------------------------------------------------------------

    def show_about(self) -> None:
        messages.show_message(
            self,
            "About AnnulusView",
            f"AnnulusView {annulusview.__version__}",
            annulusview.DISCLAIMER,
        )

    def closeEvent(self, event: Any) -> None:
        self.save_layout()
        self.closed = True
        self.analysis.timer.stop()
        self.sessions.timer.stop()
        tasks = (
            self.load_task,
            self.analysis_task,
            getattr(self, "demo_task", None),
            self.warm_task,
            self.review.task,
            self.straightened.task,
        )
        for task in tasks:
            if task is not None and task.running:
                task.cancel()
                task.wait(10000)
        self.viewer3d.close_plotter()
        if self.sessions.enabled:
            autosave_path().unlink(missing_ok=True)  # a clean exit: nothing to recover
        super().closeEvent(event)

    def wait_idle(self, timeout_ms: int = 60000) -> None:
        """Block until background tasks end (scripts and benchmarks)."""
        for task in (self.load_task, self.analysis_task):
            if task is not None and task.running:
                task.wait(timeout_ms)
