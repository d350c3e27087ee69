"""Headless rendering of the scene: the same ``build_scene`` the window uses, off-screen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyvista as pv
from pyvista import BasePlotter

from annulusview.core.atomic import atomic_write_with
from annulusview.scene.build import SceneHandles, build_scene, camera_carm_text, set_camera_preset
from annulusview.scene.state import SceneState

DISCLAIMER_SHORT = "Decision support for planning and teaching, not a diagnosis."


def offscreen_plotter(size: tuple[int, int] = (1280, 800)) -> pv.Plotter:
    """An off-screen plotter of ``size`` (width, height) pixels."""
    return pv.Plotter(off_screen=True, window_size=list(size))


def render_scene(
    state: SceneState,
    size: tuple[int, int] = (1280, 800),
    camera: str = "front",
    plotter: pv.Plotter | None = None,
) -> tuple[npt.NDArray[np.uint8], pv.Plotter, SceneHandles]:
    """Draw ``state`` off-screen and return the RGB image, the plotter and the handles.

    The caller owns the returned plotter (call ``close()`` when done).
    """
    p = plotter or offscreen_plotter(size)
    handles = build_scene(p, state)
    set_camera_preset(p, handles, camera)
    add_annotations(p)
    image = np.asarray(p.screenshot(return_img=True))
    return image, p, handles


def add_annotations(plotter: BasePlotter) -> None:
    """Disclaimer (bottom left) and C-arm angles (top left) as screen text."""
    plotter.add_text(
        DISCLAIMER_SHORT, position="lower_left", font_size=9, color="white", name="disclaimer"
    )
    plotter.add_text(
        camera_carm_text(plotter), position="upper_left", font_size=11, color="white", name="carm"
    )


def save_screenshot(
    state: SceneState, path: Path, size: tuple[int, int] = (1280, 800), camera: str = "front"
) -> Path:
    """Render ``state`` off-screen and write a PNG atomically. Returns the path."""
    image, p, _ = render_scene(state, size, camera)
    p.close()

    def write(tmp: Path) -> None:
        import vtk
        from vtkmodules.util.numpy_support import numpy_to_vtk

        h, w, c = image.shape
        img = vtk.vtkImageData()
        img.SetDimensions(w, h, 1)
        arr = numpy_to_vtk(np.ascontiguousarray(image[::-1]).reshape(-1, c), deep=True)
        img.GetPointData().SetScalars(arr)
        writer = vtk.vtkPNGWriter()
        writer.SetFileName(str(tmp))
        writer.SetInputData(img)
        writer.Write()

    atomic_write_with(Path(path), write)
    return Path(path)
