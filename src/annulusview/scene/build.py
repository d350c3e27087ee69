"""``build_scene(plotter, state)``: the one scene the window, the exports and the tests share.

``plotter`` is any pyvista plotter: ``pyvistaqt.QtInteractor`` in the window or
``pv.Plotter(off_screen=True)`` headless, so an exported picture is exactly what the tests see.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyvista as pv
from pyvista import BasePlotter
from scipy import ndimage
from vtkmodules.vtkRenderingCore import vtkActor2D, vtkCoordinate, vtkPropAssembly, vtkTextMapper

from annulusview.core.aortic.regions import RegionGeometry
from annulusview.core.landmarks import AORTIC_REQUIRED, DESCRIPTIONS
from annulusview.core.reformat import carm_angles, carm_direction, format_carm
from annulusview.core.results import Results
from annulusview.scene import geometry, lumen
from annulusview.scene.mitral import add_mitral
from annulusview.scene.state import COLOR_BY_FIELD, COLOR_BY_TITLE, SceneState

log = logging.getLogger(__name__)

CALCIUM_CMAP_NAME = "cividis"  # perceptually uniform and colour-blind safe
CALCIUM_CLIM_MM = (0.0, 10.0)
LVOT_COLOR = "#4477AA"
CONDUCTION_COLOR = "#EE7733"
ANNULUS_COLOR = "#EEEEEE"
LANDMARK_COLOR = "#44BB99"
#: Landmarks proposed by the program and not yet accepted: hollow, orange (not the calcium map).
PROPOSED_COLOR = "#EE7733"
HIGHLIGHT_COLOR = "#FF00FF"
# The contrast lumen as the bright cast it is on CT. Neutral grey on purpose: a translucent
# grey layer keeps the order of the red, green and blue of what lies behind it, so calcium seen
# through the lumen keeps its colour-map hue (a tinted layer would shift it).
LUMEN_COLOR = "#DDDDDD"
LUMEN_OPACITY = 0.25
RING_COLOR = "#88CCEE"  # the LVOT, sinus and STJ rings on the lumen
BACKGROUND = "#101216"
BACKGROUND_TOP = "#2e3440"  # kept for callers; the scene uses a plain background
CAMERA_PRESETS = ("aorta", "lv", "front", "coplanar")
#: Layers a view may hide while the camera is dragged (and show again when it stops): the
#: large translucent lumen surface is about a third of a frame's drawing on software OpenGL,
#: the CPU volume rendering far more. Everything else (calcium, rings, labels) stays.
INTERACTION_HIDDEN_LAYERS = ("lumen_surface", "lumen_volume")

TEACHING_TEXT = {
    "RCC": "Right coronary cusp: gives rise to the right coronary artery.",
    "LCC": "Left coronary cusp: gives rise to the left main coronary artery.",
    "NCC": "Non-coronary cusp: sits next to the membranous septum and the conduction system.",
    "Commissure": "Commissure: where two leaflets meet at the top of the annulus.",
    "LVOT": "LVOT: left ventricular outflow tract just below the annulus; calcium here raises "
    "the risk of leak and rupture.",
    "Membranous septum": "Membranous septum: thin wall below the NCC-RCC commissure; the His "
    "bundle runs along its lower edge.",
    "Conduction zone": "Conduction zone: where the His bundle passes; valve pressure or calcium "
    "here raises the risk of heart block and a pacemaker.",
}


@dataclass
class TeachingItem:
    """A labelled structure for the teaching overlay (the Qt layer shows ``text`` on hover)."""

    label: str
    position_lps: npt.NDArray[np.float64]
    text: str


@dataclass
class SceneHandles:
    """Actors made by :func:`build_scene`, by name, for toggling and picking."""

    actors: dict[str, Any] = field(default_factory=dict)
    lesion_mesh: pv.PolyData | None = None
    lumen_mesh: pv.PolyData | None = None
    teaching: list[TeachingItem] = field(default_factory=list)
    region: RegionGeometry | None = None
    bounds_centre: npt.NDArray[np.float64] | None = None


def calcium_cmap() -> Any:
    """Cividis reversed and trimmed: 0 mm is bright yellow (closest, most at risk), 10 mm and
    beyond a mid blue that still stands out against the dark background."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    base = colormaps[CALCIUM_CMAP_NAME]
    return ListedColormap(base(np.linspace(1.0, 0.3, 256)), name="calcium_distance")


