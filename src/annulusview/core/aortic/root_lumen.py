"""Contrast lumen of the aortic root: blood-pool attenuation and oblique cross-sections.

The blood pool is read from the volume's histogram (no landmarks are needed yet); the lumen is
the voxels between a threshold halfway from soft tissue to blood and a calcium threshold above
the blood. Cross-sections are sampled on oblique planes from a view of the volume around them,
so no pass ever converts the whole volume to floating point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.arrays import FloatArray
from annulusview.core.errors import InputError
from annulusview.core.rules import Rules
from annulusview.core.volume import Volume

#: A root analysis needs at least this much of the chest in every direction (mm).
MIN_EXTENT_MM = 50.0
#: Soft-tissue attenuation the lumen edge is taken halfway from (myocardium, vessel wall).
SOFT_TISSUE_HU = 80.0
#: Contrast blood must fill at least this volume (mL) to be a blood pool and not noise.
MIN_BLOOD_POOL_ML = 10.0
_HISTOGRAM_TOP_HU = 900.0
_HINT = "Open a contrast-enhanced cardiac CTA, or place the landmarks by hand."


@dataclass(frozen=True)
class BloodPool:
    """Attenuation of the contrast-filled blood (HU) and the lumen thresholds derived from it."""

    blood_hu: float
    blood_sd_hu: float
    lumen_min_hu: float
    calcium_hu: float

    def lumen(self, hu: npt.NDArray[np.floating]) -> npt.NDArray[np.bool_]:
        """Lumen voxels: contrast blood below the calcium threshold."""
        return np.asarray((hu >= self.lumen_min_hu) & (hu < self.calcium_hu))


def check_volume(volume: Volume) -> None:
    """Refuse volumes that cannot hold an aortic root (empty, flat or too small), fast."""
    if volume.hu.size == 0:
        raise InputError("The volume is empty: no aortic root can be found.", _HINT)
    extent = np.array(volume.shape, dtype=np.float64) * np.array(volume.spacing_mm)
    if np.any(extent < MIN_EXTENT_MM):
        raise InputError(
            f"The volume covers only {extent.min():.0f} mm in one direction; an aortic root "
            f"needs at least {MIN_EXTENT_MM:.0f} mm of the chest in every direction.",
            _HINT,
        )
    step = _stride(volume)
    sub = volume.hu[::step, ::step, ::step]
    if int(sub.max()) - int(sub.min()) < 1:
        raise InputError("The volume holds a single value: there is no image to analyse.", _HINT)


def _stride(volume: Volume, samples: float = 2.0e6) -> int:
    return max(1, round((volume.hu.size / samples) ** (1.0 / 3.0)))


def blood_pool(volume: Volume, rules: Rules) -> BloodPool:
    """The contrast blood pool, from the histogram of a subsample of the volume.

    Raises
    ------
    InputError
        No peak of contrast blood at or above ``contrast.contrast_min_hu`` (a non-contrast or
        poorly opacified scan).
    """
    step = _stride(volume)
    sub = np.asarray(volume.hu[::step, ::step, ::step])
    contrast_min = rules.number("contrast.contrast_min_hu")
    bins = np.arange(contrast_min - 100.0, _HISTOGRAM_TOP_HU + 150.0, 10.0)
    counts, edges = np.histogram(sub, bins=bins)
    smooth = ndimage.gaussian_filter1d(counts.astype(np.float64), 2.0)
    centres = 0.5 * (edges[:-1] + edges[1:])
    search = (centres >= contrast_min) & (centres <= _HISTOGRAM_TOP_HU)
    idx = np.flatnonzero(search)
    peak = int(idx[np.argmax(smooth[idx])])
    voxel_ml = volume.voxel_volume_mm3 * step**3 / 1000.0
    blood_hu = float(centres[peak])
    near = (sub >= blood_hu - 100.0) & (sub <= blood_hu + 100.0)
    pool_ml = float(np.count_nonzero(near)) * voxel_ml
    # A peak and not a tail: the density at the mode must stand clearly above its flanks.
    flank_lo = smooth[max(peak - 15, 0)]
    flank_hi = smooth[min(peak + 15, len(smooth) - 1)]
    is_peak = (
        peak not in (idx[0], idx[-1])
        and smooth[peak] > 1.5 * flank_lo
        and smooth[peak] > 1.5 * flank_hi
    )
    if not is_peak or pool_ml < MIN_BLOOD_POOL_ML:
        raise InputError(
            "No contrast-filled blood pool was found (no histogram peak at or above "
            f"{contrast_min:.0f} HU): this does not look like a contrast CTA, so the aortic root "
            "lumen cannot be segmented.",
            _HINT,
        )
    half = smooth[peak] / 2.0
    above = np.flatnonzero(smooth[peak:] < half)
    below = np.flatnonzero(smooth[: peak + 1][::-1] < half)
    width = ((above[0] if above.size else 10) + (below[0] if below.size else 10)) * 10.0
    sd = max(width / 2.355, 15.0)
    offset = rules.number("threshold.lumen_plus_offset_hu")
    return BloodPool(
        blood_hu=blood_hu,
        blood_sd_hu=sd,
        lumen_min_hu=0.5 * (blood_hu + SOFT_TISSUE_HU),
        calcium_hu=blood_hu + max(offset, 3.0 * sd),
    )


def in_plane_basis(
    normal: FloatArray, hint: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Unit ``(e1, e2)`` with ``e2 = normal x e1``; ``e1`` is ``hint`` projected into the plane."""
    n = normal / np.linalg.norm(normal)
    candidates = [hint] if hint is not None else []
    candidates += [np.array([0.0, -1.0, 0.0]), np.array([1.0, 0.0, 0.0])]
    for c in candidates:
        e1 = c - (c @ n) * n
        if np.linalg.norm(e1) > 0.3:
            e1 = e1 / np.linalg.norm(e1)
            return e1, np.cross(n, e1)
    raise ValueError("degenerate normal")  # pragma: no cover - the two fall-backs are orthogonal


