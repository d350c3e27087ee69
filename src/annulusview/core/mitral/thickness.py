"""MAC extent and thickness as read in the short-axis view of the annulus (section 8).

At each curve position ``p`` with unit tangent ``t``, the *cross-section slab* is the plane
through ``p`` perpendicular to ``t``, as thick as one voxel's extent along ``t`` (each voxel
stands for the box it samples, so a solid arc leaves no gaps between positions and a flat end
is placed within half a voxel). A position is *calcified* when a MAC voxel lies in its slab
within ``near_mm`` (5) of ``p``; the extent is the calcified share of the curve, x 360 degrees,
so a calcium arc measures its own arc (no widening by a search radius).

The *thickness* at a calcified position is the width of the calcium bar across the annulus,
along ``m = normalize(t x N)``: the connected run of calcium along ``m`` that comes within
``near_mm`` of ``p`` (a 7 mm wide, 4 mm high bar reads 7 mm: its width, not its height). With a
HU threshold the run is read on the HU profile (trilinear, 0.05 mm steps) along the line through
the slab's calcium at its mean height, with sub-voxel edges where the profile crosses the
threshold; with a calcium mask, on the slab voxels' extents along ``m``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from annulusview.core.arrays import BoolArray, FloatArray
from annulusview.core.progress import CancelToken, check


def _projected_half_extent(direction: FloatArray, spacing: FloatArray) -> float:
    """Half the length of a voxel box's projection onto a unit direction (axis-aligned box in
    the voxel grid's own axes, ``spacing`` mm)."""
    return 0.5 * float(np.abs(direction) @ spacing)


def _longest_run_near(centres: FloatArray, half: float, near: float) -> tuple[float, float, float]:
    """The longest connected run of intervals ``[c - half, c + half]`` that reaches into
    ``[-near, near]``: ``(length, start, end)`` in mm; zeros without one."""
    if len(centres) == 0:
        return 0.0, 0.0, 0.0
    order = np.sort(centres)
    lo, hi = order - half, order + half
    best = (0.0, 0.0, 0.0)
    start, end = float(lo[0]), float(hi[0])
    for a, b in zip(lo[1:], hi[1:], strict=True):
        if a <= end + 1e-9:
            end = max(end, float(b))
            continue
        if end >= -near and start <= near and end - start > best[0]:
            best = (end - start, start, end)
        start, end = float(a), float(b)
    if end >= -near and start <= near and end - start > best[0]:
        best = (end - start, start, end)
    return best


