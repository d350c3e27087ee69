"""The 3D view: a ``pyvistaqt.QtInteractor`` drawing :func:`build_scene`, or a plain message
when OpenGL cannot start."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent, QOffscreenSurface, QOpenGLContext
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from annulusview.scene.build import (
    CAMERA_PRESETS,
    INTERACTION_HIDDEN_LAYERS,
    SceneHandles,
    add_orientation_marker,
    build_scene,
    camera_carm_text,
    project_to_display,
    set_camera_carm,
    set_camera_preset,
)
from annulusview.scene.state import SceneState, SceneToggles

log = logging.getLogger(__name__)

#: Pause between the warm-up's frames, so input and timers run between two shader compiles.
WARM_UP_STEP_MS = 20


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


def _global_vtk_time(probe: Any) -> int:
    """VTK's global modification counter (every ``Modified()`` anywhere advances it)."""
    probe.Modified()
    return int(probe.GetMTime())


def make_interactor(parent: QWidget) -> Any:
    """A ``pyvistaqt.QtInteractor`` that renders once per frame, not twice.

    Every VTK render outside a paint (``plotter.render()``, mouse rotation through the
    interactor) ends with a repaint request, and pyvistaqt's ``paintGL`` then renders the scene
    again before showing it. Here the paint only shows the finished frame when nothing in VTK
    was modified since that render (VTK's global modification counter did not move and the size
    is the same); otherwise it renders as before.
    """
    from pyvistaqt import QtInteractor
    from vtkmodules.vtkCommonCore import vtkObject

    class _Interactor(QtInteractor):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._probe = vtkObject()
            self._fresh: tuple[int, tuple[int, int]] | None = None
            self.ren_win.AddObserver("EndEvent", self._rendered_frame)

        def _rendered_frame(self, *_: Any) -> None:
            if not self._in_paint:
                self._fresh = (_global_vtk_time(self._probe), tuple(self.ren_win.GetSize()))

        def paintGL(self) -> None:
            fresh = getattr(self, "_fresh", None)
            self._fresh = None
            window = getattr(self, "ren_win", None)
            if (
                fresh is not None
                and window is not None
                and not self._in_paint
                and _global_vtk_time(self._probe) == fresh[0] + 1
                and tuple(window.GetSize()) == fresh[1]
            ):
                # the last render is current: show it without rendering again
                self._in_paint = True
                try:
                    super().paintGL()
                finally:
                    self._in_paint = False
                return
            super().paintGL()

    interactor = _Interactor(parent, auto_update=False, multi_samples=0)
    # its own native window: each frame Qt composes and swaps only the 3D view's pixels, not the
    # whole main window's (about 5 ms of a 3D frame on software OpenGL, more in a wide window)
    interactor.setAttribute(Qt.WidgetAttribute.WA_NativeWindow)
    return interactor


