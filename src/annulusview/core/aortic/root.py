"""Aortic root and LVOT dimensions on planes parallel to the annulus (clinical-model.md 4.2).

Every plane is ``h = const`` of the annulus frame (a straight-axis approximation: the planes
follow the annulus normal, not a curved centreline). On each plane the lumen is contoured like
the annulus (section 4.1): the plane is reformatted at <= 0.25 mm, the lumen connected to the
axis is found and its edge placed half-way between the lumen and the surrounding tissue
(FWHM), sub-pixel, along 360 rays from the axis. Unlike the annulus there is no convex hull
(the septum may bulge into the LVOT). Thin dark lines inside the lumen (open or closed leaflets)
are bridged by a closing of 1 mm radius, and the coronary arteries leaving the sinuses are cut
off by an opening of 2.5 mm radius, so the contour is the root wall.

Sinus and STJ planes come from a sweep of planes every 1 mm from +5 to +40 mm (0.5 mm
pixels), the chosen ones re-contoured at 0.25 mm. Section 4.2's rule (sinus: largest area in
+5..+25 mm; STJ: smallest area above it, here the lowest plane within 2 % of it) is used as is
unless the area profile has a waist, a plane at least 5 % narrower than both the sinus below and
the aorta above it (a dilated or dissected ascending aorta): the waist is then the STJ and the
sinus is searched below it.

Numbers that cannot be measured (non-contrast scan, plane outside the volume, a failed contour)
are None with a reason; never a guess.

Cost (issue 11): the method above is computed with less work, not approximated. The planes of
one sweep pass are sampled in one trilinear pass, and only on the disc a contour reads
(:func:`_sample_planes`); the closing, hole filling, opening, tissue ring and volume-edge margin
run on bounding boxes of the lumen instead of the whole plane, small discs as shifted copies of
the mask, and the ray geometry is computed once per pixel size. Each step returns the same
pixels as on the whole plane (the reasons are in the docstrings), so the contours are
unchanged.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from annulusview.core.aortic.annulus import polygon_calipers
from annulusview.core.aortic.frame import CUSPS, AnnulusFrame
from annulusview.core.aortic.plane_masks import (
    dilate,
    erode,
    fill_holes,
    label4,
    mask_box,
    radius_grid,
    radius_px,
    within,
)
from annulusview.core.aortic.root_lumen import Section, plane_grid, trilinear
from annulusview.core.arrays import FloatArray
from annulusview.core.landmarks import Landmarks
from annulusview.core.rules import Rules
from annulusview.core.volume import Volume

log = logging.getLogger(__name__)

MEASURED = "measured"
NOT_ASSESSED = "not_assessed"
FAILED = "failed"

LVOT_LEVEL_MM = -4.0
SINUS_SEARCH_MM = (5.0, 25.0)
STJ_TOP_MM = 40.0
ASCENDING_LEVEL_MM = 40.0
SWEEP_STEP_MM = 1.0
#: First pass of the plane sweep; the chosen planes' neighbours are then added every
#: SWEEP_STEP_MM (coarse to fine).
COARSE_STEP_MM = 2.0
#: The STJ is the lowest plane above the sinus whose area is within this fraction of the
#: smallest area up to +40 mm: on a tube of constant calibre the bare minimum is a random plane
#: of the tube. 2 % of the area is 1 % of the diameter (0.3 mm on a 27 mm STJ), below what the
#: CT resolves, so such a plane cannot be told from the minimum.
STJ_AREA_TOLERANCE = 0.02
#: A waist (section :func:`_waist`) is this fraction narrower than the bulges on both sides,
#: which lie at least WAIST_SPAN_MM away from it.
WAIST_MARGIN = 0.05
WAIST_SPAN_MM = 3.0
PIXEL_MM = 0.25
#: Reformat pixel of the sweep that picks the sinus and STJ planes (re-contoured at PIXEL_MM).
SWEEP_PIXEL_MM = 0.75
#: FWHM level passes of a sweep plane: it only ranks areas; the chosen planes are re-contoured
#: with the full two passes at PIXEL_MM.
SWEEP_LEVEL_PASSES = 1
#: Pixel of the plane the FWHM level is estimated on (the contour itself uses the fine pixel).
LEVEL_PIXEL_MM = 0.5
RAYS = 360
#: Harmonics kept of the ray profile r(theta): the wall shape, not the noise of 360 edges
#: (noise would lengthen the perimeter).
HARMONICS = 24
_LEAFLET_BRIDGE_MM = 1.0
_BRANCH_CUT_MM = 2.5
_LUMEN_CORE_RADIUS_MM = 4.0
_TISSUE_RING_MM = (1.0, 2.0)
#: A plane's HU is read to this distance beyond ``annulus.max_radius_mm`` (:func:`_sample_planes`).
_READ_MARGIN_MM = 3.0
_ANGLES_RAD = np.radians(np.arange(RAYS) * 360.0 / RAYS)

NON_CONTRAST_REASON = (
    "not assessed: the scan is not a contrast CT angiogram (non-contrast or indeterminate "
    "enhancement), so there is no lumen to contour"
)


class _PlaneFailed(Exception):
    """The lumen on a plane could not be contoured; the message says why."""


@dataclass(frozen=True, eq=False)
class PlaneContour:
    """The lumen contour on one plane ``h = height_mm``.

    Attributes
    ----------
    height_mm
        Plane height in the annulus frame, mm.
    radii_mm
        Distance from the axis to the lumen edge at ``theta = 0, 1, ... 359`` degrees, mm.
    contour_lps
        The closed contour, shape (360, 3), LPS mm (for drawing).
    edge_hu
        FWHM edge level used, HU.
    """

    height_mm: float
    radii_mm: FloatArray
    contour_lps: FloatArray
    edge_hu: float

    @property
    def _xy(self) -> FloatArray:
        return np.stack(
            [self.radii_mm * np.cos(_ANGLES_RAD), self.radii_mm * np.sin(_ANGLES_RAD)], 1
        )

    @functools.cached_property
    def area_mm2(self) -> float:
        xy = self._xy
        x, y = xy[:, 0], xy[:, 1]
        return float(0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))

    @property
    def perimeter_mm(self) -> float:
        xy = self._xy
        return float(np.linalg.norm(np.roll(xy, -1, axis=0) - xy, axis=1).sum())

    @property
    def d_area_mm(self) -> float:
        return float(2.0 * math.sqrt(self.area_mm2 / math.pi))

    def calipers_mm(self) -> tuple[float, float]:
        """Minimum and maximum caliper diameters (of the contour's convex hull), mm."""
        xy = self._xy
        hull = ConvexHull(xy)
        return polygon_calipers(xy[hull.vertices])

    def radius_at(self, theta_deg: float) -> float:
        """Edge distance along the ray at ``theta_deg`` (linear between rays), mm."""
        step = 360.0 / RAYS
        t = (theta_deg % 360.0) / step
        k = math.floor(t)
        frac = t - k
        return float((1 - frac) * self.radii_mm[k % RAYS] + frac * self.radii_mm[(k + 1) % RAYS])


@dataclass(frozen=True)
class RootPart:
    """One block of the root results: its numbers, or None with a reason."""

    status: str
    values: dict[str, Any]
    reason: str | None = None
    contour: PlaneContour | None = None

    def __post_init__(self) -> None:
        if self.status not in (MEASURED, NOT_ASSESSED, FAILED):
            raise ValueError(
                f"RootPart.status must be measured/not_assessed/failed, not {self.status!r}"
            )
        if self.status != MEASURED and not self.reason:
            raise ValueError("RootPart.reason is required when a root number is not measured")

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.values)
        out["status"] = self.status
        out["reason"] = self.reason
        if self.contour is not None:
            out["contour_lps"] = [[round(float(c), 3) for c in p] for p in self.contour.contour_lps]
        return out


