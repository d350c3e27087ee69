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


#: Slices thicker than this many times the pixel are interpolated toward isotropic before a
#: lesion is surfaced: a 3 mm calcium-score scan would otherwise show stacked 3 mm blocks.
ANISOTROPY_RESAMPLE = 1.5


def lesion_field(
    mask: npt.NDArray[np.bool_], spacing_kji: tuple[float, float, float]
) -> tuple[npt.NDArray[np.float32], int, float]:
    """A field whose ``level`` iso-surface outlines ``mask`` (``[k, j, i]``, padded by a voxel).

    Returns ``(field, factor, level)``: ``field[k * factor, j, i]`` samples the lesion. For
    near-isotropic voxels that is the mask itself (level 0.5, factor 1). When the slice step is
    more than :data:`ANISOTROPY_RESAMPLE` times the pixel, it is the signed distance to the
    lesion edge (mm, computed with the real voxel size, positive inside) interpolated linearly
    between slices ``factor`` times per slice (shape-based interpolation): the contour of one
    slice morphs into the next instead of stepping, and the ends close in a dome half a slice
    past the last slice with voxels, as the voxels themselves do.
    """
    sk, sj, si = spacing_kji
    ratio = sk / min(sj, si)
    if ratio <= ANISOTROPY_RESAMPLE:
        return mask.astype(np.float32), 1, 0.5
    factor = round(ratio)
    inside = np.asarray(ndimage.distance_transform_edt(mask, sampling=spacing_kji))
    outside = np.asarray(ndimage.distance_transform_edt(~mask, sampling=spacing_kji))
    signed = (inside - outside).astype(np.float32)
    # half a pixel from either side's voxel centre to the edge between them
    signed = np.where(mask, signed - 0.5 * min(sj, si), signed + 0.5 * min(sj, si))
    nk = mask.shape[0]
    k = np.arange((nk - 1) * factor + 1) / factor
    k0 = np.minimum(np.floor(k).astype(int), nk - 2)
    t = (k - k0).astype(np.float32)[:, None, None]
    up = (1.0 - t) * signed[k0] + t * signed[k0 + 1]
    return up.astype(np.float32), factor, 0.0


def _contour(values: npt.NDArray[np.float32], level: float) -> pv.PolyData:
    grid = pv.ImageData(dimensions=values.shape[::-1])
    grid.point_data["m"] = values.ravel()
    return grid.contour([level], scalars="m", method="flying_edges")


def _surface_holding(
    values: npt.NDArray[np.float32],
    level: float,
    grid_spacing_mm: tuple[float, float, float],
    volume_mm3: float,
    steps: int = 3,
) -> pv.PolyData:
    """The iso-surface of a signed-distance ``values`` (mm, positive inside) whose enclosed
    volume is ``volume_mm3``: the morph between thick slices is cone-like and holds less than
    the voxels, so the level is moved by Newton steps (d volume / d level = -area). The surface
    then encloses the volume the results print."""
    scale = np.array(grid_spacing_mm[::-1])  # i, j, k grid steps, mm
    surf = _contour(values, level)
    for _ in range(steps):
        if surf.n_points == 0:
            break
        mm = surf.copy()
        mm.points = np.asarray(surf.points) * scale
        area = float(mm.area)
        error = volume_mm3 - abs(float(mm.volume))
        if area <= 0 or abs(error) < 0.01 * volume_mm3:
            break
        level -= error / area
        surf = _contour(values, level)
    return surf


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
    Thick slices are interpolated toward isotropic first (:func:`lesion_field`), so a 3 mm and
    a 0.5 mm scan both show the lesion's shape; the volumes reported stay the voxel counts.

    Point data: ``lesion_id`` and ``distance_mm`` (the lesion attribute ``value_field``).
    Large lesions are decimated to about :data:`MAX_LESION_TRIANGLES` triangles.
    """
    pieces: list[pv.PolyData] = []
    boxes = ndimage.find_objects(labels)
    by_id = {lesion.id: lesion for lesion in lesions}
    spacing = volume.spacing_mm
    thick = spacing[0] > ANISOTROPY_RESAMPLE * min(spacing[1], spacing[2])
    for index, box in enumerate(boxes):
        lesion_id = index + 1
        if box is None or lesion_id not in by_id:
            continue
        # k, j, i in the volume, with a one-voxel pad (two for thick slices: the surface may
        # close more than a slice step beyond the last voxel, see lesion_field)
        pad = 2 if thick else 1
        lo = np.array([s.start for s in box]) - pad + np.asarray(offset_kji)
        mask = np.pad(labels[box] == lesion_id, pad)
        values, factor, level = lesion_field(mask, spacing)
        if factor == 1:
            surf = _contour(values, level)
        else:
            step_k = spacing[0] / factor
            surf = _surface_holding(
                values,
                level,
                (step_k, spacing[1], spacing[2]),
                float(mask.sum()) * volume.voxel_volume_mm3,
            )
        if surf.n_points == 0:
            continue
        surf = surf.triangulate()
        if surf.n_cells > MAX_LESION_TRIANGLES:
            surf = surf.decimate(1.0 - MAX_LESION_TRIANGLES / surf.n_cells)
        if surf.n_points > 20:
            # in the (near-isotropic) grid's index space; Taubin's filter keeps the volume
            surf = surf.smooth_taubin(n_iter=15, pass_band=0.1)
        ijk = np.asarray(surf.points, dtype=np.float64)
        ijk[:, 2] /= factor
        surf.points = volume.index_to_lps(ijk + lo[::-1])
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
