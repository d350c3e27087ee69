"""The 3D view's interaction level of detail: the heavy lumen layer is hidden while the camera is
dragged and drawn again, in one render, when the drag ends; a click keeps it."""

from __future__ import annotations

import pytest
import pyvista as pv
from PySide6.QtCore import QPoint, Qt

from annulusview.app.viewer3d import Viewer3D
from annulusview.scene.build import INTERACTION_HIDDEN_LAYERS


@pytest.fixture
def viewer(qtbot):
    view = Viewer3D()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    # GUI tests run with a display (Xvfb in CI): a missing 3D view is a failure, never a skip
    assert view.plotter is not None, view.error
    yield view
    view.close_plotter()


def _with_layers(view: Viewer3D) -> tuple[object, object]:
    """A stand-in lumen (a heavy layer) and calcium (a layer that always stays)."""
    plotter = view.plotter
    lumen = plotter.add_mesh(pv.Sphere(radius=5.0), opacity=0.25, name="lumen_surface")
    calcium = plotter.add_mesh(pv.Sphere(radius=1.0), name="calcium")
    view.handles.actors.update({"lumen_surface": lumen, "calcium": calcium})
    # a placed camera, as every scene shown has (pyvista resets and renders an unset one)
    view.set_camera_position([(0.0, -40.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
    plotter.render()
    return lumen, calcium


def test_the_lumen_hides_during_a_drag_and_returns_with_one_render(viewer, qtbot) -> None:
    assert "lumen_surface" in INTERACTION_HIDDEN_LAYERS
    lumen, calcium = _with_layers(viewer)
    plotter = viewer.plotter
    frames: list[tuple[bool, bool]] = []  # (lumen, calcium) visibility of each render
    plotter.ren_win.AddObserver(
        "EndEvent",
        lambda *_: frames.append((bool(lumen.GetVisibility()), bool(calcium.GetVisibility()))),
    )
    centre = QPoint(plotter.width() // 2, plotter.height() // 2)
    qtbot.mousePress(plotter, Qt.MouseButton.LeftButton, pos=centre)
    for step in range(1, 5):
        qtbot.mouseMove(plotter, centre + QPoint(8 * step, 3 * step))
    assert not lumen.GetVisibility()  # hidden while the camera moves
    assert calcium.GetVisibility()
    moving = list(frames)
    assert moving and moving[-1] == (False, True)
    qtbot.mouseRelease(plotter, Qt.MouseButton.LeftButton, pos=centre + QPoint(32, 12))
    qtbot.wait(50)  # the paint the end asked for
    assert lumen.GetVisibility() and calcium.GetVisibility()
    after = frames[len(moving) :]
    assert after and after[-1] == (True, True)  # the still frame has every layer
    assert len(after) == 1  # drawn once, not twice


def test_a_click_without_a_move_keeps_the_lumen(viewer, qtbot) -> None:
    lumen, _ = _with_layers(viewer)
    plotter = viewer.plotter
    seen: list[bool] = []
    plotter.ren_win.AddObserver("EndEvent", lambda *_: seen.append(bool(lumen.GetVisibility())))
    centre = QPoint(plotter.width() // 2, plotter.height() // 2)
    qtbot.mouseClick(plotter, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.wait(50)
    assert lumen.GetVisibility()
    assert all(seen)  # never drawn without it