def _cached(state: SceneState, key: tuple[Any, ...], make: Any) -> Any:
    cache = state.cache
    if cache.get(("key", key[0])) != key[1:]:
        cache[("key", key[0])] = key[1:]
        cache[("value", key[0])] = make()
    return cache[("value", key[0])]


def prepare_labels(state: SceneState) -> None:
    """Paint the lesion label crop and resample the lumen field into ``state.cache`` (numpy
    only, no VTK).

    Safe on a worker thread; the VTK surfaces are made from them by :func:`calcium_mesh` and
    :func:`lumen_mesh` on the thread that renders.
    """
    if state.volume is None or state.results is None:
        return
    if state.results.lesions:
        lesion_labels(state)
    if state.toggles.lumen_surface and lumen.has_contrast_lumen(state.results):
        lumen_field(state)


def lumen_field(state: SceneState) -> lumen.LumenField:
    """The clipped lumen field (numpy), made once per volume and results."""
    volume, results = state.volume, state.results
    assert volume is not None and results is not None
    # keyed on the (identity-compared) objects, not their ids, which new ones may reuse
    value: lumen.LumenField = _cached(
        state, ("lumen_field", volume, results), lambda: lumen.lumen_field(volume, results)
    )
    return value


def lumen_mesh(state: SceneState) -> pv.PolyData | None:
    """The root and LVOT lumen surface (cached), or None when the scan has no contrast lumen."""
    if state.volume is None or not lumen.has_contrast_lumen(state.results):
        return None
    results = state.results
    assert results is not None
    field_ = lumen_field(state)
    mesh: pv.PolyData = _cached(
        state, ("lumen_mesh", field_), lambda: lumen.lumen_surface(field_, results)
    )
    return mesh


def lesion_labels(state: SceneState) -> tuple[npt.NDArray[np.int32], tuple[int, int, int]]:
    """The results' lesion label crop, made once per results (on the analysis worker by
    :func:`prepare_labels`) and shared by the 3-D surfaces and the 2-D pictures."""
    results = state.results
    assert results is not None
    labels: tuple[npt.NDArray[np.int32], tuple[int, int, int]] = _cached(
        state, ("labels", id(state.volume), id(results)), results.lesion_label_crop
    )
    return labels


def calcium_mesh(state: SceneState, field_name: str) -> pv.PolyData:
    """The merged calcium surface coloured by ``field_name`` (cached in ``state.cache``).

    Built from the lesion voxels the analysis kept (a small crop), so the surfaces are exactly
    the lesions of the results.
    """
    volume = state.volume
    results = state.results
    assert volume is not None and results is not None
    labels, offset = lesion_labels(state)
    mesh: pv.PolyData = _cached(
        state,
        ("surf_" + field_name, id(labels)),
        lambda: geometry.lesion_surfaces(
            volume, labels, results.lesions, field_name, offset_kji=offset
        ),
    )
    return mesh


