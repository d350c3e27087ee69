"""Meshes for the 3D scene: calcium surfaces, region shapes, the annulus contour and plane.

Every mesh is built in LPS millimetres, so the scene, the landmarks and the results share one
coordinate system. No Qt here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyvista as pv
from scipy import ndimage

from annulusview.core.landmarks import Landmarks
from annulusview.core.reformat import HingeFrame, hinge_frame
from annulusview.core.volume import Volume
from annulusview.scene.state import as_points, default_rules, first_key

FloatArray = npt.NDArray[np.float64]
MAX_LESION_TRIANGLES = 4000  # per lesion: keeps rotation interactive on software GL


@dataclass(frozen=True)
class RegionGeometry:
    """The annulus frame and the region boxes used to draw the LVOT and conduction zone.

    Attributes
    ----------
    origin, normal, u, v
        Annulus frame (LPS mm, unit vectors).
    radius_mm
        Annulus radius R.
    lvot
        ``(h_min, h_max, r_max)`` of the LVOT region, mm.
    conduction
        ``(theta_centre_deg, half_width_deg, h_min, h_max, r_min, r_max)`` of the conduction zone.
    """

    origin: FloatArray
    normal: FloatArray
    u: FloatArray
    v: FloatArray
    radius_mm: float
    lvot: tuple[float, float, float]
    conduction: tuple[float, float, float, float, float, float]

    def to_lps(self, r: FloatArray, theta_deg: FloatArray, h: FloatArray) -> FloatArray:
        """Cylindrical (r, theta, h) in the annulus frame to LPS points, shape (..., 3)."""
        t = np.radians(theta_deg)
        return (
            self.origin
            + (np.asarray(r) * np.cos(t))[..., None] * self.u
            + (np.asarray(r) * np.sin(t))[..., None] * self.v
            + np.asarray(h)[..., None] * self.normal
        )

    def theta_of(self, point: FloatArray) -> float:
        d = np.asarray(point) - self.origin
        return float(np.degrees(np.arctan2(d @ self.v, d @ self.u)) % 360.0)


def _circular_mid(a_deg: float, b_deg: float) -> float:
    """Midpoint of the shorter arc between two angles, degrees in [0, 360)."""
    diff = ((b_deg - a_deg + 180.0) % 360.0) - 180.0
    return (a_deg + diff / 2.0) % 360.0


def _from_results(res: Mapping[str, Any]) -> RegionGeometry | None:
    """The geometry exactly as the analysis used it (results ``frame`` and ``parameters``)."""
    frame = res.get("frame") or {}
    regions = (res.get("parameters") or {}).get("regions") or {}
    try:
        origin = np.asarray(frame["origin_lps"], dtype=np.float64)
        normal = np.asarray(frame["normal_lps"], dtype=np.float64)
        u = np.asarray(frame["u_lps"], dtype=np.float64)
        v = np.asarray(frame["v_lps"], dtype=np.float64)
        lv = regions["lvot"]
        cz = regions["conduction"]
        return RegionGeometry(
            origin,
            normal,
            u,
            v,
            float(regions["annulus_radius_mm"]),
            (float(lv["h_ge_mm"]), float(lv["h_lt_mm"]), float(lv["r_le_mm"])),
            (
                float(cz["theta_center_deg"]),
                float(cz["theta_half_width_deg"]),
                float(cz["h_ge_mm"]),
                float(cz["h_le_mm"]),
                float(cz["r_ge_mm"]),
                float(cz["r_le_mm"]),
            ),
        )
    except (KeyError, TypeError, ValueError):
        return None


def region_geometry(
    results: Mapping[str, Any] | None, landmarks: Landmarks | None
) -> RegionGeometry | None:
    """The frame and region boxes: from the results when there are any, else estimated from
    the hinge landmarks and the default rules (so the regions show while placing landmarks).

    Returns None when neither gives an annulus frame.
    """
    if results:
        geom = _from_results(results)
        if geom is not None:
            return geom
    if landmarks is None or landmarks.missing_aortic:
        return None
    try:
        frame: HingeFrame = hinge_frame(
            landmarks["RCC_hinge"], landmarks["LCC_hinge"], landmarks["NCC_hinge"]
        )
    except ValueError:
        return None
    reg = default_rules()["regions"]
    radius = frame.radius_mm
    ms_length = float(reg["conduction_default_ms_length_mm"])
    if "MS_superior" in landmarks and "MS_inferior" in landmarks:
        ms_length = float(np.linalg.norm(landmarks["MS_superior"] - landmarks["MS_inferior"]))
    base = RegionGeometry(frame.origin, frame.normal, frame.u, frame.v, radius, (0, 0, 0), (0,) * 6)
    if "NCC_RCC_commissure" in landmarks:
        theta = base.theta_of(landmarks["NCC_RCC_commissure"])
    else:
        theta = _circular_mid(
            base.theta_of(landmarks["NCC_hinge"]), base.theta_of(landmarks["RCC_hinge"])
        )
    r_max = radius + float(reg["radial_margin_mm"])
    return RegionGeometry(
        frame.origin,
        frame.normal,
        frame.u,
        frame.v,
        radius,
        (float(reg["lvot_h_min_mm"]), -float(reg["annulus_half_height_mm"]), r_max),
        (
            theta,
            float(reg["conduction_half_angle_deg"]),
            -(ms_length + float(reg["conduction_extra_depth_mm"])),
            0.0,
            radius - float(reg["conduction_r_inner_mm"]),
            radius + float(reg["conduction_r_outer_mm"]),
        ),
    )


def _sector_shell(
    geom: RegionGeometry,
    r_range: tuple[float, float],
    theta_range: tuple[float, float],
    h_range: tuple[float, float],
    n_theta: int = 48,
) -> pv.PolyData:
    """Closed surface of the cylindrical block r x theta x h in the annulus frame."""
    r = np.linspace(*r_range, 2)
    t = np.linspace(*theta_range, n_theta)
    h = np.linspace(*h_range, 2)
    rr, tt, hh = np.meshgrid(r, t, h, indexing="ij")
    pts = geom.to_lps(rr, tt, hh)
    grid = pv.StructuredGrid(pts[..., 0], pts[..., 1], pts[..., 2])
    return grid.extract_surface(algorithm="dataset_surface").triangulate().clean()


def lvot_mesh(geom: RegionGeometry) -> pv.PolyData:
    """The LVOT region (clinical-model.md section 6): a disc-shaped slab below the annulus."""
    h_lo, h_hi, r_max = geom.lvot
    return _sector_shell(geom, (0.0, r_max), (0.0, 360.0), (h_lo, h_hi), n_theta=72)


def conduction_mesh(geom: RegionGeometry) -> pv.PolyData:
    """The conduction zone: a wedge below the NCC-RCC commissure (clinical-model.md 6)."""
    t0, half, h_lo, h_hi, r_lo, r_hi = geom.conduction
    return _sector_shell(geom, (max(r_lo, 0.0), r_hi), (t0 - half, t0 + half), (h_lo, h_hi))


def conduction_centre(geom: RegionGeometry) -> FloatArray:
    """A point in the middle of the conduction zone (for labels)."""
    t0, _, h_lo, h_hi, r_lo, r_hi = geom.conduction
    return geom.to_lps(np.array((r_lo + r_hi) / 2), np.array(t0), np.array((h_lo + h_hi) / 2))


def annulus_plane_mesh(geom: RegionGeometry) -> pv.PolyData:
    """A translucent disc in the annulus plane, a little wider than the annulus."""
    t = np.linspace(0.0, 360.0, 73)[:-1]
    ring = geom.to_lps(np.full_like(t, geom.radius_mm + 4.0), t, np.zeros_like(t))
    centre = geom.origin[None, :]
    pts = np.vstack([centre, ring])
    n = len(ring)
    faces = np.hstack([[3, 0, 1 + i, 1 + (i + 1) % n] for i in range(n)])
    return pv.PolyData(pts, faces=faces)


def annulus_contour_points(
    results: Mapping[str, Any] | None, geom: RegionGeometry | None
) -> FloatArray | None:
    """The measured annulus contour (closed, LPS), else the hinge circle, else None."""
    annulus = (results or {}).get("annulus") or {}
    pts = as_points(first_key(annulus, "contour_lps", "contour", "contour_points_lps"))
    if pts is not None and len(pts) >= 3:
        return pts
    if geom is None:
        return None
    t = np.linspace(0.0, 360.0, 97)[:-1]
    return geom.to_lps(np.full_like(t, geom.radius_mm), t, np.zeros_like(t))


def closed_polyline(points: FloatArray) -> pv.PolyData:
    """A closed line through ``points``."""
    n = len(points)
    lines = np.hstack([[n + 1], np.arange(n), [0]])
    return pv.PolyData(np.asarray(points, dtype=np.float64), lines=lines)


# --- calcium surfaces -------------------------------------------------------------------------


def lesion_surfaces(
    volume: Volume,
    labels: npt.NDArray[np.int32],
    lesions: list[Mapping[str, Any]],
    value_field: str,
    offset_kji: tuple[int, int, int] = (0, 0, 0),
) -> pv.PolyData:
    """One smoothed surface mesh for all lesions, LPS mm.

    ``labels`` is a whole-volume label array or a crop of one whose ``[0, 0, 0]`` is the volume
    index ``offset_kji`` (see :func:`annulusview.core.lesion_labels.lesion_label_crop`).

    Point data: ``lesion_id`` and ``distance_mm`` (the lesion's ``value_field``, NaN if unknown).
    Large lesions are decimated to about :data:`MAX_LESION_TRIANGLES` triangles.
    """
    pieces: list[pv.PolyData] = []
    boxes = ndimage.find_objects(labels)
    by_id = {int(les["id"]): les for les in lesions}
    for index, box in enumerate(boxes):
        lesion_id = index + 1
        if box is None or lesion_id not in by_id:
            continue
        # k, j, i in the volume, with a one-voxel pad
        lo = np.array([s.start for s in box]) - 1 + np.asarray(offset_kji)
        mask = np.pad((labels[box] == lesion_id).astype(np.float32), 1)
        grid = pv.ImageData(dimensions=mask.shape[::-1])
        grid.point_data["m"] = mask.ravel()
        surf = grid.contour([0.5], scalars="m", method="flying_edges")
        if surf.n_points == 0:
            continue
        surf = surf.triangulate()
        if surf.n_cells > MAX_LESION_TRIANGLES:
            surf = surf.decimate(1.0 - MAX_LESION_TRIANGLES / surf.n_cells)
        if surf.n_points > 20:
            surf = surf.smooth_taubin(n_iter=15, pass_band=0.1)
        ijk = np.asarray(surf.points, dtype=np.float64) + lo[::-1]
        surf.points = volume.index_to_lps(ijk)
        value = by_id[lesion_id].get(value_field)
        surf.point_data["lesion_id"] = np.full(surf.n_points, lesion_id, dtype=np.int32)
        surf.point_data["distance_mm"] = np.full(
            surf.n_points, np.nan if value is None else float(value), dtype=np.float64
        )
        pieces.append(surf)
    if not pieces:
        return pv.PolyData()
    merged = pieces[0] if len(pieces) == 1 else pv.merge(pieces)
    merged = merged.compute_normals(auto_orient_normals=False, consistent_normals=False)
    return merged


def closest_point_pair(lesion: Mapping[str, Any], target: str) -> FloatArray | None:
    """The (lesion point, region point) pair a lesion's distance was measured between.

    ``target`` is ``"conduction"`` or ``"lvot"``. Accepts the spellings the results may use.
    """
    names = (
        f"closest_points_{target}_lps",
        f"closest_points_to_{target}_lps",
        f"closest_{target}_points_lps",
    )
    pair = as_points(first_key(lesion, *names))
    if pair is None:
        nested = first_key(lesion, "closest_points", "closest_points_lps")
        if isinstance(nested, Mapping):
            pair = as_points(first_key(nested, target, f"{target}_lps"))
    if pair is None or len(pair) != 2:
        return None
    return pair