def slab_extent_and_thickness(
    curve_lps: FloatArray,
    tangents_lps: FloatArray,
    normal_lps: FloatArray,
    mac_lps: FloatArray,
    voxel_axes_mm: FloatArray,
    *,
    near_mm: float = 5.0,
    window_mm: float = 15.0,
    thickness_stride: int = 1,
    min_thickness_mm: float = 0.0,
    hu_at: Callable[[FloatArray], FloatArray] | None = None,
    threshold_hu: float | None = None,
    cancel: CancelToken | None = None,
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Which curve positions are calcified, the bar width at every ``thickness_stride``-th
    calcified position (NaN elsewhere), and how far the bar reaches inside the curve at each
    position (0 without a bar), mm.

    Parameters
    ----------
    curve_lps, tangents_lps
        Curve samples and their unit tangents, (M, 3).
    normal_lps
        Unit normal ``N`` of the annulus plane.
    mac_lps
        Centres of the MAC voxels, (P, 3).
    voxel_axes_mm
        The voxel grid's three step vectors (columns of the affine's 3 x 3 part), mm.
    near_mm
        A slab voxel counts within this distance of the curve point.
    window_mm
        How far from the point the bar's run is followed (a bar wider than ``2 near_mm`` is
        still measured whole).
    hu_at, threshold_hu
        HU at LPS points (trilinear) and the calcium threshold, for sub-voxel widths; without
        them the width is read on the voxel extents.
    """
    count = len(curve_lps)
    calcified = np.zeros(count, dtype=bool)
    thickness = np.full(count, np.nan)
    inner = np.zeros(count)
    if len(mac_lps) == 0 or count == 0:
        return calcified, thickness, inner
    centre = curve_lps.mean(axis=0)
    axes = np.asarray(voxel_axes_mm, dtype=np.float64)
    step_len = np.linalg.norm(axes, axis=0)
    unit_axes = axes / step_len
    tree = cKDTree(mac_lps)
    neighbours = tree.query_ball_point(curve_lps, window_mm)
    seen_calcified = 0
    for i in range(count):
        if i % 64 == 0:
            check(cancel)
        idx = neighbours[i]
        if not idx:
            continue
        t = tangents_lps[i]
        d = mac_lps[idx] - curve_lps[i]
        along = d @ t
        half_t = _projected_half_extent(unit_axes.T @ t, step_len)
        in_slab = np.abs(along) <= half_t
        if not in_slab.any():
            continue
        dist = np.linalg.norm(d[in_slab], axis=1)
        if not np.any(dist <= near_mm):
            continue
        calcified[i] = True
        m = np.cross(t, normal_lps)
        m /= np.linalg.norm(m)
        if (centre - curve_lps[i]) @ m < 0:
            m = -m  # m points inside the curve: the run's end is the bar's inner edge
        if hu_at is not None and threshold_hu is not None:
            height = float(np.mean(d[in_slab] @ normal_lps))
            width, _, end = _profile_run(
                hu_at, curve_lps[i] + height * normal_lps, m, threshold_hu, near_mm, window_mm
            )
        else:
            half_m = _projected_half_extent(unit_axes.T @ m, step_len)
            width, _, end = _longest_run_near(d[in_slab] @ m, half_m, near_mm)
        inner[i] = max(0.0, end)
        if seen_calcified % thickness_stride == 0 and width >= min_thickness_mm:
            thickness[i] = width
        seen_calcified += 1
    return calcified, thickness, inner


_PROFILE_STEP_MM = 0.05


def _profile_run(
    hu_at: Callable[[FloatArray], FloatArray],
    origin: FloatArray,
    direction: FloatArray,
    threshold: float,
    near: float,
    window: float,
) -> tuple[float, float, float]:
    """The longest run of HU >= threshold along a line that reaches within ``near`` of
    ``origin``, edges where the profile crosses the threshold (linear between samples):
    ``(width, start, end)`` along ``direction``, mm."""
    s = np.arange(-window, window + _PROFILE_STEP_MM / 2, _PROFILE_STEP_MM)
    hu = hu_at(origin + s[:, None] * direction)
    above = hu >= threshold
    if not above.any():
        return 0.0, 0.0, 0.0
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    starts = list(edges[~above[edges]] + 1) if len(edges) else []
    ends = list(edges[above[edges]]) if len(edges) else []
    if above[0]:
        starts.insert(0, 0)
    if above[-1]:
        ends.append(len(s) - 1)
    best = (0.0, 0.0, 0.0)
    for a, b in zip(starts, ends, strict=True):
        lo = float(_crossing(s, hu, a - 1, a, threshold) if a > 0 else s[a])
        hi = float(_crossing(s, hu, b, b + 1, threshold) if b < len(s) - 1 else s[b])
        if hi >= -near and lo <= near and hi - lo > best[0]:
            best = (hi - lo, lo, hi)
    return best


def _crossing(s: FloatArray, hu: FloatArray, a: int, b: int, threshold: float) -> float:
    """Where the profile crosses the threshold between samples a and b (linear)."""
    ha, hb = float(hu[a]), float(hu[b])
    if hb == ha:
        return float((s[a] + s[b]) / 2)
    return float(s[a] + (threshold - ha) / (hb - ha) * (s[b] - s[a]))