def build_scene(plotter: BasePlotter, state: SceneState) -> SceneHandles:
    """Clear ``plotter`` and draw ``state`` into it.

    Parameters
    ----------
    plotter
        A pyvista ``Plotter`` or ``pyvistaqt.QtInteractor``.
    state
        What to show.

    Returns
    -------
    SceneHandles
        The actors by name, the merged lesion mesh and the teaching items.
    """
    handles = SceneHandles()
    plotter.clear()
    # a plain background: the gradient costs a full-screen pass per frame on software OpenGL
    # pyvista's decorated method hides its signature from mypy
    plotter.set_background(BACKGROUND)  # type: ignore[arg-type]
    _cheap_translucency(plotter)
    res = state.results
    volume = state.volume
    lms = state.landmarks
    toggles = state.toggles
    geom = state.regions
    handles.region = geom

    # calcium
    if volume is not None and res is not None and res.lesions:
        field_name = COLOR_BY_FIELD[state.color_by]
        mesh = calcium_mesh(state, field_name)
        handles.lesion_mesh = mesh
        if mesh.n_points and toggles.calcium:
            handles.actors["calcium"] = plotter.add_mesh(
                mesh,
                scalars="distance_mm",
                cmap=calcium_cmap(),
                clim=CALCIUM_CLIM_MM,
                nan_color="#BBBBBB",
                smooth_shading=True,
                specular=0.3,
                name="calcium",
                show_scalar_bar=False,
                pickable=True,
                render=False,
            )
            # pyvista's decorated method hides its signature from mypy
            handles.actors["scalar_bar"] = plotter.add_scalar_bar(  # type: ignore[call-arg]
                title=COLOR_BY_TITLE[state.color_by],
                mapper=handles.actors["calcium"].mapper,
                vertical=False,
                position_x=0.3,
                position_y=0.04,
                width=0.4,
                height=0.07,
                n_labels=6,
                fmt="%.0f",
                color="white",
                title_font_size=14,
                label_font_size=12,
                render=False,
            )
            if state.highlight_lesion is not None:
                ids = np.asarray(mesh.point_data["lesion_id"])
                sub = mesh.extract_points(ids == state.highlight_lesion, adjacent_cells=False)
                if sub.n_points:
                    handles.actors["highlight"] = plotter.add_mesh(
                        sub.extract_surface(algorithm="dataset_surface"),
                        color=HIGHLIGHT_COLOR,
                        style="wireframe",
                        line_width=2,
                        name="highlight",
                        pickable=False,
                        render=False,
                    )
        if toggles.distance_lines:
            _add_distance_lines(plotter, state, res, handles)

    # regions and annulus
    if geom is not None:
        if toggles.lvot:
            handles.actors["lvot"] = plotter.add_mesh(
                _cached(state, ("lvot_mesh", geom), lambda: geometry.lvot_mesh(geom)),
                color=LVOT_COLOR,
                opacity=0.18,
                name="lvot",
                pickable=False,
                render=False,
            )
        if toggles.conduction:
            handles.actors["conduction"] = plotter.add_mesh(
                _cached(state, ("conduction_mesh", geom), lambda: geometry.conduction_mesh(geom)),
                color=CONDUCTION_COLOR,
                opacity=0.35,
                name="conduction",
                pickable=False,
                render=False,
            )
        if toggles.annulus:
            contour = geometry.annulus_contour_points(res, geom)
            if contour is not None:
                handles.actors["annulus_contour"] = plotter.add_mesh(
                    geometry.closed_polyline(contour),
                    color=ANNULUS_COLOR,
                    line_width=3,
                    name="annulus_contour",
                    pickable=False,
                    render=False,
                )
            handles.actors["annulus_plane"] = plotter.add_mesh(
                _cached(
                    state, ("annulus_plane_mesh", geom), lambda: geometry.annulus_plane_mesh(geom)
                ),
                color=ANNULUS_COLOR,
                opacity=0.08,
                name="annulus_plane",
                pickable=False,
                render=False,
            )

    if lms is not None and len(lms) and toggles.landmarks:
        names = list(lms.names())
        # placed (or accepted) points solid; program-proposed ones hollow (a wire sphere) in
        # their own colour until a person accepts them
        for key, chosen, colour, radius in (
            ("landmarks", [n for n in names if n not in lms.proposed], LANDMARK_COLOR, 0.9),
            ("landmarks_proposed", [n for n in names if n in lms.proposed], PROPOSED_COLOR, 1.4),
        ):
            if not chosen:
                continue
            handles.actors[key] = plotter.add_mesh(
                pv.PolyData(np.array([lms[n] for n in chosen])).glyph(
                    geom=pv.Sphere(radius=radius, theta_resolution=12, phi_resolution=8),
                    scale=False,
                    orient=False,
                ),
                color=colour,
                style="wireframe" if key == "landmarks_proposed" else "surface",
                line_width=1.5,
                name=key,
                pickable=False,
                render=False,
            )
        # the mitral curve points are many and numbered: spheres without labels
        labelled = [n for n in names if not n.startswith("MA_")]
        label_pts = np.array([lms[n] for n in labelled]).reshape(-1, 3)
        texts = [f"{n} (proposed)" if n in lms.proposed else n for n in labelled]
        if not toggles.teaching and labelled:
            handles.actors["landmark_labels"] = add_text_labels(
                plotter, label_pts, texts, color="white", font_size=11, name="landmark_labels"
            )

    if toggles.lumen_surface and res is not None:
        _add_lumen_surface(plotter, state, res, handles)

    if toggles.lumen_volume and volume is not None and geom is not None:
        _add_lumen_volume(plotter, state, geom, handles)

    if toggles.teaching and geom is not None:
        handles.teaching = teaching_items(state, geom)
        if handles.teaching:
            teach_pts = np.array([t.position_lps for t in handles.teaching])
            handles.actors["teaching_points"] = plotter.add_mesh(
                pv.PolyData(teach_pts),
                color="#FFFF66",
                point_size=8,
                style="points",
                name="teaching_points",
                pickable=False,
                render=False,
            )
            handles.actors["teaching"] = add_text_labels(
                plotter,
                teach_pts,
                [t.label for t in handles.teaching],
                color="white",
                font_size=13,
                name="teaching",
                background="#333344",
                background_opacity=0.7,
            )

    add_mitral(plotter, state, handles)

    if toggles.orientation_marker:
        add_orientation_marker(plotter)
    if geom is not None:
        handles.bounds_centre = np.asarray(geom.frame.origin_lps)
    return handles