class Viewer3D(QWidget):
    """3D panel with camera presets and the current C-arm angulation."""

    carm_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plotter: Any = None
        self.handles = SceneHandles()
        self.error = ""
        self._has_camera = False
        # interaction level of detail: heavy layers hidden while the camera moves
        self._interacting = False
        self._hidden_while_interacting: list[Any] = []
        self._scene_generation = 0  # counts scenes shown (a warm-up stops at a real one)
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
        # the planned C-arm views of the results (clinical-model.md section 9)
        self._views: dict[str, tuple[float, float]] = {}
        self._focal: Any = None
        self.view_buttons: dict[str, QPushButton] = {}
        for key, text, tip in (
            ("three_cusp", "3-cusp", "Three-cusp coplanar view: the annulus edge-on with the "
             "RCC hinge midway between LCC and NCC"),
            ("cusp_overlap", "Overlap", "Cusp-overlap view: the annulus edge-on with the RCC "
             "and LCC hinges superimposed, the NCC isolated"),
        ):  # fmt: skip
            button = QPushButton(text)
            button.setObjectName(f"view-{key}")
            button.setProperty("tip", tip)
            button.setToolTip(tip + " (from the analysis; not available before it).")
            button.setEnabled(False)
            button.clicked.connect(lambda _=False, k=key: self.show_carm_view(k))
            self.view_buttons[key] = button
        top = QHBoxLayout()
        top.addWidget(self.preset_box)
        for button in self.view_buttons.values():
            top.addWidget(button)
        top.addStretch(1)
        top.addWidget(self.carm_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        ok, why = opengl_available()
        if ok:
            try:
                self.plotter = make_interactor(self)
                self.plotter.setObjectName("vtk-view")
                layout.addWidget(self.plotter, 1)
                iren = self.plotter.iren
                iren.add_observer("StartInteractionEvent", lambda *_: self._interaction_started())
                iren.add_observer("InteractionEvent", lambda *_: self._camera_moved())
                iren.add_observer("EndInteractionEvent", lambda *_: self._interaction_ended())
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

    def set_camera_position(self, camera: Any) -> None:
        """Put the camera at ``(position, focal point, view up)`` and keep it on redraws."""
        if self.plotter is None:
            return
        self.plotter.camera_position = [tuple(v) for v in camera]
        self._has_camera = True

    def show_state(self, state: SceneState, reset_camera: bool = False) -> None:
        """Redraw the scene, keeping the camera unless ``reset_camera`` or first draw."""
        if self.plotter is None:
            return
        self._set_views(state)
        camera = self.plotter.camera_position if self._has_camera else None
        # a rebuild during a drag draws new actors: nothing of the old scene to show again
        self._hidden_while_interacting = []
        self._scene_generation += 1
        self.handles = build_scene(self.plotter, state)
        if camera is not None and not reset_camera:
            self.plotter.camera_position = camera
        elif self.handles.region is not None or state.volume is not None:
            set_camera_preset(self.plotter, self.handles, "front", render=False)
            self._has_camera = self.handles.region is not None
        # render on a later paint, not now: building and drawing are two short GUI-thread steps
        # with the event loop (input, timers) running in between, instead of one long one (a
        # 1 ms timer, not 0: a zero timer runs before timers that are already due)
        QTimer.singleShot(1, self._request_paint)
        self._update_carm()

    def _request_paint(self) -> None:
        if self.plotter is not None:
            self.plotter.update()

    # --- interaction level of detail --------------------------------------------------------

    def _interaction_started(self) -> None:
        self._interacting = True

    def _camera_moved(self) -> None:
        """The camera moved in a drag: hide the heavy layers (:data:`INTERACTION_HIDDEN_LAYERS`)
        for the frames that follow. Done on the first move, not on the press, so a click or a
        wheel step (a start and an end with no move between) renders the full scene once."""
        if not self._interacting or self._hidden_while_interacting:
            return
        for name in INTERACTION_HIDDEN_LAYERS:
            actor = self.handles.actors.get(name)
            if actor is not None and actor.GetVisibility():
                actor.SetVisibility(False)
                self._hidden_while_interacting.append(actor)
        # with nothing to hide, do not look again until the next drag
        self._interacting = bool(self._hidden_while_interacting)

    def _interaction_ended(self) -> None:
        """Show the hidden layers again. The interactor style renders right after this event,
        so the still frame is drawn once, with every layer; the paint request covers an end
        that comes without that render (it shows the frame without rendering again when it
        is current)."""
        self._interacting = False
        hidden, self._hidden_while_interacting = self._hidden_while_interacting, []
        for actor in hidden:
            actor.SetVisibility(True)
        if hidden:
            self._request_paint()
        self._update_carm()

    def warm_up(self) -> None:
        """Draw a small stand-in scene, one shape per event-loop turn, off screen, and clear it
        again (call while the window is idle).

        The first scene drawn in a view pays one-time costs: OpenGL shader programs are
        compiled (slow on software OpenGL) and pyvista sets up its mapper and lookup-table
        machinery. Paying them at start-up keeps the first study's scene update short. One
        new shape per frame keeps each step short (a study may be loading meanwhile), and the
        frames are not swapped to the screen. A scene shown meanwhile ends the warm-up.
        """
        if self.plotter is None:
            return
        try:
            actors = self._warm_up_scene()
        except Exception:  # only a speed-up: never let it break the window
            log.debug("3D warm-up failed", exc_info=True)
            self.handles = SceneHandles()
            return
        for actor in actors:
            actor.SetVisibility(False)
        # the first frame sets up the context; then one new shape per frame
        steps: list[Any] = [lambda: None]
        steps += [lambda actor=actor: actor.SetVisibility(True) for actor in actors]
        steps.append(lambda: add_orientation_marker(self.plotter))
        self._warm_up_step(steps, self._scene_generation)

    def _warm_up_scene(self) -> list[Any]:
        """The stand-in scene's actors: the scene's shapes and a calcium-like surface."""
        import pyvista as pv

        from annulusview.core.landmarks import Landmarks
        from annulusview.scene.build import CALCIUM_CLIM_MM, calcium_cmap

        angles = np.radians([90.0, 210.0, 330.0])
        hinges = {
            name: np.array([12.0 * np.cos(a), 12.0 * np.sin(a), 0.0])
            for name, a in zip(("RCC_hinge", "LCC_hinge", "NCC_hinge"), angles, strict=True)
        }
        # the orientation marker is a warm-up step of its own
        stand_in = SceneState(
            landmarks=Landmarks(hinges), toggles=SceneToggles(orientation_marker=False)
        )
        handles = build_scene(self.plotter, stand_in)
        actors = list(handles.actors.values())
        # the shapes a study's scene adds, one of each kind (each kind is a shader program):
        # a scalar-coloured, smooth-shaded surface with its colour bar like the calcium, a
        # translucent smooth-shaded surface like the lumen, thin lines like the rings
        blob = pv.Sphere(radius=2.0, theta_resolution=8, phi_resolution=6)
        blob.point_data["distance_mm"] = np.linspace(0.0, 10.0, blob.n_points)
        calcium_like = self.plotter.add_mesh(
            blob,
            scalars="distance_mm",
            cmap=calcium_cmap(),
            clim=CALCIUM_CLIM_MM,
            smooth_shading=True,
            specular=0.3,
            show_scalar_bar=False,
            name="warm-up",
            render=False,
        )
        actors.append(calcium_like)
        actors.append(
            self.plotter.add_scalar_bar(
                title="warm-up", mapper=calcium_like.mapper, vertical=False, render=False
            )
        )
        shell = pv.Sphere(radius=4.0, theta_resolution=8, phi_resolution=6)
        for key, options in (
            ("warm-up-lumen", {"opacity": 0.25, "smooth_shading": True, "specular": 0.2}),
            ("warm-up-ring", {"style": "wireframe", "line_width": 2}),
        ):
            actors.append(self.plotter.add_mesh(shell, name=key, render=False, **options))
        return actors

    def _warm_up_step(self, steps: list[Any], generation: int) -> None:
        if self.plotter is None or generation != self._scene_generation:
            return  # closed, or a real scene was drawn meanwhile
        try:
            if steps:
                steps[0]()
                window = self.plotter.ren_win
                # rendered, not shown: without a swap the widget is not asked to repaint
                window.SwapBuffersOff()
                try:
                    window.Render()
                finally:
                    window.SwapBuffersOn()
                QTimer.singleShot(
                    WARM_UP_STEP_MS, lambda: self._warm_up_step(steps[1:], generation)
                )
                return
            build_scene(self.plotter, SceneState())
            self.plotter.update()
        except Exception:  # only a speed-up: never let it break the window
            log.debug("3D warm-up failed", exc_info=True)
        self.handles = SceneHandles()

    def _set_views(self, state: SceneState) -> None:
        """Enable the C-arm view buttons for the views the results found (tooltip: angles)."""
        res = state.results
        plan = None if res is None else res.fluoroscopy
        self._views = {}
        self._focal = None if res is None else res.frame.origin_lps
        for key, button in self.view_buttons.items():
            view = None
            if plan is not None:
                view = plan.coplanar if key == "three_cusp" else plan.cusp_overlap
            tip = str(button.property("tip"))
            if view is not None and view.lao_deg is not None and view.cranial_deg is not None:
                self._views[key] = (view.lao_deg, view.cranial_deg)
                button.setEnabled(True)
                button.setToolTip(f"{tip}: {view.to_dict()['label']}.")
            else:
                button.setEnabled(False)
                why = "not available before the analysis" if view is None else view.reason
                button.setToolTip(f"{tip} ({why}).")

    def show_carm_view(self, key: str) -> bool:
        """Put the camera at the planned C-arm view ``three_cusp`` or ``cusp_overlap``; False
        when there is none (no analysis yet, or no solution on the S-curve)."""
        if self.plotter is None or key not in self._views or self._focal is None:
            return False
        lao, cranial = self._views[key]
        focal = np.asarray(self._focal, dtype=float)
        set_camera_carm(self.plotter, focal, lao, cranial)
        # fit the distance to what is drawn, keep the direction and the annulus centre (on the
        # renderer: the plotter's reset_camera renders even with render=False)
        self.plotter.renderer.ResetCamera()
        cam = self.plotter.camera
        shift = focal - np.asarray(cam.focal_point)
        cam.position = tuple(np.asarray(cam.position) + shift)
        cam.focal_point = tuple(focal)
        cam.zoom(1.4)
        self.plotter.reset_camera_clipping_range()
        self._has_camera = True
        self.plotter.render()
        self._update_carm()
        return True

    def set_preset(self, name: str) -> None:
        if self.plotter is None:
            return
        set_camera_preset(self.plotter, self.handles, name, render=False)
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
