"""One function per picture: :func:`render_view` draws the 3D scene or a 2-D reformat with its
overlays and annotations into any pyvista plotter; :func:`save_view_png` renders it off-screen
and writes a de-identified PNG atomically.

2-D views are VTK too: an image actor of the reformat (:mod:`annulusview.core.reformat`) in a
plane coordinate system (x = screen right, y = screen up, mm, origin at the annulus centre),
with the lumen contour, lesion outlines (coloured by distance, as in 3D), region outlines and a
crosshair drawn as lines, and a parallel camera so the scale bar is exact. The window can call
:func:`render_view` on its ``QtInteractor`` and export exactly what the command line writes.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import PIL.Image
import pyvista as pv
from pyvista import BasePlotter
from scipy import ndimage
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkRenderingCore import vtkImageActor

from annulusview.core.arrays import FloatArray
from annulusview.core.atomic import atomic_write_with
from annulusview.core.errors import InputError
from annulusview.core.outputs.deid import CaseIdentity, volume_identity
from annulusview.core.presentation import fmt
from annulusview.core.reformat import (
    ViewPlane,
    annulus_view_plane,
    oblique_slice,
    window_to_uint8,
)
from annulusview.core.reformat import view_plane as reformat_view_plane
from annulusview.core.results import LabelCrop, Results
from annulusview.scene import annotate, geometry
from annulusview.scene.build import (
    ANNULUS_COLOR,
    CONDUCTION_COLOR,
    LVOT_COLOR,
    SceneHandles,
    build_scene,
    camera_carm_text,
    lesion_labels,
    set_camera_preset,
)
from annulusview.scene.state import COLOR_BY_FIELD, SceneState

#: The measured root planes (clinical-model.md 4.2), each drawn with its lumen contour:
#: view -> (RootMeasurements part, key of its height, height when not measured, title).
ROOT_PLANE_VIEWS = {
    "lvot_plane": ("lvot", "level_mm", -4.0, "LVOT plane"),
    "sinus_plane": ("sinus", "height_mm", 12.0, "Sinus of Valsalva plane"),
    "stj_plane": ("stj", "height_mm", 20.0, "Sinotubular junction plane"),
}
VIEWS = ("3d", "annulus", "lvot", "axial", "coronal", "sagittal", *ROOT_PLANE_VIEWS)
VIEW_TITLES = {
    "3d": "3D view",
    "annulus": "Annulus plane",
    "lvot": "LVOT long axis through the conduction zone",
    "axial": "Axial",
    "coronal": "Coronal",
    "sagittal": "Sagittal",
    **{view: spec[3] for view, spec in ROOT_PLANE_VIEWS.items()},
}
ROOT_PLANE_SIZE_MM = 60.0
DEFAULT_SIZE = (1920, 1080)

#: Most pixels one off-screen render may hold (width x height after scaling): 8K UHD
#: (7680 x 4320 = 33 Mpx) fits; 8192 x 8192 at scale 2 (268 Mpx) made VTK allocate 9.2 GB and
#: abort in C++. Software OpenGL needs several buffers of 4-16 bytes per pixel.
MAX_RENDER_PIXELS = 40_000_000


def check_render_size(size: tuple[int, int], scale: int = 1) -> None:
    """Refuse a render larger than :data:`MAX_RENDER_PIXELS` before any work.

    Raises
    ------
    InputError
        ``size`` x ``scale`` holds more pixels than the renderer can allocate safely.
    """
    width, height = size[0] * scale, size[1] * scale
    if width * height > MAX_RENDER_PIXELS:
        raise InputError(
            f"A {width} x {height} picture ({width * height / 1e6:.0f} Mpx) is larger than the "
            f"{MAX_RENDER_PIXELS / 1e6:.0f} Mpx one render can hold.",
            "Choose a smaller --size or --scale 1 (e.g. 3840x2160 at scale 2).",
        )


LESION_SLAB_MM = 2.0  # lesion outlines: labels within +-2 mm of the plane
CROSSHAIR_COLOR = "#66CCEE"


@dataclass
class ViewResult:
    """What :func:`render_view` drew: the 3D handles (3D view) or the plane (2-D views)."""

    view: str
    info: annotate.ViewInfo
    handles: SceneHandles | None = None
    plane: ViewPlane | None = None


def _unit(v: npt.ArrayLike) -> FloatArray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


def view_plane(state: SceneState, view: str) -> ViewPlane:
    """The plane of a 2-D view of ``state``: :func:`annulusview.core.reformat.view_plane`, the
    one the window's views use too."""
    if state.volume is None:
        raise ValueError("no volume to reformat")
    if view in ROOT_PLANE_VIEWS:
        geom = state.regions
        if geom is None:
            raise ValueError(f"the {view} view needs the hinge landmarks")
        h = _root_plane_height(state, view)
        base = annulus_view_plane(geom.frame)
        origin = np.asarray(geom.frame.origin_lps) + h * np.asarray(geom.frame.normal_lps)
        return ViewPlane(origin, base.right, base.down, ROOT_PLANE_SIZE_MM, 0.25)
    return reformat_view_plane(view, state.regions, state.volume)


