"""Find the ascending aorta in the upper slices and follow its centreline down into the LVOT.

Candidates are round contrast lumens 20-45 mm across, stacked over several axial levels; the
most posterior of several is the descending aorta (beside the spine) and is dropped. Tracking
steps along the current direction, samples the cross-section perpendicular to it, and
re-centres on the area centroid of the lumen (rays capped so that a coronary or a chamber
touching the root cannot pull the centre).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from annulusview.core.aortic.root_lumen import (
    BloodPool,
    boundary_centre,
    central_lumen,
    circular_median,
    in_plane_basis,
    lobe_amplitude,
    outer_envelope,
    ray_radii,
    sample_section,
)
from annulusview.core.arrays import FloatArray
from annulusview.core.errors import InputError
from annulusview.core.progress import CancelToken, check
from annulusview.core.volume import Volume

ASCENDING_DIAMETER_MM = (20.0, 45.0)
_MIN_ROUNDNESS = 0.6  # minor / major axis: an aorta tilted up to 50 deg from the slices
_MIN_FILL = 0.85  # lumen area / area of its moment ellipse
_LEVEL_STEP_MM = 4.0
TRACK_STEP_MM = 1.0
SECTION_HALF_MM = 32.0
SECTION_STEP_MM = 0.5
RAY_COUNT = 72
RAY_ANGLES = np.linspace(0.0, 2 * math.pi, RAY_COUNT, endpoint=False)


@dataclass(frozen=True)
class Candidate:
    """A round lumen stacked over axial levels: centres (LPS mm) top to bottom."""

    centres: FloatArray
    diameter_mm: float

    @property
    def top(self) -> FloatArray:
        """Where tracking starts: a few levels below the highest, clear of the volume's edge."""
        return np.asarray(self.centres[min(2, len(self.centres) - 1)])

    @property
    def direction_down(self) -> FloatArray:
        if len(self.centres) < 2:
            return np.array([0.0, 0.0, -1.0])
        d = self.centres[-1] - self.centres[0]
        return np.asarray(d / np.linalg.norm(d))


def _axial_levels(volume: Volume) -> tuple[int, FloatArray]:
    """Index of the array axis (0 = k) closest to patient z, and the z of each index."""
    steps = volume.affine[:3, :3]  # columns: i, j, k steps
    z_share = np.abs(steps[2]) / np.linalg.norm(steps, axis=0)
    col = int(np.argmax(z_share))
    if z_share[col] < 0.8:
        raise InputError(
            "The volume is not an axial acquisition, so the ascending aorta cannot be looked "
            "for in its upper slices.",
            "Open the axial reconstruction of the CTA.",
        )
    axis = {0: 2, 1: 1, 2: 0}[col]  # i -> array axis 2, k -> array axis 0
    n = volume.hu.shape[axis]
    origin_z = volume.affine[2, 3]
    z = origin_z + np.arange(n) * steps[2, col]
    return axis, z


