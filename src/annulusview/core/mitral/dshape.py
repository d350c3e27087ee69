"""The D-shaped mitral annulus for transcatheter mitral valve replacement (TMVR) sizing, and the
aorto-mitral angle (clinical-model.md sections 8 and 11).

Blanke P et al., "A simplified D-shaped model of the mitral annulus to facilitate CT-based
sizing before transcatheter mitral valve implantation", JACC Cardiovasc Imaging
2015;8:612-615: the saddle-shaped annulus is cut at the line between the fibrous trigones,
its anterior (aortic) part is dropped, and the posterior part closed by that line is sized in
the plane of the annulus. Everything except the saddle perimeter is measured after projection
onto the least-squares plane of the annulus (normal ``N``).

- TT: trigone-to-trigone distance of the projected trigones.
- SL: septal-lateral distance, from the TT midpoint perpendicular to TT to the posterior arc.
- IC: intercommissural distance, the chord of the D parallel to TT through the midpoint of SL.
- D area and D perimeter: the polygon of the posterior arc closed by the TT segment.
- Saddle perimeter: the 3-D length of the whole closed annulus curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annulusview.core.landmarks import Landmarks
from annulusview.core.mitral.common import (
    FloatArray,
    NotAssessed,
    perpendicular_basis,
    round_list,
    round_opt,
    unit,
)

TRIGONE_NAMES = ("L_trigone", "R_trigone")
NEEDS_TRIGONES = "needs both L_trigone and R_trigone"

# Offsets below this (mm) count as "on the TT line" when the aortic side is judged.
_ON_LINE_MM = 1e-6


@dataclass(frozen=True, eq=False)
class DShape:
    """The D-shaped mitral annulus (Blanke et al. 2015).

    Attributes
    ----------
    tt_mm
        Trigone-to-trigone distance in the annulus plane, mm.
    sl_mm
        Septal-lateral distance: from the TT midpoint, perpendicular to TT, to the posterior
        arc, mm.
    ic_mm
        Intercommissural distance: the chord of the D parallel to TT through the SL midpoint, mm.
    d_area_mm2
        Area of the D (posterior arc closed by the TT segment) in the plane, mm^2.
    d_perimeter_mm
        Perimeter of the D in the plane (posterior arc plus TT), mm.
    saddle_perimeter_mm
        3-D length of the whole closed annulus curve, mm.
    posterior_arc
        How the posterior arc was chosen: ``"aortic_side"`` (the arc on the side of the TT line
        away from the given aortic-side point) or ``"longer_arc"`` (no usable aortic-side point).
    trigones_lps
        The two trigones projected onto the plane, (2, 3) LPS mm (L first).
    sl_points_lps
        SL end points (TT midpoint, posterior point), (2, 3) LPS mm, in the plane.
    ic_points_lps
        IC end points, (2, 3) LPS mm, in the plane.
    outline_lps
        The D polygon in the plane, (K, 3) LPS mm, not closed (the last edge, TT, is implied):
        first and last points are the projected trigones.
    """

    tt_mm: float
    sl_mm: float
    ic_mm: float
    d_area_mm2: float
    d_perimeter_mm: float
    saddle_perimeter_mm: float
    posterior_arc: str
    trigones_lps: FloatArray
    sl_points_lps: FloatArray
    ic_points_lps: FloatArray
    outline_lps: FloatArray

    def measurements(self) -> dict[str, float | None]:
        """The six numbers of the results contract (mm, mm^2), rounded."""
        return {
            "tt_mm": round_opt(self.tt_mm),
            "sl_mm": round_opt(self.sl_mm),
            "ic_mm": round_opt(self.ic_mm),
            "d_area_mm2": round_opt(self.d_area_mm2),
            "d_perimeter_mm": round_opt(self.d_perimeter_mm),
            "saddle_perimeter_mm": round_opt(self.saddle_perimeter_mm),
        }

    def points_dict(self) -> dict[str, object]:
        """The points used, for drawing (LPS mm)."""
        return {
            "posterior_arc": self.posterior_arc,
            "trigones_lps": [round_list(p) for p in self.trigones_lps],
            "sl_points_lps": [round_list(p) for p in self.sl_points_lps],
            "ic_points_lps": [round_list(p) for p in self.ic_points_lps],
        }


EMPTY_MEASUREMENTS: dict[str, float | None] = {
    "tt_mm": None,
    "sl_mm": None,
    "ic_mm": None,
    "d_area_mm2": None,
    "d_perimeter_mm": None,
    "saddle_perimeter_mm": None,
}


def aorto_mitral_angle_deg(aortic_normal: npt.ArrayLike, mitral_normal: npt.ArrayLike) -> float:
    """Acute angle between the aortic annulus normal ``n`` and the mitral normal ``N``.

    The two normals are taken as lines (their orientation does not matter), so the answer lies
    in 0-90 degrees.

    Parameters
    ----------
    aortic_normal, mitral_normal
        Direction vectors (any length but zero), LPS.

    Returns
    -------
    float
        Degrees, 0-90.
    """
    cosine = abs(float(unit(aortic_normal) @ unit(mitral_normal)))
    return math.degrees(math.acos(min(1.0, cosine)))


def _closed_length(points: FloatArray) -> float:
    closed = np.vstack([points, points[:1]])
    return float(np.linalg.norm(np.diff(closed, axis=0), axis=1).sum())


def _shoelace(xy: FloatArray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)))


def _line_crossings(
    polyline: FloatArray, origin: FloatArray, along: FloatArray, across: FloatArray
) -> FloatArray:
    """Positions ``s`` (along ``along`` from ``origin``) where the open 2-D ``polyline`` crosses
    the line ``origin + s * along``; ``across`` is the line's unit normal.

    A segment counts when its end offsets ``g`` from the line satisfy ``g0 <= 0 < g1`` or
    ``g1 <= 0 < g0`` (half-open, so a crossing at a vertex is counted once).
    """
    g = (polyline - origin) @ across
    g0, g1 = g[:-1], g[1:]
    hit = ((g0 <= 0.0) & (g1 > 0.0)) | ((g1 <= 0.0) & (g0 > 0.0))
    if not np.any(hit):
        return np.empty(0)
    p0, p1 = polyline[:-1][hit], polyline[1:][hit]
    w = (g0[hit] / (g0[hit] - g1[hit]))[:, None]
    result: FloatArray = ((p0 + w * (p1 - p0)) - origin) @ along
    return result


def measure_d_shape(
    curve_lps: npt.ArrayLike,
    plane_centre_lps: npt.ArrayLike,
    plane_normal: npt.ArrayLike,
    l_trigone_lps: npt.ArrayLike,
    r_trigone_lps: npt.ArrayLike,
    *,
    aortic_side_lps: npt.ArrayLike | None = None,
) -> DShape:
    """Measure the D-shaped annulus from a densely sampled closed annulus curve.

    Parameters
    ----------
    curve_lps
        The closed annulus curve, (M, 3) LPS mm, densely sampled (spacing well below a
        millimetre), first point not repeated, in order along the curve.
    plane_centre_lps, plane_normal
        A point of the annulus plane and its normal ``N`` (any orientation), LPS.
    l_trigone_lps, r_trigone_lps
        The left and right fibrous trigones, LPS mm (on or near the curve).
    aortic_side_lps
        A point on the anterior (aortic) side of the TT line, e.g. the aortic annulus centre.

    Returns
    -------
    DShape

    Notes
    -----
    The curve is cut at the samples nearest (in the plane) to each projected trigone, giving
    two arcs. The posterior arc is the one lying on the side of the TT line away from
    ``aortic_side_lps`` (compared by the mean signed offset of each arc's samples from the TT
    line): the anterior annulus is the aorto-mitral curtain, which faces the aortic valve.
    Without that point, or when it lies on the TT line, the longer arc (in the plane) is taken:
    the trigones bound the short anterior annulus, the posterior annulus is about two thirds of
    the circumference.

    The D polygon is the projected trigone at one end, the posterior arc's samples strictly
    between the two cut samples, and the other projected trigone; its closing edge is TT. SL
    ends at the farthest crossing of the perpendicular ray from the TT midpoint with the
    posterior arc (the outer border of the D); IC is the extent of the D polygon along the line
    parallel to TT through the SL midpoint.

    Raises
    ------
    NotAssessed
        Coinciding trigones, trigones that cut the curve at the same sample, or a
        perpendicular from the TT midpoint that misses the posterior arc.
    """
    curve = np.asarray(curve_lps, dtype=np.float64).reshape(-1, 3)
    if len(curve) < 8:
        raise NotAssessed("D-shaped annulus not assessed: the annulus curve has too few points.")
    centre = np.asarray(plane_centre_lps, dtype=np.float64).reshape(3)
    normal = unit(plane_normal)
    u, v = perpendicular_basis(normal)
    basis = np.stack([u, v])

    def to_plane(points: FloatArray) -> FloatArray:
        result: FloatArray = (points - centre) @ basis.T
        return result

    def to_lps(xy: FloatArray) -> FloatArray:
        result: FloatArray = centre + xy @ basis
        return result

    xy = to_plane(curve)
    trig = to_plane(
        np.stack(
            [
                np.asarray(l_trigone_lps, dtype=np.float64).reshape(3),
                np.asarray(r_trigone_lps, dtype=np.float64).reshape(3),
            ]
        )
    )
    tt_vec = trig[1] - trig[0]
    tt = float(np.linalg.norm(tt_vec))
    if tt < 1.0:
        raise NotAssessed(
            f"D-shaped annulus not assessed: the trigones are {tt:.2f} mm apart in the annulus "
            "plane (less than 1 mm)."
        )
    d = tt_vec / tt  # along TT, from L to R
    e = np.array([-d[1], d[0]])  # in-plane normal of the TT line
    mid = 0.5 * (trig[0] + trig[1])

    i_l = int(np.argmin(np.linalg.norm(xy - trig[0], axis=1)))
    i_r = int(np.argmin(np.linalg.norm(xy - trig[1], axis=1)))
    if i_l == i_r:
        raise NotAssessed(
            "D-shaped annulus not assessed: both trigones lie nearest the same point of the "
            "annulus curve."
        )
    count = len(xy)
    # arc "lr" runs forward from the L cut to the R cut, arc "rl" from the R cut to the L cut;
    # each holds the samples strictly between the cuts
    lr = xy[(i_l + 1 + np.arange((i_r - i_l - 1) % count)) % count]
    rl = xy[(i_r + 1 + np.arange((i_l - i_r - 1) % count)) % count]
    if len(lr) == 0 or len(rl) == 0:
        raise NotAssessed(
            "D-shaped annulus not assessed: the trigones cut the annulus curve at neighbouring "
            "samples."
        )
    polygons = (
        np.vstack([trig[0], lr, trig[1]]),  # L, posterior..., R
        np.vstack([trig[1], rl, trig[0]]),  # R, posterior..., L
    )

    choice = -1
    method = "longer_arc"
    if aortic_side_lps is not None:
        aortic = to_plane(np.asarray(aortic_side_lps, dtype=np.float64).reshape(1, 3))[0]
        aortic_offset = float((aortic - mid) @ e)
        if abs(aortic_offset) > _ON_LINE_MM:
            means = [float(np.mean((arc - mid) @ e)) for arc in (lr, rl)]
            # the posterior arc lies farthest on the side opposite the aortic point
            choice = int(np.argmin([m * math.copysign(1.0, aortic_offset) for m in means]))
            method = "aortic_side"
    if choice < 0:
        lengths = [float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) for p in polygons]
        choice = int(np.argmax(lengths))
    outline = polygons[choice]
    arc = outline  # the posterior arc as an open polyline from trigone to trigone

    # SL: the ray from the TT midpoint perpendicular to TT, toward the posterior arc
    side = math.copysign(1.0, float(np.mean((outline[1:-1] - mid) @ e)))
    sl_dir = side * e
    hits = _line_crossings(arc, mid, sl_dir, d)
    hits = hits[hits > 0.0]
    if hits.size == 0:
        raise NotAssessed(
            "D-shaped annulus not assessed: the perpendicular from the trigone-to-trigone "
            "midpoint does not meet the posterior annulus."
        )
    sl = float(hits.max())
    sl_end = mid + sl * sl_dir

    # IC: the chord of the closed D parallel to TT through the SL midpoint
    sl_mid = mid + 0.5 * sl * sl_dir
    closed = np.vstack([outline, outline[:1]])
    ic_hits = _line_crossings(closed, sl_mid, d, sl_dir)
    if ic_hits.size < 2:
        raise NotAssessed(
            "D-shaped annulus not assessed: the line through the SL midpoint parallel to TT "
            "does not cross the D shape twice."
        )
    ic_lo, ic_hi = float(ic_hits.min()), float(ic_hits.max())

    edges = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    result_arrays = (
        to_lps(trig),
        to_lps(np.stack([mid, sl_end])),
        to_lps(np.stack([sl_mid + ic_lo * d, sl_mid + ic_hi * d])),
        to_lps(outline),
    )
    for arr in result_arrays:
        arr.setflags(write=False)
    return DShape(
        tt_mm=tt,
        sl_mm=sl,
        ic_mm=ic_hi - ic_lo,
        d_area_mm2=_shoelace(outline),
        d_perimeter_mm=float(edges.sum()),
        saddle_perimeter_mm=_closed_length(curve),
        posterior_arc=method,
        trigones_lps=result_arrays[0],
        sl_points_lps=result_arrays[1],
        ic_points_lps=result_arrays[2],
        outline_lps=result_arrays[3],
    )


def d_shape_from_landmarks(
    curve_lps: npt.ArrayLike,
    plane_centre_lps: npt.ArrayLike,
    plane_normal: npt.ArrayLike,
    landmarks: Landmarks,
    *,
    aortic_side_lps: npt.ArrayLike | None = None,
) -> DShape:
    """:func:`measure_d_shape` with the trigones taken from ``landmarks``.

    Raises
    ------
    NotAssessed
        ``L_trigone`` or ``R_trigone`` is missing (the reason says "needs both L_trigone and
        R_trigone"), or :func:`measure_d_shape` cannot measure.
    """
    missing = [name for name in TRIGONE_NAMES if name not in landmarks]
    if missing:
        raise NotAssessed(
            f"D-shaped annulus not assessed: {NEEDS_TRIGONES} (missing {', '.join(missing)})."
        )
    return measure_d_shape(
        curve_lps,
        plane_centre_lps,
        plane_normal,
        np.asarray(landmarks[TRIGONE_NAMES[0]]),
        np.asarray(landmarks[TRIGONE_NAMES[1]]),
        aortic_side_lps=aortic_side_lps,
    )