def _root_part(state: SceneState, view: str) -> Any:
    res = state.results
    root = None if res is None else res.root
    return None if root is None else getattr(root, ROOT_PLANE_VIEWS[view][0])


def _root_plane_height(state: SceneState, view: str) -> float:
    """The measured height of a root plane (its default when it was not measured)."""
    _, key, default, _ = ROOT_PLANE_VIEWS[view]
    part = _root_part(state, view)
    value = None if part is None else part.values.get(key)
    return default if value is None else float(value)


def _root_plane_notes(state: SceneState, view: str) -> list[str]:
    """The plane's height and numbers, or why it was not measured."""
    part = _root_part(state, view)
    h = _root_plane_height(state, view)
    where = "above" if h >= 0 else "below"
    notes = [f"h = {h:+.1f} mm: {abs(h):.1f} mm {where} the annulus (parallel to it)"]
    if part is None:
        return [*notes, "no analysis"]
    if part.status != "measured":
        return [*notes, f"not measured: {part.reason}"]
    v = part.values
    if view == "lvot_plane":
        notes.append(
            f"area {fmt(v.get('area_mm2'), 0, 'mm2')}, perimeter "
            f"{fmt(v.get('perimeter_mm'), 1, 'mm')}, D {fmt(v.get('d_min_mm'))} / "
            f"{fmt(v.get('d_max_mm'), 1, 'mm')}"
        )
    elif view == "sinus_plane":
        d = v.get("diameter_mm") or {}
        notes.append(
            f"area {fmt(v.get('area_mm2'), 0, 'mm2')}; "
            + ", ".join(f"{c} {fmt(x, 1, 'mm')}" for c, x in d.items())
        )
    else:
        notes.append(f"D {fmt(v.get('diameter_mm'), 1, 'mm')} (area-derived)")
    return notes


def _image_actor(image_u8: npt.NDArray[np.uint8], plane: ViewPlane) -> Any:
    """A VTK image actor of a reformat, placed in plane coordinates (row 0 at the top)."""
    n_rows, n_cols = image_u8.shape
    img = vtkImageData()
    img.SetDimensions(n_cols, n_rows, 1)
    img.SetSpacing(plane.pixel_mm, plane.pixel_mm, 1.0)
    img.SetOrigin(-(n_cols - 1) / 2.0 * plane.pixel_mm, -(n_rows - 1) / 2.0 * plane.pixel_mm, 0)
    scalars = numpy_to_vtk(np.ascontiguousarray(image_u8[::-1]).ravel(), deep=True)
    img.GetPointData().SetScalars(scalars)
    actor = vtkImageActor()
    actor.GetMapper().SetInputData(img)
    actor.InterpolateOn()
    return actor


