"""The 3D view: a ``pyvistaqt.QtInteractor`` drawing :func:`build_scene`, or a plain message
when OpenGL cannot start."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent, QOffscreenSurface, QOpenGLContext
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolTip, QVBoxLayout, QWidget

from annulusview.scene.build import (
    CAMERA_PRESETS,
    SceneHandles,
    build_scene,
    camera_carm_text,
    project_to_display,
    set_camera_preset,
)
from annulusview.scene.state import SceneState

log = logging.getLogger(__name__)


def opengl_available() -> tuple[bool, str]:
    """Whether an OpenGL context can be created (checked before VTK touches it)."""
    if os.environ.get("ANNULUSVIEW_NO_OPENGL"):
        return False, "OpenGL disabled by ANNULUSVIEW_NO_OPENGL."
    try:
        surface = QOffscreenSurface()
        surface.create()
        ctx = QOpenGLContext()
        if not ctx.create():
            return False, "No OpenGL context could be created."
        if not ctx.makeCurrent(surface):
            return False, "The OpenGL context could not be made current."
        ctx.doneCurrent()
    except Exception as exc:  # defensive: drivers fail in many ways
        return False, f"OpenGL check failed: {exc}"
    return True, ""


class Viewer3D(QWidget):
    """3D panel with camera presets and the current C-arm angulation."""

    carm_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plotter: Any = None
        self.handles = SceneHandles()
        self.error = ""
        self._has_camera = False
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("camera-preset")
        self.preset_box.addItems(["View from…", *[p.capitalize() for p in CAMERA_PRESETS]])
        self.preset_box.setToolTip(
            "Camera presets: from the aorta, from the LV, front, coplanar hinges"
        )
        self.preset_box.activated.connect(self._preset_chosen)
        self.carm_label = QLabel("")
        self.carm_label.setObjectName("carm-label")
        self.carm_label.setToolTip(
            "Current view direction as C-arm angulation (LAO = detector on the patient's left)"
        )
        top = QHBoxLayout()
        top.addWidget(self.preset_box)
        top.addStretch(1)
        top.addWidget(self.carm_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        ok, why = opengl_available()
        if ok:
            try:
                from pyvistaqt import QtInteractor

                self.plotter = QtInteractor(self, auto_update=False, multi_samples=0)
                self.plotter.setObjectName("vtk-view")
                layout.addWidget(self.plotter, 1)
                self.plotter.iren.add_observer(
                    "EndInteractionEvent", lambda *_: self._update_carm()
                )
                self.plotter.installEventFilter(self)
                self.plotter.setMouseTracking(True)
            except Exception as exc:
                log.exception("3D view could not start")
                self.plotter = None
                why = f"The 3D view could not start: {exc}"
        if self.plotter is None:
            self.error = why or "The 3D view is not available."
            label = QLabel(
                f"3D view unavailable.\n{self.error}\n\nThe 2-D views, landmarks and analysis "
                "still "
                "work. Update the graphics driver, or run with software OpenGL "
                "(QT_OPENGL=software, LIBGL_ALWAYS_SOFTWARE=1)."
            )
            label.setObjectName("no-3d")
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(label, 1)
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(150)
        self._hover_pos = QPoint()
        self._hover_timer.timeout.connect(self._hover)

    @property
    def available(self) -> bool:
        return self.plotter is not None

    def show_state(self, state: SceneState, reset_camera: bool = False) -> None:
        """Redraw the scene, keeping the camera unless ``reset_camera`` or first draw."""
        if self.plotter is None:
            return
        camera = self.plotter.camera_position if self._has_camera else None
        self.handles = build_scene(self.plotter, state)
        if camera is not None and not reset_camera:
            self.plotter.camera_position = camera
        elif self.handles.region is not None or state.volume is not None:
            set_camera_preset(self.plotter, self.handles, "front")
            self._has_camera = self.handles.region is not None
        self.plotter.render()
        self._update_carm()

    def set_preset(self, name: str) -> None:
        if self.plotter is None:
            return
        set_camera_preset(self.plotter, self.handles, name)
        self.plotter.render()
        self._update_carm()

    def centre_on(self, point: Any) -> None:
        if self.plotter is None:
            return
        cam = self.plotter.camera
        shift = np.asarray(point, dtype=float) - np.asarray(cam.focal_point)
        cam.focal_point = tuple(np.asarray(cam.focal_point) + shift)
        cam.position = tuple(np.asarray(cam.position) + shift)
        self.plotter.render()

    def _preset_chosen(self, index: int) -> None:
        if index > 0:
            self.set_preset(CAMERA_PRESETS[index - 1])
            self.preset_box.setCurrentIndex(0)

    def _update_carm(self) -> None:
        if self.plotter is None:
            return
        text = camera_carm_text(self.plotter)
        self.carm_label.setText(text)
        self.carm_changed.emit(text)

    # hover explanations of the teaching overlay
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.plotter and event.type() == QEvent.Type.MouseMove and self.handles.teaching:
            assert isinstance(event, QMouseEvent)
            self._hover_pos = event.position().toPoint()
            self._hover_timer.start()
        return False

    def teaching_text_at(self, x: float, y: float, reach_px: float = 25.0) -> str | None:
        """Explanation of the teaching label nearest to widget pixel (x, y), if within reach."""
        if self.plotter is None or not self.handles.teaching:
            return None
        ratio = self.plotter.devicePixelRatioF()
        height = self.plotter.height()
        best, best_d = None, reach_px
        for item in self.handles.teaching:
            dx, dy = project_to_display(self.plotter, item.position_lps)
            wx, wy = dx / ratio, height - dy / ratio
            d = float(np.hypot(wx - x, wy - y))
            if d < best_d:
                best, best_d = item, d
        return f"{best.label}: {best.text}" if best is not None else None

    def _hover(self) -> None:
        text = self.teaching_text_at(self._hover_pos.x(), self._hover_pos.y())
        if text and self.plotter is not None:
            QToolTip.showText(self.plotter.mapToGlobal(self._hover_pos), text, self.plotter)
        else:
            QToolTip.hideText()

    def close_plotter(self) -> None:
        if self.plotter is not None:
            self.plotter.close()
            self.plotter = None