@dataclass(frozen=True)
class RootMeasurements:
    """LVOT, sinus of Valsalva, STJ and ascending aorta (section 4.2)."""

    lvot: RootPart
    sinus: RootPart
    stj: RootPart
    ascending: RootPart
    sinus_heights_mm: dict[str, float | None] = field(default_factory=dict)

    @property
    def ascending_aorta_diameter_mm(self) -> float | None:
        value = self.ascending.values.get("diameter_mm")
        return None if value is None else float(value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lvot": self.lvot.to_dict(),
            "sinus": self.sinus.to_dict(),
            "stj": self.stj.to_dict(),
            "sinus_heights_mm": dict(self.sinus_heights_mm),
            "ascending_aorta": self.ascending.to_dict(),
            "ascending_aorta_diameter_mm": self.ascending_aorta_diameter_mm,
            "method": (
                "lumen contour (FWHM, 360 rays, leaflets bridged, coronaries cut off) on planes "
                "parallel to the annulus: a straight-axis approximation along the annulus normal"
            ),
        }


def _empty_lvot() -> dict[str, Any]:
    return {
        "level_mm": LVOT_LEVEL_MM,
        "area_mm2": None,
        "perimeter_mm": None,
        "d_min_mm": None,
        "d_max_mm": None,
    }