def _polyline(xy: FloatArray, closed: bool = False, z: float = 0.5) -> pv.PolyData:
    pts = np.column_stack([xy, np.full(len(xy), z)])
    n = len(pts)
    idx = list(range(n)) + ([0] if closed else [])
    return pv.PolyData(pts, lines=np.array([len(idx), *idx]))


def _window(res: Results | None) -> tuple[float, float]:
    """(width, level) HU: calcium stays white, the contrast lumen grey."""
    if res is not None and res.contrast:
        return 1200.0, 350.0
    return 700.0, 150.0


def _lesion_labels(state: SceneState) -> LabelCrop | None:
    """The lesion label crop (small box around the lesions), shared with the 3-D scene."""
    if state.volume is None or state.results is None:
        return None
    return lesion_labels(state)


def _slab_labels(state: SceneState, plane: ViewPlane, n: int) -> npt.NDArray[np.int32] | None:
    """Lesion ids on the plane's pixel grid: the largest id within +-slab of the plane."""
    crop = _lesion_labels(state)
    volume = state.volume
    if crop is None or volume is None or not crop[0].any():
        return None
    labels, offset_kji = crop
    offsets = (np.arange(n) - (n - 1) / 2.0) * plane.pixel_mm
    out = np.zeros((n, n), dtype=np.int32)
    step = min(volume.spacing_mm) / 2.0
    for dz in np.arange(-LESION_SLAB_MM, LESION_SLAB_MM + 1e-6, step):
        centre = plane.origin + dz * plane.normal
        pts = (
            centre[None, None, :]
            + offsets[None, :, None] * plane.right[None, None, :]
            + offsets[:, None, None] * plane.down[None, None, :]
        )
        kji = volume.lps_to_index(pts.reshape(-1, 3))[:, ::-1] - np.asarray(offset_kji)
        vals = ndimage.map_coordinates(labels, kji.T, order=0, cval=0, mode="constant")
        out = np.maximum(out, vals.reshape(n, n).astype(np.int32))
    return out


def _add_lesion_outlines(
    plotter: BasePlotter, state: SceneState, plane: ViewPlane, u: float
) -> int:
    """Outline each lesion in the slab, coloured by its distance. Returns the number drawn."""
    n = max(2, round(plane.size_mm / plane.pixel_mm))
    slab = _slab_labels(state, plane, n)
    if slab is None or state.results is None:
        return 0
    field = COLOR_BY_FIELD[state.color_by]
    drawn = 0
    for lesion in state.results.lesions:
        mask = slab == lesion.id
        if not mask.any():
            continue
        grid = pv.ImageData(
            dimensions=(n + 2, n + 2, 1),
            spacing=(plane.pixel_mm, plane.pixel_mm, 1.0),
            origin=(-(n + 1) / 2.0 * plane.pixel_mm, -(n + 1) / 2.0 * plane.pixel_mm, 0.6),
        )
        grid.point_data["m"] = np.pad(mask[::-1].astype(np.float32), 1).ravel()
        lines = grid.contour([0.5], scalars="m")
        if lines.n_points == 0:
            continue
        plotter.add_mesh(
            lines,
            color=annotate.distance_color(getattr(lesion, field)),
            line_width=max(2.0, 3.0 * u),
            lighting=False,
            name=f"lesion_outline_{lesion.id}",
            pickable=False,
        )
        drawn += 1
    return drawn


