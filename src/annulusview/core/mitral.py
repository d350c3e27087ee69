"""Mitral annulus, mitral annular calcification (MAC), MAC CT score and neo-LVOT (section 8).

Everything here is decision support for planning and teaching, not a diagnosis.

Annulus
    The ``MA_*`` curve (8 or more ordered points, closed, saddle allowed) through a periodic
    cubic spline on the cumulative chord length; without it, a closed curve through
    ``MV_anterior``, ``MV_AL_commissure``, ``MV_posterior``, ``MV_PM_commissure`` (in that
    order around the annulus). With only four points a periodic cubic spline cuts the corners of
    an ellipse (area 2.9 % short for a 20 x 15 mm ellipse), so the four points are joined by the
    4-point trigonometric interpolant ``c + a cos t + b sin t + d cos 2t`` at ``t = 0, 90, 180,
    270`` degrees, which reproduces an ellipse through its axis ends exactly and the classic
    saddle (height ~ cos 2t, high at the anterior and posterior annulus) as well.
MAC
    Lesions are 3-D 26-connected calcium components within ``mac_max_distance_mm`` of the curve.
    See :func:`analyze_mac` for the exact definitions of extent, thickness, trigone and leaflet
    involvement, and :func:`mac_score` for the score (Guerrero et al., JACC Cardiovasc Imaging
    2020).
Neo-LVOT
    :mod:`annulusview.core.neo_lvot`.

The entry point for the engine is :func:`analyze_mitral`; it never raises for missing or
unusable mitral inputs, it records ``not_assessed`` with the reason instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.interpolate import CubicSpline
from scipy.spatial import cKDTree

from annulusview.core.landmarks import Landmarks
from annulusview.core.mitral_common import (
    FloatArray,
    IntArray,
    NotAssessed,
    VoxelCrop,
    median_hu_in_sphere,
    points_inside,
    unit,
)
from annulusview.core.neo_lvot import NeoLvotResult, VirtualValve, analyze_neo_lvot
from annulusview.core.progress import CancelToken, ProgressCallback, check, report
from annulusview.core.risk import HIGH, LOW, MODERATE, NOT_ASSESSED, Flag
from annulusview.core.rules import Rules, coerce_rules
from annulusview.core.volume import Volume

log = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]

LANDMARK_CURVE = ("MV_anterior", "MV_AL_commissure", "MV_posterior", "MV_PM_commissure")
TRIGONES = {"L": "L_trigone", "R": "R_trigone"}
# Direction from the mitral annulus toward the LV apex in a typical heart, LPS: the apex lies
# to the patient's left, anterior and inferior. Only used when neither an explicit direction
# nor the aortic annulus normal is known.
TYPICAL_APEX_DIRECTION_LPS = np.array([1.0, -1.0, -1.0]) / math.sqrt(3.0)
# Patient anterior in LPS (-y): fallback for the A-P direction without any anterior landmark.
_ANTERIOR_LPS = np.array([0.0, -1.0, 0.0])
_STRUCTURE_26 = np.ones((3, 3, 3), dtype=bool)
_STRUCTURE_8 = np.ones((3, 3), dtype=bool)
_MIN_THICKNESS_PIXEL_MM = 0.1
# HU between voxel centres is linear (trilinear sampling), so a 0.1 mm profile with linear
# interpolation of the crossing finds the iso-contour well under a tenth of a voxel.
_CHORD_STEP_MM = 0.1
_GUERRERO = "Guerrero M et al. JACC Cardiovasc Imaging 2020 (MAC CT score)"


# --------------------------------------------------------------------------------------------
# Annulus
# --------------------------------------------------------------------------------------------


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
            "center_lps": _list(self.center_lps),
            "normal_lps": _list(self.normal_lps, 4),
            "normal_points_to": "lv_apex",
            "normal_source": self.normal_source,
            "perimeter_mm": _round(self.perimeter_mm),
            "area_mm2": _round(self.area_mm2),
            "ap_diameter_mm": _round(self.ap_diameter_mm),
            "ic_diameter_mm": _round(self.ic_diameter_mm),
            "ap_method": self.ap_method,
            "ic_method": self.ic_method,
            "d_area_mm": _round(2.0 * math.sqrt(self.area_mm2 / math.pi)),
            "d_perimeter_mm": _round(self.perimeter_mm / math.pi),
            "method": self.method,
            "control_points": len(self.control_points_lps),
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _list(arr: npt.ArrayLike, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(arr).reshape(-1)]


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


# --------------------------------------------------------------------------------------------
# MAC
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MacLesion:
    """One MAC lesion (3-D 26-connected calcium component near the annulus).

    Attributes
    ----------
    id
        1-based, in order of decreasing volume.
    volume_mm3
        Voxel count x voxel volume, mm^3.
    max_hu
        Peak attenuation, HU.
    centroid_lps
        Mean voxel centre, LPS mm.
    distance_to_annulus_mm
        Smallest distance from a voxel centre to the annulus curve, mm.
    cut_by_crop
        True when the component reaches the edge of the analysis crop (it may continue
        beyond it; its volume is then a lower bound).
    """

    id: int
    volume_mm3: float
    max_hu: float
    centroid_lps: tuple[float, float, float]
    distance_to_annulus_mm: float
    cut_by_crop: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "volume_mm3": _round(self.volume_mm3),
            "max_hu": _round(self.max_hu, 1),
            "centroid_lps": _list(self.centroid_lps),
            "distance_to_annulus_mm": _round(self.distance_to_annulus_mm),
            "cut_by_crop": self.cut_by_crop,
        }


@dataclass(frozen=True)
class MacScore:
    """MAC CT score (Guerrero et al., JACC Cardiovasc Imaging 2020), each component and total.

    Attributes
    ----------
    thickness
        Average thickness < 5 / 5-9.9 / >= 10 mm -> 1 / 2 / 3 (0 without MAC).
    extent
        Circumferential extent < 180 / 180-270 / > 270 degrees -> 1 / 2 / 3 (0 without MAC).
    trigones
        Trigones involved: one / both -> 1 / 2.
    leaflets
        Leaflets calcified: one / both -> 1 / 2.
    total
        Sum, 0-10.
    grade
        ``none`` (no MAC lesion), ``mild`` (<= 3), ``moderate`` (4-6), ``severe`` (>= 7).
    """

    thickness: int
    extent: int
    trigones: int
    leaflets: int
    total: int
    grade: str

    def to_dict(self) -> dict[str, object]:
        return {
            "thickness": self.thickness,
            "extent": self.extent,
            "trigones": self.trigones,
            "leaflets": self.leaflets,
            "total": self.total,
            "grade": self.grade,
            "reference": _GUERRERO,
        }


def mac_score(
    *,
    has_mac: bool,
    thickness_mean_mm: float | None,
    extent_deg: float,
    trigones_involved: int,
    leaflets_involved: int,
    rules: Rules | None = None,
) -> MacScore:
    """MAC CT score (Guerrero et al., JACC Cardiovasc Imaging 2020).

    Parameters
    ----------
    has_mac
        At least one MAC lesion. Without one, thickness and extent score 0.
    thickness_mean_mm
        Average calcium thickness, mm; None (not measurable) scores as the lowest class.
    extent_deg
        Circumferential extent, degrees.
    trigones_involved, leaflets_involved
        0, 1 or 2.
    """
    rules = coerce_rules(rules)
    t_edges = [float(v) for v in rules.get("mitral.score_thickness_edges_mm")]
    e_edges = [float(v) for v in rules.get("mitral.score_extent_edges_deg")]
    if has_mac:
        mean = thickness_mean_mm if thickness_mean_mm is not None else 0.0
        thickness = 1 if mean < t_edges[0] else 2 if mean < t_edges[1] else 3
        # "< 180 / 180-270 / > 270": both edges belong to the middle class
        extent = 1 if extent_deg < e_edges[0] else 2 if extent_deg <= e_edges[1] else 3
    else:
        thickness = extent = 0
    trig = min(2, max(0, int(trigones_involved)))
    leaf = min(2, max(0, int(leaflets_involved)))
    total = thickness + extent + trig + leaf
    if not has_mac and total == 0:
        grade = "none"
    elif total >= int(rules.number("mitral.grade_severe_min")):
        grade = "severe"
    elif total >= int(rules.number("mitral.grade_moderate_min")):
        grade = "moderate"
    else:
        grade = "mild"
    return MacScore(thickness, extent, trig, leaf, total, grade)


@dataclass(frozen=True, eq=False)
class MacResult:
    """Mitral annular calcification measured against the annulus curve.

    Attributes
    ----------
    lesions
        MAC lesions, largest first.
    extent_deg
        Share of the curve length with MAC calcium within ``extent_distance_mm``, x 360.
    thickness_mean_mm, thickness_max_mm
        Mean and maximum of the cross-sectional thickness over the calcified curve positions
        (None when no position has calcium in its cross-section).
    trigones
        ``{"L": bool | None, "R": bool | None}``; None when the trigone landmark is missing.
    anterior_leaflet, posterior_leaflet
        Calcium in the leaflet region (see :func:`analyze_mac`).
    leaflet_calcium_mm3
        ``{"anterior": mm^3, "posterior": mm^3}``.
    score
        The MAC CT score.
    threshold_hu
        Calcium threshold used (None when a mask was given).
    curve_calcified, curve_thickness_mm
        Per curve sample: calcium within the extent distance; thickness (NaN where not
        measured). For drawing (MAC colouring along the annulus), not in :meth:`to_dict`.
    lesion_kji, lesion_ids
        Volume indices ``(k, j, i)`` of every MAC voxel and its lesion id, for drawing.
    """

    lesions: tuple[MacLesion, ...]
    extent_deg: float
    thickness_mean_mm: float | None
    thickness_max_mm: float | None
    trigones: Mapping[str, bool | None]
    anterior_leaflet: bool
    posterior_leaflet: bool
    leaflet_calcium_mm3: Mapping[str, float]
    score: MacScore
    threshold_hu: float | None
    curve_calcified: BoolArray = field(repr=False, default_factory=lambda: np.zeros(0, bool))
    curve_thickness_mm: FloatArray = field(repr=False, default_factory=lambda: np.zeros(0))
    lesion_kji: IntArray = field(repr=False, default_factory=lambda: np.zeros((0, 3), np.intp))
    lesion_ids: IntArray = field(repr=False, default_factory=lambda: np.zeros(0, np.intp))

    @property
    def volume_mm3(self) -> float:
        return float(sum(lesion.volume_mm3 for lesion in self.lesions))

    def to_dict(self) -> dict[str, object]:
        return {
            "present": bool(self.lesions),
            "volume_mm3": _round(self.volume_mm3),
            "lesions": [lesion.to_dict() for lesion in self.lesions],
            "extent_deg": _round(self.extent_deg, 1),
            "thickness_mean_mm": _round(self.thickness_mean_mm),
            "thickness_max_mm": _round(self.thickness_max_mm),
            "trigones": dict(self.trigones),
            "anterior_leaflet": self.anterior_leaflet,
            "posterior_leaflet": self.posterior_leaflet,
            "leaflet_calcium_mm3": {k: _round(v) for k, v in self.leaflet_calcium_mm3.items()},
            "score": self.score.to_dict(),
            "threshold_hu": _round(self.threshold_hu, 1),
        }


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


def _cross_section_thickness(
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


def _points_in_polygon(xy: FloatArray, polygon: FloatArray) -> BoolArray:
    """Even-odd rule point-in-polygon for (P, 2) points and an (M, 2) closed polygon."""
    x, y = xy[:, 0][:, None], xy[:, 1][:, None]
    x0, y0 = polygon[:, 0][None, :], polygon[:, 1][None, :]
    x1, y1 = np.roll(polygon[:, 0], -1)[None, :], np.roll(polygon[:, 1], -1)[None, :]
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    result: BoolArray = (np.sum(crosses & (x < x_at), axis=1) % 2) == 1
    return result


def _sparse_calcium(
    volume: Volume, crop: VoxelCrop, calcium: npt.NDArray[np.bool_] | float
) -> tuple[IntArray, FloatArray]:
    """Volume indices ``(k, j, i)`` and HU of the calcium voxels of the crop.

    One comparison over the crop and a flat index search (much faster than a 3-D nonzero);
    everything after works on these sparse voxels.
    """
    hu = volume.hu[crop.slices]
    if isinstance(calcium, np.ndarray):
        mask = np.asarray(calcium[crop.slices], dtype=bool)
    else:
        mask = hu >= calcium
    flat = np.flatnonzero(mask)
    local = np.stack(np.unravel_index(flat, mask.shape), axis=1).astype(np.intp)
    values = hu.reshape(-1)[flat] if hu.flags.c_contiguous else hu[tuple(local.T)]
    return local + np.asarray(crop.start, dtype=np.intp), np.asarray(values, dtype=np.float64)


def _label_sparse(kji: IntArray) -> tuple[IntArray, int]:
    """26-connected component label (1..n) of each voxel of a sparse set (bounding box only)."""
    if len(kji) == 0:
        return np.zeros(0, dtype=np.intp), 0
    lo = kji.min(axis=0)
    local = kji - lo
    mask = np.zeros(tuple(local.max(axis=0) + 1), dtype=bool)
    mask[tuple(local.T)] = True
    labels, count = ndimage.label(mask, structure=_STRUCTURE_26)
    return labels[tuple(local.T)].astype(np.intp), int(count)


def analyze_mac(
    volume: Volume,
    annulus: MitralAnnulus,
    calcium: npt.NDArray[np.bool_] | float,
    landmarks: Landmarks,
    *,
    rules: Rules | None = None,
    cancel: CancelToken | None = None,
) -> tuple[MacResult, tuple[str, ...]]:
    """Measure mitral annular calcification against the annulus curve (section 8).

    Definitions (distances between voxel centres and the densely sampled curve, mm):

    * **Analysis region**: the cylinder along the annulus normal of radius (largest in-plane
      radius of the curve + ``crop_margin_mm``), from ``leaflet_atrial_mm`` on the atrial side
      to ``leaflet_ventricular_mm`` on the ventricular side (and the curve's own height range),
      padded by ``crop_margin_mm``; only its bounding box is read. A lesion reaching its edge
      is marked ``cut_by_crop`` (its volume is a lower bound).
    * **Calcium**: voxels of ``calcium`` (a mask over the whole volume) or ``HU >= calcium``
      (a threshold); 3-D 26-connected components under ``threshold.min_lesion_mm3`` are noise.
    * **MAC lesion**: a component with a voxel within ``mac_max_distance_mm`` (5) of the curve.
    * **Extent**: the share of the curve length whose points have a MAC voxel within
      ``extent_distance_mm`` (3), in degrees of 360. A calcium arc with flat ends therefore
      measures its own arc plus ``2 asin(3 / R)`` on a circle of radius ``R``.
    * **Thickness** at a curve position (every ``thickness_step_mm`` along the calcified part):
      in the plane through it perpendicular to the curve tangent, calcium is resampled (HU
      interpolated linearly and thresholded, next to MAC voxels; a window of half-width
      ``thickness_window_mm``) and split into 8-connected regions. For each region with a
      pixel within ``extent_distance_mm`` of the curve point: the centre of the largest disc
      inside it (distance transform), then the shortest chord of the region through that
      centre, with sub-pixel edges from the HU profile (with a mask instead of a threshold: the
      disc's diameter). The thickness there is the largest over those regions. A round bar of
      diameter ``d`` gives ``d``; a flat plaque gives its thickness, not its depth; a crescent
      hugging the annulus gives the crescent's thickness, not its span (local thickness,
      Hildebrand and Ruegsegger, J Microsc 1997). Sections thinner than ``thickness_min_mm``
      (1 mm: grazing cuts through a lesion's blurred end) are not counted.
      ``thickness_mean_mm`` averages over the measured positions (evenly spaced by arc length,
      so an arc-length mean); ``thickness_max_mm`` is the largest.
    * **Trigone involvement**: a MAC voxel within ``trigone_distance_mm`` (5) of ``L_trigone``
      / ``R_trigone``; None when that landmark is missing.
    * **Leaflet calcification**: calcium (any component kept above) whose projection on the
      annulus plane lies inside the projected curve and more than ``leaflet_inset_mm`` (5, the
      MAC band) from it, at heights from ``leaflet_atrial_mm`` (3) on the atrial side to
      ``leaflet_ventricular_mm`` (20) on the ventricular side of the plane. It is anterior on
      the side of the commissural line (through ``MV_AL_commissure`` and ``MV_PM_commissure``,
      else the line through the centre perpendicular to the A-P direction) that holds the
      anterior annulus, posterior on the other. A leaflet counts as calcified with at least
      ``leaflet_min_mm3`` there. Limits: leaflets move with the cardiac phase and the
      coaptation line is not the commissural line (the anterior leaflet covers more of the
      closed orifice), so calcium near the middle of the orifice may be given to the wrong
      leaflet; calcium of other structures projecting into the orifice (papillary muscle tips,
      chordae) within 20 mm of the plane counts too.

    Returns
    -------
    result, warnings

    Raises
    ------
    NotAssessed
        The annulus lies outside the volume, or the mask has the wrong shape.
    """
    rules = coerce_rules(rules)
    warnings: list[str] = []
    mac_dist = rules.number("mitral.mac_max_distance_mm")
    extent_dist = rules.number("mitral.extent_distance_mm")
    trigone_dist = rules.number("mitral.trigone_distance_mm")
    atrial = rules.number("mitral.leaflet_atrial_mm")
    ventricular = rules.number("mitral.leaflet_ventricular_mm")
    inset = rules.number("mitral.leaflet_inset_mm")
    min_lesion = rules.number("threshold.min_lesion_mm3")

    curve = annulus.curve_lps
    normal = annulus.normal_lps
    if isinstance(calcium, np.ndarray) and calcium.shape != volume.hu.shape:
        raise NotAssessed(
            f"MAC not assessed: the calcium mask has shape {calcium.shape}, the volume "
            f"{volume.hu.shape}."
        )
    bounds = np.vstack([curve, curve + ventricular * normal, curve - atrial * normal])
    crop = VoxelCrop.around(volume, bounds, rules.number("mitral.crop_margin_mm"))
    if crop.empty:
        raise NotAssessed("MAC not assessed: the mitral annulus lies outside the CT volume.")
    probe = curve[:: max(1, len(curve) // 36)]
    if np.count_nonzero(points_inside(volume, probe, 0.5)) < 0.9 * len(probe):
        warnings.append("Part of the mitral annulus curve lies outside the CT volume.")
    threshold = None if isinstance(calcium, np.ndarray) else float(calcium)

    check(cancel)
    kji, hu_vox = _sparse_calcium(volume, crop, calcium)
    lps = volume.index_to_lps(kji[:, ::-1].astype(np.float64))
    # The analysis region is a cylinder around the annulus (the box crop holds it): the ring
    # plus margin in the plane, from the atrial margin to the ventricular end of the leaflet
    # band. Bone and vessels in the corners of the box are never labelled.
    margin = rules.number("mitral.crop_margin_mm")
    curve_plane = annulus.plane_coordinates(curve)
    ring_radius = float(np.hypot(curve_plane[:, 0], curve_plane[:, 1]).max())
    h_lo, h_hi = float(curve_plane[:, 2].min()), float(curve_plane[:, 2].max())
    coords = annulus.plane_coordinates(lps)
    radius = np.hypot(coords[:, 0], coords[:, 1])
    roi_radius = ring_radius + margin
    roi_h = (min(h_lo, -atrial) - margin, max(h_hi, ventricular) + margin)
    in_roi = (radius <= roi_radius) & (coords[:, 2] >= roi_h[0]) & (coords[:, 2] <= roi_h[1])
    kji, hu_vox = kji[in_roi], hu_vox[in_roi]
    lps, coords, radius = lps[in_roi], coords[in_roi], radius[in_roi]
    edge = max(volume.spacing_mm)
    on_roi_edge = (
        (radius > roi_radius - edge)
        | (coords[:, 2] < roi_h[0] + edge)
        | (coords[:, 2] > roi_h[1] - edge)
    )
    lab, count = _label_sparse(kji)
    voxel_mm3 = volume.voxel_volume_mm3
    sizes = np.bincount(lab, minlength=count + 1)
    kept_label = sizes * voxel_mm3 >= min_lesion
    kept_label[0] = False
    keep_voxel = kept_label[lab]

    # Cheap pre-selection in plane coordinates (height h, in-plane radius) so that distances to
    # the curve are only computed for voxels that can be within the MAC band.
    near_band = (
        keep_voxel
        & (radius <= ring_radius + mac_dist)
        & (coords[:, 2] >= h_lo - mac_dist)
        & (coords[:, 2] <= h_hi + mac_dist)
    )
    curve_tree = cKDTree(curve)
    min_dist = np.full(count + 1, np.inf)
    nearest_sample = np.full(len(lps), -1, dtype=np.intp)
    # distance of each voxel to the curve samples where within mac_dist, else inf (a bounded
    # query prunes the tree; voxels outside the band are farther than mac_dist anyway)
    voxel_dist = np.full(len(lps), np.inf)
    if np.any(near_band):
        d_band, i_band = curve_tree.query(lps[near_band], distance_upper_bound=mac_dist + 1e-9)
        found = np.isfinite(d_band)
        band_index = np.flatnonzero(near_band)
        nearest_sample[band_index[found]] = i_band[found]
        voxel_dist[band_index] = d_band
        np.minimum.at(min_dist, lab[band_index[found]], d_band[found])
    is_mac_label = kept_label & (min_dist <= mac_dist)
    mac_voxel = is_mac_label[lab]
    missing = mac_voxel & (nearest_sample < 0)  # lesion voxels beyond mac_dist of the curve
    if np.any(missing):
        nearest_sample[missing] = curve_tree.query(lps[missing])[1]
    mac_ids = np.flatnonzero(is_mac_label)
    # lesion ids by decreasing volume
    order = mac_ids[np.argsort(-sizes[mac_ids], kind="stable")]
    new_id = np.zeros(count + 1, dtype=np.intp)
    new_id[order] = np.arange(1, len(order) + 1)
    lesions: list[MacLesion] = []
    local_kji = kji - np.asarray(crop.start, dtype=np.intp)
    for old in order:
        sel = lab == old
        cut = crop.touches_edge(local_kji[sel], volume) or bool(np.any(on_roi_edge[sel]))
        centroid = lps[sel].mean(axis=0)
        lesions.append(
            MacLesion(
                id=int(new_id[old]),
                volume_mm3=float(sizes[old] * voxel_mm3),
                max_hu=float(hu_vox[sel].max()),
                centroid_lps=(float(centroid[0]), float(centroid[1]), float(centroid[2])),
                distance_to_annulus_mm=float(min_dist[old]),
                cut_by_crop=cut,
            )
        )
        if cut:
            warnings.append(
                f"MAC lesion {int(new_id[old])} reaches the edge of the analysis region; its "
                "volume is a lower bound."
            )

    mac_lps = lps[mac_voxel]
    # Only MAC voxels within extent_dist of some curve sample can make a sample calcified.
    extent_lps = lps[mac_voxel & (voxel_dist <= extent_dist)]
    if len(extent_lps):
        # an unbalanced tree builds faster and is queried only once
        tree = cKDTree(extent_lps, balanced_tree=False, compact_nodes=False)
        d_curve, _ = tree.query(curve, distance_upper_bound=extent_dist + 1e-9)
        calcified = np.asarray(d_curve <= extent_dist)
    else:
        calcified = np.zeros(len(curve), dtype=bool)
    extent = 360.0 * float(calcified.mean())

    check(cancel)
    thickness = np.full(len(curve), np.nan)
    stride = max(1, round(rules.number("mitral.thickness_step_mm") / annulus.sample_step_mm))
    positions = np.flatnonzero(calcified & (np.arange(len(curve)) % stride == 0))
    if len(positions):
        thickness[positions] = _cross_section_thickness(
            volume,
            annulus,
            positions,
            mac_lps,
            nearest_sample[mac_voxel],
            threshold,
            pixel_mm=rules.number("mitral.thickness_pixel_mm"),
            half_width_mm=rules.number("mitral.thickness_window_mm"),
            near_mm=extent_dist,
            min_thickness_mm=rules.number("mitral.thickness_min_mm"),
            cancel=cancel,
        )
    measured = thickness[np.isfinite(thickness)]
    t_mean = float(measured.mean()) if len(measured) else None
    t_max = float(measured.max()) if len(measured) else None
    if lesions and t_mean is None:
        warnings.append(
            "MAC lesions lie near the annulus but no cross-section holds calcium within "
            f"{extent_dist:g} mm of the curve; thickness was not measured (scored as < 5 mm)."
        )

    trigones: dict[str, bool | None] = {}
    for key, name in TRIGONES.items():
        pos = landmarks.get(name)
        if pos is None:
            trigones[key] = None
        elif len(mac_lps):
            d2 = np.einsum("ij,ij->i", mac_lps - pos, mac_lps - pos)
            trigones[key] = bool(d2.min() <= trigone_dist**2)
        else:
            trigones[key] = False
    if lesions and any(v is None for v in trigones.values()):
        absent = [TRIGONES[k] for k, v in trigones.items() if v is None]
        warnings.append(
            f"Trigone involvement not assessed for missing {', '.join(absent)}; the MAC score "
            "may be underestimated."
        )

    # Leaflets: in-plane position relative to the projected curve and the commissural line.
    leaf = {"anterior": 0.0, "posterior": 0.0}
    in_band = (
        keep_voxel
        & (radius < ring_radius - inset)
        & (coords[:, 2] >= -atrial)
        & (coords[:, 2] <= ventricular)
    )
    if np.any(in_band):
        polygon = curve_plane[:, :2]
        xy = coords[in_band, :2]
        # a 1 mm polygon is exact enough to tell inside from outside 5 mm from the ring
        coarse = polygon[:: max(1, round(1.0 / annulus.sample_step_mm))]
        inner = _points_in_polygon(xy, coarse)
        if np.any(inner):
            d_ring, _ = cKDTree(polygon).query(xy[inner])
            xy_in = xy[inner][d_ring > inset]
            line_point, line_normal = _commissural_line(annulus, landmarks)
            side = (xy_in - line_point) @ line_normal  # < 0: anterior side
            leaf["anterior"] = float(np.count_nonzero(side < 0) * voxel_mm3)
            leaf["posterior"] = float(np.count_nonzero(side >= 0) * voxel_mm3)
    leaf_min = rules.number("mitral.leaflet_min_mm3")
    anterior_leaflet = leaf["anterior"] >= leaf_min
    posterior_leaflet = leaf["posterior"] >= leaf_min

    score = mac_score(
        has_mac=bool(lesions),
        thickness_mean_mm=t_mean,
        extent_deg=extent,
        trigones_involved=sum(1 for v in trigones.values() if v),
        leaflets_involved=int(anterior_leaflet) + int(posterior_leaflet),
        rules=rules,
    )
    lesion_kji = kji[mac_voxel]
    lesion_of_voxel = new_id[lab[mac_voxel]]
    for arr in (calcified, thickness, lesion_kji, lesion_of_voxel):
        arr.setflags(write=False)
    result = MacResult(
        lesions=tuple(lesions),
        extent_deg=extent,
        thickness_mean_mm=t_mean,
        thickness_max_mm=t_max,
        trigones=trigones,
        anterior_leaflet=anterior_leaflet,
        posterior_leaflet=posterior_leaflet,
        leaflet_calcium_mm3=leaf,
        score=score,
        threshold_hu=threshold,
        curve_calcified=calcified,
        curve_thickness_mm=thickness,
        lesion_kji=lesion_kji,
        lesion_ids=lesion_of_voxel,
    )
    return result, tuple(warnings)


def _commissural_line(
    annulus: MitralAnnulus, landmarks: Landmarks
) -> tuple[FloatArray, FloatArray]:
    """A point on the commissural line and its in-plane unit normal pointing posterior,
    in plane coordinates ``(ap, ic)``."""
    al, pm = landmarks.get("MV_AL_commissure"), landmarks.get("MV_PM_commissure")
    if al is not None and pm is not None:
        a = annulus.plane_coordinates(al)[:2]
        b = annulus.plane_coordinates(pm)[:2]
        along = b - a
        if float(np.linalg.norm(along)) > 1e-6:
            line_normal = np.array([along[1], -along[0]]) / float(np.linalg.norm(along))
            # posterior is +ap in plane coordinates
            if line_normal[0] < 0:
                line_normal = -line_normal
            return a, line_normal
    return np.zeros(2), np.array([1.0, 0.0])


# --------------------------------------------------------------------------------------------
# Results and the entry point
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MitralResults:
    """The ``mitral`` section of the results.

    Attributes
    ----------
    annulus, mac, neo_lvot
        Each part, or None when not assessed (``not_assessed`` says why).
    flags
        ``mitral.mac_score`` and ``mitral.neo_lvot`` (always both; ``not_assessed`` when their
        inputs are missing).
    warnings
        Findings the user must know about.
    not_assessed
        Part name (``annulus``, ``mac``, ``neo_lvot``) -> reason.
    parameters
        Every rule value and input setting used.
    """

    annulus: MitralAnnulus | None
    mac: MacResult | None
    neo_lvot: NeoLvotResult | None
    flags: tuple[Flag, ...] = ()
    warnings: tuple[str, ...] = ()
    not_assessed: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``assessed`` (all parts), ``partial`` or ``not_assessed`` (nothing)."""
        parts = (self.annulus, self.mac, self.neo_lvot)
        done = sum(p is not None for p in parts)
        return "assessed" if done == 3 else "not_assessed" if done == 0 else "partial"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready ``mitral`` section (layout in ``.notes-mitral.md`` / the docs)."""
        return {
            "status": self.status,
            "annulus": self.annulus.to_dict() if self.annulus else None,
            "mac": self.mac.to_dict() if self.mac else None,
            "neo_lvot": self.neo_lvot.to_dict() if self.neo_lvot else None,
            "flags": [flag.to_dict() for flag in self.flags],
            "warnings": list(self.warnings),
            "not_assessed": dict(self.not_assessed),
            "parameters": dict(self.parameters),
        }


def _mac_flag(mac: MacResult | None, reason: str, rules: Rules) -> Flag:
    reference = str(rules.get("mitral.reference"))
    moderate = float(rules.number("mitral.grade_moderate_min"))
    severe = float(rules.number("mitral.grade_severe_min"))
    if mac is None:
        return Flag(
            "mitral.mac_score",
            NOT_ASSESSED,
            None,
            None,
            "MAC CT score not assessed.",
            reference,
            "points",
            reason,
        )
    s = mac.score
    level = {"severe": HIGH, "moderate": MODERATE}.get(s.grade, LOW)
    threshold = severe if level == HIGH else moderate
    parts = (
        f"thickness {s.thickness}, extent {s.extent}, trigones {s.trigones}, leaflets {s.leaflets}"
    )
    if s.grade == "none":
        message = "No mitral annular calcification near the annulus (MAC CT score 0)."
    else:
        message = f"MAC CT score {s.total} of 10, {s.grade} MAC ({parts})."
    return Flag("mitral.mac_score", level, float(s.total), threshold, message, reference, "points")


def _neo_flag(neo: NeoLvotResult | None, reason: str, rules: Rules) -> Flag:
    high = rules.number("neo_lvot.high_le_mm2")
    moderate = rules.number("neo_lvot.moderate_le_mm2")
    ref_high = str(rules.get("neo_lvot.reference_high"))
    ref_moderate = str(rules.get("neo_lvot.reference_moderate"))
    if neo is None:
        return Flag(
            "mitral.neo_lvot",
            NOT_ASSESSED,
            None,
            None,
            "Neo-LVOT area not assessed.",
            f"{ref_high}; {ref_moderate}",
            "mm2",
            reason,
        )
    area = neo.area_mm2
    if area <= high:
        level, threshold, ref = HIGH, high, ref_high
        message = (
            f"Predicted neo-LVOT area {area:.0f} mm2 <= {high:.0f} mm2: high risk of LVOT "
            "obstruction after transcatheter mitral valve replacement."
        )
    elif area <= moderate:
        level, threshold, ref = MODERATE, moderate, ref_moderate
        message = (
            f"Predicted neo-LVOT area {area:.0f} mm2 <= {moderate:.0f} mm2: moderate risk of LVOT "
            "obstruction."
        )
    else:
        level, threshold, ref = LOW, moderate, f"{ref_high}; {ref_moderate}"
        message = f"Predicted neo-LVOT area {area:.0f} mm2 (> {moderate:.0f} mm2)."
    return Flag("mitral.neo_lvot", level, round(area, 1), threshold, message, ref, "mm2")


def _parameters(
    rules: Rules, valve: VirtualValve | None, extra: Mapping[str, Any]
) -> dict[str, Any]:
    data = rules.to_dict()
    out: dict[str, Any] = {
        "mitral": data.get("mitral", {}),
        "neo_lvot": data.get("neo_lvot", {}),
        "min_lesion_mm3": data.get("threshold", {}).get("min_lesion_mm3"),
    }
    if valve is not None:
        out["valve"] = valve.to_dict()
    out.update(extra)
    return out


def analyze_mitral(
    volume: Volume,
    landmarks: Landmarks,
    calcium_mask_or_threshold: npt.NDArray[np.bool_] | float | None = None,
    *,
    aortic_origin: npt.ArrayLike | None = None,
    aortic_normal: npt.ArrayLike | None = None,
    lumen_hu: float | None = None,
    contrast: bool = True,
    valve: VirtualValve | None = None,
    lv_direction: npt.ArrayLike | None = None,
    rules: Rules | str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> MitralResults:
    """Mitral annulus, MAC, MAC CT score and neo-LVOT: the ``mitral`` section of the results.

    Never raises for missing or unusable mitral inputs: each part that cannot be made is None
    with its reason in ``not_assessed``, and the two flags say ``not_assessed``.

    Parameters
    ----------
    volume
        The CT volume.
    landmarks
        Landmarks (``MA_*`` and/or ``MV_*``, trigones), LPS mm.
    calcium_mask_or_threshold
        Calcium as a boolean mask over the whole volume, or a threshold in HU (the engine's
        ``T``). None: 130 HU on non-contrast CT, ``lumen_hu + 100`` on contrast CT (section 5).
    aortic_origin, aortic_normal
        Aortic annulus centre ``O`` (LPS mm) and normal ``n`` (toward the aorta). Needed for the
        neo-LVOT; ``n`` also orients the mitral normal toward the LV.
    lumen_hu
        Lumen attenuation ``LA`` (HU); measured at ``O - 5 n`` when None.
    contrast
        Contrast-enhanced study; the neo-LVOT needs contrast.
    valve
        Virtual valve for the neo-LVOT; the rules defaults when None.
    lv_direction
        Optional explicit direction toward the LV apex (LPS).
    rules
        Rules (or a path to a user rules file); the defaults when None.
    progress, cancel
        Progress callback and cancellation token.
    """
    rules = coerce_rules(rules)
    warnings: list[str] = []
    reasons: dict[str, str] = {}
    report(progress, 0.0, "Mitral annulus")
    origin = None if aortic_origin is None else np.asarray(aortic_origin, dtype=np.float64)
    normal = None if aortic_normal is None else unit(aortic_normal)
    if lumen_hu is None and origin is not None and normal is not None:
        centre = origin - rules.number("contrast.lumen_sphere_offset_mm") * normal
        lumen_hu = median_hu_in_sphere(
            volume, centre, rules.number("contrast.lumen_sphere_radius_mm")
        )
    if valve is None:
        valve = VirtualValve.from_rules(rules)

    annulus: MitralAnnulus | None = None
    try:
        annulus, found = fit_mitral_annulus(
            landmarks,
            lv_direction=lv_direction,
            aortic_normal=normal,
            aortic_origin=origin,
            rules=rules,
        )
        warnings.extend(found)
    except NotAssessed as exc:
        reasons["annulus"] = exc.message
    for name in (*LANDMARK_CURVE, *TRIGONES.values()):
        pos = landmarks.get(name)
        if pos is not None and not volume.contains_lps(pos):
            warnings.append(f"Mitral landmark {name} lies outside the CT volume.")

    threshold: npt.NDArray[np.bool_] | float | None = calcium_mask_or_threshold
    if threshold is None:
        if not contrast:
            threshold = rules.number("threshold.noncontrast_hu")
        elif lumen_hu is not None:
            threshold = lumen_hu + rules.number("threshold.lumen_plus_offset_hu")

    mac: MacResult | None = None
    if annulus is None:
        reasons["mac"] = "MAC not assessed: no mitral annulus (see annulus)."
    elif threshold is None:
        reasons["mac"] = (
            "MAC not assessed: no calcium threshold (contrast CT without a lumen attenuation; "
            "place the aortic hinges or give a threshold)."
        )
    else:
        report(progress, 0.2, "Mitral annular calcification")
        try:
            mac, found = analyze_mac(
                volume, annulus, threshold, landmarks, rules=rules, cancel=cancel
            )
            warnings.extend(found)
        except NotAssessed as exc:
            reasons["mac"] = exc.message

    neo: NeoLvotResult | None = None
    if annulus is None:
        reasons["neo_lvot"] = "Neo-LVOT not assessed: no mitral annulus (see annulus)."
    else:
        report(progress, 0.6, "Neo-LVOT")
        try:
            neo = analyze_neo_lvot(
                volume,
                annulus.center_lps,
                annulus.normal_lps,
                aortic_origin_lps=origin,
                aortic_normal_lps=normal,
                valve=valve,
                lumen_hu=lumen_hu,
                contrast=contrast,
                calcium=threshold,
                rules=rules,
                cancel=cancel,
            )
            warnings.extend(neo.warnings)
        except NotAssessed as exc:
            reasons["neo_lvot"] = exc.message
    report(progress, 1.0, "Mitral done")

    flags = (
        _mac_flag(mac, reasons.get("mac", ""), rules),
        _neo_flag(neo, reasons.get("neo_lvot", ""), rules),
    )
    params = _parameters(
        rules,
        valve,
        {
            "threshold_hu": None
            if threshold is None or isinstance(threshold, np.ndarray)
            else float(threshold),
            "calcium_input": "mask" if isinstance(threshold, np.ndarray) else "threshold",
            "lumen_hu": None if lumen_hu is None else round(float(lumen_hu), 1),
            "contrast": bool(contrast),
            "lv_direction_given": lv_direction is not None,
        },
    )
    for reason in reasons.values():
        log.info("%s", reason)
    return MitralResults(
        annulus=annulus,
        mac=mac,
        neo_lvot=neo,
        flags=flags,
        warnings=tuple(dict.fromkeys(warnings)),
        not_assessed=reasons,
        parameters=params,
    )