@dataclass(frozen=True, eq=False)
class Section:
    """HU on a square oblique plane: ``values[row, col]`` at ``centre + x e1 + y e2``."""

    centre: FloatArray
    normal: FloatArray
    e1: FloatArray
    e2: FloatArray
    step_mm: float
    values: FloatArray
    inside: npt.NDArray[np.bool_]

    @property
    def half_mm(self) -> float:
        return (self.values.shape[0] - 1) / 2 * self.step_mm

    def point(self, x_mm: float, y_mm: float) -> FloatArray:
        return np.asarray(self.centre + x_mm * self.e1 + y_mm * self.e2)


def plane_grid(
    volume: Volume, normal: FloatArray, e1: FloatArray, half_mm: float, step_mm: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """A square plane's frame and grid: unit ``n``, in-plane ``e1`` (made normal to ``n``) and
    ``e2 = n x e1``, the sample offsets ``axis`` (mm, centred) and the voxel-index steps of
    ``e1`` and ``e2`` (the plane maps linearly to indices)."""
    n = normal / np.linalg.norm(normal)
    e1 = e1 - (e1 @ n) * n
    e1 = e1 / np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    count = round(2 * half_mm / step_mm) + 1
    axis = (np.arange(count) - (count - 1) / 2) * step_mm
    to_index = np.linalg.inv(volume.affine)
    step1 = np.asarray(to_index[:3, :3] @ e1, dtype=np.float64)
    step2 = np.asarray(to_index[:3, :3] @ e2, dtype=np.float64)
    return (
        np.asarray(n, dtype=np.float64),
        np.asarray(e1, dtype=np.float64),
        np.asarray(e2, dtype=np.float64),
        np.asarray(axis, dtype=np.float64),
        step1,
        step2,
    )


def sample_section(
    volume: Volume,
    centre: FloatArray,
    normal: FloatArray,
    e1: FloatArray,
    half_mm: float,
    step_mm: float,
) -> Section:
    """Trilinear samples of the volume on the plane through ``centre`` normal to ``normal``."""
    n, e1, e2, axis, step1, step2 = plane_grid(volume, normal, e1, half_mm, step_mm)
    # The plane maps linearly to voxel indices: index of the centre plus the in-plane steps.
    to_index = np.linalg.inv(volume.affine)
    origin_ijk = to_index[:3, :3] @ np.asarray(centre, dtype=np.float64) + to_index[:3, 3]
    ijk = origin_ijk + axis[None, :, None] * step1 + axis[:, None, None] * step2  # [y, x, 3]
    shape = np.array(volume.shape[::-1])  # (i, j, k) sizes
    # the plane maps to a parallelogram of indices: inside the volume's box when its corners are
    corners = ijk[[0, 0, -1, -1], [0, -1, 0, -1]]
    if np.all((corners >= -0.5) & (corners <= shape - 0.5)):
        inside = np.ones(ijk.shape[:2], dtype=bool)
    else:
        inside = np.all((ijk >= -0.5) & (ijk <= shape - 0.5), axis=-1)
    if inside.all():
        values = trilinear(volume.hu, ijk.reshape(-1, 3)).reshape(inside.shape)
    else:
        values = np.full(inside.shape, -1000.0)
        if inside.any():
            values[inside] = trilinear(volume.hu, ijk[inside])
    return Section(np.asarray(centre, dtype=np.float64), n, e1, e2, step_mm, values, inside)


def trilinear(hu: npt.NDArray[Any], ijk: FloatArray) -> FloatArray:
    """Trilinear samples of ``hu[k, j, i]`` at fractional ``(i, j, k)`` (edges clamped).

    Reads only the neighbours of each point (``map_coordinates`` of order 1 on the volume as
    stored), so the cost follows the number of samples, not the size of the volume, and no
    crop or floating-point copy of a large volume is ever made.
    """
    coords = np.asarray(ijk, dtype=np.float64)[:, ::-1].T  # (k, j, i) rows
    return np.asarray(
        ndimage.map_coordinates(hu, coords, order=1, mode="nearest", output=np.float64)
    )


def central_lumen(
    section: Section, pool: BloodPool, search_mm: float = 6.0
) -> npt.NDArray[np.bool_] | None:
    """The filled lumen component at (or nearest within ``search_mm`` of) the section centre."""
    mask = pool.lumen(section.values) & section.inside
    labels, count = ndimage.label(mask)
    if count == 0:
        return None
    c = (section.values.shape[0] - 1) // 2
    label = int(labels[c, c])
    if label == 0:
        r = round(search_mm / section.step_mm)
        window = labels[c - r : c + r + 1, c - r : c + r + 1]
        hits = np.argwhere(window > 0)
        if hits.size == 0:
            return None
        d = np.hypot(hits[:, 0] - r, hits[:, 1] - r)
        a, b = hits[int(np.argmin(d))]
        label = int(window[a, b])
    component = np.asarray(labels == label)
    # Holes lie inside the component's bounding box: fill them there (same result, less work).
    box = _box(ndimage.find_objects(labels, max_label=label)[label - 1], component.shape, 1)
    component[box] = ndimage.binary_fill_holes(component[box])
    return component


def _box(box: tuple[slice, ...] | None, shape: tuple[int, ...], margin: int) -> tuple[slice, ...]:
    """A bounding box grown by ``margin`` pixels, clipped to the array."""
    if box is None:
        return tuple(slice(0, n) for n in shape)
    return tuple(
        slice(max(b.start - margin, 0), min(b.stop + margin, n))
        for b, n in zip(box, shape, strict=True)
    )


def without_branches(
    component: npt.NDArray[np.bool_], step_mm: float, radius_mm: float = 2.5
) -> npt.NDArray[np.bool_]:
    """Morphological opening by a disc: cuts tubes thinner than ``radius_mm`` (coronary
    arteries) off the root lumen, keeping the part at the section centre."""
    r = max(1, round(radius_mm / step_mm))
    a = np.arange(-r, r + 1)
    disc = np.hypot(a[:, None], a[None, :]) <= r
    # The opening stays inside the component: compute it on its bounding box (same result).
    rows, cols = np.nonzero(component.any(axis=1))[0], np.nonzero(component.any(axis=0))[0]
    if rows.size == 0:
        return component
    box = _box(
        (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)),
        component.shape,
        r + 1,
    )
    opened = np.zeros_like(component)
    opened[box] = ndimage.binary_opening(component[box], structure=disc)
    labels, count = ndimage.label(opened)
    if count <= 1:
        return np.asarray(opened if opened.any() else component)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(labels == int(np.argmax(sizes)))