def _add_region_overlays(
    plotter: BasePlotter, state: SceneState, plane: ViewPlane, view: str, u: float
) -> None:
    geom = state.regions
    if geom is None:
        return
    frame = geom.frame
    width = max(1.5, 2.0 * u)
    if view in ROOT_PLANE_VIEWS:
        part = _root_part(state, view)
        if part is not None and part.contour is not None:
            contour = part.contour
            plotter.add_mesh(
                _polyline(plane.to_xy(contour.contour_lps), closed=True),
                color=LVOT_COLOR if view == "lvot_plane" else ANNULUS_COLOR,
                line_width=max(2.0, 3.0 * u),
                lighting=False,
                name="root_contour",
            )
            if view == "sinus_plane":  # each cusp's sinus-to-commissure chord, as measured
                h = contour.height_mm
                for i, theta in enumerate(frame.hinge_angles_deg.values()):
                    ends = np.array(
                        [frame.to_lps(h, contour.radius_at(t), t) for t in (theta, theta + 180.0)]
                    )
                    plotter.add_mesh(
                        _polyline(plane.to_xy(ends)),
                        color=ANNULUS_COLOR,
                        line_width=width,
                        lighting=False,
                        name=f"sinus_chord_{i}",
                    )
        return
    if view == "annulus":
        contour = geometry.annulus_contour_points(state.results, geom)
        if contour is not None:
            plotter.add_mesh(
                _polyline(plane.to_xy(contour), closed=True),
                color=ANNULUS_COLOR,
                line_width=max(2.0, 3.0 * u),
                lighting=False,
                name="lumen_contour",
            )
    else:
        # where the annulus plane cuts this view
        along = np.cross(frame.normal_lps, plane.normal)
        if np.linalg.norm(along) > 1e-3:
            along = _unit(along)
            r = geom.annulus_radius_mm + 6.0
            ends = np.array([frame.origin_lps - r * along, frame.origin_lps + r * along])
            plotter.add_mesh(
                _polyline(plane.to_xy(ends)),
                color=ANNULUS_COLOR,
                line_width=width,
                lighting=False,
                name="annulus_line",
            )
    if view == "lvot":
        # the view runs through the valve axis and the conduction zone centre:
        # x = r toward the zone, y = h (aorta up), so the regions are rectangles
        h_lo, h_hi, r_max = geom.lvot_h_min_mm, geom.lvot_h_max_mm, geom.r_max_mm
        box = np.array([[-r_max, h_lo], [r_max, h_lo], [r_max, h_hi], [-r_max, h_hi]])
        plotter.add_mesh(
            _polyline(box, closed=True),
            color=LVOT_COLOR,
            line_width=width,
            lighting=False,
            name="lvot_outline",
        )
        ch_lo, ch_hi = geom.conduction_h_range_mm
        cr_lo, cr_hi = geom.conduction_rho_range_mm
        box = np.array([[cr_lo, ch_lo], [cr_hi, ch_lo], [cr_hi, ch_hi], [cr_lo, ch_hi]])
        plotter.add_mesh(
            _polyline(box, closed=True),
            color=CONDUCTION_COLOR,
            line_width=width,
            lighting=False,
            name="conduction_outline",
        )


def _add_crosshair(plotter: BasePlotter, plane: ViewPlane, u: float) -> None:
    half = plane.size_mm / 2.0
    gap = 3.0
    segs = [
        np.array([[-half, 0.0], [-gap, 0.0]]),
        np.array([[gap, 0.0], [half, 0.0]]),
        np.array([[0.0, -half], [0.0, -gap]]),
        np.array([[0.0, gap], [0.0, half]]),
    ]
    mesh = pv.merge([_polyline(s, z=0.4) for s in segs])
    plotter.add_mesh(
        mesh,
        color=CROSSHAIR_COLOR,
        opacity=0.55,
        line_width=max(1.0, 1.5 * u),
        lighting=False,
        name="crosshair",
    )


def _add_landmarks_2d(plotter: BasePlotter, state: SceneState, plane: ViewPlane, u: float) -> None:
    """Landmarks within 3 mm of the plane, as dots with their names."""
    lms = state.landmarks
    if lms is None:
        return
    names = [n for n in lms.names() if not n.startswith("MA_")]
    near = [n for n in names if abs(float((lms[n] - plane.origin) @ plane.normal)) <= 3.0]
    if not near:
        return
    xy = plane.to_xy(np.array([lms[n] for n in near]))
    pts = np.column_stack([xy, np.full(len(xy), 0.8)])
    plotter.add_point_labels(
        pts,
        [n.replace("_", " ") for n in near],
        font_size=max(8, round(14 * u)),
        text_color="#44BB99",
        point_color="#44BB99",
        point_size=max(6, round(9 * u)),
        render_points_as_spheres=True,
        shape=None,
        always_visible=True,
        name="landmarks_2d",
    )


