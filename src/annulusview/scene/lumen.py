"""The contrast lumen of the aortic root and LVOT as a surface, and the measured planes as rings.

The surface is the FWHM iso-surface the measurements use (section 4.1: half-way between the
lumen and the tissue around it), so the rings of the annulus, LVOT, sinus and STJ lie on it.

How it is made, and why:

- **Grid.** The HU field is resampled (trilinear) on an isotropic grid of
  :data:`GRID_STEP_MM` in the annulus frame, over the box around the analysis cylinder
  (``r <= R + 12`` mm, ``h`` from -15 to +45 mm, so the STJ and the ascending plane are in).
  Resampling in the frame handles any affine (tilt, anisotropic slices) in one place, and at
  0.7 mm the surface has about 37k triangles: rotation stays interactive on software OpenGL
  without decimating.
- **Calcium.** Samples brighter than the calcium threshold are given the tissue HU, so the
  lumen surface goes around the calcium, which then shows in the wall where it sits.
- **Clip.** The field is ``min(hu - edge, s (r_max - r), s (h - h_min), s (h_max - h))`` with a
  slope ``s`` of the lumen-to-edge HU per mm: its zero level is the FWHM surface cut by the
  analysis cylinder, closed by exact caps (no staircase), so the surface is watertight.
- **Component.** Only the connected lumen holding the LVOT sphere (``O - 5 n``, where the
  lumen attenuation is sampled) is kept: other bright structures in the box (the left atrium,
  the coronaries beyond the wall, bone) are dropped in voxel space, before surfacing.
- **Surface.** VTK flying edges (``pyvista`` ``contour``): the fastest marching cubes here
  (0.15 s for a 512x512x300 CT, see env-notes), already a dependency, and scikit-image is not
  installed. Decimated only if above :data:`MAX_LUMEN_TRIANGLES`.

Contrast CT only: without a contrast lumen there is no FWHM edge to draw.
The numpy part (:func:`lumen_field`) is safe on a worker thread; :func:`lumen_surface` makes the
VTK mesh on the thread that renders.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyvista as pv
from scipy import ndimage

from annulusview.core.aortic.root import LVOT_LEVEL_MM, MEASURED
from annulusview.core.aortic.root_mask import SEED_HEIGHTS_MM, LumenCylinder
from annulusview.core.arrays import FloatArray
from annulusview.core.results import Results
from annulusview.core.volume import Volume

log = logging.getLogger(__name__)

GRID_STEP_MM = 0.7
#: Triangle budget of the lumen surface: it rotates at interactive rates on llvmpipe.
MAX_LUMEN_TRIANGLES = 60_000
#: Default tissue HU when the annulus contour did not sample one (FWHM against water).
DEFAULT_TISSUE_HU = 0.0
RING_NAMES = ("LVOT", "Sinus", "STJ")


@dataclass(frozen=True, eq=False)
class LumenField:
    """The clipped lumen field on a grid in the annulus frame (numpy only).

    Attributes
    ----------
    values
        ``[z, y, x]`` field whose zero level is the lumen surface (positive inside), HU.
    origin_frame_mm
        ``(x, y, z)`` = (along ``u``, along ``v``, along ``n``) of ``values[0, 0, 0]``, mm.
    step_mm
        Grid step, mm.
    edge_hu
        The FWHM level used, HU.
    """

    values: npt.NDArray[np.float32]
    origin_frame_mm: tuple[float, float, float]
    step_mm: float
    edge_hu: float


def has_contrast_lumen(results: Results | None) -> bool:
    """True for a contrast CT whose lumen attenuation was sampled."""
    return (
        results is not None
        and results.contrast_state == "contrast"
        and results.lumen_hu is not None
    )


def _levels(results: Results) -> tuple[float, float, float]:
    """``(lumen_hu, tissue_hu, edge_hu)``: the annulus measurement's FWHM when it has one, else
    the LVOT sphere's LA against :data:`DEFAULT_TISSUE_HU`."""
    ann = results.annulus
    if ann.lumen_hu is not None and ann.tissue_hu is not None and ann.edge_hu is not None:
        return float(ann.lumen_hu), float(ann.tissue_hu), float(ann.edge_hu)
    assert results.lumen_hu is not None
    lumen = float(results.lumen_hu)
    return lumen, DEFAULT_TISSUE_HU, 0.5 * (lumen + DEFAULT_TISSUE_HU)