def ray_radii(
    section: Section,
    component: npt.NDArray[np.bool_],
    threshold_hu: float,
    angles_rad: FloatArray,
    origin_xy: tuple[float, float] = (0.0, 0.0),
) -> FloatArray:
    """Distance (mm) from ``origin_xy`` to the component's first exit along each ray.

    The edge is placed between the last inside and first outside sample where the HU profile
    crosses ``threshold_hu`` (sub-sample); a ray that reaches the section border reads the
    border distance.
    """
    half = section.half_mm
    step = section.step_mm / 2
    rho = np.arange(0.0, 2 * half, step)
    cos, sin = np.cos(angles_rad), np.sin(angles_rad)
    size = component.shape[0]

    def grid(rays: npt.NDArray[np.intp], samples: slice) -> tuple[FloatArray, FloatArray]:
        """Fractional (column, row) of the samples of these rays."""
        r = rho[samples][None, :]
        col = (origin_xy[0] + r * cos[rays, None] + half) / section.step_mm
        row = (origin_xy[1] + r * sin[rays, None] + half) / section.step_mm
        return col, row

    def outside(col: FloatArray, row: FloatArray) -> npt.NDArray[np.bool_]:
        valid = (col >= 0) & (col <= size - 1) & (row >= 0) & (row <= size - 1)
        ci = np.clip(np.rint(col).astype(int), 0, size - 1)
        ri = np.clip(np.rint(row).astype(int), 0, size - 1)
        return np.asarray(~(component[ri, ci] & valid))

    # The first exit of every ray: first over the samples nearer than the section's half width
    # (where almost every lumen ends), then the rest of the rays that had not left it there.
    rays = np.arange(len(angles_rad))
    near = min(len(rho), int(half / step))
    first_out = np.zeros(len(rays), dtype=np.intp)
    out = outside(*grid(rays, slice(0, near)))
    left = out.any(axis=1)
    first_out[left] = np.argmax(out[left], axis=1)
    stay = rays[~left]
    if stay.size:
        out = outside(*grid(stay, slice(near, len(rho))))
        out[:, -1] = True  # a ray that reaches the end reads the last sample
        first_out[stay] = near + np.argmax(out, axis=1)
    # HU only at the last inside and first outside sample of each ray.
    before = np.maximum(first_out - 1, 0)
    pick_rows = np.concatenate(
        [origin_xy[1] + rho[before] * sin, origin_xy[1] + rho[first_out] * sin]
    )
    pick_cols = np.concatenate(
        [origin_xy[0] + rho[before] * cos, origin_xy[0] + rho[first_out] * cos]
    )
    pick_rows = (pick_rows + half) / section.step_mm
    pick_cols = (pick_cols + half) / section.step_mm
    vals = ndimage.map_coordinates(section.values, [pick_rows, pick_cols], order=1, mode="nearest")
    v0, v1 = vals[: len(rays)], vals[len(rays) :]
    crossing = (v0 > threshold_hu) & (threshold_hu > v1)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(crossing, (v0 - threshold_hu) / (v0 - v1), 0.5)
    radii = rho[before] + np.clip(frac, 0.0, 1.0) * step
    return np.asarray(np.where(first_out == 0, 0.0, radii))