def _render_2d(plotter: BasePlotter, state: SceneState, view: str) -> ViewResult:
    if state.volume is None:
        raise ValueError("a 2-D view needs a volume")
    plane = view_plane(state, view)
    u = annotate._unit(plotter)
    plotter.clear()
    # pyvista's decorated method hides its signature from mypy
    plotter.set_background("#000000")  # type: ignore[arg-type]
    image = oblique_slice(
        state.volume, plane.origin, plane.right, plane.down, plane.size_mm, plane.pixel_mm
    )
    width, level = _window(state.results)
    plotter.add_actor(
        _image_actor(window_to_uint8(image, width, level), plane),
        name="reformat",
        reset_camera=False,
        pickable=False,
    )
    _add_crosshair(plotter, plane, u)
    _add_region_overlays(plotter, state, plane, view, u)
    n_outlines = _add_lesion_outlines(plotter, state, plane, u)
    if state.toggles.landmarks:
        _add_landmarks_2d(plotter, state, plane, u)

    # parallel camera looking down -z at the plane; the image fills 72 % of the height and
    # sits a little above the middle, clear of the legend and the disclaimer
    _, h = plotter.window_size
    scale = plane.size_mm / 2.0 / 0.72
    shift = -0.08 * scale
    cam = plotter.camera
    cam.SetParallelProjection(True)
    cam.SetFocalPoint(0.0, shift, 0.0)
    cam.SetPosition(0.0, shift, 500.0)
    cam.SetViewUp(0.0, 1.0, 0.0)
    cam.SetParallelScale(scale)
    plotter.renderer.ResetCameraClippingRange()
    notes = [f"lesion outlines within ±{LESION_SLAB_MM:g} mm of the plane ({n_outlines} shown)"]
    if view in ROOT_PLANE_VIEWS:
        notes = _root_plane_notes(state, view) + notes
    info = annotate.ViewInfo(
        name=view,
        title=VIEW_TITLES[view],
        px_per_mm=float(h) / (2.0 * scale),
        right_lps=plane.right,
        up_lps=-plane.down,
        legend_title=annotate.legend_title(state.color_by),
        notes=notes,
        compact=view in ROOT_PLANE_VIEWS,
    )
    return ViewResult(view, info, plane=plane)


CameraSpec = str | tuple[tuple[float, float, float], ...]


def _render_3d(plotter: BasePlotter, state: SceneState, camera: CameraSpec = "front") -> ViewResult:
    # the export draws its own orientation letters and legend, scaled with the picture
    toggles = dataclasses.replace(state.toggles, orientation_marker=False)
    export_state = dataclasses.replace(state, toggles=toggles)
    handles = build_scene(plotter, export_state)
    state.cache.update(export_state.cache)
    if handles.actors.pop("scalar_bar", None) is not None:
        # the export's own legend is scaled with the picture
        # pyvista's decorated method hides its signature from mypy
        plotter.remove_scalar_bar()  # type: ignore[call-arg]
    if isinstance(camera, str):
        set_camera_preset(plotter, handles, camera)
    else:  # a camera_position (position, focal point, view up) taken from the window
        plotter.camera_position = [tuple(float(v) for v in row) for row in camera]
    cam = plotter.camera
    # parallel projection with the same framing: the scale bar is exact at every depth
    focal = np.asarray(cam.focal_point, dtype=np.float64)
    position = np.asarray(cam.position, dtype=np.float64)
    distance = float(np.linalg.norm(position - focal))
    scale = 0.8 * distance * np.tan(np.radians(cam.view_angle) / 2.0)
    cam.parallel_projection = True
    cam.parallel_scale = scale
    plotter.reset_camera_clipping_range()
    direction = _unit(focal - position)
    up = np.asarray(cam.up, dtype=np.float64)
    up = _unit(up - (up @ direction) * direction)
    right = np.cross(direction, up)
    _, h = plotter.window_size
    info = annotate.ViewInfo(
        name="3d",
        title=VIEW_TITLES["3d"],
        subtitle=f"view direction {camera_carm_text(plotter)}",
        px_per_mm=float(h) / (2.0 * scale),
        right_lps=right,
        up_lps=up,
        legend_title=annotate.legend_title(state.color_by),
    )
    return ViewResult("3d", info, handles=handles)


