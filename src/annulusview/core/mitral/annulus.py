"""The mitral annulus: the closed ``MA_*`` curve (or the four-landmark curve) and its
measurements (clinical-model.md section 8).

With only four points a periodic cubic spline cuts the corners of an ellipse (area 2.9 % short
for a 20 x 15 mm ellipse), so the four points are joined by the 4-point trigonometric
interpolant ``c + a cos t + b sin t + d cos 2t`` at ``t = 0, 90, 180, 270`` degrees, which
reproduces an ellipse through its axis ends exactly and the classic saddle as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.interpolate import CubicSpline

from annulusview.core.landmarks import Landmarks
from annulusview.core.mitral.common import (
    FloatArray,
    NotAssessed,
    round_list,
    round_opt,
    unit,
)
from annulusview.core.rules import Rules, coerce_rules

LANDMARK_CURVE = ("MV_anterior", "MV_AL_commissure", "MV_posterior", "MV_PM_commissure")

# Direction from the mitral annulus toward the LV apex in a typical heart, LPS: the apex lies
# to the patient's left, anterior and inferior. Only used when neither an explicit direction
# nor the aortic annulus normal is known.
TYPICAL_APEX_DIRECTION_LPS = np.array([1.0, -1.0, -1.0]) / math.sqrt(3.0)

# Patient anterior in LPS (-y): fallback for the A-P direction without any anterior landmark.
_ANTERIOR_LPS = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True, eq=False)
class MitralAnnulus:
    """The mitral annulus curve and its measurements.

    Attributes
    ----------
    method
        ``"MA_curve"`` (periodic cubic spline through the ``MA_*`` points) or
        ``"landmark_curve"`` (trigonometric curve through the four mitral landmarks).
    control_points_lps
        The points the curve passes through, (K, 3) LPS mm.
    curve_lps
        The closed curve sampled uniformly by arc length, (M, 3) LPS mm, first point not
        repeated; sample ``m`` lies at arc length ``m * perimeter_mm / M``.
    tangents_lps
        Unit tangents at the samples, (M, 3).
    center_lps
        Mean of the uniform samples (centroid of the curve), LPS mm.
    normal_lps
        Unit normal of the least-squares plane (SVD) of the samples, oriented toward the LV
        apex (see ``normal_source``).
    normal_source
        How the LV side was chosen: ``"explicit"`` (a direction was given), ``"aortic_normal"``
        (the side opposite the aortic annulus normal, which points from the LV to the aorta),
        or ``"typical_anatomy"`` (apex to the patient's left, anterior and inferior).
    ap_direction_lps
        In-plane unit vector from the anterior toward the posterior annulus.
    perimeter_mm
        3-D length of the closed curve, mm.
    area_mm2
        Area enclosed by the curve projected onto the plane (shoelace), mm^2.
    ap_diameter_mm, ic_diameter_mm
        Anteroposterior and intercommissural diameters in the plane, mm (see ``ap_method``
        and ``ic_method``: ``"landmarks"`` = in-plane distance between the two landmarks,
        ``"curve_extent"`` = caliper width of the projected curve along the direction).
    """

    method: str
    control_points_lps: FloatArray
    curve_lps: FloatArray
    tangents_lps: FloatArray
    center_lps: FloatArray
    normal_lps: FloatArray
    normal_source: str
    ap_direction_lps: FloatArray
    perimeter_mm: float
    area_mm2: float
    ap_diameter_mm: float
    ic_diameter_mm: float
    ap_method: str
    ic_method: str

    @property
    def ic_direction_lps(self) -> FloatArray:
        """In-plane unit vector perpendicular to the A-P direction."""
        result: FloatArray = np.cross(self.normal_lps, self.ap_direction_lps)
        return result

    @property
    def sample_step_mm(self) -> float:
        return self.perimeter_mm / len(self.curve_lps)

    def plane_coordinates(self, points_lps: npt.ArrayLike) -> FloatArray:
        """``(..., 3)`` coordinates ``(ap, ic, h)``: in-plane along A-P and I-C from the centre,
        and height ``h`` along the normal (positive toward the LV), mm."""
        rel = np.asarray(points_lps, dtype=np.float64) - self.center_lps
        axes = np.stack([self.ap_direction_lps, self.ic_direction_lps, self.normal_lps])
        result: FloatArray = rel @ axes.T
        return result

    def to_dict(self) -> dict[str, object]:
        return {
            "center_lps": round_list(self.center_lps),
            "normal_lps": round_list(self.normal_lps, 4),
            "normal_points_to": "lv_apex",
            "normal_source": self.normal_source,
            "perimeter_mm": round_opt(self.perimeter_mm),
            "area_mm2": round_opt(self.area_mm2),
            "ap_diameter_mm": round_opt(self.ap_diameter_mm),
            "ic_diameter_mm": round_opt(self.ic_diameter_mm),
            "ap_method": self.ap_method,
            "ic_method": self.ic_method,
            "d_area_mm": round_opt(2.0 * math.sqrt(self.area_mm2 / math.pi)),
            "d_perimeter_mm": round_opt(self.perimeter_mm / math.pi),
            "method": self.method,
            "control_points": len(self.control_points_lps),
        }


def _periodic_spline_curve(points: FloatArray, fine: int) -> FloatArray:
    """Periodic cubic spline through ``points`` (closed), parameter = cumulative chord length."""
    closed = np.vstack([points, points[:1]])
    chords = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    param = np.concatenate([[0.0], np.cumsum(chords)])
    spline = CubicSpline(param, closed, bc_type="periodic")
    result: FloatArray = spline(np.linspace(0.0, param[-1], fine, endpoint=False))
    return result


def _four_point_curve(points: FloatArray, fine: int) -> FloatArray:
    """Closed curve ``c + a cos t + b sin t + d cos 2t`` through 4 points at t = 0, 90, 180, 270
    degrees (the discrete Fourier interpolant of 4 samples)."""
    p0, p1, p2, p3 = points
    c = (p0 + p1 + p2 + p3) / 4.0
    a = (p0 - p2) / 2.0
    b = (p1 - p3) / 2.0
    d = (p0 - p1 + p2 - p3) / 4.0
    t = np.linspace(0.0, 2.0 * np.pi, fine, endpoint=False)[:, None]
    result: FloatArray = c + a * np.cos(t) + b * np.sin(t) + d * np.cos(2.0 * t)
    return result


def _resample_closed(fine_curve: FloatArray, step_mm: float) -> tuple[FloatArray, float]:
    """Uniform arc-length samples of a densely sampled closed curve, and its perimeter."""
    closed = np.vstack([fine_curve, fine_curve[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    perimeter = float(arc[-1])
    count = max(360, math.ceil(perimeter / step_mm))
    targets = np.linspace(0.0, perimeter, count, endpoint=False)
    samples = np.stack([np.interp(targets, arc, closed[:, axis]) for axis in range(3)], axis=1)
    return samples, perimeter


def _shoelace(xy: FloatArray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)))


def _in_plane(vector: FloatArray, normal: FloatArray) -> FloatArray:
    result: FloatArray = vector - float(vector @ normal) * normal
    return result


def fit_mitral_annulus(
    landmarks: Landmarks,
    *,
    lv_direction: npt.ArrayLike | None = None,
    aortic_normal: npt.ArrayLike | None = None,
    aortic_origin: npt.ArrayLike | None = None,
    rules: Rules | None = None,
) -> tuple[MitralAnnulus, tuple[str, ...]]:
    """Build the mitral annulus curve and measure it.

    Parameters
    ----------
    landmarks
        ``MA_01``... (8 or more, ordered) and/or the four mitral landmarks, LPS mm.
    lv_direction
        Optional explicit direction toward the LV apex (LPS); the normal is oriented to agree.
    aortic_normal
        Aortic annulus normal ``n`` (points from the LV to the aorta). Without ``lv_direction``
        the mitral normal is oriented so that ``normal . n < 0``: the mitral inflow (left atrium
        to apex) and the aortic outflow (apex to aorta) run in roughly opposite directions (the
        planes meet at the aorto-mitral angle of about 110-150 degrees, so the angle between the
        apex-pointing mitral normal and ``n`` is well above 90 degrees).
    aortic_origin
        Aortic annulus centre ``O``; the anterior mitral annulus faces it (aorto-mitral
        continuity), which fixes the A-P direction when ``MV_anterior`` is absent.
    rules
        Analysis rules (``[mitral]``); the defaults when None.

    Returns
    -------
    annulus, warnings

    Raises
    ------
    NotAssessed
        Fewer than the needed points, or points that span no plane.
    """
    rules = coerce_rules(rules)
    warnings: list[str] = []
    min_points = int(rules.number("mitral.min_curve_points"))
    step = rules.number("mitral.curve_sample_step_mm")
    ma = landmarks.mitral_curve
    if 0 < len(ma) < min_points:
        warnings.append(
            f"The MA_* annulus curve has {len(ma)} point(s); at least {min_points} are needed, "
            "so it was not used."
        )
    if len(ma) >= min_points:
        points = ma.copy()
        if np.linalg.norm(points[0] - points[-1]) < 1e-6:
            points = points[:-1]  # closing point repeated by some exporters
        chords = np.linalg.norm(np.diff(np.vstack([points, points[:1]]), axis=0), axis=1)
        if float(chords.min()) < 0.1:
            raise NotAssessed(
                "Two consecutive MA_* annulus points coincide (less than 0.1 mm apart); "
                "the curve is not defined."
            )
        fine = _periodic_spline_curve(points, max(4000, 40 * len(points)))
        method = "MA_curve"
    else:
        missing = [name for name in LANDMARK_CURVE if name not in landmarks]
        if missing:
            raise NotAssessed(
                "Mitral annulus not assessed: needs an MA_* curve of at least "
                f"{min_points} points ({len(ma)} given) or the four landmarks "
                f"{', '.join(LANDMARK_CURVE)}; missing {', '.join(missing)}."
            )
        points = np.stack([np.asarray(landmarks[name]) for name in LANDMARK_CURVE])
        fine = _four_point_curve(points, 4000)
        method = "landmark_curve"

    samples, perimeter = _resample_closed(fine, step)
    center = samples.mean(axis=0)
    _, singular, vt = np.linalg.svd(samples - center, full_matrices=False)
    # singular values scale with sqrt(M); this is the RMS spread along the second axis, mm
    spread = float(singular[1]) / math.sqrt(len(samples))
    if spread < 2.0:
        raise NotAssessed(
            f"The mitral annulus points are (nearly) collinear (spread {spread:.1f} mm); "
            "they define no plane."
        )
    normal = unit(vt[2])

    if lv_direction is not None:
        reference, source = unit(lv_direction), "explicit"
    elif aortic_normal is not None:
        reference, source = -unit(aortic_normal), "aortic_normal"
    else:
        reference, source = TYPICAL_APEX_DIRECTION_LPS, "typical_anatomy"
        warnings.append(
            "The LV side of the mitral annulus was taken from typical anatomy (apex to the "
            "patient's left, anterior, inferior); place the aortic hinges to use the aortic axis."
        )
    if float(normal @ reference) < 0:
        normal = -normal

    anterior = landmarks.get("MV_anterior")
    posterior = landmarks.get("MV_posterior")
    if anterior is not None and posterior is not None:
        ap_vec = _in_plane(posterior - anterior, normal)
    elif anterior is not None:
        ap_vec = _in_plane(center - anterior, normal)
    elif aortic_origin is not None:
        ap_vec = _in_plane(center - np.asarray(aortic_origin, dtype=np.float64), normal)
    else:
        ap_vec = _in_plane(-_ANTERIOR_LPS, normal)
        warnings.append(
            "No MV_anterior landmark or aortic annulus: the anteroposterior direction was taken "
            "from the patient axes."
        )
    if float(np.linalg.norm(ap_vec)) < 1e-6:
        ap_vec = vt[0]
        warnings.append("The anteroposterior direction is undefined; the long axis was used.")
    ap_dir = unit(ap_vec)
    ic_dir = np.cross(normal, ap_dir)

    xy = np.stack([samples @ ap_dir, samples @ ic_dir], axis=1)
    area = _shoelace(xy)
    if anterior is not None and posterior is not None:
        ap_diameter = float(np.linalg.norm(_in_plane(posterior - anterior, normal)))
        ap_method = "landmarks"
    else:
        ap_diameter = float(np.ptp(xy[:, 0]))
        ap_method = "curve_extent"
    al, pm = landmarks.get("MV_AL_commissure"), landmarks.get("MV_PM_commissure")
    if al is not None and pm is not None:
        ic_diameter = float(np.linalg.norm(_in_plane(al - pm, normal)))
        ic_method = "landmarks"
    else:
        ic_diameter = float(np.ptp(xy[:, 1]))
        ic_method = "curve_extent"

    tangents = np.roll(samples, -1, axis=0) - np.roll(samples, 1, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    for arr in (points, samples, tangents, center, normal, ap_dir):
        arr.setflags(write=False)
    annulus = MitralAnnulus(
        method=method,
        control_points_lps=points,
        curve_lps=samples,
        tangents_lps=tangents,
        center_lps=center,
        normal_lps=normal,
        normal_source=source,
        ap_direction_lps=ap_dir,
        perimeter_mm=perimeter,
        area_mm2=area,
        ap_diameter_mm=ap_diameter,
        ic_diameter_mm=ic_diameter,
        ap_method=ap_method,
        ic_method=ic_method,
    )
    return annulus, tuple(warnings)