def _clip_bounds(results: Results) -> tuple[float, float, float]:
    """``(r_max, h_min, h_max)`` of the lumen surface, mm: the analysis cylinder, up to +45."""
    cyl = LumenCylinder.from_region(
        results.parameters.get("analysis_region") or {}, results.regions.annulus_radius_mm
    )
    return cyl.r_max_mm, cyl.h_min_mm, cyl.h_max_mm


def lumen_field(volume: Volume, results: Results, step_mm: float = GRID_STEP_MM) -> LumenField:
    """The clipped FWHM lumen field around the annulus frame (see the module docstring)."""
    frame = results.frame
    lumen_hu, tissue_hu, edge_hu = _levels(results)
    r_max, h_min, h_max = _clip_bounds(results)
    pad = 2.0 * step_mm
    xs = np.arange(-r_max - pad, r_max + pad + 1e-9, step_mm)
    zs = np.arange(h_min - pad, h_max + pad + 1e-9, step_mm)
    zz, yy, xx = np.meshgrid(zs, xs, xs, indexing="ij")
    lps = (
        np.asarray(frame.origin_lps)
        + xx[..., None] * frame.u_lps
        + yy[..., None] * frame.v_lps
        + zz[..., None] * frame.normal_lps
    )
    ijk = volume.lps_to_index(lps.reshape(-1, 3))
    hu = ndimage.map_coordinates(
        volume.hu, ijk[:, ::-1].T, order=1, cval=-1024.0, output=np.float32
    ).reshape(zz.shape)
    # calcium is not lumen: the surface goes around it, and the calcium shows in the wall
    hu[hu >= results.threshold_hu] = tissue_hu
    slope = max(lumen_hu - edge_hu, 1.0)  # HU per mm at the clip planes
    rr = np.hypot(xx, yy)
    field = np.minimum.reduce(
        [
            hu - edge_hu,
            slope * (r_max - rr),
            slope * (zz - h_min),
            slope * (h_max - zz),
        ]
    ).astype(np.float32)
    inside = field > 0
    labels, count = ndimage.label(inside)
    keep = np.zeros_like(inside)
    if count:
        for h_seed in SEED_HEIGHTS_MM:
            seed = (
                round(float(h_seed - zs[0]) / step_mm),
                round(float(-xs[0]) / step_mm),
                round(float(-xs[0]) / step_mm),
            )
            label = int(labels[seed])
            if label:
                keep = labels == label
                break
        else:
            log.info("no contrast lumen at the LVOT sphere or the annulus centre")
    # everything beyond one voxel of the kept lumen is outside: its edge keeps sub-voxel values
    near = ndimage.binary_dilation(keep)
    field[~near] = np.minimum(field[~near], -slope)
    return LumenField(field, (float(xs[0]), float(xs[0]), float(zs[0])), step_mm, edge_hu)


