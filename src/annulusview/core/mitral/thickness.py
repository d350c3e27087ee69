"""MAC thickness: widths of the calcium cross-sections perpendicular to the annulus curve."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.arrays import BoolArray
from annulusview.core.mitral.annulus import MitralAnnulus
from annulusview.core.mitral.common import (
    FloatArray,
    IntArray,
)
from annulusview.core.progress import CancelToken, check
from annulusview.core.volume import Volume

_STRUCTURE_8 = np.ones((3, 3), dtype=bool)

_MIN_THICKNESS_PIXEL_MM = 0.1

# HU between voxel centres is linear (trilinear sampling), so a 0.1 mm profile with linear
# interpolation of the crossing finds the iso-contour well under a tenth of a voxel.
_CHORD_STEP_MM = 0.1


def _inscribed_centre(region: BoolArray) -> tuple[tuple[int, int], float]:
    """Pixel at the centre of the largest disc inside a region, and that disc's radius in
    pixels (distance to the nearest pixel centre outside; the edge lies between)."""
    edt = ndimage.distance_transform_edt(np.pad(region, 1))
    flat = int(np.argmax(edt))
    row, col = np.unravel_index(flat, edt.shape)
    return (int(row) - 1, int(col) - 1), float(edt.flat[flat])


def _shortest_chords_mm(
    hu_at: Callable[[FloatArray], npt.NDArray[np.float32]],
    centres_lps: FloatArray,
    e1: FloatArray,
    e2: FloatArray,
    threshold_hu: float,
    max_mm: FloatArray,
) -> FloatArray:
    """Shortest chord of the iso-contour ``HU = threshold`` through each of ``centres_lps``
    (M, 3) in its plane ``(e1[m], e2[m])``, over 18 directions 10 degrees apart, mm.

    Each half-chord ends where the HU profile first drops below the threshold, found on a
    0.5 mm profile and then located on a 0.1 mm profile across that step with linear
    interpolation between the two samples around the crossing, so the edge is sub-pixel. All
    profiles of all centres are sampled in two interpolation calls. Through a point off the
    centre of a round bar the shortest chord is short by only ``e^2 / d`` (second order in the
    offset ``e``); across a flat bar it is exact.
    """
    count = len(centres_lps)
    theta = np.deg2rad(np.arange(0.0, 360.0, 10.0))
    dirs = (
        np.cos(theta)[None, :, None] * e1[:, None, :]
        + np.sin(theta)[None, :, None] * e2[:, None, :]
    )  # (M, 36, 3)
    coarse_mm = 5 * _CHORD_STEP_MM
    limit = np.asarray(max_mm, dtype=np.float64)
    steps = np.arange(0.0, float(limit.max()) + coarse_mm + 1e-9, coarse_mm)
    pts = centres_lps[:, None, None, :] + steps[None, None, :, None] * dirs[:, :, None, :]
    below = (hu_at(pts) < threshold_hu) | (steps[None, None, :] > limit[:, None, None])
    # first coarse sample below (or past the limit); the last coarse sample always qualifies
    first = below.argmax(axis=2)
    start = steps[np.maximum(first - 1, 0)]
    fine = start[..., None] + np.arange(6) * _CHORD_STEP_MM  # (M, 36, 6)
    fpts = centres_lps[:, None, None, :] + fine[..., None] * dirs[:, :, None, :]
    values = hu_at(fpts) - threshold_hu
    fbelow = values < 0
    f_first = np.where(fbelow.any(axis=2), fbelow.argmax(axis=2), 5)
    f_prev = np.maximum(f_first - 1, 0)
    v0 = np.take_along_axis(values, f_prev[..., None], axis=2)[..., 0]
    v1 = np.take_along_axis(values, f_first[..., None], axis=2)[..., 0]
    frac = np.where(v0 - v1 > 0, v0 / np.maximum(v0 - v1, 1e-9), 0.0)
    half = (
        np.take_along_axis(fine, f_prev[..., None], axis=2)[..., 0]
        + np.clip(frac, 0.0, 1.0) * _CHORD_STEP_MM
    )
    half = np.where(first == 0, 0.0, np.minimum(half, limit[:, None]))
    chords = half[:, : len(theta) // 2] + half[:, len(theta) // 2 :]
    result: FloatArray = chords.min(axis=1) if count else np.zeros(0)
    return result


def cross_section_thickness(
    volume: Volume,
    annulus: MitralAnnulus,
    positions: IntArray,
    mac_lps: FloatArray,
    mac_sample: IntArray,
    threshold_hu: float | None,
    *,
    pixel_mm: float,
    half_width_mm: float,
    near_mm: float,
    min_thickness_mm: float,
    cancel: CancelToken | None,
) -> FloatArray:
    """Thickness at each curve sample in ``positions`` (NaN when none), mm.

    Only the MAC voxels whose nearest curve sample lies close to the position are tested for
    the cross-section slab (one voxel thick), and only the bounding box of those is resampled.
    With a threshold, a pixel is calcium where the linearly interpolated HU reaches it within
    a voxel of a MAC voxel, so the edge sits at the iso-surface between voxel centres (a mask
    of voxel centres would make a round bar look up to a voxel thinner); with a mask, where a
    MAC voxel lies within half a voxel. The sections of all positions are resampled in one
    interpolation call, and all their chords in two more.
    """
    spacing = volume.spacing_mm
    slab = max(spacing)
    reach = 1.0 * slab if threshold_hu is not None else 0.5 * max(spacing)
    inv = np.linalg.inv(volume.affine)
    lin, shift = inv[:3, :3], inv[:3, 3]

    def hu_at(lps: FloatArray) -> npt.NDArray[np.float32]:
        ijk = lps @ lin.T + shift
        values: npt.NDArray[np.float32] = ndimage.map_coordinates(
            volume.hu,
            np.moveaxis(ijk[..., ::-1], -1, 0),
            order=1,
            output=np.float32,
            mode="nearest",
        )
        return values

    # MAC voxels sorted by the index of their nearest curve sample, to find candidates fast.
    order = np.argsort(mac_sample, kind="stable")
    sorted_sample = mac_sample[order]
    count = len(annulus.curve_lps)
    # A voxel within a slab of the normal plane at s, up to one radius of curvature (~15 mm)
    # off the curve, has its nearest curve point within about twice the slab of s.
    window = math.ceil((2.0 * slab + 2.0) / annulus.sample_step_mm)
    out = np.full(len(positions), np.nan)
    # e1: the annulus normal made perpendicular to the tangent (height across the annulus);
    # e2 = t x e1 (radial, across the ring). Both lie in the plane perpendicular to t.
    tangents = annulus.tangents_lps[positions]
    normal = annulus.normal_lps
    e1s = normal[None, :] - (tangents @ normal)[:, None] * tangents
    e1s /= np.linalg.norm(e1s, axis=1, keepdims=True)
    e2s = np.cross(tangents, e1s)
    # Pass 1: the pixel grid and near-MAC mask of each section.
    sections: list[
        tuple[int, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray, float]
    ] = []
    for row, pos in enumerate(positions):
        if row % 16 == 0:
            check(cancel)
        lo, hi = pos - window, pos + window
        parts = [
            np.arange(
                np.searchsorted(sorted_sample, max(lo, 0)),
                np.searchsorted(sorted_sample, min(hi, count - 1), side="right"),
            )
        ]
        if lo < 0:
            parts.append(np.arange(np.searchsorted(sorted_sample, lo + count), len(order)))
        if hi >= count:
            parts.append(np.arange(0, np.searchsorted(sorted_sample, hi - count, side="right")))
        cand = order[np.concatenate(parts)]
        centre, tangent, e1, e2 = annulus.curve_lps[pos], tangents[row], e1s[row], e2s[row]
        rel = mac_lps[cand] - centre
        a, b = rel @ e1, rel @ e2
        sel = (
            (np.abs(rel @ tangent) <= slab)
            & (np.abs(a) <= half_width_mm)
            & (np.abs(b) <= half_width_mm)
        )
        if not np.any(sel):
            continue
        a, b = a[sel], b[sel]
        # Pixels scale with the section (1/20 of its span, 0.1 mm to pixel_mm): they only
        # locate the inscribed disc; its chord is then measured sub-pixel on the HU profile.
        span = max(float(np.ptp(a)), float(np.ptp(b))) + 2.0 * reach
        px = float(np.clip(span / 20.0, _MIN_THICKNESS_PIXEL_MM, pixel_mm))
        pad = reach + px
        ga = np.arange(
            max(a.min() - pad, -half_width_mm), min(a.max() + pad, half_width_mm) + 1e-9, px
        )
        gb = np.arange(
            max(b.min() - pad, -half_width_mm), min(b.max() + pad, half_width_mm) + 1e-9, px
        )
        # Near-MAC pixels (this only keeps other calcium out, the HU threshold draws the
        # edge): cells of size `reach` holding a MAC voxel of the slab, and their neighbours.
        cells = np.zeros(
            (int((ga[-1] - ga[0]) / reach) + 3, int((gb[-1] - gb[0]) / reach) + 3), bool
        )
        cells[((a - ga[0]) / reach).astype(int) + 1, ((b - gb[0]) / reach).astype(int) + 1] = True
        cells = ndimage.binary_dilation(cells, structure=_STRUCTURE_8)
        near = cells[
            ((ga - ga[0]) / reach).astype(int)[:, None] + 1,
            ((gb - gb[0]) / reach).astype(int)[None, :] + 1,
        ]
        sections.append((row, centre, e1, e2, ga, gb, near, px))
    if not sections:
        return out
    if threshold_hu is not None:
        grids = [
            (c + ga[:, None, None] * e1 + gb[None, :, None] * e2).reshape(-1, 3)
            for _, c, e1, e2, ga, gb, _, _ in sections
        ]
        hu_all = hu_at(np.concatenate(grids))
        bounds = np.cumsum([0] + [len(g) for g in grids])
    # Pass 2: calcium regions of each section and the centre of their largest inscribed disc.
    requests: list[tuple[int, FloatArray, FloatArray, FloatArray, float]] = []
    widths: dict[int, list[float]] = {}
    for index, (row, centre, e1, e2, ga, gb, near, px) in enumerate(sections):
        if threshold_hu is not None:
            hu_img = hu_all[bounds[index] : bounds[index + 1]].reshape(len(ga), len(gb))
            img = near & (hu_img >= threshold_hu)
        else:
            img = near
        pa2 = ga[:, None] ** 2 + gb[None, :] ** 2
        close = img & (pa2 <= near_mm**2)
        if not np.any(close):
            continue
        labels, _ = ndimage.label(img, structure=_STRUCTURE_8)
        widths[row] = []
        for lab in np.unique(labels[close]):
            (r_px, c_px), radius_px = _inscribed_centre(labels == lab)
            if threshold_hu is None:
                # mask only: the edge lies on average half a pixel inside the first pixel out
                widths[row].append(2.0 * radius_px * px - px)
                continue
            disc_centre = centre + ga[r_px] * e1 + gb[c_px] * e2
            requests.append((row, disc_centre, e1, e2, 2.0 * radius_px * px + 1.0))
    if requests and threshold_hu is not None:
        chords = _shortest_chords_mm(
            hu_at,
            np.array([r[1] for r in requests]),
            np.array([r[2] for r in requests]),
            np.array([r[3] for r in requests]),
            threshold_hu,
            np.array([r[4] for r in requests]),
        )
        for (row, *_), chord in zip(requests, chords, strict=True):
            widths[row].append(float(chord))
    for row, values in widths.items():
        width = max(values)
        # Thinner sections are grazing cuts through a lesion's blurred end, not a bar that CT
        # resolves: the position is not measured.
        if width >= min_thickness_mm:
            out[row] = width
    return out
