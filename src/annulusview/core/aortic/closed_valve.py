"""The basal ring of a closed aortic valve (a diastolic phase), from its three closed cusps.

In diastole the three leaflets close into three cups that hang from the crown-shaped
attachment; the lowest point of each cup, where the leaflet meets the aortic wall, is its
hinge (nadir), and the plane through the three hinges is the basal ring (the annulus). With an
open valve the proposal reads the ring from the lumen's sinus profile; with a closed one the
leaflets split the lumen at that very level, so the ring is read from the cups instead.

Cue: contrast blood fills the sinus cups above the closed leaflets and the LVOT below them. The
leaflets are thin (about 1 mm), so on 1-1.5 mm voxels partial volume lifts them to near the
lumen threshold and the threshold alone does not separate the sinuses from the LVOT. A black
top-hat (grey closing over ``CLOSING_MM`` minus the image) is large exactly on thin dark
structures inside bright lumen; removing the voxels whose top-hat exceeds
``LEAFLET_FRACTION`` of the blood-to-tissue contrast cuts the leaflets out, and the lumen
connected to the sinus then ends on the closed cusps. The fraction that does this depends on
the scan (voxel size, blur, noise), so fractions from ``FRACTIONS`` are tried in turn, and the
answer is the middle of the longest run of consecutive fractions that agree (normals within
``AGREE_DEG``): too high a fraction leaves the leaflets open, too low one breaks the sinuses
apart, and in between the ring must not depend on the choice. Along the root axis, the lowest lumen
voxel of each of three sectors (the three deepest, at least 80 degrees apart) is a cup's
nadir; the plane through them gives a new axis, along which the lowest points are found again,
until the plane settles.

Everything here is in the volume's own voxels (no resampling); the answer is refused (None)
when the leaflets do not separate the sinuses from the LVOT, when fewer than three cups are
found, or when the ring found is not an aortic annulus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.aortic.root_lumen import in_plane_basis
from annulusview.core.arrays import FloatArray
from annulusview.core.volume import Volume

#: The grey closing's size: wider than a leaflet seen on 1.5 mm voxels, narrower than a sinus.
CLOSING_MM = 7.5
#: A voxel whose black top-hat exceeds a fraction of (blood - soft tissue) is leaflet: the
#: fractions tried, from the least to the most cutting.
FRACTIONS = tuple(round(0.25 - 0.01 * k, 2) for k in range(18))
#: Neighbouring fractions agree when their rings' normals are this close (degrees) ...
AGREE_DEG = 2.0
#: ... and at least this many consecutive fractions must agree.
MIN_AGREEING = 3
#: The lumen level between soft tissue (0) and blood (1).
LUMEN_LEVEL = 0.5
#: Only the root near the sinus centre is searched (mm).
SEARCH_RADIUS_MM = 35.0
#: The cups are looked for in this height band about the current ring estimate (mm; the first
#: estimate is the sinus centre, above the cups).
BAND_MM = (-30.0, 15.0)
#: and within this distance of the axis (mm): the cups, not a coronary or a chamber.
BAND_RADIUS_MM = 22.0
SECTORS = 36
#: The three cups' sectors are at least this far apart (degrees).
MIN_CUP_GAP_DEG = 80.0
ITERATIONS = 8
#: A cup's flat bottom: sectors within this many of the deepest, at most this much higher (mm).
FLAT_SECTORS = 5
FLAT_MM = 1.0


@dataclass(frozen=True, eq=False)
class ClosedRing:
    """The basal ring read from the cups of a closed valve.

    Attributes
    ----------
    nadirs
        ``(3, 3)`` LPS mm: the lowest point of each contrast-filled cup (where a reader marks
        the hinge in the double-oblique view: the bottom of the sinus contrast on the
        leaflet), in order of angle about the axis.
    centre
        Their centroid (LPS mm).
    normal
        Unit normal of their plane, toward the aorta.
    settled
        True when the last iteration moved the normal by less than 0.5 degrees.
    fraction
        The leaflet fraction the ring was read with (the middle of the agreeing run).
    agreeing
        How many consecutive fractions gave the same ring (within ``AGREE_DEG``).
    """

    nadirs: FloatArray
    centre: FloatArray
    normal: FloatArray
    settled: bool
    fraction: float = 0.0
    agreeing: int = 0


def _angle_deg(a: FloatArray, b: FloatArray) -> float:
    cos = float(a @ b) / (float(np.linalg.norm(a)) * float(np.linalg.norm(b)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _crop(volume: Volume, centre: FloatArray, radius: float) -> tuple[tuple[slice, ...], bool]:
    """Index box ``[k, j, i]`` of the ball (centre, radius), and whether it fits the volume."""
    corners = np.array(
        [
            centre + radius * np.array([sx, sy, sz])
            for sx in (-1, 1)
            for sy in (-1, 1)
            for sz in (-1, 1)
        ]
    )
    ijk = volume.lps_to_index(corners)
    lo = np.floor(ijk.min(axis=0)).astype(int)
    hi = np.ceil(ijk.max(axis=0)).astype(int) + 1
    dims = np.array(volume.shape[::-1])  # (i, j, k) sizes
    inside = bool(np.all(lo >= 0) and np.all(hi <= dims))
    lo, hi = np.clip(lo, 0, dims), np.clip(hi, 0, dims)
    return (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0])), inside


def _lowest_cups(points: FloatArray, centre: FloatArray, normal: FloatArray) -> FloatArray | None:
    """The lowest point (along ``normal``) of each of the three deepest sectors about the axis
    through ``centre``, the sectors at least ``MIN_CUP_GAP_DEG`` apart; None if fewer."""
    rel = points - centre
    h = rel @ normal
    u, v = in_plane_basis(normal)
    x, y = rel @ u, rel @ v
    keep = (h > BAND_MM[0]) & (h < BAND_MM[1]) & (np.hypot(x, y) < BAND_RADIUS_MM)
    if np.count_nonzero(keep) < 3 * SECTORS:
        return None
    idx = np.flatnonzero(keep)
    sector = (np.degrees(np.arctan2(y[idx], x[idx])) % 360.0 * SECTORS / 360.0).astype(int)
    sector = np.minimum(sector, SECTORS - 1)
    lowest = np.full(SECTORS, np.inf)
    where = np.full(SECTORS, -1)
    order = np.argsort(h[idx])[::-1]  # highest first: the last write per sector is its lowest
    lowest[sector[order]] = h[idx][order]
    where[sector[order]] = idx[order]
    width = 360.0 / SECTORS
    picks: list[int] = []
    for s in np.argsort(lowest):
        if not np.isfinite(lowest[s]):
            break
        gaps = [min(abs(s - p), SECTORS - abs(s - p)) * width for p in picks]
        if all(g >= MIN_CUP_GAP_DEG for g in gaps):
            picks.append(int(s))
        if len(picks) == 3:
            break
    if len(picks) < 3:
        return None
    picks.sort()
    # A cup's bottom is flat about its middle (the crown rises slowly from the nadir), so its
    # single lowest voxel wanders by a sector or two: each nadir is the mean angle and radius
    # of the neighbouring sectors' lowest points within FLAT_MM of the deepest, at its depth.
    r_all = np.hypot(x, y)
    nadirs = []
    for s in picks:
        near = [
            t
            for t in range(s - FLAT_SECTORS, s + FLAT_SECTORS + 1)
            if where[t % SECTORS] >= 0 and lowest[t % SECTORS] <= lowest[s] + FLAT_MM
        ]
        ids = where[[t % SECTORS for t in near]]
        angle = math.atan2(
            float(np.mean(np.sin(np.arctan2(y[ids], x[ids])))),
            float(np.mean(np.cos(np.arctan2(y[ids], x[ids])))),
        )
        radius = float(np.mean(r_all[ids]))
        nadirs.append(
            centre + lowest[s] * normal + radius * (math.cos(angle) * u + math.sin(angle) * v)
        )
    return np.asarray(nadirs, dtype=np.float64)


def _ring(
    points: FloatArray, centre: FloatArray, normal: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, bool] | None:
    """Iterate the lowest cups to a settled plane: (nadirs, centre, normal, settled)."""
    n, settled, nadirs = normal, False, None
    for _ in range(ITERATIONS):
        found = _lowest_cups(points, centre, n)
        if found is None:
            return None
        nadirs = found
        new_n = np.cross(nadirs[1] - nadirs[0], nadirs[2] - nadirs[0])
        new_n /= np.linalg.norm(new_n)
        if new_n @ n < 0:
            new_n = -new_n
        moved = _angle_deg(new_n, n)
        centre, n = nadirs.mean(axis=0), new_n
        if moved < 0.5:
            settled = True
            break
    assert nadirs is not None
    return nadirs, centre, n, settled


def closed_valve_ring(
    volume: Volume,
    blood_hu: float,
    tissue_hu: float,
    sinus_centre: FloatArray,
    normal: FloatArray,
    lvot_point: FloatArray,
) -> ClosedRing | str:
    """The basal ring of a closed valve from the lowest points of its three cups.

    Parameters
    ----------
    volume
        The contrast CTA.
    blood_hu, tissue_hu
        Contrast blood and the soft tissue around it (HU): the lumen level is their mean.
    sinus_centre
        A point in the sinus lumen above the closed leaflets (LPS mm).
    normal
        First estimate of the root axis, from the ventricle toward the aorta.
    lvot_point
        A point in the LVOT lumen below the closed leaflets: once the leaflets are cut out it
        must not be reached from the sinus (else the cups are not closed at that fraction).

    Returns
    -------
    ClosedRing or str
        The ring, or why it was not found (a sentence for the user): the search ball leaves
        the volume, the leaflets never separate the sinuses from the LVOT, or three cups are
        not found consistently.
    """
    centre0 = np.asarray(sinus_centre, dtype=np.float64)
    n0 = np.asarray(normal, dtype=np.float64)
    n0 = n0 / np.linalg.norm(n0)
    box, inside = _crop(volume, centre0, SEARCH_RADIUS_MM)
    if not inside:
        return "the root lies too close to the edge of the volume to read its closed cusps"
    sub = np.asarray(volume.hu[box], dtype=np.float32)
    spacing = np.array(volume.spacing_mm)  # (k, j, i)
    size = tuple(max(3, round(CLOSING_MM / s) | 1) for s in spacing)
    tophat = ndimage.grey_closing(sub, size=size) - sub
    origin_ijk = np.array([box[2].start, box[1].start, box[0].start], dtype=np.float64)
    kk, jj, ii = (
        np.arange(n).reshape(shape)
        for n, shape in zip(sub.shape, ((-1, 1, 1), (1, -1, 1), (1, 1, -1)), strict=True)
    )
    steps = volume.affine[:3, :3]
    d = centre0 - volume.index_to_lps(origin_ijk)
    dist2 = sum(
        (ii * steps[a, 0] + jj * steps[a, 1] + kk * steps[a, 2] - d[a]) ** 2 for a in range(3)
    )
    level = tissue_hu + LUMEN_LEVEL * (blood_hu - tissue_hu)
    blood = (sub >= level) & (dist2 < SEARCH_RADIUS_MM**2)
    contrast = blood_hu - tissue_hu

    def label_at(labels: npt.NDArray[np.int32], point: FloatArray) -> int:
        ijk = np.round(volume.lps_to_index(point) - origin_ijk).astype(int)
        k, j, i = int(ijk[2]), int(ijk[1]), int(ijk[0])
        window = labels[max(k - 1, 0) : k + 2, max(j - 1, 0) : j + 2, max(i - 1, 0) : i + 2]
        values, counts = np.unique(window[window > 0], return_counts=True)
        return int(values[np.argmax(counts)]) if values.size else 0

    lvot = np.asarray(lvot_point, dtype=np.float64)
    found: list[tuple[float, tuple[FloatArray, FloatArray, FloatArray, bool] | str]] = []
    core = ndimage.binary_erosion(blood)
    for fraction in FRACTIONS:
        open_lumen = tophat < fraction * contrast
        # labelled on the lumen eroded by one voxel: at the wall the top-hat misses the
        # leaflet (the dark wall beside it is not filled by the closing), and the lumen's
        # blurred rim would join the sinus to the LVOT around the leaflet's edge
        labels, _ = ndimage.label(core & open_lumen)
        sinus = label_at(labels, centre0)
        if sinus == 0:
            found.append((fraction, "no sinus lumen was found above the closed leaflets"))
            continue
        if label_at(labels, lvot) == sinus:
            found.append(
                (fraction, "the closed leaflets do not separate the sinuses from the LVOT")
            )
            continue
        # the sinus lumen grown back by the voxel the erosion took (not through the leaflets)
        cups = ndimage.binary_dilation(labels == sinus) & blood & open_lumen
        k, j, i = np.nonzero(cups)
        points = volume.index_to_lps(np.stack([i, j, k], axis=1) + origin_ijk)
        ring = _ring(points, centre0, n0)
        found.append((fraction, ring if ring is not None else "three closed cusps were not found"))
    # the longest run of consecutive fractions whose rings agree
    best: list[int] = []
    run: list[int] = []
    for index, (_, result) in enumerate(found):
        if isinstance(result, str):
            run = []
            continue
        previous = found[run[-1]][1] if run else None
        if isinstance(previous, tuple) and _angle_deg(result[2], previous[2]) > AGREE_DEG:
            run = []
        run = [*run, index]
        if len(run) > len(best):
            best = run
    if len(best) < MIN_AGREEING:
        reasons = [r for _, r in found if isinstance(r, str)]
        common = max(set(reasons), key=reasons.count) if reasons else "no stable ring"
        return f"{common} (no stable reading of the closed cusps)"
    middle = best[len(best) // 2]
    fraction, result = found[middle]
    assert not isinstance(result, str)
    nadirs, centre, n, settled = result
    return ClosedRing(nadirs, centre, n, settled, fraction, len(best))