def lumen_surface(
    field: LumenField, results: Results, max_triangles: int = MAX_LUMEN_TRIANGLES
) -> pv.PolyData:
    """The lumen surface (LPS mm) of ``field``: closed, with point normals, at most
    ``max_triangles`` triangles. Empty when there is no lumen."""
    values = field.values
    if not np.any(values > 0):
        return pv.PolyData()
    nz, ny, nx = values.shape
    grid = pv.ImageData(
        dimensions=(nx, ny, nz),
        spacing=(field.step_mm,) * 3,
        origin=field.origin_frame_mm,
    )
    grid.point_data["f"] = values.ravel()
    # flying edges gives triangles with consistent winding and, from the field's gradient,
    # outward point normals: 3 ms, where a normals pass with orientation took 13 ms more on
    # the GUI thread (full phantom)
    surf = grid.contour([0.0], scalars="f", method="flying_edges", compute_normals=True)
    if surf.n_points == 0:
        return pv.PolyData()
    if not surf.is_all_triangles:
        surf = surf.triangulate()
    decimated = surf.n_cells > max_triangles
    if decimated:
        surf = surf.decimate(1.0 - max_triangles / surf.n_cells)
    frame = results.frame
    basis = np.stack([frame.u_lps, frame.v_lps, frame.normal_lps])  # rows: x, y, z axes
    local = np.asarray(surf.points, dtype=np.float64)
    normals = None if decimated else np.asarray(surf.point_data["Normals"], dtype=np.float64)
    surf.points = np.asarray(frame.origin_lps) + local @ basis
    surf.point_data.clear()
    if normals is None:  # decimation moved the points: normals of the new surface
        return surf.compute_normals(
            cell_normals=False,
            split_vertices=False,
            consistent_normals=True,
            auto_orient_normals=True,
        )
    surf.point_data.set_array((normals @ basis).astype(np.float32), "Normals")
    surf.point_data.active_normals_name = "Normals"
    return surf


def plane_rings(results: Results, surface: pv.PolyData | None) -> dict[str, FloatArray]:
    """The LVOT, sinus and STJ rings (closed LPS point loops) by name.

    The measured contour of each plane when the root measurement kept one (the numbers the
    report prints), else the lumen surface cut by the plane (the LVOT only: the sinus and STJ
    heights exist only when measured).
    """
    rings: dict[str, FloatArray] = {}
    root = results.root
    parts = {}
    if root is not None:
        parts = {"LVOT": root.lvot, "Sinus": root.sinus, "STJ": root.stj}
    for name in RING_NAMES:
        part = parts.get(name)
        if part is not None and part.status == MEASURED and part.contour is not None:
            rings[name] = np.asarray(part.contour.contour_lps, dtype=np.float64)
        elif name == "LVOT" and surface is not None and surface.n_points:
            ring = section_points(surface, results, LVOT_LEVEL_MM)
            if ring is not None:
                rings[name] = ring
    return rings


def section_points(surface: pv.PolyData, results: Results, h_mm: float) -> FloatArray | None:
    """The largest closed loop of ``surface`` cut by the plane ``h = h_mm``, ordered, LPS mm."""
    frame = results.frame
    origin = np.asarray(frame.origin_lps) + h_mm * np.asarray(frame.normal_lps)
    cut = surface.slice(normal=tuple(frame.normal_lps), origin=tuple(origin))
    if cut.n_points < 3:
        return None
    loops = cut.strip(join=True, max_length=100_000)
    best: FloatArray | None = None
    best_area = 0.0
    lines = np.asarray(loops.lines)
    pts = np.asarray(loops.points, dtype=np.float64)
    pos = 0
    while pos < len(lines):
        n = int(lines[pos])
        ids = lines[pos + 1 : pos + 1 + n]
        pos += n + 1
        loop = pts[ids]
        area = abs(polygon_area_mm2(loop, results))
        if area > best_area:
            best, best_area = loop, area
    return best


def polygon_area_mm2(points: FloatArray, results: Results) -> float:
    """Signed area of a loop of LPS points projected on the annulus plane, mm^2."""
    frame = results.frame
    rel = np.asarray(points, dtype=np.float64) - np.asarray(frame.origin_lps)
    x, y = rel @ frame.u_lps, rel @ frame.v_lps
    return float(0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


#: Ring labels sit at this angle of the annulus frame: the NCC side, away from the coronary
#: ostia (0 and 120 degrees) and the hinge labels, all on one side.
RING_LABEL_THETA_DEG = 210.0


def ring_label_point(ring: FloatArray, results: Results) -> FloatArray:
    """Where a ring's label goes: its point nearest :data:`RING_LABEL_THETA_DEG`."""
    _, _, theta = results.frame.cylindrical(ring)
    off = np.abs((np.asarray(theta) - RING_LABEL_THETA_DEG + 180.0) % 360.0 - 180.0)
    return np.asarray(ring[int(np.argmin(off))], dtype=np.float64)
