"""The lumen contour on one plane parallel to the annulus (the root measurements of root.py).

On each plane the lumen is contoured like the annulus (clinical-model.md 4.1): the plane is
reformatted at <= 0.25 mm, the lumen connected to the axis is found and its edge placed half-way
between the lumen and the surrounding tissue (FWHM), sub-pixel, along 360 rays from the axis.
Unlike the annulus there is no convex hull (the septum may bulge into the LVOT). Thin dark lines
inside the lumen (open or closed leaflets) are bridged by a closing of 1 mm radius, and the
coronary arteries leaving the sinuses are cut off by an opening of 2.5 mm radius, so the contour
is the root wall; the lumen kept is the opened piece on the axis.

Cost (issue 11): the method above is computed with less work, not approximated. The planes of
one sweep pass are sampled in one trilinear pass, and only on the disc a contour reads
(:func:`sample_planes`); the closing, hole filling, opening, tissue ring and volume-edge margin
run on bounding boxes of the lumen instead of the whole plane, small discs as shifted copies of
the mask, and the ray geometry is computed once per pixel size. Each step returns the same
pixels as on the whole plane (the reasons are in the docstrings), so the contours are
unchanged.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from annulusview.core.aortic.annulus import polygon_calipers
from annulusview.core.aortic.frame import AnnulusFrame
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
from annulusview.core.rules import Rules
from annulusview.core.volume import Volume

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
#: A plane's HU is read to this distance beyond ``annulus.max_radius_mm`` (:func:`sample_planes`).
READ_MARGIN_MM = 3.0
ANGLES_RAD = np.radians(np.arange(RAYS) * 360.0 / RAYS)


class PlaneFailed(Exception):
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
        return np.stack([self.radii_mm * np.cos(ANGLES_RAD), self.radii_mm * np.sin(ANGLES_RAD)], 1)

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


def _low_pass(radii: FloatArray, harmonics: int = HARMONICS) -> FloatArray:
    spectrum = np.fft.rfft(radii)
    spectrum[harmonics + 1 :] = 0.0
    return np.asarray(np.fft.irfft(spectrum, n=len(radii)))


def lumen_mask(
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
        raise PlaneFailed("the lumen does not reach the valve axis")
    bridge = radius_px(_LEAFLET_BRIDGE_MM, pixel)
    crop = mask_box(raw, bridge + 1)
    raw = raw[crop]
    closed = erode(dilate(raw, bridge), bridge) | raw
    labels, _ = label4(closed)
    c = (size - 1) // 2
    axis_window = within(crop, (slice(c - 4, c + 5), slice(c - 4, c + 5)))
    on_axis = _label_on_axis(labels[axis_window])
    if on_axis == 0:
        raise PlaneFailed("the lumen does not reach the valve axis")
    component = labels == on_axis
    box = mask_box(component, 1)
    filled = fill_holes(component[box])
    cut = radius_px(_BRANCH_CUT_MM, pixel)
    opened = dilate(erode(filled, cut), cut)
    labels, count = label4(opened)
    if count == 0:
        raise PlaneFailed("the lumen is thinner than the coronary cut-off")
    # The piece on the axis: the opening can split a lumen that leaked through a neck into a
    # neighbouring cavity (the LVOT into the left atrium across a thin mitral leaflet), and
    # the cavity is then the larger piece. Off the axis (a leaflet over it), the largest.
    whole = np.zeros(closed.shape, dtype=np.int32)
    whole[box] = labels
    keep = _label_on_axis(whole[axis_window])
    if keep == 0:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        keep = int(np.argmax(sizes))
    mask = np.zeros(section.values.shape, dtype=bool)
    mask[crop][box] = labels == keep
    return mask


def _label_on_axis(window: npt.NDArray[np.int32]) -> int:
    """The label most common in the window around the axis, 0 when only background is there."""
    hits = window[window > 0]
    return int(np.bincount(hits).argmax()) if hits.size else 0


@functools.lru_cache(maxsize=8)
def _ray_grid(size: int, pixel_mm: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Radii (mm) and the fractional (row, col) of the ray samples of :func:`_ray_radii` on a
    ``size`` x ``size`` section: every half pixel from the axis to the section edge, on each
    of the RAYS rays. The same for every plane of one pixel, so computed once."""
    half = (size - 1) / 2 * pixel_mm
    rho = np.arange(0.0, half, pixel_mm / 2)
    x = rho[None, :] * np.cos(ANGLES_RAD)[:, None]
    y = rho[None, :] * np.sin(ANGLES_RAD)[:, None]
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
        raise PlaneFailed("the valve axis is not in the lumen on every ray")
    if np.any(first == len(rho) - 1):
        raise PlaneFailed("the lumen reaches the edge of the reformatted plane")
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
    theta = ANGLES_RAD[:, None]
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


