"""Straight-axis sections of the aortic root: the polar radius profile ``r(h, theta)``.

Sections perpendicular to the root axis are re-centred on the lumen (the first harmonic of a
low-order Fourier fit of its outline that leaves out dents and branches, see
:func:`section_centre`); the lumen with its coronary branches cut off (an opening)
gives the wall, the raw lumen the coronary tubes. From the profile: the sinus signature (the
three-fold harmonic of the outer envelope), the sinus onset, the three lobes and the ostia.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from annulusview.core.aortic.root_lumen import (
    BloodPool,
    central_lumen,
    circular_median,
    in_plane_basis,
    lobe_amplitude,
    outer_envelope,
    ray_radii,
    sample_section,
    trilinear,
    without_branches,
)
from annulusview.core.arrays import FloatArray
from annulusview.core.errors import InputError
from annulusview.core.progress import CancelToken, check
from annulusview.core.volume import Volume

#: A ray that leaves the sinus this far (mm) beyond its smoothed wall runs into a coronary.
OSTIUM_EXCESS_MM = 4.0
RAYS = 180
ANGLES = np.linspace(0.0, 2 * math.pi, RAYS, endpoint=False)
H_STEP_MM = 0.5
SECTION_HALF_MM = 30.0
SECTION_STEP_MM = 0.5
#: Sections are read smoothed by a gaussian of this SD (mm) against image noise.
SMOOTH_MM = 0.5
_AXIS = (
    np.arange(round(2 * SECTION_HALF_MM / SECTION_STEP_MM) + 1)
    - round(SECTION_HALF_MM / SECTION_STEP_MM)
) * SECTION_STEP_MM
_DISC = np.hypot(_AXIS[:, None], _AXIS[None, :]) <= 20.0  # the root and its wall
#: What to do when no confident proposal can be made.
MANUAL_HINT = "Place the landmarks by hand."
#: A tissue septum this thin (mm) across the root axis, with blood on both sides, is a closed
#: valve's leaflets (a wall or a chamber boundary is thicker and has no blood beyond it).
LEAFLET_SEPTUM_MAX_MM = 4.0
#: Blood needed on each side of that septum along the axis (mm).
LEAFLET_BLOOD_SIDE_MM = 3.0
_AXIS_STEP_MM = 0.25


@dataclass(frozen=True, eq=False)
class RootProfile:
    """Straight-axis sections of the root: ``radii[h, theta]`` around ``centres[h]``."""

    heights: FloatArray
    centres: FloatArray
    radii: FloatArray  # raw ray lengths (coronaries show as spikes)
    smooth: FloatArray  # the lumen with its coronary branches cut off (opening), median 10 deg
    e1: FloatArray
    e2: FloatArray
    normal: FloatArray

    @property
    def lobe_amplitude(self) -> FloatArray:
        """Amplitude (mm) of the three-fold harmonic of the outer envelope at each height."""
        return np.array([lobe_amplitude(outer_envelope(clip_branches(r), 25)) for r in self.smooth])

    def direction(self, theta_rad: float) -> FloatArray:
        return np.asarray(math.cos(theta_rad) * self.e1 + math.sin(theta_rad) * self.e2)


def clip_branches(radii: FloatArray) -> FloatArray:
    """Rays cut at the median + 25 % (at least 3 mm): a chamber the lumen runs into below the
    root must not read as a sinus lobe."""
    median = float(np.median(radii))
    return np.minimum(radii, median + max(3.0, 0.25 * median))


def sample_profile(
    volume: Volume,
    pool: BloodPool,
    origin: FloatArray,
    normal: FloatArray,
    heights: FloatArray,
    cancel: CancelToken | None,
) -> RootProfile:
    e1, e2 = in_plane_basis(normal)
    count = len(heights)
    centres = np.zeros((count, 3))
    raw = np.zeros((count, RAYS))
    smooth = np.zeros((count, RAYS))
    lost = 0
    start = int(np.argmin(np.abs(heights)))
    # Sweep up, then down, from the section nearest the origin (in the root, where the lumen
    # is clearest), carrying each section's in-plane offset to the next one.
    sweeps = (range(start, count), range(start - 1, -1, -1))
    for sweep in sweeps:
        offset = np.zeros(3)
        neighbour: int | None = None
        for k in sweep:
            check(cancel)
            h = float(heights[k])
            centre = origin + h * normal + offset
            section = sample_section(volume, centre, normal, e1, SECTION_HALF_MM, SECTION_STEP_MM)
            # image noise (a low-dose CTA: SD 30 HU and more) breaks the lumen's edge into
            # single-pixel notches that end rays early: the section is read smoothed over
            # SMOOTH_MM, about the scanner's own resolution
            section = replace(
                section,
                values=ndimage.gaussian_filter(section.values, SMOOTH_MM / SECTION_STEP_MM),
            )
            in_view = section.inside[_DISC].mean() >= 0.97
            if not in_view and abs(h) <= 12.0:
                raise InputError(
                    "The aortic root reaches the edge of the volume: the root is outside the "
                    "field of view.",
                    "Reconstruct a field of view that holds the whole root and the LVOT.",
                )
            comp = central_lumen(section, pool) if in_view else None
            fit = None
            if comp is not None:
                core = without_branches(comp, SECTION_STEP_MM)
                r = ray_radii(section, core, pool.lumen_min_hu, ANGLES)
                cx, cy = section_centre(r)
                if math.hypot(cx, cy) <= 3.0:  # a centre that jumps is a chamber, not the root
                    fit = (comp, core, cx, cy)
            if fit is None:
                lost += 1
                if lost > count // 4:
                    raise InputError(
                        "The root lumen was lost between the LVOT and the sinuses: no "
                        "confident answer.",
                        MANUAL_HINT,
                    )
                centres[k] = centre
                if neighbour is not None:
                    raw[k], smooth[k] = raw[neighbour], smooth[neighbour]
                continue
            comp, core, cx, cy = fit
            centres[k] = section.point(cx, cy)
            offset = centres[k] - origin - h * normal
            offset -= (offset @ normal) * normal
            raw[k] = ray_radii(section, comp, pool.lumen_min_hu, ANGLES, (cx, cy))
            smooth[k] = circular_median(
                ray_radii(section, core, pool.lumen_min_hu, ANGLES, (cx, cy)), 5
            )
            neighbour = k
    return RootProfile(np.asarray(heights), centres, raw, smooth, e1, e2, normal)


def section_centre(radii: FloatArray) -> tuple[float, float]:
    """In-plane offset (mm) of a root section's centre from the point its rays start at.

    The outline is modelled as a low-order Fourier series of the ray lengths,
    ``r(theta) = c0 + x cos(theta) + y sin(theta) + (2nd harmonic: the oval) + (3rd: the three
    sinus lobes)``. For an offset small against the radius the first harmonic ``(x, y)`` is the
    offset of the outline's centre whatever its oval and its lobes (the harmonics are
    orthogonal). The fit is by least squares without the rays that leave the model: branches
    (more than 2 mm beyond it, or far longer than the median: a coronary, a chamber) and dents
    (more than 1 mm inside it: calcium and its tissue rim), found by refitting.

    A least-squares ellipse through the ray ends is no centre for a three-lobed sinus section:
    there it was pulled up to 3 mm toward a lobe, and, carried to the next section, that error
    lost the lumen for every section beyond it.
    """
    median = float(np.median(radii))
    keep = radii <= median + max(3.0, 0.25 * median)
    design = np.stack(
        [np.ones_like(ANGLES)] + [f(k * ANGLES) for k in (1, 2, 3) for f in (np.cos, np.sin)],
        axis=1,
    )
    coef: FloatArray = np.zeros(design.shape[1])
    for _ in range(4):
        if np.count_nonzero(keep) < 2 * design.shape[1]:
            break
        coef = np.asarray(np.linalg.lstsq(design[keep], radii[keep], rcond=None)[0], np.float64)
        residual = radii - design @ coef
        keep = (residual >= -1.0) & (residual <= 2.0)
    return float(coef[1]), float(coef[2])


def leaflets_across_axis(
    volume: Volume,
    pool: BloodPool,
    origin: FloatArray,
    normal: FloatArray,
    below_mm: float = 22.0,
    above_mm: float = 4.0,
) -> float | None:
    """Height (mm along ``normal`` from ``origin``) where closed leaflets cross the root axis.

    Cue: in an open valve the axis from the sinus down into the LVOT runs in contrast blood all
    the way; closed leaflets span the whole lumen, so any line along the root crosses them as a
    thin septum of tissue below the lumen threshold with blood on both sides. The HU along the
    axis is median-filtered over 0.75 mm so that a noisy sample is not a septum.

    Returns
    -------
    float or None
        The height of the septum's darkest sample, or None when the axis is clear.
    """
    heights = np.arange(-below_mm, above_mm + 1e-9, _AXIS_STEP_MM)
    points = origin + heights[:, None] * normal
    hu = ndimage.median_filter(trilinear(volume.hu, volume.lps_to_index(points)), 3)
    blood = hu >= pool.lumen_min_hu
    side = round(LEAFLET_BLOOD_SIDE_MM / _AXIS_STEP_MM)
    labels, count = ndimage.label(~blood)
    for lab in range(1, count + 1):
        run = np.flatnonzero(labels == lab)
        a, b = int(run[0]), int(run[-1]) + 1
        thin = (b - a) * _AXIS_STEP_MM <= LEAFLET_SEPTUM_MAX_MM
        inside = a >= side and b + side <= len(blood)
        if thin and inside and blood[a - side : a].all() and blood[b : b + side].all():
            return float(heights[run[np.argmin(hu[run])]])
    return None


def fit_axis(points: FloatArray, toward: FloatArray) -> FloatArray:
    centre = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centre, full_matrices=False)
    axis = vt[0]
    return np.asarray(axis if axis @ toward > 0 else -axis)


def sinus_onset(heights: FloatArray, amplitude: FloatArray, peak: int) -> tuple[float, float]:
    """Height where the lobes start (sqrt of the amplitude extrapolated to 0 below the peak),
    and the fit's RMS residual (mm^0.5).

    The fit uses the falling flank below the sinus plateau only: it ends where the amplitude
    stops falling (its floor), because below that lie dents (leaflet calcium in the lobes) and
    the LVOT, whose samples would flatten the fit and push the onset far too low."""
    amplitude = ndimage.gaussian_filter1d(amplitude, 1.0)
    top = amplitude[peak]
    below = np.arange(peak, -1, -1)
    # stay on the contiguous flank just below the peak
    chosen: list[int] = []
    for i in below:
        if amplitude[i] > 0.7 * top:
            if chosen:
                break  # the amplitude rises again below the flank: a dent, not the sinus
            continue  # still on the sinus plateau
        if amplitude[i] < 0.2 * top:
            break
        if chosen and amplitude[i] >= amplitude[chosen[-1]]:
            break  # the flank has reached its floor: below it lie dents and the LVOT
        chosen.append(int(i))
    if len(chosen) < 2:
        raise InputError(
            "The lower border of the sinuses could not be found: no confident annulus level.",
            MANUAL_HINT,
        )
    h = heights[chosen]
    s = np.sqrt(amplitude[chosen])
    slope, intercept = np.polyfit(h, s, 1)
    if slope <= 0:
        raise InputError(
            "The sinus profile does not rise from the LVOT: no confident answer.", MANUAL_HINT
        )
    residual = float(np.sqrt(np.mean((slope * h + intercept - s) ** 2)))
    return float(-intercept / slope), residual


def harmonic(r: FloatArray, k: int) -> complex:
    return complex(np.sum(r * np.exp(-1j * k * ANGLES))) * 2 / len(r)


def find_lobes(profile: RootProfile, band: np.ndarray) -> tuple[list[float], float]:
    """Angles (rad) of the three sinus lobes and the smallest lobe prominence (mm).

    The lobes are the maxima of the mean r(theta) over ``band`` once its mean, offset and
    ellipse (harmonics 0-2) are removed, so that an oval root does not hide a sinus.
    """
    mean_r = profile.smooth[band].mean(axis=0)
    low = sum(
        (harmonic(mean_r, k) * np.exp(1j * k * ANGLES)).real * (0.5 if k == 0 else 1.0)
        for k in range(3)
    )
    r = ndimage.gaussian_filter1d(mean_r - low, 5.0, mode="wrap")
    peaks = [i for i in range(RAYS) if r[i] > r[i - 1] and r[i] >= r[(i + 1) % RAYS]]
    chosen: list[int] = []
    for i in sorted(peaks, key=lambda j: -r[j]):
        if all(min((i - j) % RAYS, (j - i) % RAYS) >= RAYS // 6 for j in chosen):
            chosen.append(i)
    chosen = sorted(chosen[:3])
    keep: list[tuple[int, float]] = []
    for n, i in enumerate(chosen):
        nxt, prev = chosen[(n + 1) % len(chosen)], chosen[n - 1]
        right = min(r[(i + k) % RAYS] for k in range(((nxt - i) % RAYS) or RAYS))
        left = min(r[(i - k) % RAYS] for k in range(((i - prev) % RAYS) or RAYS))
        prom = float(r[i] - max(left, right))
        if prom > 0.3:
            keep.append((i, prom))
    if len(keep) != 3:
        raise InputError(
            f"{len(keep)} sinus lobes were found instead of three: no confident answer.",
            MANUAL_HINT,
        )
    angles = []
    for i, _ in keep:
        # sub-sample maximum by a parabola through the three samples
        a, b, c = r[i - 1], r[i], r[(i + 1) % RAYS]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
        angles.append(float((i + shift) * 2 * math.pi / RAYS) % (2 * math.pi))
    return angles, min(p for _, p in keep)


def find_ostia(profile: RootProfile, band: np.ndarray) -> list[tuple[float, float, float, int]]:
    """Coronary ostia: ``(theta rad, lower-rim height, wall radius, cells)`` per tube found."""
    excess = (profile.radii - profile.smooth) > OSTIUM_EXCESS_MM
    excess[~band] = False
    labels, count = ndimage.label(np.concatenate([excess, excess], axis=1))
    found: list[tuple[float, float, float, int]] = []
    for lab in range(1, count + 1):
        rows, cols = np.nonzero(labels == lab)
        # The profile is doubled so that a tube across theta = 0 is whole once: count each tube
        # by its copy whose first column lies in [1, RAYS].
        if rows.size < 3 or not 1 <= cols.min() <= RAYS:
            continue
        theta = float(np.mean(cols) * 2 * math.pi / RAYS) % (2 * math.pi)
        low = int(rows.min())
        # The sinus wall across the ostium: read beside the tube, where no junction with the
        # coronary widens the lumen.
        half = (int(cols.max()) - int(cols.min())) // 2 + 4
        centre_col = round(float(np.mean(cols)))
        beside = [(centre_col + sign * (half + k)) % RAYS for sign in (-1, 1) for k in range(3)]
        wall = float(np.median(profile.smooth[low, beside]))
        found.append((theta, float(profile.heights[low]) - H_STEP_MM / 2, wall, int(rows.size)))
    return found