def add_orientation_marker(plotter: BasePlotter) -> None:
    """The L/P/S axes in the lower left corner."""
    # pyvista's decorated method hides its signature from mypy
    plotter.add_axes(xlabel="L", ylabel="P", zlabel="S", line_width=2)  # type: ignore[call-arg]


def _cheap_translucency(plotter: BasePlotter) -> None:
    """Plain alpha blending for the few translucent shapes (LVOT, conduction zone, annulus
    plane): VTK's default order-independent translucency and depth peeling cost full-screen
    passes that halve the frame rate on software OpenGL, and these convex shapes need neither."""
    renderer = plotter.renderer
    renderer.SetUseDepthPeeling(False)
    if hasattr(renderer, "SetUseOIT"):
        renderer.SetUseOIT(False)


def add_text_labels(
    plotter: BasePlotter,
    points: npt.ArrayLike,
    texts: list[str],
    *,
    color: str,
    font_size: int,
    name: str,
    background: str | None = None,
    background_opacity: float = 0.0,
    offset_px: tuple[int, int] = (6, 4),
) -> Any:
    """Plain screen-space text next to world points, always on top.

    One ``vtkTextMapper`` per label (its texture is made once) in a ``vtkPropAssembly``: much
    cheaper per frame than ``add_point_labels`` (label placement and re-rendered text every
    frame), which matters when rotating on software OpenGL.
    """
    rgb = pv.Color(color).float_rgb
    bg = pv.Color(background).float_rgb if background is not None else None
    assembly = vtkPropAssembly()
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    for point, text in zip(pts, texts, strict=True):
        mapper = vtkTextMapper()
        mapper.SetInput(str(text))
        prop = mapper.GetTextProperty()
        prop.SetFontSize(int(font_size))
        prop.SetColor(*rgb)
        prop.SetFontFamilyToArial()
        prop.SetJustificationToLeft()
        prop.SetVerticalJustificationToBottom()
        if bg is not None and background_opacity > 0:
            prop.SetBackgroundColor(*bg)
            prop.SetBackgroundOpacity(float(background_opacity))
        actor = vtkActor2D()
        actor.SetMapper(mapper)
        anchor = vtkCoordinate()
        anchor.SetCoordinateSystemToWorld()
        anchor.SetValue(*(float(v) for v in point))
        coord = actor.GetPositionCoordinate()
        coord.SetCoordinateSystemToDisplay()
        coord.SetReferenceCoordinate(anchor)
        coord.SetValue(float(offset_px[0]), float(offset_px[1]))
        actor.SetPickable(False)
        assembly.AddPart(actor)
    assembly.SetPickable(False)
    # pyvista's decorated method hides its signature from mypy
    plotter.add_actor(assembly, name=name, pickable=False, render=False, reset_camera=False)  # type: ignore[arg-type]
    return assembly


def _add_distance_lines(
    plotter: BasePlotter, state: SceneState, res: Results, handles: SceneHandles
) -> None:
    """A line with its length from each lesion near the chosen region to that region; none
    from faint lesions (below the noise floor: they may be noise, and on a noisy scan their
    dozens of labels hide the rest)."""
    target = state.color_by
    field_name = COLOR_BY_FIELD[target]
    faint = res.faint_lesion_ids
    pts: list[npt.NDArray[np.float64]] = []
    texts: list[str] = []
    mids: list[npt.NDArray[np.float64]] = []
    for lesion in res.lesions:
        if lesion.id in faint:
            continue
        dist = float(getattr(lesion, field_name))
        if not np.isfinite(dist) or dist > CALCIUM_CLIM_MM[1]:
            continue
        pair = geometry.closest_point_pair(lesion, target)
        pts.append(pair)
        mids.append(pair.mean(axis=0))
        texts.append(f"{float(dist):.1f} mm")
    if not pts:
        return
    arr = np.vstack(pts)
    n = len(pts)
    lines = np.hstack([[2, 2 * i, 2 * i + 1] for i in range(n)])
    handles.actors["distance_lines"] = plotter.add_mesh(
        pv.PolyData(arr, lines=lines),
        color="#FFFF66",
        line_width=3,
        name="distance_lines",
        render=False,
    )
    handles.actors["distance_labels"] = add_text_labels(
        plotter, np.array(mids), texts, color="#FFFF66", font_size=12, name="distance_labels"
    )