def render_view(
    plotter: BasePlotter,
    state: SceneState,
    view: str = "3d",
    identity: CaseIdentity | None = None,
    annotations: bool = True,
    camera: CameraSpec = "front",
) -> ViewResult:
    """Draw ``view`` of ``state`` into ``plotter``, with the export annotations.

    Parameters
    ----------
    plotter
        A pyvista ``Plotter`` or ``pyvistaqt.QtInteractor`` (its window size sets text sizes).
    state
        What to show (volume, results, landmarks, toggles, colouring).
    view
        One of :data:`VIEWS`.
    identity
        What may be printed about the case; default: the de-identified case label.
    annotations
        Draw the label, measurements, badges, legend, scale bar, orientation and disclaimer.
    camera
        Camera preset of the 3D view.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {', '.join(VIEWS)}")
    result = (
        _render_3d(plotter, state, camera) if view == "3d" else _render_2d(plotter, state, view)
    )
    if annotations:
        if identity is None:
            identity = (
                volume_identity(state.volume)
                if state.volume is not None
                else CaseIdentity("AV-UNKNOWN")
            )
        annotate.add_annotations(plotter, state.results, identity, result.info)
    return result


def render_image(
    state: SceneState,
    view: str = "3d",
    size: tuple[int, int] = DEFAULT_SIZE,
    scale: int = 1,
    identity: CaseIdentity | None = None,
    camera: CameraSpec = "front",
) -> npt.NDArray[np.uint8]:
    """Render ``view`` off-screen at ``size`` x ``scale`` pixels; returns RGB ``(h, w, 3)``.

    ``camera`` (3D only): a preset name, or a ``camera_position`` (position, focal point, view
    up; LPS mm) such as the window's current 3D camera.
    """
    check_render_size(size, scale)
    width, height = int(size[0]) * int(scale), int(size[1]) * int(scale)
    plotter = pv.Plotter(off_screen=True, window_size=[width, height])
    try:
        render_view(plotter, state, view, identity, camera=camera)
        image = np.asarray(plotter.screenshot(return_img=True, window_size=[width, height]))
    finally:
        plotter.close()
    return image[..., :3].copy()


def png_bytes(image: npt.NDArray[np.uint8]) -> bytes:
    """Encode an RGB image as PNG with Pillow: no text chunks, nothing but pixels.

    Pillow rather than vtkPNGWriter so that the app can encode on a worker thread (VTK objects
    must not be created off the rendering thread).
    """
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.ascontiguousarray(image[..., :3]), mode="RGB").save(buffer, "PNG")
    return buffer.getvalue()


def _write_file(tmp: Path, data: bytes) -> None:
    """Write ``data`` to the temporary file (the step a full disk would break)."""
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()


def save_view_png(
    state: SceneState,
    path: Path,
    view: str = "3d",
    size: tuple[int, int] = DEFAULT_SIZE,
    scale: int = 1,
    identity: CaseIdentity | None = None,
) -> Path:
    """Render ``view`` off-screen and write a PNG atomically (tmp file, then rename).

    The caller checks the path first (:func:`annulusview.core.atomic.check_output_path`).
    """
    image = render_image(state, view, size, scale, identity)
    data = png_bytes(image)
    atomic_write_with(Path(path), lambda tmp: _write_file(tmp, data))
    return Path(path)
