"""Meshes for the 3D scene: calcium surfaces, region shapes, the annulus contour and plane.

Every mesh is built in LPS millimetres, so the scene, the landmarks and the results share one
coordinate system. No Qt here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyvista as pv
from scipy import ndimage

from annulusview.core.aortic.regions import RegionGeometry
from annulusview.core.arrays import FloatArray
from annulusview.core.results import Lesion, Results
from annulusview.core.volume import Volume

MAX_LESION_TRIANGLES = 4000  # per lesion: keeps rotation interactive on software GL


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
    pts = geom.frame.to_lps(hh, rr, tt)
    grid = pv.StructuredGrid(pts[..., 0], pts[..., 1], pts[..., 2])
    return grid.extract_surface(algorithm="dataset_surface").triangulate().clean()


def lvot_mesh(geom: RegionGeometry) -> pv.PolyData:
    """The LVOT region (clinical-model.md section 6): a disc-shaped slab below the annulus."""
    h_range = (geom.lvot_h_min_mm, geom.lvot_h_max_mm)
    return _sector_shell(geom, geom.lvot_r_range_mm, (0.0, 360.0), h_range, n_theta=72)


def conduction_mesh(geom: RegionGeometry) -> pv.PolyData:
    """The conduction zone: a wedge below the NCC-RCC commissure (clinical-model.md 6)."""
    return _sector_shell(
        geom,
        geom.conduction_rho_range_mm,
        geom.conduction_theta_range_deg,
        geom.conduction_h_range_mm,
    )


def annulus_plane_mesh(geom: RegionGeometry) -> pv.PolyData:
    """A translucent disc in the annulus plane, a little wider than the annulus."""
    ring = geom.hinge_circle_lps(72, radius_mm=geom.annulus_radius_mm + 4.0)
    centre = np.asarray(geom.frame.origin_lps)[None, :]
    pts = np.vstack([centre, ring])
    n = len(ring)
    faces = np.hstack([[3, 0, 1 + i, 1 + (i + 1) % n] for i in range(n)])
    return pv.PolyData(pts, faces=faces)


def annulus_contour_points(
    results: Results | None, geom: RegionGeometry | None
) -> FloatArray | None:
    """The measured annulus contour (closed, LPS), else the circle of radius R, else None."""
    if results is not None and results.annulus.contour_lps is not None:
        contour = np.asarray(results.annulus.contour_lps, dtype=np.float64).reshape(-1, 3)
        if len(contour) >= 3:
            return contour
    if geom is None:
        return None
    return np.asarray(geom.hinge_circle_lps(), dtype=np.float64)


def closed_polyline(points: FloatArray) -> pv.PolyData:
    """A closed line through ``points``."""
    n = len(points)
    lines = np.hstack([[n + 1], np.arange(n), [0]])
    return pv.PolyData(np.asarray(points, dtype=np.float64), lines=lines)


# --- calcium surfaces -------------------------------------------------------------------------


def lesion_surfaces(
    volume: Volume,
    labels: npt.NDArray[np.int32],
    lesions: Sequence[Lesion],
    value_field: str,
    offset_kji: tuple[int, int, int] = (0, 0, 0),
) -> pv.PolyData:
    """One smoothed surface mesh for all lesions, LPS mm.

    ``labels`` is a whole-volume label array or a crop of one whose ``[0, 0, 0]`` is the volume
    index ``offset_kji`` (see :meth:`annulusview.core.results.Results.lesion_label_crop`).

    Point data: ``lesion_id`` and ``distance_mm`` (the lesion attribute ``value_field``).
    Large lesions are decimated to about :data:`MAX_LESION_TRIANGLES` triangles.
    """
    pieces: list[pv.PolyData] = []
    boxes = ndimage.find_objects(labels)
    by_id = {lesion.id: lesion for lesion in lesions}
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
        value = getattr(by_id[lesion_id], value_field)
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


def closest_point_pair(lesion: Lesion, target: str) -> FloatArray:
    """The (lesion point, region point) pair a lesion's distance to ``target`` (``"conduction"``
    or ``"lvot"``) was measured between, shape (2, 3)."""
    conduction = target == "conduction"
    pair = lesion.closest_to_conduction_lps if conduction else lesion.closest_to_lvot_lps
    return np.asarray(pair, dtype=np.float64).reshape(2, 3)