def circular_median(values: FloatArray, width: int) -> FloatArray:
    """Median filter of a periodic 1-D profile (``width`` samples)."""
    return np.asarray(ndimage.median_filter(values, size=width, mode="wrap"))


def outer_envelope(radii: FloatArray, width: int) -> FloatArray:
    """Circular maximum filter: removes inward dents (calcium, its tissue rim, a leaflet
    touching the wall) narrower than ``width`` samples, keeps the wide sinus lobes."""
    return np.asarray(ndimage.maximum_filter1d(radii, size=width, mode="wrap"))


def lobe_amplitude(radii: FloatArray) -> float:
    """Amplitude (mm) of the three-fold harmonic of a periodic radius profile."""
    angles = np.linspace(0.0, 2 * math.pi, len(radii), endpoint=False)
    return float(abs(complex(np.sum(radii * np.exp(-3j * angles))))) * 2 / len(radii)


def boundary_centre(radii: FloatArray, angles_rad: FloatArray) -> tuple[float, float]:
    """Area centroid (mm, in-plane) of the star polygon with these ray lengths."""
    x, y = radii * np.cos(angles_rad), radii * np.sin(angles_rad)
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    area = 0.5 * float(np.sum(cross))
    if abs(area) < 1e-9:
        return 0.0, 0.0
    cx = float(np.sum((x + x1) * cross)) / (6 * area)
    cy = float(np.sum((y + y1) * cross)) / (6 * area)
    return cx, cy


def ellipse_fit(radii: FloatArray, angles_rad: FloatArray) -> tuple[float, float, float, float]:
    """``(cx, cy, a, b)`` (mm) of the least-squares ellipse through the ray end points, leaving
    out dents (rays more than 1 mm inside the outer envelope) and branches (rays far longer than
    the median: a coronary, or a chamber the lumen runs into)."""
    median = float(np.median(radii))
    clipped = np.minimum(radii, median + max(3.0, 0.25 * median))
    envelope = outer_envelope(clipped, max(3, len(radii) // 7))
    keep = (radii >= envelope - 1.0) & (radii <= median + max(3.0, 0.25 * median))
    if np.count_nonzero(keep) < 6:
        return 0.0, 0.0, median, median
    x, y = radii[keep] * np.cos(angles_rad[keep]), radii[keep] * np.sin(angles_rad[keep])
    design = np.stack([x * x, x * y, y * y, x, y], axis=1)
    coef, *_ = np.linalg.lstsq(design, np.ones_like(x), rcond=None)
    a2, b2, c2, d2, e2 = coef
    m = np.array([[a2, b2 / 2], [b2 / 2, c2]])
    try:
        centre = np.linalg.solve(2 * m, -np.array([d2, e2]))
    except np.linalg.LinAlgError:
        centre = np.zeros(2)
    k = 1 + float(centre @ m @ centre)
    ev = np.linalg.eigvalsh(m)
    if np.any(ev <= 0) or k <= 0:
        mean = float(np.mean(radii))
        return 0.0, 0.0, mean, mean
    axes = np.sqrt(k / ev)
    return float(centre[0]), float(centre[1]), float(axes.max()), float(axes.min())


def ellipse_perimeter(a: float, b: float) -> float:
    """Ramanujan's second approximation (mm)."""
    h = ((a - b) / (a + b)) ** 2
    return math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))