def _add_lumen_surface(
    plotter: BasePlotter, state: SceneState, res: Results, handles: SceneHandles
) -> None:
    """The translucent contrast lumen with the LVOT, sinus and STJ rings (contrast CT only)."""
    mesh = lumen_mesh(state)
    if mesh is None or mesh.n_points == 0:
        return
    handles.lumen_mesh = mesh
    handles.actors["lumen_surface"] = plotter.add_mesh(
        mesh,
        color=LUMEN_COLOR,
        opacity=LUMEN_OPACITY,
        smooth_shading=True,
        specular=0.2,
        name="lumen_surface",
        pickable=False,
        render=False,
    )
    rings: dict[str, Any] = _cached(
        state, ("lumen_rings", lumen_field(state)), lambda: lumen.plane_rings(res, mesh)
    )
    if not rings:
        return
    handles.actors["lumen_rings"] = plotter.add_mesh(
        pv.merge([geometry.closed_polyline(points) for points in rings.values()]),
        color=RING_COLOR,
        line_width=2,
        name="lumen_rings",
        pickable=False,
        render=False,
    )
    # one label per ring, placed once (plain text actors: no per-frame label layout)
    names = list(rings)
    handles.actors["lumen_ring_labels"] = add_text_labels(
        plotter,
        np.array([lumen.ring_label_point(rings[n], res) for n in names]),
        names,
        color=RING_COLOR,
        font_size=11,
        name="lumen_ring_labels",
    )


def _add_lumen_volume(
    plotter: BasePlotter, state: SceneState, geom: RegionGeometry, handles: SceneHandles
) -> None:
    """Volume rendering of the contrast lumen in a 70 mm box around the annulus."""
    volume = state.volume
    assert volume is not None
    origin = np.asarray(geom.frame.origin_lps)

    def make() -> pv.ImageData:
        step = 1.0
        n = 70
        half = (n - 1) / 2.0 * step
        axis = np.arange(n) * step - half
        zz, yy, xx = np.meshgrid(axis, axis, axis, indexing="ij")
        lps = np.stack([xx, yy, zz], axis=-1) + origin
        ijk = volume.lps_to_index(lps.reshape(-1, 3))
        vals = ndimage.map_coordinates(
            volume.hu, ijk[:, ::-1].T, order=1, cval=-1024.0, output=np.float32
        )
        grid = pv.ImageData(
            dimensions=(n, n, n), spacing=(step, step, step), origin=tuple(origin - half)
        )
        grid.point_data["hu"] = vals.astype(np.float32)
        return grid

    grid = _cached(state, ("lumen", id(volume), tuple(np.round(origin, 1))), make)
    measured = None if state.results is None else state.results.lumen_hu
    lumen_hu = 350.0 if measured is None else float(measured)
    opacity = np.array([0.0, 0.0, 0.25, 0.25, 0.0])
    clim = (lumen_hu - 250.0, lumen_hu + 250.0)
    handles.actors["lumen_volume"] = plotter.add_volume(
        grid,
        scalars="hu",
        cmap="bone",
        clim=clim,
        opacity=opacity,
        show_scalar_bar=False,
        name="lumen_volume",
        mapper="fixed_point",
        render=False,
    )


def teaching_items(state: SceneState, geom: RegionGeometry) -> list[TeachingItem]:
    """Labels for cusps, commissures, LVOT, membranous septum and conduction zone."""
    items: list[TeachingItem] = []
    lms = state.landmarks
    normal = np.asarray(geom.frame.normal_lps)
    if lms is not None:
        for name in AORTIC_REQUIRED:
            if name in lms:
                cusp = name.split("_")[0]
                items.append(TeachingItem(cusp, lms[name] + 3.0 * normal, TEACHING_TEXT[cusp]))
        for name in ("RCC_LCC_commissure", "LCC_NCC_commissure", "NCC_RCC_commissure"):
            if name in lms:
                items.append(
                    TeachingItem(name.replace("_commissure", ""), lms[name], DESCRIPTIONS[name])
                )
        if "MS_superior" in lms and "MS_inferior" in lms:
            mid = (lms["MS_superior"] + lms["MS_inferior"]) / 2.0
            items.append(TeachingItem("Membranous septum", mid, TEACHING_TEXT["Membranous septum"]))
    lvot_c = geom.frame.to_lps(-6.0, 0.0, 0.0)
    items.append(TeachingItem("LVOT", lvot_c, TEACHING_TEXT["LVOT"]))
    items.append(
        TeachingItem(
            "Conduction zone",
            np.asarray(geom.conduction_centre_lps(), dtype=np.float64),
            TEACHING_TEXT["Conduction zone"],
        )
    )
    return items


