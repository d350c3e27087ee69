"""The annulus edge as the cheapest smooth closed path around the annulus centre.

Used when the lumen connected to ``O`` leaks into a neighbouring cavity (contrast in every
chamber of a real scan, a wall that partial volume has bridged). Following each ray from ``O``
on its own then fails both ways: a ray through the gap runs on into the next cavity, and a ray
that meets a closed leaflet or a dark streak stops short. Here the image is resampled on rays
(one per degree); every sample where bright lumen gives way to at least
``OUTER_MM`` of darker tissue is a candidate edge, scored by its contrast; and the edge is the
closed path, one radius per ray, that collects the most contrast while changing its radius by
at most ``MAX_STEP_MM`` per degree and passing within ``HINGE_WINDOW_MM`` of the hinge circle
at each hinge (the hinges lie on the annulus by definition: SCCT 2019, Blanke et al.). Through
a gap, where no sample is a candidate, the path carries on from its neighbours; a streak
inside the lumen loses to the wall, which is darker and joins up with the hinges.

The trace relies on the hinges lying on the lumen edge: a hinge placed well inside or outside
it moves the path with it (on the real CTA, hinges moved 1-2 mm outward let the path run through
the wall into the next cavity), so the leak warning asks the reader to check the contour.

The search is dynamic programming over (angle, radius), one start per radius allowed at the
first hinge and the path closed on that start: exact for this cost, and a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.arrays import FloatArray

#: Radial sampling step along each ray, mm.
STEP_MM = 0.25
#: A candidate edge has lumen this far inside it...
INNER_MM = 0.5
#: ...and, on average, tissue darker than the edge level over this distance outside it.
OUTER_MM = 1.5
#: The path changes its radius by at most this much from one degree to the next, mm
#: (about 67 degrees from the circle at a 12 mm radius: the lobes of a closed valve).
MAX_STEP_MM = 0.5
#: Cost of each radial step, relative to a full-contrast edge (keeps the path smooth in gaps).
STEP_COST = 0.05
#: At each hinge the path lies within this distance of the hinge circle, mm.
HINGE_WINDOW_MM = 2.0
#: Rays start this fraction of the hinge radius out from O (nearer lie leaflet lines).
INNER_FRACTION = 0.5


class RingPathFailed(Exception):
    """No closed edge path was found; the message says why."""


def closed_path(
    cost: FloatArray, allowed: npt.NDArray[np.bool_], max_step: int, step_cost: float
) -> npt.NDArray[np.intp]:
    """The cheapest closed path through ``cost[angle, radius]``: one radius index per angle,
    changing by at most ``max_step`` between neighbouring angles (the last angle neighbours
    the first), each step costing ``step_cost`` per index, and only through ``allowed`` nodes.

    The path starts and ends at the same radius of angle 0: one dynamic-programming pass per
    allowed start at angle 0, all at once (so keep angle 0 narrow, e.g. at a hinge).

    Raises
    ------
    RingPathFailed
        No allowed closed path exists.
    """
    n_angles, n_radii = cost.shape
    starts = np.flatnonzero(allowed[0])
    if len(starts) == 0:
        raise RingPathFailed("no allowed radius at the first angle")
    big = np.inf
    node = np.where(allowed, cost, big)
    rows = np.arange(len(starts))
    total = np.full((len(starts), n_radii), big)
    total[rows, starts] = node[0, starts]
    back = np.zeros((n_angles, len(starts), n_radii), dtype=np.int8)
    steps = range(-max_step, max_step + 1)
    for k in range(1, n_angles + 1):
        best = np.full_like(total, big)
        arg = np.zeros(total.shape, dtype=np.int8)
        for d in steps:
            # candidate: arrive at radius j from radius j - d
            moved = np.full_like(total, big)
            if d > 0:
                moved[:, d:] = total[:, :-d]
            elif d < 0:
                moved[:, :d] = total[:, -d:]
            else:
                moved[:] = total
            moved += step_cost * abs(d)
            better = moved < best
            best[better] = moved[better]
            arg[better] = d
        back[k % n_angles] = arg
        # angle n_angles is angle 0 again: its node cost was paid at the start
        total = best + (node[k] if k < n_angles else 0.0)
    closing = total[rows, starts]
    s = int(np.argmin(closing))
    if not np.isfinite(closing[s]):
        raise RingPathFailed("no allowed closed path")
    path = np.empty(n_angles, dtype=np.intp)
    j = int(starts[s])
    for k in range(n_angles, 0, -1):
        path[k % n_angles] = j
        j -= int(back[k % n_angles][s, j])
    return path


def ring_edge_points(
    image: npt.NDArray[np.float32],
    axis: FloatArray,
    edge_hu: float,
    lumen_hu: float,
    tissue_hu: float,
    excluded: npt.NDArray[np.bool_],
    hinge_radius_mm: float,
    hinge_angles_deg: Sequence[float],
    max_radius_mm: float,
) -> FloatArray:
    """Edge points (plane mm, about ``O`` at the image centre) of the closed edge path.

    ``excluded`` pixels (calcium and its halo) count as tissue, so the edge runs in front of
    them. Returns one point per ray that has a candidate edge on the path, at the sub-sample
    crossing of ``edge_hu``; rays across a gap give none (the convex hull bridges them).

    Raises
    ------
    RingPathFailed
        Fewer than 36 rays have an edge on the path, or no path exists.
    """
    pixel = float(axis[1] - axis[0])
    centre = (len(axis) - 1) / 2.0
    flat = np.where(np.isfinite(image) & ~excluded, image, tissue_hu).astype(np.float64)
    angles = np.radians(np.arange(360.0))
    radii = np.arange(INNER_FRACTION * hinge_radius_mm, max_radius_mm + 1e-9, STEP_MM)
    xs = np.cos(angles)[:, None] * radii[None, :]
    ys = np.sin(angles)[:, None] * radii[None, :]
    rays = ndimage.map_coordinates(
        flat, [ys / pixel + centre, xs / pixel + centre], order=1, mode="nearest"
    )
    n = len(radii)
    a = max(1, round(INNER_MM / STEP_MM))
    b = max(1, round(OUTER_MM / STEP_MM))
    inner = np.full_like(rays, -np.inf)
    inner[:, a:] = rays[:, :-a]
    # mean of the b samples just outside each sample (fewer at the end of the ray)
    csum = np.concatenate([np.zeros((len(angles), 1)), np.cumsum(rays, axis=1)], axis=1)
    idx = np.arange(n)
    first, last = np.minimum(idx + 1, n - 1), np.minimum(idx + b, n - 1)
    outer = (csum[:, last + 1] - csum[:, first]) / (last - first + 1)
    candidate = (inner >= edge_hu) & (outer < edge_hu)
    contrast = max(lumen_hu - tissue_hu, 1.0)
    score = np.where(candidate, np.clip((inner - outer) / contrast, 0.0, 1.5), 0.0)
    allowed = np.ones(rays.shape, dtype=bool)
    for theta in hinge_angles_deg:
        allowed[round(theta) % 360] &= np.abs(radii - hinge_radius_mm) <= HINGE_WINDOW_MM
    # The path search starts at the first hinge (its narrow window keeps it quick).
    shift = round(hinge_angles_deg[0]) % 360 if len(hinge_angles_deg) else 0
    try:
        path = closed_path(
            np.roll(-score, -shift, axis=0),
            np.roll(allowed, -shift, axis=0),
            round(MAX_STEP_MM / STEP_MM),
            STEP_COST,
        )
    except RingPathFailed as exc:
        raise RingPathFailed(f"no closed lumen edge around the hinges ({exc})") from exc
    path = np.roll(path, shift)
    on_edge = candidate[np.arange(len(angles)), path]
    if on_edge.sum() < 36:
        raise RingPathFailed("too few rays meet a lumen edge on the closed path")
    # Sub-sample: the first fall through the edge level after the lumen sample INNER_MM inside
    # the path's node, interpolated between the two samples.
    radius = radii[path].copy()
    for k in np.flatnonzero(on_edge):
        j0 = max(int(path[k]) - a, 0)
        seg = rays[k, j0 : int(path[k]) + b + 1]
        falls = np.flatnonzero((seg[:-1] >= edge_hu) & (seg[1:] < edge_hu))
        if len(falls) == 0:
            continue
        i = int(falls[0])
        radius[k] = radii[j0 + i] + (seg[i] - edge_hu) / (seg[i] - seg[i + 1]) * STEP_MM
    keep = on_edge
    return np.stack([radius[keep] * np.cos(angles[keep]), radius[keep] * np.sin(angles[keep])], 1)
