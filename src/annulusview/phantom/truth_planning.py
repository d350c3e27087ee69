"""The phantom truth of the planning read, derived from the anatomy constants only: coronary
heights, ostium radii and VTC, the two named C-arm views, and the root planes (LVOT, sinus, STJ,
ascending aorta). :mod:`annulusview.phantom.truth` puts them into ``truth.json``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from annulusview.phantom.anatomy import ANATOMY, CUSP_ANGLES_DEG, SphereLesion
from annulusview.phantom.geometry import FloatArray, ellipse_perimeter


def _r(value: float, nd: int = 4) -> float:
    return round(float(value), nd)


def _vec(p: FloatArray, nd: int = 4) -> list[float]:
    return [_r(v, nd) for v in np.asarray(p, dtype=np.float64)]


#: The planned valve the coronary truth works the VTC for (mm).
VTC_VALVE_MM = 26.0


def _lumen_area(h_mm: float) -> float:
    """Closed-form lumen area at height h: the polar integral of ``lumen_radius``."""
    theta = np.arange(0.0, 360.0, 0.05)
    r = ANATOMY.lumen_radius(theta, h_mm)
    return float(0.5 * np.sum(r**2) * math.radians(0.05))


def coronary_truth(contrast: bool) -> dict[str, Any]:
    """Heights, ostium radii, sinus-to-commissure diameters and VTC, from the anatomy.

    The ostium landmark sits on the lumen wall: ``r = lumen_radius(theta, h)``. The sinus plane
    is the largest lumen section for 5 <= h <= 25 (0.05 mm steps); the cusp's chord is
    ``lumen_radius(theta) + lumen_radius(theta + 180)`` there. VTC = r - valve / 2.
    """
    A = ANATOMY
    heights = np.arange(5.0, 25.0 + 1e-9, 0.05)
    h_sinus = float(heights[np.argmax([_lumen_area(h) for h in heights])])
    out: dict[str, Any] = {"sinus_height_mm": _r(h_sinus, 2), "valve_mm": VTC_VALVE_MM}
    for artery, cusp, h in (("LCA", "LCC", A.lca_height_mm), ("RCA", "RCC", A.rca_height_mm)):
        theta = CUSP_ANGLES_DEG[cusp]
        r = float(A.lumen_radius(theta, h))
        chord = float(A.lumen_radius(theta, h_sinus) + A.lumen_radius(theta + 180.0, h_sinus))
        out[artery] = {
            "cusp": cusp,
            "height_mm": h,
            "ostium_radius_mm": _r(r),
            "sinus_diameter_mm": _r(chord) if contrast else None,
            "vtc_mm": _r(r - VTC_VALVE_MM / 2.0),
            "expected_with_valve": "met high" if r - VTC_VALVE_MM / 2.0 <= 4.0 else "not_met",
        }
    return out


#: Root planes (clinical-model.md 4.2): the LVOT plane, the sinus search range, the top of the
#: STJ search and the ascending-aorta level (mm above the annulus), and the STJ rule's 2 %.
ROOT_LVOT_LEVEL_MM = -4.0


ROOT_SINUS_SEARCH_MM = (5.0, 25.0)


ROOT_STJ_TOP_MM = 40.0


ROOT_ASCENDING_LEVEL_MM = 40.0


ROOT_STJ_AREA_TOLERANCE = 0.02


ROOT_STEP_MM = 0.05


def root_truth(contrast: bool, lesions: tuple[SphereLesion, ...] = ()) -> dict[str, Any]:
    """LVOT, sinus, STJ and ascending-aorta answers from the anatomy (clinical-model.md 4.2).

    - LVOT at h = -4 mm: the lumen is the ellipse ``a_mm x b_mm`` there (``lumen_radius`` is
      the ellipse for h <= ``sinus_start_mm``): area ``pi a b``, perimeter ``4 a E(m)``
      (:func:`ellipse_perimeter`), d_min ``2 b``, d_max ``2 a``. This is the calcium-free
      ellipse: the tissue halos of the lesions listed in ``lesions_in_plane`` cut the plane
      inside it and dent the measured lumen (tavr-contrast: the RCC annulus nodule and the
      NCC and RCC LVOT calcium; tavr-noncontrast: the NCC LVOT calcium, not measured there).
    - Sinus: the largest lumen section (polar integral of ``lumen_radius``, 0.05 deg) for
      5 <= h <= 25 in 0.05 mm steps; per cusp the chord
      ``lumen_radius(theta) + lumen_radius(theta + 180)`` on that plane.
    - STJ: the smallest section from the sinus plane (exclusive) up to 40 mm, taken as the
      lowest plane within 2 % of that smallest area (0.05 mm steps); its diameter is the
      area-derived ``2 sqrt(area / pi)``. Sinus heights: STJ height minus each hinge's (0).
    - Ascending aorta at +40 mm: the profile is round there (the blend is complete and the
      bulge ``sin(pi t_b)^2`` is 0), diameter ``2 ascending_radius_mm``.

    Every value above the annulus is read from ``lumen_radius``, so it follows the sinus's
    lower border (``Anatomy.crown_height``): flat in the standard cases; with a scalloped
    border the LVOT, the ascending aorta, the ostium radii (over the cusp centres, where the
    crown is at its nadir) and the commissure radii (no bulge there) stay the same.

    Without contrast nothing is measured (no lumen to contour): every value is None.
    """
    A = ANATOMY
    lvot_h = ROOT_LVOT_LEVEL_MM
    in_plane = []
    for lesion in lesions:
        reach = lesion.radius_mm + lesion.halo_mm
        dz = lvot_h - lesion.h_mm
        if abs(dz) < reach and lesion.r_mm - math.sqrt(reach**2 - dz**2) < float(
            A.lumen_radius(lesion.theta_deg, lvot_h)
        ):
            in_plane.append(lesion.name)
    note = (
        "hand-derived from the anatomy constants (see root_truth); LVOT = the calcium-free "
        "ellipse, dented by the tissue halos of lesions_in_plane"
    )
    if not contrast:
        empty_cusps = {cusp: None for cusp in CUSP_ANGLES_DEG}
        return {
            "lvot": {
                "level_mm": lvot_h,
                "area_mm2": None,
                "perimeter_mm": None,
                "d_min_mm": None,
                "d_max_mm": None,
                "lesions_in_plane": in_plane,
            },
            "sinus": {"height_mm": None, "area_mm2": None, "diameter_mm": dict(empty_cusps)},
            "stj": {"height_mm": None, "area_mm2": None, "diameter_mm": None},
            "ascending_aorta": {"level_mm": ROOT_ASCENDING_LEVEL_MM, "diameter_mm": None},
            "sinus_heights_mm": dict(empty_cusps),
            "note": "non-contrast: no lumen to contour, so nothing is measured (all sizes "
            "null); the geometry is the contrast cases'",
        }
    lo, hi = ROOT_SINUS_SEARCH_MM
    heights = np.arange(lo, hi + 1e-9, ROOT_STEP_MM)
    h_sinus = float(heights[np.argmax([_lumen_area(h) for h in heights])])
    above = np.arange(h_sinus + ROOT_STEP_MM, ROOT_STJ_TOP_MM + 1e-9, ROOT_STEP_MM)
    areas = np.array([_lumen_area(h) for h in above])
    first = np.flatnonzero(areas <= areas.min() * (1.0 + ROOT_STJ_AREA_TOLERANCE))[0]
    h_stj = float(above[first])
    stj_area = _lumen_area(h_stj)
    theta = np.arange(0.0, 360.0, 1.0)
    top = A.lumen_radius(theta, ROOT_ASCENDING_LEVEL_MM)
    round_top = float(np.ptp(top)) < 1e-9
    return {
        "lvot": {
            "level_mm": lvot_h,
            "area_mm2": _r(math.pi * A.a_mm * A.b_mm),
            "perimeter_mm": _r(ellipse_perimeter(A.a_mm, A.b_mm)),
            "d_min_mm": _r(2.0 * A.b_mm),
            "d_max_mm": _r(2.0 * A.a_mm),
            "lesions_in_plane": in_plane,
        },
        "sinus": {
            "height_mm": _r(h_sinus, 2),
            "area_mm2": _r(_lumen_area(h_sinus)),
            "diameter_mm": {
                cusp: _r(float(A.lumen_radius(t, h_sinus) + A.lumen_radius(t + 180.0, h_sinus)))
                for cusp, t in CUSP_ANGLES_DEG.items()
            },
        },
        "stj": {
            "height_mm": _r(h_stj, 2),
            "area_mm2": _r(stj_area),
            "diameter_mm": _r(2.0 * math.sqrt(stj_area / math.pi)),
        },
        "ascending_aorta": {
            "level_mm": ROOT_ASCENDING_LEVEL_MM,
            "diameter_mm": _r(2.0 * A.ascending_radius_mm) if round_top else None,
        },
        "sinus_heights_mm": {cusp: _r(h_stj, 2) for cusp in CUSP_ANGLES_DEG},
        "note": note,
    }


def _carm_angles(direction: FloatArray) -> dict[str, float]:
    """LAO and cranial angle of a view along +-direction, with the image intensifier in front
    of the patient (p_y < 0 in LPS): p = (sin a cos b, -cos a cos b, sin b) (section 9)."""
    p = np.asarray(direction, dtype=np.float64)
    p = p / np.linalg.norm(p)
    if p[1] > 0:
        p = -p
    return {
        "lao_deg": _r(math.degrees(math.atan2(p[0], -p[1])), 3),
        "cranial_deg": _r(math.degrees(math.asin(p[2])), 3),
    }


def fluoroscopy_truth() -> dict[str, Any]:
    """The two named C-arm views of the phantom's tilted root, by construction.

    The hinges lie on a circle of radius R at theta = 0 (RCC), 120 (LCC), 240 (NCC) in the
    annular plane. A view direction d perpendicular to n shows the plane edge-on; a hinge X
    projects to ``X . w`` with ``w = d x n``. Three-cusp: RCC midway between LCC and NCC, i.e.
    ``w . (RCC - (LCC + NCC) / 2) = 1.5 R (w . u) = 0``, so d is along u. Cusp overlap:
    ``w . (RCC - LCC) = 0``, so d is along RCC - LCC = R (1.5 u - (sqrt 3 / 2) v), the
    in-plane direction at theta = -30 deg.
    """
    f = ANATOMY.frame
    overlap = math.cos(math.radians(-30.0)) * f.u + math.sin(math.radians(-30.0)) * f.v
    return {
        "three_cusp": _carm_angles(f.u),
        "cusp_overlap": _carm_angles(overlap),
        "note": "closed form from the hinge circle (see fluoroscopy_truth); angles in deg",
    }
