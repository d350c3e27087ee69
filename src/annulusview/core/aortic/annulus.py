"""Annulus measurements in the hinge plane (clinical-model.md section 4; SCCT 2019, Blanke).

On contrast CT the contour is the lumen boundary in the plane ``h = 0``: the plane is reformatted
at <= 0.25 mm, the lumen connected to ``O`` is found with its edge half-way between lumen and
surrounding tissue (FWHM), sub-pixel, and the convex hull of the edge is the contour (the
annulus is a convex ring; leaflets, calcium and leaks cut into or out of the lumen). A lumen that
leaks into a neighbouring cavity is traced as the closed edge through the hinges instead
(ring_path.py). The contour is traced again with the plane moved a little either way (the plane
check): the range of areas says how far the size depends on where exactly the plane lies. Without
contrast, or when the contour fails, the circle through the hinges is used and a warning says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.aortic.ring_path import RingPathFailed, ring_edge_points
from annulusview.core.arrays import FloatArray
from annulusview.core.rules import Rules
from annulusview.core.volume import Volume

log = logging.getLogger(__name__)


METHOD_CONTOUR = "lumen_contour"
METHOD_HINGE_CIRCLE = "hinge_circle"

# Radius around O whose median gives the in-plane lumen attenuation.
_LUMEN_CORE_RADIUS_MM = 4.0
# Ring outside the first lumen estimate that samples the surrounding tissue.
_TISSUE_RING_MM = (1.0, 3.0)


@dataclass(frozen=True, eq=False)
class AnnulusMeasurement:
    """Annulus size in the hinge plane.

    Attributes
    ----------
    perimeter_mm, area_mm2
        Perimeter (mm) and area (mm^2) of the contour.
    d_min_mm, d_max_mm
        Minimum and maximum caliper diameters of the contour, mm.
    center_lps
        Area centroid of the contour, LPS mm.
    normal_lps
        Plane normal ``n`` (toward the aorta).
    method
        ``"lumen_contour"`` or ``"hinge_circle"``.
    contour_lps
        Closed contour, counter-clockwise about ``n``, shape (N, 3), LPS mm (for drawing).
    lumen_hu, tissue_hu, edge_hu
        In-plane lumen and tissue attenuation and the FWHM edge level (None for the circle).
    area_plane_range_mm2, perimeter_plane_range_mm
        The smallest and largest contour area and perimeter with the plane at ``h = 0`` and
        moved ``plane_check_mm`` (``annulus.plane_check_mm``) either way (None when not sized
        or not traced there).
    """

    perimeter_mm: float | None
    area_mm2: float | None
    d_min_mm: float | None
    d_max_mm: float | None
    center_lps: FloatArray
    normal_lps: FloatArray
    method: str
    contour_lps: FloatArray
    lumen_hu: float | None = None
    tissue_hu: float | None = None
    edge_hu: float | None = None
    area_plane_range_mm2: tuple[float, float] | None = None
    perimeter_plane_range_mm: tuple[float, float] | None = None
    plane_check_mm: float | None = None

    @property
    def sized(self) -> bool:
        """True when the annulus was measured (lumen contour on a contrast CTA)."""
        return self.method == METHOD_CONTOUR and self.area_mm2 is not None

    @property
    def d_area_mm(self) -> float | None:
        """Area-derived diameter ``2 sqrt(area / pi)``, mm (None when not sized)."""
        return None if self.area_mm2 is None else float(2.0 * np.sqrt(self.area_mm2 / np.pi))

    @property
    def d_perimeter_mm(self) -> float | None:
        """Perimeter-derived diameter ``perimeter / pi``, mm (None when not sized)."""
        return None if self.perimeter_mm is None else float(self.perimeter_mm / np.pi)

    @property
    def eccentricity(self) -> float | None:
        """``1 - d_min / d_max`` (None when not sized)."""
        if self.d_min_mm is None or not self.d_max_mm:
            return None
        return float(1.0 - self.d_min_mm / self.d_max_mm)

    def to_dict(self) -> dict[str, object]:
        return {
            "perimeter_mm": self.perimeter_mm,
            "area_mm2": self.area_mm2,
            "d_min_mm": self.d_min_mm,
            "d_max_mm": self.d_max_mm,
            "d_area_mm": self.d_area_mm,
            "d_perimeter_mm": self.d_perimeter_mm,
            "eccentricity": self.eccentricity,
            "center_lps": [float(x) for x in self.center_lps],
            "normal_lps": [float(x) for x in self.normal_lps],
            "method": self.method,
            "lumen_hu": self.lumen_hu,
            "tissue_hu": self.tissue_hu,
            "edge_hu": self.edge_hu,
            "area_plane_range_mm2": (
                None
                if self.area_plane_range_mm2 is None
                else [float(a) for a in self.area_plane_range_mm2]
            ),
            "plane_check_mm": self.plane_check_mm,
            "perimeter_plane_range_mm": (
                None
                if self.perimeter_plane_range_mm is None
                else [float(a) for a in self.perimeter_plane_range_mm]
            ),
            "contour_lps": [[round(float(c), 3) for c in p] for p in self.contour_lps],
        }


def contour_radius_table(contour_lps: FloatArray, frame: AnnulusFrame, n: int = 360) -> FloatArray:
    """``R(theta)``: the distance from ``O`` to the closed contour along the ray at each of ``n``
    angles (degrees ``0, 360/n, ...``), by exact ray-segment intersection (section 3)."""
    rel = np.asarray(contour_lps, dtype=np.float64) - frame.origin_lps
    ax, ay = rel @ frame.u_lps, rel @ frame.v_lps  # in-plane coordinates of the vertices
    ex, ey = np.roll(ax, -1) - ax, np.roll(ay, -1) - ay  # the segments A -> B
    angles = np.radians(np.arange(n) * 360.0 / n)
    out = np.full(n, np.nan)
    for k, a in enumerate(angles):
        dx, dy = np.cos(a), np.sin(a)
        # solve O + t (dx, dy) = A + s (B - A), t >= 0, 0 <= s <= 1
        den = dx * ey - dy * ex
        ok = np.abs(den) > 1e-12
        t = np.where(ok, (ax * ey - ay * ex) / np.where(ok, den, 1.0), -1.0)
        s = np.where(ok, (ax * dy - ay * dx) / np.where(ok, den, 1.0), -1.0)
        hit = ok & (t >= 0) & (s >= -1e-9) & (s <= 1 + 1e-9)
        if hit.any():
            out[k] = float(t[hit].min())
    if np.isnan(out).any():  # O outside the contour somewhere: fall back to the mean radius
        mean_r = float(np.hypot(ax, ay).mean())
        out[np.isnan(out)] = float(np.nanmean(out)) if np.isfinite(out).any() else mean_r
    return out


class _ContourFailed(Exception):
    """The lumen contour could not be found; the message says why."""


def polygon_calipers(points: FloatArray) -> tuple[float, float]:
    """Minimum and maximum caliper widths of a convex polygon (vertices in order), mm.

    The minimum width of a convex polygon is attained with one caliper flush with an edge, so
    it is the smallest over edges of the largest vertex distance from that edge's line; the
    maximum is the largest vertex-to-vertex distance.
    """
    diffs = points[:, None, :] - points[None, :, :]
    d_max = float(np.sqrt((diffs**2).sum(axis=2)).max())
    edges = np.roll(points, -1, axis=0) - points
    lengths = np.linalg.norm(edges, axis=1)
    keep = lengths > 1e-9
    normals = np.stack([edges[keep, 1], -edges[keep, 0]], axis=1) / lengths[keep, None]
    rel = points[None, :, :] - points[keep][:, None, :]
    widths = np.abs((rel * normals[:, None, :]).sum(axis=2)).max(axis=1)
    return float(widths.min()), d_max


def _polygon_centroid(points: FloatArray) -> FloatArray:
    x, y = points[:, 0], points[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2.0
    cx = ((x + xn) * cross).sum() / (6.0 * area)
    cy = ((y + yn) * cross).sum() / (6.0 * area)
    return np.array([cx, cy])


def sample_plane(
    volume: Volume, frame: AnnulusFrame, half_width_mm: float, pixel_mm: float
) -> tuple[npt.NDArray[np.float32], FloatArray]:
    """Reformat the plane ``h = 0`` around ``O`` by trilinear interpolation.

    Only the block of voxels the plane passes through is read (never the whole volume).

    Returns
    -------
    image
        ``image[a, b]`` at in-plane position ``(x, y) = (axis[b], axis[a])`` along ``(u, v)``;
        NaN outside the volume.
    axis
        Pixel centre positions along u and v, mm.
    """
    n_half = int(np.ceil(half_width_mm / pixel_mm))
    axis: FloatArray = np.arange(-n_half, n_half + 1, dtype=np.float64) * pixel_mm
    x, y = np.meshgrid(axis, axis, indexing="xy")
    lps = frame.origin_lps + x[..., None] * frame.u_lps + y[..., None] * frame.v_lps
    ijk = volume.lps_to_index(lps)
    kji = ijk[..., ::-1]
    shape = np.array(volume.shape)
    lo = np.clip(np.floor(kji.reshape(-1, 3).min(axis=0)).astype(int) - 1, 0, shape - 1)
    hi = np.clip(np.ceil(kji.reshape(-1, 3).max(axis=0)).astype(int) + 2, 1, shape)
    if np.any(hi <= lo):
        empty: npt.NDArray[np.float32] = np.full(x.shape, np.nan, dtype=np.float32)
        return empty, axis
    block = np.asarray(volume.hu[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], dtype=np.float32)
    coords = np.moveaxis(kji - lo, -1, 0).astype(np.float32)
    image = ndimage.map_coordinates(block, coords, order=1, mode="constant", cval=np.nan)
    sampled: npt.NDArray[np.float32] = np.asarray(image, dtype=np.float32)
    return sampled, axis


def _component_at(mask: npt.NDArray[np.bool_], seed: tuple[int, int]) -> npt.NDArray[np.bool_]:
    labels, _ = ndimage.label(mask)
    lab = labels[seed]
    if lab == 0:
        raise _ContourFailed("the lumen does not reach the annulus centre")
    out: npt.NDArray[np.bool_] = labels == lab
    return out


def _lumen_edge_points(
    image: npt.NDArray[np.float32], axis: FloatArray, rules: Rules
) -> tuple[FloatArray, float, float, float, npt.NDArray[np.bool_]]:
    """Sub-pixel FWHM edge points of the lumen connected to the centre, in plane mm.

    Also returns the lumen, tissue and edge levels (HU) and the calcium-exclusion mask.
    """
    pixel = float(axis[1] - axis[0])
    x, y = np.meshgrid(axis, axis, indexing="xy")
    rr = np.hypot(x, y)
    finite = np.isfinite(image)
    core = finite & (rr <= _LUMEN_CORE_RADIUS_MM)
    if not core.any():
        raise _ContourFailed("the annulus centre lies outside the volume")
    lumen_hu = float(np.median(image[core]))
    if lumen_hu < rules.number("contrast.contrast_min_hu"):
        raise _ContourFailed(f"no contrast lumen at the annulus centre ({lumen_hu:.0f} HU)")
    # Calcium brighter than the lumen by the calcium offset (the same LA + 100 HU rule as the
    # default calcium threshold) is not lumen, nor is its partial-volume halo: otherwise wall
    # calcium would push the edge outward, which the convex hull cannot undo.
    calcium = finite & (image >= lumen_hu + rules.number("threshold.lumen_plus_offset_hu"))
    halo_mm = rules.number("annulus.calcium_exclusion_mm")
    near_calcium = (
        ndimage.distance_transform_edt(~calcium) * pixel <= halo_mm if calcium.any() else calcium
    )
    allowed = finite & (rr <= rules.number("annulus.max_radius_mm")) & ~near_calcium
    seed = (len(axis) // 2, len(axis) // 2)
    if near_calcium[seed]:
        # Calcium over the centre: seed from the nearest allowed lumen pixel instead.
        candidates = np.argwhere(allowed & (image >= 0.5 * lumen_hu))
        if len(candidates) == 0:
            raise _ContourFailed("no lumen pixels near the annulus centre")
        best = np.argmin(((candidates - np.array(seed)) ** 2).sum(axis=1))
        seed = (int(candidates[best][0]), int(candidates[best][1]))
    # First edge guess at half the lumen attenuation (soft tissue is near 0-100 HU), then the
    # FWHM level from the measured tissue attenuation, refined once.
    edge_hu = 0.5 * lumen_hu
    tissue_hu = 0.0
    for _ in range(2):
        mask = _component_at(allowed & (image >= edge_hu), seed)
        outside = ndimage.distance_transform_edt(~mask) * pixel
        ring = (
            finite
            & ~near_calcium
            & (outside > _TISSUE_RING_MM[0])
            & (outside <= _TISSUE_RING_MM[1])
            & (image < edge_hu)
        )
        if not ring.any():
            raise _ContourFailed("no tissue around the lumen")
        tissue_hu = float(np.median(image[ring]))
        edge_hu = 0.5 * (lumen_hu + tissue_hu)
    mask = ndimage.binary_fill_holes(_component_at(allowed & (image >= edge_hu), seed))
    filled_image = np.where(finite, image, -1024.0)

    rows, cols = np.nonzero(mask)
    size = mask.shape[0]
    points = []
    for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        rb, cb = rows + dr, cols + dc
        inside = (rb >= 0) & (rb < size) & (cb >= 0) & (cb < size)
        ra, ca, rb, cb = rows[inside], cols[inside], rb[inside], cb[inside]
        edge = ~mask[rb, cb]
        ra, ca, rb, cb = ra[edge], ca[edge], rb[edge], cb[edge]
        val_a, val_b = filled_image[ra, ca], filled_image[rb, cb]
        # Linear interpolation of the edge level between the two pixel centres; where the
        # neighbour is excluded (calcium halo, radius limit) the edge is put half-way.
        interp = allowed[rb, cb] & (val_a >= edge_hu) & (val_b < edge_hu)
        frac = np.full(len(ra), 0.5)
        frac[interp] = (val_a[interp] - edge_hu) / (val_a[interp] - val_b[interp])
        px = axis[ca] + frac * dc * pixel
        py = axis[ra] + frac * dr * pixel
        points.append(np.stack([px, py], axis=1))
    pts = np.concatenate(points)
    if len(pts) < 8:
        raise _ContourFailed("the lumen edge is too small")
    return pts, lumen_hu, tissue_hu, edge_hu, near_calcium


def hinge_circle(frame: AnnulusFrame, points: int = 180) -> AnnulusMeasurement:
    """The circle through the hinges, kept only to place the regions (non-contrast CT or a
    failed contour): it is not a measurement, so no size is reported (section 4.1)."""
    r = frame.hinge_radius_mm
    theta = np.linspace(0.0, 360.0, points, endpoint=False)
    contour = frame.to_lps(np.zeros_like(theta), np.full_like(theta, r), theta)
    return AnnulusMeasurement(
        perimeter_mm=None,
        area_mm2=None,
        d_min_mm=None,
        d_max_mm=None,
        center_lps=frame.origin_lps.copy(),
        normal_lps=frame.normal_lps.copy(),
        method=METHOD_HINGE_CIRCLE,
        contour_lps=contour,
    )


def measure_annulus(
    volume: Volume, frame: AnnulusFrame, rules: Rules, contrast: bool
) -> tuple[AnnulusMeasurement, tuple[str, ...]]:
    """Measure the annulus; returns the measurement and any warnings.

    The contour is also traced ``annulus.plane_check_mm`` above and below the hinge plane: the
    areas there are ``area_plane_range_mm2``, and a warning says when the area moves by more
    than ``annulus.plane_change_warn_pct`` (the plane crosses steep anatomy, such as the closed
    leaflets or the floor of a sinus, and the size is only as good as the hinge plane).

    Parameters
    ----------
    volume
        The CT volume.
    frame
        The annulus frame from the hinges.
    rules
        ``annulus.*`` (pixel size, max radius, calcium exclusion, plane check) and
        ``contrast.*``.
    contrast
        Whether the study is contrast-enhanced (section 5); without contrast the lumen edge is
        invisible and the hinge circle is used.
    """
    if not contrast:
        return hinge_circle(frame), (
            "The annulus was not sized: sizing needs a contrast CT angiogram (the lumen edge is "
            "not visible here). The circle through the hinges only places the regions.",
        )
    measured, warnings = _measure_on_plane(volume, frame, rules)
    if not measured.sized or measured.area_mm2 is None:
        return measured, warnings
    step = rules.number("annulus.plane_check_mm")
    areas, perimeters = [measured.area_mm2], [measured.perimeter_mm or 0.0]
    for h in (-step, step):
        moved = replace(frame, origin_lps=frame.origin_lps + h * frame.normal_lps)
        other, _ = _measure_on_plane(volume, moved, rules)
        if not other.sized or other.area_mm2 is None or other.perimeter_mm is None:
            return measured, (
                *warnings,
                f"The annulus contour could not be traced {step:g} mm "
                f"{'below' if h < 0 else 'above'} the hinge plane, so how much the area depends "
                "on the plane is unknown. Check the hinges in the double-oblique views.",
            )
        areas.append(other.area_mm2)
        perimeters.append(other.perimeter_mm)
    low, high = min(areas), max(areas)
    change = 100.0 * max(abs(a - measured.area_mm2) for a in areas) / measured.area_mm2
    measured = replace(
        measured,
        area_plane_range_mm2=(low, high),
        perimeter_plane_range_mm=(min(perimeters), max(perimeters)),
        plane_check_mm=step,
    )
    limit = rules.number("annulus.plane_change_warn_pct")
    if change > limit:
        warnings = (
            *warnings,
            f"The annulus area depends steeply on the plane here: {low:.0f}-{high:.0f} mm^2 "
            f"within {step:g} mm of the hinge plane (up to {change:.0f} % from "
            f"{measured.area_mm2:.0f} mm^2, more than {limit:g} %), as where the plane crosses "
            "closed leaflets or a sinus floor. The size is only as good as the hinge plane: "
            "check the hinges in the double-oblique views (and size on a systolic phase).",
        )
    return measured, warnings


def _measure_on_plane(
    volume: Volume, frame: AnnulusFrame, rules: Rules
) -> tuple[AnnulusMeasurement, tuple[str, ...]]:
    """The lumen contour in the plane ``h = 0`` of ``frame`` (the hinge circle on failure)."""
    pixel = min(rules.number("annulus.reformat_pixel_mm"), 0.25)
    half = rules.number("annulus.max_radius_mm") + 1.0
    image, axis = sample_plane(volume, frame, half, pixel)
    low, high = rules.number("annulus.min_area_ratio"), rules.number("annulus.max_area_ratio")
    circle_area = np.pi * frame.hinge_radius_mm**2
    warnings: list[str] = []
    try:
        pts, lumen_hu, tissue_hu, edge_hu, near_calcium = _lumen_edge_points(image, axis, rules)
        hull = ConvexHull(pts)
        # The hinges lie on the annulus, so an area far above the hinge circle's means the
        # lumen leaked into a neighbouring cavity: trace the closed edge through the hinges.
        if hull.volume / circle_area > high:
            pts = ring_edge_points(
                image,
                axis,
                edge_hu,
                lumen_hu,
                tissue_hu,
                near_calcium,
                frame.hinge_radius_mm,
                tuple(frame.hinge_angles_deg.values()),
                rules.number("annulus.max_radius_mm"),
            )
            hull = ConvexHull(pts)
            warnings.append(
                "The annulus lumen leaked into a neighbouring cavity; its edge was traced as "
                "the smooth closed lumen edge through the hinges instead. Check the contour."
            )
    except (_ContourFailed, RingPathFailed, QhullError) as exc:
        return hinge_circle(frame), (
            f"The annulus lumen contour failed ({exc}); the circle through the hinges is used "
            "to place the regions and the annulus was not sized. Check the hinge landmarks and "
            "the images.",
        )
    poly = pts[hull.vertices]  # counter-clockwise in (u, v), i.e. about n
    area = float(hull.volume)  # 2-D hull: 'volume' is the area, 'area' the perimeter
    perimeter = float(hull.area)
    ratio = area / circle_area
    if not low <= ratio <= high:
        return hinge_circle(frame), (
            f"The annulus lumen contour is implausible (area {area:.0f} mm^2, "
            f"{ratio:.1f} x the hinge circle); the annulus was not sized (the circle through "
            "the hinges only places the regions). Check the hinge landmarks.",
        )
    d_min, d_max = polygon_calipers(poly)
    cx, cy = _polygon_centroid(poly)
    contour = frame.origin_lps + poly[:, :1] * frame.u_lps + poly[:, 1:] * frame.v_lps
    return (
        AnnulusMeasurement(
            perimeter_mm=perimeter,
            area_mm2=area,
            d_min_mm=d_min,
            d_max_mm=d_max,
            center_lps=frame.origin_lps + cx * frame.u_lps + cy * frame.v_lps,
            normal_lps=frame.normal_lps.copy(),
            method=METHOD_CONTOUR,
            contour_lps=contour,
            lumen_hu=lumen_hu,
            tissue_hu=tissue_hu,
            edge_hu=edge_hu,
        ),
        tuple(warnings),
    )
