"""Mitral layers of the 3D scene: annulus curve, MAC lesions, virtual valve (section 8).

No Qt here. :func:`add_mitral` is called by :func:`annulusview.scene.build.build_scene`; the
window and the off-screen export therefore draw the same thing. The geometry comes from the
``mitral`` section of the results: the drawing data kept on the result objects
(``annulus.curve_lps``, ``mac.lesion_kji``, ``neo_lvot.section_mask``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyvista as pv
from pyvista import BasePlotter

from annulusview.core.arrays import FloatArray
from annulusview.core.mitral import MitralResults, NeoLvotResult
from annulusview.core.volume import Volume
from annulusview.scene.state import SceneState

MITRAL_ANNULUS_COLOR = "#BBCC33"  # lime: the mitral annulus curve (orange is conduction)
#: The D-shaped annulus lines (TT closing the D, SL, IC) and the suspected caseous MAC label.
D_SHAPE_COLOR = "#FFFFFF"
CASEOUS_COLOR = "#EE7733"
MAC_COLOR = "#EE3377"  # magenta: MAC, apart from the aortic calcium colour map (cividis)
VALVE_COLOR = "#99DDFF"  # pale cyan: the virtual valve (the LVOT is a darker blue)
VALVE_OPACITY = 0.3
NEO_LVOT_COLOR = "#EE3377"


def mitral_results(state: SceneState) -> MitralResults | None:
    """The mitral section of the results (None without results or mitral section)."""
    return None if state.results is None else state.results.mitral


def annulus_curve_lps(state: SceneState) -> FloatArray | None:
    """Points of the closed mitral annulus curve, LPS mm (None when not assessed)."""
    mitral = mitral_results(state)
    if mitral is None or mitral.annulus is None:
        return None
    return np.asarray(mitral.annulus.curve_lps, dtype=np.float64)


def mac_voxels_mesh(volume: Volume, lesion_kji: npt.ArrayLike) -> pv.PolyData:
    """Surface around MAC voxels ``(k, j, i)`` (iso-surface of the voxel mask at 0.5), in LPS.

    The mask is contoured in index space on the voxels' bounding box (padded by one voxel)
    and the points are mapped through the volume affine, so oblique and sheared grids are right.
    """
    kji = np.asarray(lesion_kji, dtype=np.intp).reshape(-1, 3)
    if not len(kji):
        return pv.PolyData()
    lo = kji.min(axis=0) - 1
    local = kji - lo
    shape = tuple(int(v) for v in local.max(axis=0) + 2)
    mask = np.zeros(shape, dtype=np.float32)
    mask[tuple(local.T)] = 1.0
    grid = pv.ImageData(dimensions=(shape[2], shape[1], shape[0]))
    # VTK points run x (i) fastest: a C-order ravel of a [k, j, i] array
    grid.point_data["mask"] = mask.ravel(order="C")
    surface = grid.contour([0.5], scalars="mask", method="flying_edges")
    if not surface.n_points:
        return pv.PolyData()
    ijk = np.asarray(surface.points, dtype=np.float64) + lo[::-1]
    surface.points = volume.index_to_lps(ijk)
    return surface


def valve_cylinder(state: SceneState) -> pv.PolyData | None:
    """The virtual valve as a closed cylinder (None without a neo-LVOT result)."""
    mitral = mitral_results(state)
    neo = None if mitral is None else mitral.neo_lvot
    if neo is None:
        return None
    atrial, ventricular = neo.valve.ends(
        np.asarray(neo.valve_center_lps), np.asarray(neo.valve_axis_lps)
    )
    axis = ventricular - atrial
    height = float(np.linalg.norm(axis))
    if height <= 0:
        return None
    return pv.Cylinder(
        center=(atrial + ventricular) / 2.0,
        direction=axis / height,
        radius=neo.valve.radius_mm,
        height=height,
        resolution=48,
        capping=True,
    )


def neo_lvot_outline_lps(neo_lvot: NeoLvotResult) -> list[FloatArray]:
    """Closed outlines of the remaining LVOT lumen in the narrowest neo-LVOT plane, LPS mm.

    ``neo_lvot`` is a ``NeoLvotResult``: its ``section_mask`` is sampled at ``pixel_mm`` on a
    square grid centred on ``position_lps``, rows along ``plane_u_lps``, columns along
    ``plane_v_lps``. The outline is the 0.5 iso-line of the mask (between pixel centres).
    """
    mask = np.asarray(getattr(neo_lvot, "section_mask", np.zeros((0, 0))), dtype=np.float32)
    if mask.ndim != 2 or not mask.any():
        return []
    pixel = float(neo_lvot.pixel_mm)
    padded = np.pad(mask, 1)
    rows, cols = padded.shape
    grid = pv.ImageData(dimensions=(cols, rows, 1))
    grid.point_data["mask"] = padded.ravel(order="C")  # x = column fastest
    lines = grid.contour([0.5], scalars="mask").strip()
    half = (mask.shape[0] - 1) / 2.0
    centre = np.asarray(neo_lvot.position_lps, dtype=np.float64)
    u = np.asarray(neo_lvot.plane_u_lps, dtype=np.float64)
    v = np.asarray(neo_lvot.plane_v_lps, dtype=np.float64)
    outlines: list[FloatArray] = []
    offset = 0
    cells = np.asarray(lines.lines)
    while offset < len(cells):
        count = int(cells[offset])
        ids = cells[offset + 1 : offset + 1 + count]
        offset += count + 1
        pts = np.asarray(lines.points)[ids]
        row = pts[:, 1] - 1.0 - half  # undo the padding, centre the grid
        col = pts[:, 0] - 1.0 - half
        outlines.append(centre + (row * pixel)[:, None] * u + (col * pixel)[:, None] * v)
    outlines.sort(key=len, reverse=True)
    return outlines


def add_mitral(plotter: BasePlotter, state: SceneState, handles: Any) -> None:
    """Draw the mitral annulus curve, MAC lesions and the virtual valve into ``plotter``.

    Toggles ``state.toggles.mitral`` (curve and MAC) and ``state.toggles.virtual_valve`` (both
    off by default in :class:`SceneToggles`; the window turns them on). The
    actors go into ``handles.actors`` as ``mitral_annulus``, ``mac`` and ``virtual_valve``.
    """
    toggles = state.toggles
    mitral = mitral_results(state)
    if mitral is None:
        return
    if getattr(toggles, "mitral", False):
        curve = annulus_curve_lps(state)
        if curve is not None and len(curve) >= 3:
            closed = np.vstack([curve, curve[:1]])
            handles.actors["mitral_annulus"] = plotter.add_mesh(
                pv.lines_from_points(closed),
                color=MITRAL_ANNULUS_COLOR,
                line_width=3,
                name="mitral_annulus",
                pickable=False,
                render=False,
            )
        mac = mitral.mac
        if mac is not None and state.volume is not None and len(mac.lesion_kji):
            key = ("mac_mesh", id(state.volume), id(mac))
            if state.cache.get("mac_mesh_key") != key:
                state.cache["mac_mesh"] = mac_voxels_mesh(state.volume, mac.lesion_kji)
                state.cache["mac_mesh_key"] = key
            mesh = state.cache["mac_mesh"]
            if mesh.n_points:
                handles.actors["mac"] = plotter.add_mesh(
                    mesh,
                    color=MAC_COLOR,
                    smooth_shading=True,
                    specular=0.3,
                    name="mac",
                    pickable=False,
                    render=False,
                )
        _add_d_shape(plotter, mitral, handles)
        if mac is not None:
            caseous = [les for les in mac.lesions if les.caseous_suspected]
            if caseous:
                # a suspected caseous MAC is named where it sits: it can mimic a mass or abscess
                handles.actors["mac_caseous"] = plotter.add_point_labels(
                    np.array([les.centroid_lps for les in caseous], dtype=float),
                    [f"caseous MAC? (lesion {les.id})" for les in caseous],
                    font_size=12,
                    text_color=CASEOUS_COLOR,
                    point_color=CASEOUS_COLOR,
                    point_size=10,
                    shape_opacity=0.4,
                    name="mac_caseous",
                    render=False,
                )
    if getattr(toggles, "virtual_valve", False):
        cylinder = valve_cylinder(state)
        if cylinder is not None:
            handles.actors["virtual_valve"] = plotter.add_mesh(
                cylinder,
                color=VALVE_COLOR,
                opacity=VALVE_OPACITY,
                name="virtual_valve",
                pickable=False,
                render=False,
            )
            # its two rims as lines, so the cylinder reads through the other translucent layers
            handles.actors["virtual_valve_rims"] = plotter.add_mesh(
                cylinder.extract_feature_edges(feature_angle=60.0),
                color=VALVE_COLOR,
                line_width=2,
                name="virtual_valve_rims",
                pickable=False,
                render=False,
            )


def _add_d_shape(plotter: BasePlotter, mitral: MitralResults, handles: Any) -> None:
    """The D-shaped annulus for TMVR: its outline closed by the trigone line (TT), and the
    SL and IC distances as lines, in the annulus plane (Blanke et al. 2015)."""
    dsh = mitral.d_shape
    if dsh is None:
        return
    outline = np.vstack([dsh.outline_lps, dsh.outline_lps[:1]])
    handles.actors["mitral_d_shape"] = plotter.add_mesh(
        pv.lines_from_points(outline),
        color=D_SHAPE_COLOR,
        line_width=2,
        name="mitral_d_shape",
        pickable=False,
        render=False,
    )
    for name, points in (("mitral_sl", dsh.sl_points_lps), ("mitral_ic", dsh.ic_points_lps)):
        handles.actors[name] = plotter.add_mesh(
            pv.lines_from_points(np.asarray(points, dtype=float)),
            color=D_SHAPE_COLOR,
            line_width=2,
            name=name,
            pickable=False,
            render=False,
        )