def _empty_sinus() -> dict[str, Any]:
    return {"height_mm": None, "area_mm2": None, "diameter_mm": {c: None for c in CUSPS}}


def _empty_stj() -> dict[str, Any]:
    return {"height_mm": None, "diameter_mm": None, "area_mm2": None}


def _empty_ascending() -> dict[str, Any]:
    return {"level_mm": ASCENDING_LEVEL_MM, "diameter_mm": None, "area_mm2": None}


def not_assessed(reason: str = NON_CONTRAST_REASON) -> RootMeasurements:
    """Every root number None, with the reason (non-contrast or indeterminate scans)."""
    return RootMeasurements(
        lvot=RootPart(NOT_ASSESSED, _empty_lvot(), reason),
        sinus=RootPart(NOT_ASSESSED, _empty_sinus(), reason),
        stj=RootPart(NOT_ASSESSED, _empty_stj(), reason),
        ascending=RootPart(NOT_ASSESSED, _empty_ascending(), reason),
        sinus_heights_mm={c: None for c in CUSPS},
    )


def _low_pass(radii: FloatArray, harmonics: int = HARMONICS) -> FloatArray:
    spectrum = np.fft.rfft(radii)
    spectrum[harmonics + 1 :] = 0.0
    return np.asarray(np.fft.irfft(spectrum, n=len(radii)))


def _lumen_mask(
    section: Section, level_hu: float, calcium_hu: float, max_radius_mm: float
) -> npt.NDArray[np.bool_]:
    """The root lumen at ``level_hu``: the component on the axis, leaflets bridged, holes
    filled, coronary branches cut off.

    The same set as the closing, labelling, hole filling and opening on the whole plane, with
    less work: the closing runs on the bounding box of the contrast pixels grown by the bridge
    radius plus one pixel (its dilation cannot reach farther), the hole filling and the
    opening on the bounding box of the component on the axis grown by one pixel (the opening
    never leaves the filled component).
    """
    pixel = section.step_mm
    size = section.values.shape[0]
    raw = section.inside & (section.values >= level_hu) & (section.values < calcium_hu)
    raw &= radius_grid(size, pixel) <= max_radius_mm
    if not raw.any():
        raise _PlaneFailed("the lumen does not reach the valve axis")
    bridge = radius_px(_LEAFLET_BRIDGE_MM, pixel)
    crop = mask_box(raw, bridge + 1)
    raw = raw[crop]
    closed = erode(dilate(raw, bridge), bridge) | raw
    labels, _ = label4(closed)
    c = (size - 1) // 2
    near = labels[within(crop, (slice(c - 4, c + 5), slice(c - 4, c + 5)))]
    hits = near[near > 0]
    if hits.size == 0:
        raise _PlaneFailed("the lumen does not reach the valve axis")
    component = labels == int(np.bincount(hits).argmax())
    box = mask_box(component, 1)
    filled = fill_holes(component[box])
    cut = radius_px(_BRANCH_CUT_MM, pixel)
    opened = dilate(erode(filled, cut), cut)
    labels, count = label4(opened)
    if count == 0:
        raise _PlaneFailed("the lumen is thinner than the coronary cut-off")
    # The piece on the axis: the opening can split a lumen that leaked through a neck into a
    # neighbouring cavity (the LVOT into the left atrium across a thin mitral leaflet), and
    # the cavity is then the larger piece. Off the axis (a leaflet over it), the largest.
    whole = np.zeros(closed.shape, dtype=np.int32)
    whole[box] = labels
    near = whole[within(crop, (slice(c - 4, c + 5), slice(c - 4, c + 5)))]
    hits = near[near > 0]
    if hits.size:
        keep = int(np.bincount(hits).argmax())
    else:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        keep = int(np.argmax(sizes))
    mask = np.zeros(section.values.shape, dtype=bool)
    mask[crop][box] = labels == keep
    return mask