def plane_pixels(rules: Rules, pixel_mm: float) -> tuple[float, float]:
    """The contour pixel and the (coarser or equal) pixel the plane is sampled and segmented at,
    mm, for a requested ``pixel_mm``."""
    # A reported plane uses the annulus reformat pixel (at most 0.25 mm); the sweep its own.
    reported = min(rules.number("annulus.reformat_pixel_mm"), PIXEL_MM)
    pixel = reported if pixel_mm <= PIXEL_MM else pixel_mm
    # The FWHM level is estimated on a plane sampled at LEVEL_PIXEL_MM at most (a median of the
    # tissue ring, which a finer pixel does not change), the contour on the fine one.
    return pixel, max(pixel, LEVEL_PIXEL_MM)


def sample_planes(
    volume: Volume, frame: AnnulusFrame, heights: list[float], rules: Rules, pixel_mm: float
) -> list[Section]:
    """The sections ``h = heights`` (``sample_section`` of each: the same samples), through one
    trilinear pass for all of them and only on the disc the contour reads.

    A contour reads a plane's HU no farther than ``READ_MARGIN_MM`` beyond the largest lumen
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
    disc = radius_grid(count, pixel_mm) <= max_r + READ_MARGIN_MM
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
    ``section``: the plane as sampled by :func:`sample_planes` (sampled here when None).

    Raises
    ------
    PlaneFailed
        The plane leaves the volume, has no contrast lumen on the axis, or the contour fails.
    """
    max_r = rules.number("annulus.max_radius_mm")
    pixel, coarse_pixel = plane_pixels(rules, pixel_mm)
    coarse = section
    if coarse is None:
        coarse = sample_planes(volume, frame, [height_mm], rules, coarse_pixel)[0]
    rr = radius_grid(coarse.values.shape[0], coarse_pixel)
    core = coarse.inside & (rr <= _LUMEN_CORE_RADIUS_MM)
    if core.sum() < 0.9 * np.count_nonzero(rr <= _LUMEN_CORE_RADIUS_MM):
        raise PlaneFailed(f"the plane h = {height_mm:+.1f} mm lies outside the CT volume")
    lumen_hu = float(np.median(coarse.values[core]))
    if lumen_hu < rules.number("contrast.contrast_min_hu"):
        raise PlaneFailed(
            f"no contrast lumen on the valve axis at h = {height_mm:+.1f} mm ({lumen_hu:.0f} HU)"
        )
    calcium_hu = lumen_hu + rules.number("threshold.lumen_plus_offset_hu")
    level = 0.5 * lumen_hu
    # The tissue ring and the 2 mm margin lie next to the lumen: both are computed on the
    # lumen's bounding box grown by a little more than their width (the same pixels).
    ring_margin = math.ceil(_TISSUE_RING_MM[1] / coarse_pixel) + 1
    for _ in range(level_passes):  # FWHM from the tissue just outside the wall
        mask = lumen_mask(coarse, level, calcium_hu, max_r)
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
            raise PlaneFailed("no tissue around the lumen")
        level = 0.5 * (lumen_hu + float(np.median(values[ring])))
    mask = lumen_mask(coarse, level, calcium_hu, max_r)
    margin = radius_px(2.0, coarse_pixel)
    box = mask_box(mask, margin + 1)
    inside = coarse.inside[box]
    # (no pixel outside the volume near the lumen: nothing to grow into)
    if not inside.all() and np.any(dilate(mask[box], margin) & ~inside):
        raise PlaneFailed(f"the lumen at h = {height_mm:+.1f} mm reaches the edge of the CT volume")
    radii = _ray_radii(coarse, mask, level)
    if pixel < coarse_pixel:
        # the edge on each ray re-found on a profile sampled every pixel / 2 from the volume
        radii = _edge_near(
            volume, frame, height_mm, radii, level, calcium_hu, pixel / 2.0, coarse_pixel
        )
    radii = _low_pass(radii)
    contour = frame.to_lps(np.full(RAYS, height_mm), radii, np.degrees(ANGLES_RAD))
    return PlaneContour(float(height_mm), radii, contour, level)


def try_contour(
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
    except (PlaneFailed, QhullError) as exc:
        return None, str(exc)