# --- cameras ----------------------------------------------------------------------------------


def set_camera_preset(
    plotter: BasePlotter,
    handles: SceneHandles,
    name: str,
    distance_mm: float = 120.0,
    render: bool = True,
) -> None:
    """Point the camera: ``aorta`` (down the valve axis from above), ``lv`` (from below),
    ``front`` (anterior view, head up), ``coplanar`` (annulus plane edge-on, hinges in a line).

    Renders the new view unless ``render`` is False (the window renders on its next paint).
    """
    geom = handles.region
    focal = handles.bounds_centre if handles.bounds_centre is not None else np.zeros(3)
    up = np.array([0.0, 0.0, 1.0])
    normal = np.zeros(3) if geom is None else np.asarray(geom.frame.normal_lps)
    if name == "front" or geom is None:
        direction = np.array([0.0, 1.0, 0.0])  # camera anterior, looking posterior
    elif name == "aorta":
        direction = -normal
        up = np.array([0.0, -1.0, 0.0])  # anterior up
    elif name == "lv":
        direction = normal
        up = np.array([0.0, -1.0, 0.0])
    elif name == "coplanar":
        anterior = np.array([0.0, -1.0, 0.0])
        in_plane = anterior - (anterior @ normal) * normal
        in_plane /= np.linalg.norm(in_plane)
        direction = -in_plane  # camera on the anterior side of the plane, looking through it
        up = normal
    else:
        raise ValueError(f"unknown camera preset {name!r}; choose from {CAMERA_PRESETS}")
    if abs(float(up @ direction)) > 0.95:
        up = np.array([0.0, -1.0, 0.0]) if abs(direction[1]) < 0.95 else np.array([0.0, 0.0, 1.0])
    position = focal - distance_mm * direction
    plotter.camera_position = [tuple(position), tuple(focal), tuple(up)]
    # keeps the direction, fits the distance to what is drawn; on the renderer, not through
    # the plotter, whose reset_camera renders even with render=False (a whole first frame of a
    # new scene inside the caller's event-loop step)
    plotter.renderer.ResetCamera()
    cam = plotter.camera
    shift = np.asarray(focal, dtype=float) - np.asarray(cam.focal_point)
    # back onto the annulus centre (reset_camera recentres on the bounds), direction unchanged
    cam.position = tuple(np.asarray(cam.position) + shift)
    cam.focal_point = tuple(np.asarray(focal, dtype=float))
    cam.zoom(1.4)
    plotter.reset_camera_clipping_range()
    if render:
        plotter.render()


def set_camera_carm(
    plotter: BasePlotter,
    focal: npt.ArrayLike,
    lao_deg: float,
    cranial_deg: float,
    distance_mm: float = 120.0,
) -> None:
    """Place the camera at a C-arm angulation around ``focal`` (head up on screen)."""
    direction = carm_direction(lao_deg, cranial_deg)
    f = np.asarray(focal, dtype=np.float64)
    up = np.array([0.0, 0.0, 1.0])
    if abs(float(up @ direction)) > 0.95:
        up = np.array([0.0, -1.0, 0.0])
    plotter.camera_position = [tuple(f - distance_mm * direction), tuple(f), tuple(up)]


def camera_carm_text(plotter: BasePlotter) -> str:
    """The current view direction as C-arm angles, e.g. ``"LAO 20° CRA 10°"``."""
    cam = plotter.camera
    direction = np.asarray(cam.focal_point) - np.asarray(cam.position)
    return format_carm(*carm_angles(direction))


def project_to_display(plotter: BasePlotter, point_lps: npt.ArrayLike) -> tuple[float, float]:
    """Display coordinates (pixels, origin bottom-left) of a world point."""
    renderer = plotter.renderer
    x, y, z = (float(v) for v in np.asarray(point_lps).reshape(3))
    renderer.SetWorldPoint(x, y, z, 1.0)
    renderer.WorldToDisplay()
    dx, dy, _ = renderer.GetDisplayPoint()
    return float(dx), float(dy)