@functools.lru_cache(maxsize=8)
def _ray_grid(size: int, pixel_mm: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Radii (mm) and the fractional (row, col) of the ray samples of :func:`_ray_radii` on a
    ``size`` x ``size`` section: every half pixel from the axis to the section edge, on each
    of the RAYS rays. The same for every plane of one pixel, so computed once."""
    half = (size - 1) / 2 * pixel_mm
    rho = np.arange(0.0, half, pixel_mm / 2)
    x = rho[None, :] * np.cos(_ANGLES_RAD)[:, None]
    y = rho[None, :] * np.sin(_ANGLES_RAD)[:, None]
    col, row = (x + half) / pixel_mm, (y + half) / pixel_mm
    for a in (rho, row, col):
        a.setflags(write=False)
    return rho, row, col


@functools.lru_cache(maxsize=8)
def _ray_pixels(size: int, pixel_mm: float) -> npt.NDArray[np.intp]:
    """Flat index of the pixel nearest each ray sample of :func:`_ray_grid`."""
    _, row, col = _ray_grid(size, pixel_mm)
    rows = np.clip(np.rint(row).astype(int), 0, size - 1)
    cols = np.clip(np.rint(col).astype(int), 0, size - 1)
    flat = rows * size + cols
    flat.setflags(write=False)
    return flat


def _ray_radii(section: Section, mask: npt.NDArray[np.bool_], level_hu: float) -> FloatArray:
    """First exit of ``mask`` along each ray from the axis, refined to the ``level_hu`` crossing
    of the image between the last inside and the first outside sample."""
    pixel = section.step_mm
    size = mask.shape[0]
    step = pixel / 2
    rho, row, col = _ray_grid(size, pixel)
    inside = mask.ravel()[_ray_pixels(size, pixel)]
    out = ~inside
    out[:, -1] = True
    first = np.argmax(out, axis=1)
    if np.any(first == 0):
        raise _PlaneFailed("the valve axis is not in the lumen on every ray")
    if np.any(first == len(rho) - 1):
        raise _PlaneFailed("the lumen reaches the edge of the reformatted plane")
    rays = np.arange(RAYS)
    before = first - 1
    vals = ndimage.map_coordinates(
        section.values,
        [
            np.concatenate([row[rays, before], row[rays, first]]),
            np.concatenate([col[rays, before], col[rays, first]]),
        ],
        order=1,
        mode="nearest",
    )
    v0, v1 = vals[:RAYS], vals[RAYS:]
    crossing = (v0 >= level_hu) & (v1 < level_hu)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(crossing, (v0 - level_hu) / (v0 - v1), 0.5)
    return np.asarray(rho[before] + np.clip(frac, 0.0, 1.0) * step)


def _edge_near(
    volume: Volume,
    frame: AnnulusFrame,
    height_mm: float,
    radii: FloatArray,
    level_hu: float,
    calcium_hu: float,
    step_mm: float,
    window_mm: float,
) -> FloatArray:
    """Each ray's lumen edge re-found within ``window_mm`` (the coarse plane's pixel: its edge
    is that close) of ``radii`` on a profile sampled
    every ``step_mm`` (trilinear, straight from the volume): the crossing of ``level_hu``
    from inside to outside nearest the coarse edge, sub-sample by linear interpolation. Into
    calcium (>= ``calcium_hu``) the edge is half-way between the two samples, as on the coarse
    plane; a ray with no crossing in the window keeps its coarse edge (a cut coronary branch)."""
    offsets = np.arange(-window_mm, window_mm + step_mm / 2, step_mm)
    rho = np.maximum(radii[:, None] + offsets[None, :], 0.0)
    theta = _ANGLES_RAD[:, None]
    n, u, v = (
        np.asarray(a, dtype=np.float64) for a in (frame.normal_lps, frame.u_lps, frame.v_lps)
    )
    radial = np.cos(theta)[..., None] * u + np.sin(theta)[..., None] * v
    pts = np.asarray(frame.origin_lps) + height_mm * n + rho[..., None] * radial
    vals = trilinear(volume.hu, volume.lps_to_index(pts.reshape(-1, 3))).reshape(rho.shape)
    lumen = (vals >= level_hu) & (vals < calcium_hu)
    exit_ = lumen[:, :-1] & ~lumen[:, 1:]
    v0, v1 = vals[:, :-1], vals[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(v1 < level_hu, (v0 - level_hu) / (v0 - v1), 0.5)
    where = offsets[:-1][None, :] + np.clip(frac, 0.0, 1.0) * step_mm
    distance = np.where(exit_, np.abs(where), np.inf)
    best = np.argmin(distance, axis=1)
    rays = np.arange(len(radii))
    found = np.isfinite(distance[rays, best])
    return np.asarray(np.where(found, radii + where[rays, best], radii))


def _plane_pixels(rules: Rules, pixel_mm: float) -> tuple[float, float]:
    """The contour pixel and the (coarser or equal) pixel the plane is sampled and segmented at,
    mm, for a requested ``pixel_mm``."""
    # A reported plane uses the annulus reformat pixel (at most 0.25 mm); the sweep its own.
    reported = min(rules.number("annulus.reformat_pixel_mm"), PIXEL_MM)
    pixel = reported if pixel_mm <= PIXEL_MM else pixel_mm
    # The FWHM level is estimated on a plane sampled at LEVEL_PIXEL_MM at most (a median of the
    # tissue ring, which a finer pixel does not change), the contour on the fine one.
    return pixel, max(pixel, LEVEL_PIXEL_MM)


def _sample_planes(
    volume: Volume, frame: AnnulusFrame, heights: list[float], rules: Rules, pixel_mm: float
) -> list[Section]:
    """The sections ``h = heights`` (``sample_section`` of each: the same samples), through one
    trilinear pass for all of them and only on the disc the contour reads.

    A contour reads a plane's HU no farther than ``_READ_MARGIN_MM`` beyond the largest lumen
    radius (``annulus.max_radius_mm``): the lumen lies within that radius and the tissue ring,
    the volume-edge margin and the bilinear edge samples within 3 mm of the lumen. Outside that
    disc a section holds -1000 HU and counts as outside the volume, and is never read.
    """
    max_r = rules.number("annulus.max_radius_mm")
    half_mm = max_r + 4.0
    # The plane maps linearly to voxel indices (as in sample_section, term by term).
    n, e1, e2, axis, step1, step2 = plane_grid(
        volume,
        np.asarray(frame.normal_lps, dtype=np.float64),
        np.asarray(frame.u_lps, dtype=np.float64),
        half_mm,
        pixel_mm,
    )
    count = len(axis)
    to_index = np.linalg.inv(volume.affine)
    disc = radius_grid(count, pixel_mm) <= max_r + _READ_MARGIN_MM
    rows, cols = np.nonzero(disc)
    flat = np.flatnonzero(disc)
    along_x, along_y = axis[cols][:, None] * step1, axis[rows][:, None] * step2
    # the disc's square, to test a whole plane against the volume at once (it is convex)
    half = axis[-1]
    corners = np.array([a * half * step1 + b * half * step2 for a in (-1, 1) for b in (-1, 1)])
    bounds = np.array(volume.shape[::-1]) - 0.5  # (i, j, k) sizes
    centres, points, kept = [], [], []
    for h in heights:
        centre = frame.to_lps(h, 0.0, 0.0)
        origin = to_index[:3, :3] @ centre + to_index[:3, 3]
        ijk = origin + along_x + along_y
        square = origin + corners
        if np.all((square >= -0.5) & (square <= bounds)):
            ok = None
        else:
            ok = np.all((ijk >= -0.5) & (ijk <= bounds), axis=-1)
            ijk = ijk[ok]
        centres.append(centre)
        points.append(ijk)
        kept.append(ok)
    samples = trilinear(volume.hu, np.concatenate(points)) if points else np.empty(0)
    sections, start = [], 0
    for centre, ok, ijk in zip(centres, kept, points, strict=True):
        values = np.full((count, count), -1000.0)
        inside = np.zeros((count, count), dtype=bool)
        where = flat if ok is None else flat[ok]
        values.ravel()[where] = samples[start : start + len(ijk)]
        inside.ravel()[where] = True
        start += len(ijk)
        sections.append(Section(centre, n, e1, e2, pixel_mm, values, inside))
    return sections


def contour_plane(
    volume: Volume,
    frame: AnnulusFrame,
    height_mm: float,
    rules: Rules,
    pixel_mm: float = PIXEL_MM,
    level_passes: int = 2,
    section: Section | None = None,
) -> PlaneContour:
    """Contour the lumen on the plane ``h = height_mm`` (FWHM edge, no convex hull).

    ``pixel_mm`` is the reformat pixel (at most the annulus rule's, 0.25 mm, for a reported
    plane; the level sweep that only picks the planes uses a coarser one). ``level_passes``:
    how often the FWHM level is re-estimated from the tissue around the lumen found at the
    previous level (2 for a reported plane; the sweep, which only compares areas, uses 1).
    ``section``: the plane as sampled by :func:`_sample_planes` (sampled here when None).

    Raises
    ------
    _PlaneFailed
        The plane leaves the volume, has no contrast lumen on the axis, or the contour fails.
    """
    max_r = rules.number("annulus.max_radius_mm")
    pixel, coarse_pixel = _plane_pixels(rules, pixel_mm)
    coarse = section
    if coarse is None:
        coarse = _sample_planes(volume, frame, [height_mm], rules, coarse_pixel)[0]
    rr = radius_grid(coarse.values.shape[0], coarse_pixel)
    core = coarse.inside & (rr <= _LUMEN_CORE_RADIUS_MM)
    if core.sum() < 0.9 * np.count_nonzero(rr <= _LUMEN_CORE_RADIUS_MM):
        raise _PlaneFailed(f"the plane h = {height_mm:+.1f} mm lies outside the CT volume")
    lumen_hu = float(np.median(coarse.values[core]))
    if lumen_hu < rules.number("contrast.contrast_min_hu"):
        raise _PlaneFailed(
            f"no contrast lumen on the valve axis at h = {height_mm:+.1f} mm ({lumen_hu:.0f} HU)"
        )
    calcium_hu = lumen_hu + rules.number("threshold.lumen_plus_offset_hu")
    level = 0.5 * lumen_hu
    # The tissue ring and the 2 mm margin lie next to the lumen: both are computed on the
    # lumen's bounding box grown by a little more than their width (the same pixels).
    ring_margin = math.ceil(_TISSUE_RING_MM[1] / coarse_pixel) + 1
    for _ in range(level_passes):  # FWHM from the tissue just outside the wall
        mask = _lumen_mask(coarse, level, calcium_hu, max_r)
        box = mask_box(mask, ring_margin)
        outside = ndimage.distance_transform_edt(~mask[box]) * coarse_pixel
        values = coarse.values[box]
        ring = (
            coarse.inside[box]
            & (outside > _TISSUE_RING_MM[0])
            & (outside <= _TISSUE_RING_MM[1])
            & (values < level)
        )
        if not ring.any():
            raise _PlaneFailed("no tissue around the lumen")
        level = 0.5 * (lumen_hu + float(np.median(values[ring])))
    mask = _lumen_mask(coarse, level, calcium_hu, max_r)
    margin = radius_px(2.0, coarse_pixel)
    box = mask_box(mask, margin + 1)
    inside = coarse.inside[box]
    # (no pixel outside the volume near the lumen: nothing to grow into)
    if not inside.all() and np.any(dilate(mask[box], margin) & ~inside):
        raise _PlaneFailed(
            f"the lumen at h = {height_mm:+.1f} mm reaches the edge of the CT volume"
        )
    radii = _ray_radii(coarse, mask, level)
    if pixel < coarse_pixel:
        # the edge on each ray re-found on a profile sampled every pixel / 2 from the volume
        radii = _edge_near(
            volume, frame, height_mm, radii, level, calcium_hu, pixel / 2.0, coarse_pixel
        )
    radii = _low_pass(radii)
    contour = frame.to_lps(np.full(RAYS, height_mm), radii, np.degrees(_ANGLES_RAD))
    return PlaneContour(float(height_mm), radii, contour, level)


def _try_contour(
    volume: Volume,
    frame: AnnulusFrame,
    h: float,
    rules: Rules,
    pixel_mm: float = PIXEL_MM,
    level_passes: int = 2,
    section: Section | None = None,
) -> tuple[PlaneContour | None, str]:
    try:
        return contour_plane(volume, frame, h, rules, pixel_mm, level_passes, section), ""
    except (_PlaneFailed, QhullError) as exc:
        return None, str(exc)


def _waist(planes: dict[float, PlaneContour]) -> float | None:
    """The STJ as a waist: the narrowest plane of the first run of planes that are at least
    ``WAIST_MARGIN`` narrower than the sinus below them (in the sinus band, ``WAIST_SPAN_MM``
    or more below) and than the aorta above them (``WAIST_SPAN_MM`` or more above).

    Where the ascending aorta is wider than the junction (dilated, or a dissection), the
    smallest area up to +40 mm lies in the ascending aorta and the largest in the sinus band
    may too; the waist between the two bulges is the junction. None when there is no such waist
    (an ascending aorta no wider than the junction): section 4.2's rule then applies as is.
    """
    heights = sorted(planes)
    areas = {h: planes[h].area_mm2 for h in heights}
    run: list[float] = []
    for h in heights:
        below = [
            areas[b]
            for b in heights
            if SINUS_SEARCH_MM[0] <= b <= min(h - WAIST_SPAN_MM, SINUS_SEARCH_MM[1])
        ]
        above = [areas[a] for a in heights if a >= h + WAIST_SPAN_MM]
        narrow = (1.0 + WAIST_MARGIN) * areas[h]
        if below and above and max(below) >= narrow and max(above) >= narrow:
            run.append(h)
        elif run:
            break
    return None if not run else min(run, key=lambda h: areas[h])


def _choose_heights(
    planes: dict[float, PlaneContour], reasons: dict[float, str]
) -> tuple[float | None, float | None, float | None]:
    """The sinus, STJ and waist heights :func:`measure_root` would pick from these planes
    (None where it would report a failure), for the coarse-to-fine sweep."""
    heights = sorted(set(planes) | set(reasons))
    waist = _waist(planes)
    top = SINUS_SEARCH_MM[1] if waist is None else min(SINUS_SEARCH_MM[1], waist)
    in_sinus = [h for h in planes if SINUS_SEARCH_MM[0] <= h <= top]
    if any(h <= SINUS_SEARCH_MM[1] for h in reasons) or not in_sinus:
        return None, None, waist
    sinus = max(in_sinus, key=lambda h: planes[h].area_mm2)
    above = [h for h in heights if h > sinus]
    if waist is not None:
        return sinus, waist, waist
    if not above or any(h in reasons for h in above):
        return sinus, None, None
    areas = np.array([planes[h].area_mm2 for h in above])
    low = float(areas.min()) * (1.0 + STJ_AREA_TOLERANCE)
    return sinus, float(above[int(np.flatnonzero(areas <= low)[0])]), None


def _refine(
    volume: Volume, frame: AnnulusFrame, h: float, rules: Rules, coarse: PlaneContour
) -> PlaneContour:
    """The plane re-contoured at the reporting pixel (the sweep's contour if that fails)."""
    fine, why = _try_contour(volume, frame, h, rules)
    if fine is None:  # pragma: no cover - the coarse contour of the same plane succeeded
        log.warning("fine contour at h = %+.1f mm failed (%s); the sweep contour is kept", h, why)
        return coarse
    return fine


def measure_root(
    volume: Volume,
    frame: AnnulusFrame,
    landmarks: Landmarks,
    rules: Rules,
    contrast: bool,
    lvot_level_mm: float = LVOT_LEVEL_MM,
) -> tuple[RootMeasurements, tuple[str, ...]]:
    """LVOT, sinus, STJ and ascending aorta (clinical-model.md 4.2); measurements and warnings.

    Parameters
    ----------
    volume, frame, landmarks, rules
        The CT, the annulus frame, the landmarks (hinges, for the sinus heights) and the rules.
    contrast
        A contrast CTA; otherwise every number is None with the reason.
    lvot_level_mm
        Height of the LVOT plane (negative: below the annulus), mm.
    """
    if not contrast:
        return not_assessed(), (f"Root and LVOT {NON_CONTRAST_REASON}.",)
    warnings: list[str] = []

    lvot_values = _empty_lvot() | {"level_mm": lvot_level_mm}
    contour, why = _try_contour(volume, frame, lvot_level_mm, rules)
    if contour is None:
        lvot = RootPart(FAILED, lvot_values, f"LVOT contour failed: {why}")
    else:
        d_min, d_max = contour.calipers_mm()
        lvot_values |= {
            "area_mm2": contour.area_mm2,
            "perimeter_mm": contour.perimeter_mm,
            "d_min_mm": d_min,
            "d_max_mm": d_max,
            "d_area_mm": contour.d_area_mm,
        }
        lvot = RootPart(MEASURED, lvot_values, None, contour)

    planes: dict[float, PlaneContour] = {}
    reasons: dict[float, str] = {}

    def sweep(at: set[float]) -> None:
        heights = sorted(at)
        sections = _sample_planes(
            volume, frame, heights, rules, _plane_pixels(rules, SWEEP_PIXEL_MM)[1]
        )
        for h, section in zip(heights, sections, strict=True):
            c, why = _try_contour(
                volume, frame, h, rules, SWEEP_PIXEL_MM, SWEEP_LEVEL_PASSES, section
            )
            if c is None:
                reasons[h] = why
            else:
                planes[h] = c

    # Coarse to fine: every COARSE_STEP_MM first, then the SWEEP_STEP_MM neighbours of the
    # planes chosen, until the choice no longer changes (the rules then see every plane the
    # choice depends on at SWEEP_STEP_MM).
    sweep({float(h) for h in np.arange(SINUS_SEARCH_MM[0], STJ_TOP_MM + 1e-6, COARSE_STEP_MM)}
          | {ASCENDING_LEVEL_MM})  # fmt: skip
    for _ in range(6):
        chosen = [h for h in _choose_heights(planes, reasons) if h is not None]
        extra = (
            {
                round(h + d, 6)
                for h in chosen
                for d in (-SWEEP_STEP_MM, SWEEP_STEP_MM)
                if SINUS_SEARCH_MM[0] <= h + d <= STJ_TOP_MM
            }
            - set(planes)
            - set(reasons)
        )
        if not extra:
            break
        sweep(extra)
    heights = np.array(sorted(set(planes) | set(reasons)))

    waist = _waist(planes)
    top = SINUS_SEARCH_MM[1] if waist is None else min(SINUS_SEARCH_MM[1], waist)
    in_sinus = [h for h in planes if SINUS_SEARCH_MM[0] <= h <= top]
    sinus_missing = [h for h in heights if h <= SINUS_SEARCH_MM[1] and float(h) in reasons]
    sinus_plane: PlaneContour | None = None
    if sinus_missing:
        first = reasons[float(sinus_missing[0])]
        sinus = RootPart(
            FAILED,
            _empty_sinus(),
            f"sinus not measured: {len(sinus_missing)} planes between "
            f"+{SINUS_SEARCH_MM[0]:g} and +{SINUS_SEARCH_MM[1]:g} mm failed ({first})",
        )
    elif not in_sinus:  # pragma: no cover - the sweep covers the band
        sinus = RootPart(FAILED, _empty_sinus(), "sinus not measured: no plane in the band")
    else:
        best = max(in_sinus, key=lambda h: planes[h].area_mm2)
        sinus_plane = _refine(volume, frame, best, rules, planes[best])
        diameters = {
            cusp: sinus_plane.radius_at(frame.hinge_angles_deg[f"{cusp}_hinge"])
            + sinus_plane.radius_at(frame.hinge_angles_deg[f"{cusp}_hinge"] + 180.0)
            for cusp in CUSPS
        }
        sinus = RootPart(
            MEASURED,
            {"height_mm": best, "area_mm2": sinus_plane.area_mm2, "diameter_mm": diameters},
            None,
            sinus_plane,
        )

    stj_plane: PlaneContour | None = None
    if sinus_plane is None:
        stj = RootPart(FAILED, _empty_stj(), "STJ not measured: the sinus plane was not found")
    else:
        above = [h for h in heights if h > sinus_plane.height_mm]
        missing = [h for h in above if float(h) in reasons]
        if waist is not None:
            stj_plane = _refine(volume, frame, waist, rules, planes[waist])
            stj = RootPart(
                MEASURED,
                {
                    "height_mm": waist,
                    "diameter_mm": stj_plane.d_area_mm,
                    "area_mm2": stj_plane.area_mm2,
                },
                None,
                stj_plane,
            )
        elif missing:
            stj = RootPart(
                FAILED,
                _empty_stj(),
                f"STJ not measured: the plane at h = {missing[0]:+.1f} mm failed "
                f"({reasons[float(missing[0])]})",
            )
        else:
            areas = np.array([planes[float(h)].area_mm2 for h in above])
            low = float(areas.min()) * (1.0 + STJ_AREA_TOLERANCE)
            h_stj = float(above[int(np.flatnonzero(areas <= low)[0])])
            stj_plane = _refine(volume, frame, h_stj, rules, planes[h_stj])
            stj = RootPart(
                MEASURED,
                {
                    "height_mm": h_stj,
                    "diameter_mm": stj_plane.d_area_mm,
                    "area_mm2": stj_plane.area_mm2,
                },
                None,
                stj_plane,
            )

    asc_plane = planes.get(ASCENDING_LEVEL_MM)
    if asc_plane is not None:
        asc_plane = _refine(volume, frame, ASCENDING_LEVEL_MM, rules, asc_plane)
    if asc_plane is None:
        why = reasons.get(ASCENDING_LEVEL_MM, "not sampled")
        ascending = RootPart(FAILED, _empty_ascending(), f"ascending aorta not measured: {why}")
    else:
        ascending = RootPart(
            MEASURED,
            _empty_ascending()
            | {"diameter_mm": asc_plane.d_area_mm, "area_mm2": asc_plane.area_mm2},
            None,
            asc_plane,
        )

    sinus_heights: dict[str, float | None] = {}
    h_stj_value = stj.values.get("height_mm")
    for cusp in CUSPS:
        hinge = landmarks.get(f"{cusp}_hinge")
        if h_stj_value is None or hinge is None:
            sinus_heights[cusp] = None
        else:
            sinus_heights[cusp] = float(h_stj_value - float(frame.cylindrical(hinge)[0]))

    for part, name in (
        (lvot, "LVOT"),
        (sinus, "Sinus"),
        (stj, "STJ"),
        (ascending, "Ascending aorta"),
    ):
        if part.status != MEASURED:
            warnings.append(f"{name}: {part.reason}.")
    return RootMeasurements(lvot, sinus, stj, ascending, sinus_heights), tuple(warnings)
