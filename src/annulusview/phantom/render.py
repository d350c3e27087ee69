"""Voxelise the phantom design into a blurred, noisy HU volume.

Shapes are painted back to front on an int16 canvas, each evaluated only inside its bounding
box; then the whole volume gets one gaussian blur (partial volume) and seeded gaussian noise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage, spatial

from annulusview.core.progress import ProgressCallback, report
from annulusview.phantom.anatomy import (
    ANATOMY,
    BLUR_SIGMA_MM,
    NOISE_SD_HU,
    Anatomy,
    CaseSpec,
    MacArc,
    Materials,
)
from annulusview.phantom.geometry import FloatArray, blurred_ball_profile, unit

log = logging.getLogger(__name__)

HU_MIN, HU_MAX = -1024, 3071  # 12-bit stored values with intercept -1024
SPINE_RADIUS_MM = 10.0
SPINE_HU = 1000.0

MaskFn = Callable[[FloatArray, FloatArray, FloatArray], npt.NDArray[np.bool_]]
Refine = Callable[[float, float], tuple[FloatArray, FloatArray] | None]
_SLAB = 16  # slices painted at a time


@dataclass(frozen=True)
class GridSpec:
    """Voxel grid of one phantom size: axial slices, identity orientation."""

    columns: int
    rows: int
    slices: int
    pixel_mm: float
    slice_mm: float

    @property
    def extent_mm(self) -> FloatArray:
        """Distance between the first and last voxel centres along x, y, z (mm)."""
        return np.array(
            [
                (self.columns - 1) * self.pixel_mm,
                (self.rows - 1) * self.pixel_mm,
                (self.slices - 1) * self.slice_mm,
            ]
        )


SIZES: dict[str, GridSpec] = {
    "small": GridSpec(160, 160, 160, 0.625, 0.625),
    "demo": GridSpec(256, 256, 224, 0.5, 0.5),
    "full": GridSpec(512, 512, 320, 0.390625, 0.5),
}


def essential_points(anatomy: Anatomy = ANATOMY) -> FloatArray:
    """Points the grid must contain: the aortic analysis region, the mitral annulus with its
    calcium, the coronary distractor (LPS mm, with margins already added)."""
    f = anatomy.frame
    pts = []
    for h in (-15.0, 25.0):
        for theta in np.arange(0.0, 360.0, 10.0):
            pts.append(f.point(h, anatomy.R_mm + 12.0 + 2.0, float(theta)))
    ring = anatomy.mitral.point(np.arange(0.0, 360.0, 5.0))
    margin = 8.0
    for d in np.eye(3):
        pts.extend(ring + margin * d)
        pts.extend(ring - margin * d)
    h_rca = anatomy.rca_height_mm + anatomy.coronary_radius_mm
    c = f.point(h_rca, 32.0, 0.0)
    pts.extend([c + 5.0 * d for d in np.vstack([np.eye(3), -np.eye(3)])])
    return np.asarray(pts)


def grid_origin(grid: GridSpec, anatomy: Anatomy = ANATOMY) -> FloatArray:
    """LPS position (mm) of voxel (0, 0, 0): the grid centred on :func:`essential_points`.

    Rounded to 0.01 mm so the DICOM header holds it exactly.
    """
    pts = essential_points(anatomy)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    if np.any(hi - lo > grid.extent_mm):
        raise ValueError(f"phantom grid {grid} too small for the anatomy ({hi - lo} mm)")
    centre = (lo + hi) / 2
    return np.round(centre - grid.extent_mm / 2, 2)


def affine_for(grid: GridSpec, anatomy: Anatomy = ANATOMY) -> FloatArray:
    """4x4 ``(i, j, k, 1) -> LPS`` matrix of the grid."""
    aff = np.eye(4)
    aff[0, 0] = aff[1, 1] = grid.pixel_mm
    aff[2, 2] = grid.slice_mm
    aff[:3, 3] = grid_origin(grid, anatomy)
    return aff


class _Canvas:
    """An int16 HU volume ``[k, j, i]`` with axis-aligned voxel-centre coordinates."""

    def __init__(self, grid: GridSpec, origin: FloatArray, fill: float) -> None:
        self.hu = np.full((grid.slices, grid.rows, grid.columns), fill, dtype=np.int16)
        self.x = origin[0] + grid.pixel_mm * np.arange(grid.columns)
        self.y = origin[1] + grid.pixel_mm * np.arange(grid.rows)
        self.z = origin[2] + grid.slice_mm * np.arange(grid.slices)

    @staticmethod
    def _range(axis: FloatArray, lo: float, hi: float) -> slice:
        start = int(np.searchsorted(axis, lo, side="left"))
        stop = int(np.searchsorted(axis, hi, side="right"))
        return slice(start, max(start, stop))

    def paint(
        self,
        lo: FloatArray,
        hi: FloatArray,
        inside: MaskFn,
        value: float,
        refine: Refine | None = None,
    ) -> None:
        """Set ``value`` where ``inside(X, Y, Z)`` within the LPS box ``[lo, hi]``.

        Works in slabs of slices to bound memory; ``refine(z_lo, z_hi)`` may shrink the x-y
        box of a slab (``(lo_xy, hi_xy)``) or skip it (``None``).
        """
        sk_all = self._range(self.z, lo[2], hi[2])
        for k0 in range(sk_all.start, sk_all.stop, _SLAB):
            sk = slice(k0, min(k0 + _SLAB, sk_all.stop))
            xy_lo, xy_hi = lo[:2], hi[:2]
            if refine is not None:
                box = refine(float(self.z[sk.start]), float(self.z[sk.stop - 1]))
                if box is None:
                    continue
                xy_lo, xy_hi = np.maximum(xy_lo, box[0]), np.minimum(xy_hi, box[1])
            si = self._range(self.x, xy_lo[0], xy_hi[0])
            sj = self._range(self.y, xy_lo[1], xy_hi[1])
            if si.start >= si.stop or sj.start >= sj.stop:
                continue
            X = self.x[si][None, None, :]
            Y = self.y[sj][None, :, None]
            Z = self.z[sk][:, None, None]
            shape = (sk.stop - sk.start, sj.stop - sj.start, si.stop - si.start)
            mask = np.broadcast_to(inside(X, Y, Z), shape)
            self.hu[sk, sj, si][mask] = np.int16(round(value))

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        return (
            np.array([self.x[0], self.y[0], self.z[0]]),
            np.array([self.x[-1], self.y[-1], self.z[-1]]),
        )


def _ball(centre: FloatArray, radius: float) -> tuple[FloatArray, FloatArray, MaskFn]:
    def inside(X: FloatArray, Y: FloatArray, Z: FloatArray) -> npt.NDArray[np.bool_]:
        return np.asarray(
            (X - centre[0]) ** 2 + (Y - centre[1]) ** 2 + (Z - centre[2]) ** 2 <= radius * radius
        )

    return centre - radius, centre + radius, inside


def _spheroid(centre: FloatArray, axis: FloatArray, semi_long: float, semi_short: float) -> MaskFn:
    def inside(X: FloatArray, Y: FloatArray, Z: FloatArray) -> npt.NDArray[np.bool_]:
        dx, dy, dz = X - centre[0], Y - centre[1], Z - centre[2]
        along = dx * axis[0] + dy * axis[1] + dz * axis[2]
        across2 = dx * dx + dy * dy + dz * dz - along * along
        return np.asarray(along**2 / semi_long**2 + across2 / semi_short**2 <= 1.0)

    return inside


def _segment_tube(p0: FloatArray, p1: FloatArray, radius: float) -> MaskFn:
    d = p1 - p0
    length2 = float(d @ d)

    def inside(X: FloatArray, Y: FloatArray, Z: FloatArray) -> npt.NDArray[np.bool_]:
        dx, dy, dz = X - p0[0], Y - p0[1], Z - p0[2]
        t = np.clip((dx * d[0] + dy * d[1] + dz * d[2]) / length2, 0.0, 1.0)
        return np.asarray(
            (dx - t * d[0]) ** 2 + (dy - t * d[1]) ** 2 + (dz - t * d[2]) ** 2 <= radius * radius
        )

    return inside


def _curve_tube(curve: FloatArray, radius: float) -> tuple[FloatArray, FloatArray, MaskFn]:
    """Points within ``radius`` of a densely sampled polyline (its caps are round)."""
    tree = spatial.cKDTree(curve)

    def inside(X: FloatArray, Y: FloatArray, Z: FloatArray) -> npt.NDArray[np.bool_]:
        shape = np.broadcast_shapes(X.shape, Y.shape, Z.shape)
        pts = np.stack([np.broadcast_to(a, shape).ravel() for a in (X, Y, Z)], axis=-1)
        dist, _ = tree.query(pts, distance_upper_bound=radius + 1e-9)
        return np.asarray(np.isfinite(dist).reshape(shape))

    return curve.min(axis=0) - radius, curve.max(axis=0) + radius, inside


def mac_curve(mac: MacArc, samples_per_mm: float = 20.0, anatomy: Anatomy = ANATOMY) -> FloatArray:
    """Dense points along the MAC arc of the mitral annulus (LPS mm)."""
    m = anatomy.mitral
    phi, pts, cum = m.dense_curve(20000)
    phi = np.concatenate([phi, phi[1:] + 360.0])
    pts = np.concatenate([pts, pts[1:]])
    cum = np.concatenate([cum, cum[-1] + cum[1:]])
    start = float(np.interp(mac.start_phi_deg, phi, cum))
    length = m.perimeter_mm * mac.extent_deg / 360.0
    s = np.linspace(start, start + length, max(2, int(length * samples_per_mm)))
    return np.stack([np.interp(s, cum, pts[:, a]) for a in range(3)], axis=-1)


def spine_centre(grid: GridSpec, origin: FloatArray, anatomy: Anatomy = ANATOMY) -> FloatArray:
    """(x, y) of a vertebral-body cylinder along z: as posterior as the grid allows while
    staying >= 4 mm beyond the analysis region and the mitral annulus after blur."""
    f = anatomy.frame
    R = anatomy.R_mm
    lo = origin
    hi = origin + grid.extent_mm
    inset = SPINE_RADIUS_MM + 2.0
    ring = anatomy.mitral.point(np.arange(0.0, 360.0, 3.0))
    z = np.linspace(lo[2], hi[2], 60)
    cx = (lo[0] + hi[0]) / 2
    candidates = []
    for y in np.linspace(hi[1] - inset, lo[1] + inset, 25):
        for dx in np.linspace(0.0, (hi[0] - lo[0]) / 2 - inset, 12):
            for x in (cx + dx, cx - dx):
                candidates.append((x, y))
    angles = np.radians(np.arange(0.0, 360.0, 15.0))
    for x, y in candidates:
        surf = np.array(
            [
                [
                    x + (SPINE_RADIUS_MM + 4) * math.cos(a),
                    y + (SPINE_RADIUS_MM + 4) * math.sin(a),
                    zz,
                ]
                for a in angles
                for zz in z
            ]
        )
        h, r, _ = f.cylindrical(surf[:, 0], surf[:, 1], surf[:, 2])
        in_region = (r <= R + 12.0) & (h >= -15.0) & (h <= 25.0)
        if in_region.any():
            continue
        centre_line = np.stack([np.full_like(z, x), np.full_like(z, y), z], axis=-1)
        dist = spatial.distance.cdist(centre_line, ring).min()
        if dist < SPINE_RADIUS_MM + 12.0:
            continue
        return np.array([x, y])
    raise ValueError("no place for the spine in the phantom grid")


def _add_blurred_ball(
    blurred: npt.NDArray[np.float32],
    canvas: _Canvas,
    centre: FloatArray,
    radius_mm: float,
    delta_hu: float,
) -> None:
    """Add ``delta_hu`` x the blurred-ball profile around ``centre`` to the blurred volume."""
    reach = radius_mm + 6 * BLUR_SIGMA_MM
    si = canvas._range(canvas.x, centre[0] - reach, centre[0] + reach)
    sj = canvas._range(canvas.y, centre[1] - reach, centre[1] + reach)
    sk = canvas._range(canvas.z, centre[2] - reach, centre[2] + reach)
    X = canvas.x[si][None, None, :] - centre[0]
    Y = canvas.y[sj][None, :, None] - centre[1]
    Z = canvas.z[sk][:, None, None] - centre[2]
    r = np.sqrt(X * X + Y * Y + Z * Z)
    profile = blurred_ball_profile(r, radius_mm, BLUR_SIGMA_MM)
    blurred[sk, sj, si] += (delta_hu * profile).astype(np.float32)


def render(
    spec: CaseSpec,
    grid: GridSpec,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    anatomy: Anatomy = ANATOMY,
    materials: Materials | None = None,
    noise_sd_hu: float = NOISE_SD_HU,
) -> tuple[npt.NDArray[np.int16], FloatArray]:
    """HU volume ``[k, j, i]`` (int16) and its affine for ``spec`` on ``grid``.

    ``anatomy``, ``materials`` and ``noise_sd_hu`` replace the standard anatomy, the case's
    attenuations and the noise level (the seeded variations of
    :func:`annulusview.phantom.case.make_varied_case`).
    """
    A = anatomy
    f = A.frame
    mat: Materials = materials if materials is not None else spec.materials
    aff = affine_for(grid, anatomy)
    origin = aff[:3, 3]
    canvas = _Canvas(grid, origin, mat.air)
    glo, ghi = canvas.bounds()
    report(progress, 0.02, "anatomy")

    # Body: elliptic cylinder of soft tissue with a fat core; anterior chest wall in view on
    # the full-size grid.
    body_c = np.array([f.origin[0] + 5.0, f.origin[1] + 30.0])
    for semi, value in (((165.0, 118.0), mat.soft_tissue), ((150.0, 104.0), mat.fat)):

        def body(X: FloatArray, Y: FloatArray, Z: FloatArray, s: tuple[float, float] = semi):
            return ((X - body_c[0]) / s[0]) ** 2 + ((Y - body_c[1]) / s[1]) ** 2 <= 1.0

        canvas.paint(glo, ghi, body, value)

    sc = spine_centre(grid, origin, anatomy)

    def spine(X: FloatArray, Y: FloatArray, Z: FloatArray) -> npt.NDArray[np.bool_]:
        return np.asarray((X - sc[0]) ** 2 + (Y - sc[1]) ** 2 <= SPINE_RADIUS_MM**2)

    canvas.paint(glo, ghi, spine, SPINE_HU)

    # Left ventricle (myocardium then cavity) and left atrium, below/behind the valves.
    e = f.direction(180.0)
    lv_axis = unit(-f.n - 0.5 * e)
    lv_base = f.origin - 14.0 * f.n + 12.0 * e
    lv_centre = lv_base + 36.0 * lv_axis
    m = A.mitral
    la_centre = m.centre + 25.0 * m.normal
    for extra, value in ((9.0, mat.wall), (0.0, mat.blood)):
        canvas.paint(
            lv_centre - 50.0,
            lv_centre + 50.0,
            _spheroid(lv_centre, lv_axis, 38 + extra, 24 + extra),
            value,
        )
        lo, hi, ball = _ball(la_centre, 21.0 + extra / 4.5)
        canvas.paint(lo, hi, ball, value)

    # Aortic wall and lumen: LVOT tube, root with sinuses, ascending aorta (to the grid edge).
    corners = np.array(
        [
            f.point(h, 25.0 * sx, 0.0) + 25.0 * sy * f.v
            for h in (-A.lvot_depth_mm, 150.0)
            for sx in (-1, 1)
            for sy in (-1, 1)
        ]
    )
    tlo, thi = corners.min(axis=0), corners.max(axis=0)

    def aortic(extra_wall: bool, h_min: float) -> MaskFn:
        def inside(X: FloatArray, Y: FloatArray, Z: FloatArray) -> npt.NDArray[np.bool_]:
            h, r, theta = f.cylindrical(X, Y, Z)
            limit = A.lumen_radius(theta, h)
            if extra_wall:
                limit = limit + A.wall_thickness(h)
            return np.asarray((h >= h_min) & (r <= limit))

        return inside

    tube_rho = 25.0

    def tube_box(z_lo: float, z_hi: float) -> tuple[FloatArray, FloatArray] | None:
        # Points within tube_rho of the axis point at h have |z - (O_z + h n_z)| <= tube_rho.
        h_a = max((z_lo - f.origin[2] - tube_rho) / f.n[2], -A.lvot_depth_mm)
        h_b = min((z_hi - f.origin[2] + tube_rho) / f.n[2], 150.0)
        if h_a > h_b:
            return None
        ends = np.array([f.origin[:2] + h_a * f.n[:2], f.origin[:2] + h_b * f.n[:2]])
        return ends.min(axis=0) - tube_rho, ends.max(axis=0) + tube_rho

    canvas.paint(tlo, thi, aortic(True, -A.lvot_wall_depth_mm), mat.wall, tube_box)
    canvas.paint(tlo, thi, aortic(False, -A.lvot_depth_mm), mat.blood, tube_box)
    report(progress, 0.15, "aortic root")

    # Mitral orifice (blood) then the annulus ring (fibrous tissue).
    def orifice(X: FloatArray, Y: FloatArray, Z: FloatArray) -> npt.NDArray[np.bool_]:
        dx, dy, dz = X - m.centre[0], Y - m.centre[1], Z - m.centre[2]
        w = dx * m.normal[0] + dy * m.normal[1] + dz * m.normal[2]
        p = dx * m.e_ap[0] + dy * m.e_ap[1] + dz * m.e_ap[2]
        q = dx * m.e_ic[0] + dy * m.e_ic[1] + dz * m.e_ic[2]
        return np.asarray(
            (np.abs(w) <= 6.0) & ((p / m.semi_ap_mm) ** 2 + (q / m.semi_ic_mm) ** 2 <= 1.0)
        )

    canvas.paint(m.centre - 20.0, m.centre + 20.0, orifice, mat.blood)
    _, ring_pts, _ = m.dense_curve(3000)
    lo, hi, ring = _curve_tube(ring_pts, A.mitral_ring_radius_mm)
    canvas.paint(lo, hi, ring, mat.wall)

    # Coronary arteries leaving the LCC and RCC sinuses (lower rim at the coronary height).
    for theta, height in ((120.0, A.lca_height_mm), (0.0, A.rca_height_mm)):
        hc = height + A.coronary_radius_mm
        p0 = f.point(hc, 0.0, theta)
        p1 = f.point(hc, A.coronary_length_mm, theta)
        rad = A.coronary_radius_mm
        canvas.paint(
            np.minimum(p0, p1) - rad,
            np.maximum(p0, p1) + rad,
            _segment_tube(p0, p1, rad),
            mat.blood,
        )
    # The tubes started on the axis; restore the leaflets' lumen side by painting leaflets last.

    # Leaflets: three thin shells, gaps of +-3 deg at the commissures, attached along the
    # crown: at each angle from the sinus's lower border (Anatomy.crown_height, >= 1.5 mm, the
    # lowest at the cusp nadirs) up to the free edge at 14 mm, on the surface
    # Anatomy.leaflet_radius (a cone with a flat border).
    h0, h1 = A.leaflet_h_mm
    half_t = A.leaflet_thickness_mm / 2

    def leaflets(X: FloatArray, Y: FloatArray, Z: FloatArray) -> npt.NDArray[np.bool_]:
        h, r, theta = f.cylindrical(X, Y, Z)
        rel = (theta + 60.0) % 120.0 - 60.0
        return np.asarray(
            (h >= np.maximum(h0, A.crown_height(theta)))
            & (h <= h1)
            & (np.abs(r - A.leaflet_radius(h, theta)) <= half_t)
            & (np.abs(rel) <= 57.0)
            & (r <= A.lumen_radius(theta, h) - 0.3)
        )

    llo = f.origin - 20.0
    lhi = f.origin + 20.0
    canvas.paint(llo, lhi, leaflets, mat.leaflet)
    report(progress, 0.3, "lesions")

    # Lesions: a tissue halo (one background for the blur) painted now; the calcium spheres
    # are added after the blur in closed form (blurred-ball profile), free of voxelisation.
    for lesion in spec.lesions:
        c = f.point(lesion.h_mm, lesion.r_mm, lesion.theta_deg)
        lo, hi, halo = _ball(c, lesion.radius_mm + lesion.halo_mm)
        canvas.paint(lo, hi, halo, mat.wall)
    if spec.mac is not None:
        curve = mac_curve(spec.mac, anatomy=anatomy)
        lo, hi, tube = _curve_tube(curve, spec.mac.radius_mm + spec.mac.halo_mm)
        canvas.paint(lo, hi, tube, mat.wall)
        lo, hi, tube = _curve_tube(curve, spec.mac.radius_mm)
        canvas.paint(lo, hi, tube, spec.mac.hu)
    report(progress, 0.45, "partial-volume blur")

    sigma_vox = (
        BLUR_SIGMA_MM / grid.slice_mm,
        BLUR_SIGMA_MM / grid.pixel_mm,
        BLUR_SIGMA_MM / grid.pixel_mm,
    )
    blurred = ndimage.gaussian_filter(canvas.hu, sigma=sigma_vox, output=np.float32, truncate=4.0)
    for lesion in spec.lesions:
        _add_blurred_ball(
            blurred,
            canvas,
            f.point(lesion.h_mm, lesion.r_mm, lesion.theta_deg),
            lesion.radius_mm,
            lesion.hu - mat.wall,
        )
    del canvas
    report(progress, 0.8, "noise")
    rng = np.random.default_rng(seed)
    out = np.empty(blurred.shape, dtype=np.int16)
    step = 32
    for k0 in range(0, blurred.shape[0], step):
        slab = blurred[k0 : k0 + step]
        noise = rng.standard_normal(slab.shape, dtype=np.float32)
        noisy = slab + np.float32(noise_sd_hu) * noise
        out[k0 : k0 + step] = np.clip(np.rint(noisy), HU_MIN, HU_MAX).astype(np.int16)
    report(progress, 1.0, "volume done")
    return out, aff