def find_ascending_candidates(volume: Volume, pool: BloodPool) -> list[Candidate]:
    """Round lumens 20-45 mm across in the upper half of the volume, best candidate first."""
    axis, z = _axial_levels(volume)
    order = np.argsort(-z)  # top first
    spacing = abs(z[1] - z[0]) if len(z) > 1 else 1.0
    every = max(1, round(_LEVEL_STEP_MM / spacing))
    top_half = order[: max(len(order) // 2, 1)][2::every]
    found: list[tuple[int, FloatArray, float]] = []  # (level number, centre, diameter)
    pixel_area = volume.voxel_volume_mm3 / spacing
    for level, index in enumerate(top_half):
        image = np.take(volume.hu, int(index), axis=axis)
        labels, count = ndimage.label(pool.lumen(image))
        if count == 0:
            continue
        sizes = np.bincount(labels.ravel())
        dmin, dmax = ASCENDING_DIAMETER_MM
        for lab in np.flatnonzero(
            (sizes * pixel_area >= math.pi * (dmin / 2) ** 2)
            & (sizes * pixel_area <= math.pi * (dmax / 2) ** 2)
        ):
            if lab == 0:
                continue
            rc = np.argwhere(labels == lab).astype(np.float64)
            full = np.zeros((len(rc), 3))
            axes = [a for a in (0, 1, 2) if a != axis]
            full[:, axes[0]], full[:, axes[1]] = rc[:, 0], rc[:, 1]
            full[:, axis] = index
            lps = volume.index_to_lps(full[:, ::-1])
            cov = np.cov(lps[:, :2].T)
            ev = np.sort(np.linalg.eigvalsh(cov))
            if ev[0] <= 0:
                continue
            roundness = math.sqrt(ev[0] / ev[1])
            area = len(rc) * pixel_area
            fill = area / (4 * math.pi * math.sqrt(ev[0] * ev[1]))
            if roundness >= _MIN_ROUNDNESS and fill >= _MIN_FILL:
                found.append((level, lps.mean(axis=0), 2 * math.sqrt(area / math.pi)))
    # Stack candidates over consecutive levels (centres within 10 mm in-plane).
    stacks: list[list[tuple[int, FloatArray, float]]] = []
    for item in found:
        for stack in stacks:
            last = stack[-1]
            if item[0] - last[0] in (1, 2) and np.linalg.norm(item[1][:2] - last[1][:2]) < 10:
                stack.append(item)
                break
        else:
            stacks.append([item])
    tubes = [
        Candidate(np.array([c for _, c, _ in s]), float(np.median([d for _, _, d in s])))
        for s in stacks
        if len(s) >= 3
    ]
    if len(tubes) >= 2:
        # The descending aorta lies posterior (+y) beside the spine: drop the most posterior.
        tubes.sort(key=lambda t: float(t.centres[:, 1].mean()))
        tubes = tubes[:-1]
    # Patient right (-x) first: the ascending aorta lies right of the pulmonary trunk.
    tubes.sort(key=lambda t: float(t.centres[:, 0].mean()))
    return tubes


def _core_disc(size: int, fraction: float = 0.55) -> np.ndarray:
    a = np.arange(size) - (size - 1) / 2
    return np.asarray(np.hypot(a[:, None], a[None, :]) <= fraction * (size - 1) / 2)


@dataclass(frozen=True)
class Station:
    """One cross-section of the tracked lumen."""

    arc_mm: float
    centre: FloatArray
    direction: FloatArray  # unit, pointing down the vessel (toward the ventricle)
    median_radius_mm: float
    lobe_amplitude_mm: float  # three-fold harmonic of r(theta): the sinus signature


def track_centreline(
    volume: Volume,
    pool: BloodPool,
    start: FloatArray,
    direction: FloatArray,
    max_length_mm: float = 220.0,
    cancel: CancelToken | None = None,
) -> list[Station]:
    """Follow the lumen from ``start`` along ``direction`` until it is lost or widens into a
    chamber (median radius past 24 mm), or the section leaves the volume."""
    stations: list[Station] = []
    c = np.asarray(start, dtype=np.float64)
    d = np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
    e1, _ = in_plane_basis(d)
    arc = 0.0
    while arc <= max_length_mm:
        check(cancel)
        section = sample_section(volume, c, d, e1, SECTION_HALF_MM, SECTION_STEP_MM)
        if section.inside[_core_disc(section.values.shape[0])].mean() < 0.9:
            break  # the lumen's neighbourhood leaves the field of view
        comp = central_lumen(section, pool)
        if comp is None:
            break
        radii = ray_radii(section, comp, pool.lumen_min_hu, RAY_ANGLES)
        med = float(np.median(radii))
        if stations and med > min(
            24.0, 1.5 * float(np.median([s.median_radius_mm for s in stations[:10]]))
        ):
            break  # widened into a chamber (the ventricle below the LVOT)
        if med < 3.0:
            break
        capped = np.minimum(circular_median(radii, 5), 1.3 * med)
        cx, cy = boundary_centre(capped, RAY_ANGLES)
        c = section.point(cx, cy)
        stations.append(Station(arc, c, d, med, lobe_amplitude(outer_envelope(capped, 11))))
        back = [s for s in stations if arc - s.arc_mm >= 6.0]
        if back:
            new_d = c - back[-1].centre
            new_d /= np.linalg.norm(new_d)
            d = 0.5 * d + 0.5 * new_d
            d /= np.linalg.norm(d)
        e1 = e1 - (e1 @ d) * d
        e1 /= np.linalg.norm(e1)
        c = c + TRACK_STEP_MM * d
        arc += TRACK_STEP_MM
    return stations
