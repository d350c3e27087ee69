"""The phantom's answers (``truth.json``), computed in closed form from the design.

Schema ``annulusview.phantom-truth/2``. Lengths mm, areas mm^2, volumes mm^3, angles deg, HU.
Expected values after blur use the iso-surface of the blurred shape at the case's default
threshold (see :func:`iso_radius_ball`); geometric values are the unblurred shapes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from annulusview.phantom.anatomy import (
    ANATOMY,
    BLUR_SIGMA_MM,
    COMMISSURE_ANGLES_DEG,
    CUSP_ANGLES_DEG,
    MS_INFERIOR_THETA_DEG,
    NOISE_SD_HU,
    CaseSpec,
    MacArc,
    SphereLesion,
)
from annulusview.phantom.geometry import (
    FloatArray,
    blurred_ball_profile,
    distance_to_annular_wedge,
    distance_to_cylinder_slab,
    iso_radius_ball,
    iso_radius_cylinder,
)
from annulusview.phantom.render import GridSpec, mac_curve
from annulusview.phantom.truth_planning import (
    VTC_VALVE_MM,
    _r,
    _vec,
    coronary_truth,
    fluoroscopy_truth,
    root_truth,
)

__all__ = ["VTC_VALVE_MM", "build_truth", "coronary_truth", "fluoroscopy_truth", "root_truth"]

SCHEMA = "annulusview.phantom-truth/2"
PATIENT_SEX = "M"
CONTRAST_THRESHOLD_OFFSET_HU = 100.0
NONCONTRAST_THRESHOLD_HU = 130.0
FIXED_THRESHOLD_HU = 850.0
ANALYSIS_REGION = {"r_margin_mm": 12.0, "h_min_mm": -15.0, "h_max_mm": 25.0}
REGION_H = {"leaflet": (2.0, 20.0), "annulus": (-2.0, 2.0), "lvot": (-10.0, -2.0)}
REGION_R_MARGIN_MM = 5.0
CUSP_SECTORS_DEG = {"RCC": (300.0, 60.0), "LCC": (60.0, 180.0), "NCC": (180.0, 300.0)}


def threshold_for(spec: CaseSpec) -> tuple[float, str]:
    """Default calcium threshold (HU) and its method name for the case."""
    if spec.contrast:
        return spec.materials.blood + CONTRAST_THRESHOLD_OFFSET_HU, "lumen_plus_100"
    return NONCONTRAST_THRESHOLD_HU, "noncontrast_130"


def conduction_zone(ms_length_mm: float) -> dict[str, tuple[float, float]]:
    """The conduction region in frame coordinates (clinical-model.md v2 section 6): from
    20 deg before MS_inferior (theta 292) counter-clockwise to 10 deg past the RCC hinge
    (theta 0; the LCC hinge at 120 is not on that side), from h_top = min(0, h(MS_inferior) + 1)
    = min(0, 1 - L) down 10 mm, R - 3 <= r <= R + 6."""
    R = ANATOMY.R_mm
    h_top = min(0.0, 1.0 - ms_length_mm)
    return {
        "theta_deg": (MS_INFERIOR_THETA_DEG - 20.0, 360.0 + 10.0),
        "h_mm": (h_top - 10.0, h_top),
        "r_mm": (R - 3.0, R + 6.0),
    }


def _in_sector(theta: float, sector: tuple[float, float]) -> bool:
    return (theta - sector[0]) % 360.0 <= (sector[1] - sector[0]) % 360.0


def _half_plane_distance(r: float, theta: float, boundary: float) -> float:
    delta = abs((theta - boundary + 180.0) % 360.0 - 180.0)
    return r * math.sin(math.radians(delta)) if delta < 90.0 else r


def _region_of(h: float, r: float) -> str:
    R = ANATOMY.R_mm
    if r > R + REGION_R_MARGIN_MM:
        return "other"
    if REGION_H["leaflet"][0] < h <= REGION_H["leaflet"][1]:
        return "leaflet"
    if REGION_H["annulus"][0] <= h <= REGION_H["annulus"][1]:
        return "annulus"
    if REGION_H["lvot"][0] <= h < REGION_H["lvot"][1]:
        return "lvot"
    return "other"


def _in_analysis_region(h: float, r: float, radius: float) -> tuple[bool, float]:
    """Whether a sphere lies inside the analysis cylinder, and its distance to it (mm)."""
    R = ANATOMY.R_mm
    h_rng = (ANALYSIS_REGION["h_min_mm"], ANALYSIS_REGION["h_max_mm"])
    d = distance_to_cylinder_slab(h, r, h_rng, R + ANALYSIS_REGION["r_margin_mm"]) - radius
    return d < 0, max(0.0, d)


def sphere_lesion_truth(
    index: int, lesion: SphereLesion, spec: CaseSpec, threshold_hu: float
) -> dict[str, Any]:
    """Closed-form answers for one sphere lesion."""
    f = ANATOMY.frame
    R = ANATOMY.R_mm
    bg = spec.materials.wall
    a = lesion.radius_mm
    iso = iso_radius_ball(a, BLUR_SIGMA_MM, lesion.hu, bg, threshold_hu)
    h, r, th = lesion.h_mm, lesion.r_mm, lesion.theta_deg
    centre = f.point(h, r, th)
    inside, dist_region = _in_analysis_region(h, r, iso)
    out: dict[str, Any] = {
        "id": index,
        "name": lesion.name,
        "shape": "sphere",
        "centre_lps": _vec(centre, 6),
        "h_mm": h,
        "r_mm": r,
        "theta_deg": th,
        "radius_mm": a,
        "hu": lesion.hu,
        "background_hu": bg,
        "geometric_volume_mm3": _r(4 / 3 * math.pi * a**3),
        "iso_radius_mm": _r(iso),
        "expected_volume_mm3": _r(4 / 3 * math.pi * iso**3),
        "in_analysis_region": inside,
    }
    if spec.contrast:
        iso850 = iso_radius_ball(a, BLUR_SIGMA_MM, lesion.hu, bg, FIXED_THRESHOLD_HU)
        out["expected_volume_850_mm3"] = _r(4 / 3 * math.pi * iso850**3)
    if not inside:
        out["distance_to_analysis_region_mm"] = _r(dist_region)
        return out

    region = _region_of(h, r)
    cusp = next(c for c, s in CUSP_SECTORS_DEG.items() if _in_sector(th, s))
    # Clearances of the iso-sphere from its region and sector boundaries.
    clear = [R + REGION_R_MARGIN_MM - (r + iso)]
    if region in REGION_H:
        lo, hi = REGION_H[region]
        clear += [h - iso - lo, hi - (h + iso)]
    sector = CUSP_SECTORS_DEG[cusp]
    sector_clear = min(_half_plane_distance(r, th, b) for b in sector) - iso
    zone = conduction_zone(spec.ms_length_mm)
    d_zone = distance_to_annular_wedge(h, r, th, zone["h_mm"], zone["r_mm"], zone["theta_deg"])
    zone_margins = [
        min(_half_plane_distance(r, th, b) for b in zone["theta_deg"]) - iso,
        r - iso - zone["r_mm"][0],
        zone["r_mm"][1] - (r + iso),
        h - iso - zone["h_mm"][0],
        zone["h_mm"][1] - (h + iso),
    ]
    in_zone = d_zone == 0.0 and min(zone_margins) >= 0.0
    if not in_zone and d_zone < iso:
        raise ValueError(f"lesion {lesion.name!r} straddles the conduction zone boundary")
    if min(clear) < 0 or sector_clear < 0:
        raise ValueError(f"lesion {lesion.name!r} crosses a region or sector boundary")
    volume = 4 / 3 * math.pi * iso**3
    by_region = {region: _r(volume)}
    if in_zone:
        by_region["conduction"] = _r(volume)
    d_lvot = distance_to_cylinder_slab(h, r, REGION_H["lvot"], R + REGION_R_MARGIN_MM)
    low_h = h - iso <= 2.0
    out.update(
        {
            "region": region,
            "cusp": cusp,
            "volume_by_region_mm3": by_region,
            "volume_by_cusp_mm3": {cusp: _r(volume)},
            "distance_to_lvot_mm": _r(max(0.0, d_lvot - iso)),
            "distance_to_conduction_mm": 0.0 if in_zone else _r(d_zone - iso),
            "inward_extent_mm": _r(max(0.0, R - (r - iso))) if low_h else 0.0,
            "inward_extent_geometric_mm": _r(max(0.0, R - (r - a))) if h - a <= 2.0 else 0.0,
            "clearance_mm": {
                "region": _r(min(clear)),
                "sector": _r(sector_clear),
                "conduction": _r(min(zone_margins) if in_zone else d_zone - iso),
            },
        }
    )
    return out


def _weight(peak_hu: float) -> int:
    return 4 if peak_hu >= 400 else 3 if peak_hu >= 300 else 2 if peak_hu >= 200 else 1


def agatston_expected(
    lesion: SphereLesion, slice_z_mm: FloatArray, slice_mm: float, background_hu: float
) -> tuple[float, float]:
    """Agatston of one sphere, ``(unblurred, blurred)``.

    Unblurred: per axial slice, the sphere's disc area (>= 1 mm^2) x weight from the lesion
    HU x increment / 3 mm. Blurred: the same with the 130 HU iso-sphere's disc and the weight
    of the blurred peak in that slice (closed form, ignoring noise and pixelation).
    """
    centre = ANATOMY.frame.point(lesion.h_mm, lesion.r_mm, lesion.theta_deg)
    dz = np.asarray(slice_z_mm) - centre[2]
    area = np.pi * np.clip(lesion.radius_mm**2 - dz**2, 0.0, None)
    plain = float(area[area >= 1.0].sum() * _weight(lesion.hu) * slice_mm / 3.0)
    iso = iso_radius_ball(
        lesion.radius_mm, BLUR_SIGMA_MM, lesion.hu, background_hu, NONCONTRAST_THRESHOLD_HU
    )
    blurred = 0.0
    for d in dz:
        a = math.pi * max(0.0, iso**2 - d * d)
        if a >= 1.0:
            peak = background_hu + (lesion.hu - background_hu) * float(
                blurred_ball_profile(abs(d), lesion.radius_mm, BLUR_SIGMA_MM)
            )
            blurred += a * _weight(peak) * slice_mm / 3.0
    return plain, blurred


def agatston_slab_expected(
    lesions: list[SphereLesion], slab_mm: float, background_hu: float, phase_mm: float
) -> float:
    """Agatston of unblurred spheres on slabs of ``slab_mm`` whose boundaries lie at
    ``phase_mm + m * slab_mm`` along z (clinical-model.md section 5, thin slices).

    Per slab, a pixel at distance rho from a sphere's axis averages
    ``background + (HU - background) * chord / slab`` (chord: the sphere's extent along z inside
    the slab); pixels from 130 HU form a disc of area pi rho*^2, counted from 1 mm^2, weighted by
    the axis pixel's average, times slab / 3 mm. Closed form up to a fine rho grid.
    """
    total = 0.0
    for lesion in lesions:
        zc = float(ANATOMY.frame.point(lesion.h_mm, lesion.r_mm, lesion.theta_deg)[2])
        rho = np.linspace(0.0, lesion.radius_mm, 4001)
        half = np.sqrt(lesion.radius_mm**2 - rho**2)
        first = phase_mm + slab_mm * math.floor((zc - lesion.radius_mm - phase_mm) / slab_mm)
        start = first
        while start < zc + lesion.radius_mm:
            lo, hi = start - zc, start + slab_mm - zc
            chord = np.clip(np.minimum(half, hi) - np.maximum(-half, lo), 0.0, None)
            avg = background_hu + (lesion.hu - background_hu) * chord / slab_mm
            counted = avg >= NONCONTRAST_THRESHOLD_HU
            if counted.any():
                area = math.pi * float(rho[counted].max()) ** 2
                if area >= 1.0:
                    total += area * _weight(float(avg[0])) * slab_mm / 3.0
            start += slab_mm
    return total


def _score_thickness(mm: float) -> int:
    return 1 if mm < 5.0 else 2 if mm < 10.0 else 3


def _score_extent(deg: float) -> int:
    return 1 if deg < 180.0 else 2 if deg <= 270.0 else 3


def mitral_truth(spec: CaseSpec, threshold_hu: float) -> dict[str, Any]:
    """Mitral annulus geometry and, for the mac case, the MAC answers and CT score."""
    m = ANATOMY.mitral
    out: dict[str, Any] = {
        "annulus": {
            "shape": "planar ellipse",
            "centre_lps": _vec(m.centre),
            "normal_lps": _vec(m.normal),
            "ap_axis_lps": _vec(m.e_ap),
            "ic_axis_lps": _vec(m.e_ic),
            "perimeter_mm": _r(m.perimeter_mm),
            "area_mm2": _r(m.area_mm2),
            "ap_diameter_mm": 2 * m.semi_ap_mm,
            "intercommissural_diameter_mm": 2 * m.semi_ic_mm,
            "curve": "MA_01..MA_16 at ellipse angles 0, 22.5, ... deg; MA_01 = MV_anterior",
        },
        "mac": None,
    }
    if spec.mac is None:
        return out
    mac: MacArc = spec.mac
    bg = spec.materials.wall
    rho = mac.radius_mm
    rho_iso = iso_radius_cylinder(rho, BLUR_SIGMA_MM, mac.hu, bg, threshold_hu)
    cap_iso = iso_radius_ball(rho, BLUR_SIGMA_MM, mac.hu, bg, threshold_hu)
    arc = mac_curve(mac)
    arc_len = float(np.linalg.norm(np.diff(arc, axis=0), axis=1).sum())
    # Extent as v2 section 8 reads it: the positions whose cross-section slab holds MAC
    # calcium, i.e. the tube's own arc plus, at each end, the round cap (radius rho_iso) that
    # reaches rho_iso past the end along the curve.
    _, ring, cum = m.dense_curve(7200)
    d_ring = np.min(np.linalg.norm(ring[:, None, :] - arc[None, ::10, :], axis=-1), axis=1)
    near = d_ring[:-1] <= rho_iso
    seg = np.diff(cum)
    extent_measured = float(seg[near].sum() / cum[-1] * 360.0)
    lm = ANATOMY.landmarks(spec.ms_length_mm)
    trig = {}
    for name in ("L_trigone", "R_trigone"):
        d = float(np.min(np.linalg.norm(arc - lm[name], axis=1))) - rho_iso
        trig[name] = {"distance_mm": _r(max(0.0, d)), "involved": bool(d <= 5.0)}
    f = ANATOMY.frame
    h, r, _ = f.cylindrical(arc[:, 0], arc[:, 1], arc[:, 2])
    region_d = min(
        distance_to_cylinder_slab(
            float(hh), float(rr), (-15.0, 25.0), ANATOMY.R_mm + ANALYSIS_REGION["r_margin_mm"]
        )
        for hh, rr in zip(h, r, strict=True)
    ) - max(rho_iso, cap_iso)
    n_trig = sum(t["involved"] for t in trig.values())
    thickness = 2 * rho
    components = {
        "thickness": _score_thickness(thickness),
        "extent": _score_extent(mac.extent_deg),
        "trigones": n_trig,
        "leaflets": 0,
    }
    total = sum(components.values())
    grade = "mild" if total <= 3 else "moderate" if total <= 6 else "severe"
    geometric = math.pi * rho**2 * arc_len + 4 / 3 * math.pi * rho**3
    expected = math.pi * rho_iso**2 * arc_len + 4 / 3 * math.pi * cap_iso**3
    out["mac"] = {
        "shape": "tube of calcium along the annulus curve, round caps",
        "hu": mac.hu,
        "background_hu": bg,
        "start_phi_deg": mac.start_phi_deg,
        "arc_length_mm": _r(arc_len),
        "extent_deg": mac.extent_deg,
        "expected_extent_deg": _r(extent_measured, 2),
        "extent_note": "extent_deg = share of the curve length covered by the arc; "
        "expected_extent_deg adds the round caps at both ends (v2: slab coverage)",
        "thickness_mm": thickness,
        "expected_thickness_mm": _r(2 * rho_iso),
        "trigones": trig,
        "leaflets_involved": [],
        "anterior_leaflet_calcification": False,
        "geometric_volume_mm3": _r(geometric),
        "expected_volume_mm3": _r(expected),
        "volume_note": "blurred-cylinder iso radius along the arc plus blurred-ball caps "
        "(approximate at the caps and for the curvature)",
        "in_aortic_analysis_region": False,
        "distance_to_aortic_analysis_region_mm": _r(region_d),
        "score": {"components": components, "total": total, "grade": grade},
        "score_reference": "Guerrero M et al. JACC Cardiovasc Imaging 2020 (MAC CT score)",
    }
    if region_d <= 0:
        raise ValueError("MAC reaches into the aortic analysis region")
    return out


# Hand-derived from clinical-model.md v2 section 7 (no planned valve, PatientSex M, 100 kVp).
# 'not_met' means the rule was assessed and its criterion does not hold (it is not 'low risk').
_NO_VALVE = "no planned valve given"


def _f(rule: str, status: str, level: str | None, why: str) -> dict[str, str | None]:
    return {"id": rule, "status": status, "level": level, "why": why}


EXPECTED_FLAGS: dict[str, list[dict[str, str | None]]] = {
    "tavr-contrast": [
        _f("pvl.lvot_calcium", "met", "moderate", "two LVOT lesions, about 43.9 + 22.9 mm3 > 0"),
        _f(
            "pvl.leaflet_calcium_850",
            "not_met",
            None,
            "leaflet calcium at 850 HU: one LCC nodule, about 36 mm3 < 235 mm3",
        ),
        _f(
            "pvl.protrusion",
            "met",
            "high",
            "RCC annulus nodule reaches r = 8.8 - 1.5 (iso radius) = 7.3 mm: inward extent "
            "R - 7.3 = 4.7 mm > 4, more than its ~3 mm extent along the wall (protruding)",
        ),
        _f("pvl.undersizing_with_lvot_calcium", "not_assessed", None, _NO_VALVE),
        _f("rupture.lvot_calcium_oversizing", "not_assessed", None, _NO_VALVE),
        _f(
            "conduction.ms_length",
            "met",
            "moderate",
            "MS_inferior at h = -4.0: infra-annular MS 4.0 mm in 3-6 mm",
        ),
        _f("conduction.delta_msid", "not_assessed", None, "no implant depth given"),
        _f(
            "conduction.zone_calcium",
            "met",
            "moderate",
            "the NCC LVOT lesion lies inside the conduction zone: zone calcium > 0",
        ),
        _f("as.agatston", "not_assessed", None, "contrast CT: Agatston is not reported"),
    ],
    "tavr-noncontrast": [
        _f("pvl.lvot_calcium", "not_assessed", None, "the evidence is on contrast CTA"),
        _f("pvl.leaflet_calcium_850", "not_assessed", None, "rule needs contrast CT"),
        _f(
            "pvl.protrusion",
            "not_met",
            None,
            "only annulus/LVOT lesion sits in the wall (inward extent < 1 mm)",
        ),
        _f("pvl.undersizing_with_lvot_calcium", "not_assessed", None, _NO_VALVE),
        _f("rupture.lvot_calcium_oversizing", "not_assessed", None, _NO_VALVE),
        _f("conduction.ms_length", "met", "high", "infra-annular MS 2.5 mm < 3 mm"),
        _f("conduction.delta_msid", "not_assessed", None, "no implant depth given"),
        _f(
            "conduction.zone_calcium",
            "not_met",
            None,
            "nearest lesion (NCC LVOT, 40 deg from the zone edge) lies outside the zone; the "
            "leaflet spheres stay > 4 mm above h = 0",
        ),
        _f(
            "as.agatston",
            "indeterminate",
            None,
            "the phantom is written at 100 kVp; the AVC thresholds were validated at 120 kVp",
        ),
    ],
    "mac": [
        _f("pvl.lvot_calcium", "not_met", None, "no LVOT calcium"),
        _f("pvl.leaflet_calcium_850", "not_met", None, "one 1.8 mm leaflet nodule, << 235 mm3"),
        _f("pvl.protrusion", "not_met", None, "no lesion at or below h = 2 mm"),
        _f("pvl.undersizing_with_lvot_calcium", "not_assessed", None, _NO_VALVE),
        _f("rupture.lvot_calcium_oversizing", "not_assessed", None, _NO_VALVE),
        _f("conduction.ms_length", "met", "moderate", "infra-annular MS 5.0 mm in 3-6 mm"),
        _f("conduction.delta_msid", "not_assessed", None, "no implant depth given"),
        _f(
            "conduction.zone_calcium",
            "not_met",
            None,
            "only aortic lesion is a leaflet nodule > 6 mm above the zone; the MAC is outside "
            "the aortic analysis region",
        ),
        _f("as.agatston", "not_assessed", None, "contrast CT"),
    ],
    "normal": [
        _f("pvl.lvot_calcium", "not_met", None, "no calcium in the analysis region"),
        _f("pvl.leaflet_calcium_850", "not_met", None, "no leaflet calcium"),
        _f("pvl.protrusion", "not_met", None, "no lesion"),
        _f("pvl.undersizing_with_lvot_calcium", "not_assessed", None, _NO_VALVE),
        _f("rupture.lvot_calcium_oversizing", "not_assessed", None, _NO_VALVE),
        _f("conduction.ms_length", "not_met", None, "infra-annular MS 8.0 mm > 6 mm"),
        _f("conduction.delta_msid", "not_assessed", None, "no implant depth given"),
        _f("conduction.zone_calcium", "not_met", None, "no lesion"),
        _f("as.agatston", "not_assessed", None, "contrast CT"),
    ],
}


# Section 8 rules, hand-derived. Neo-LVOT: the mitral annulus centre lies 36.5 mm from the LVOT
# axis, 13 mm below the aortic annulus, its axis 41 deg from n; the default virtual valve
# (29 mm, 22 mm high, 80 % ventricular) reaches at most 36.5 - 17.6 sin 41 - 14.5 = 10.5 mm from
# the axis, so it can cut at most a ~2.5 mm deep segment (< 30 mm2) off the 449 mm2 LVOT
# ellipse: the neo-LVOT stays far above 189.4 mm2. The MAC CT score is a descriptor: met, no
# risk level.
_NEO_LVOT_NOT_MET = _f(
    "mitral.neo_lvot",
    "not_met",
    None,
    "default virtual valve cuts < 30 mm2 off the 449 mm2 LVOT: neo-LVOT > 189.4 mm2",
)
_NO_MAC = _f("mitral.mac_score", "met", None, "no mitral annular calcium: score 0 (descriptor)")
EXPECTED_FLAGS["tavr-contrast"] += [_NO_MAC, _NEO_LVOT_NOT_MET]
EXPECTED_FLAGS["normal"] += [_NO_MAC, _NEO_LVOT_NOT_MET]
EXPECTED_FLAGS["tavr-noncontrast"] += [
    _NO_MAC,
    _f("mitral.neo_lvot", "not_assessed", None, "non-contrast CT"),
]
EXPECTED_FLAGS["mac"] += [
    _f("mitral.mac_score", "met", None, "MAC CT score 2 + 2 + 1 + 0 = 5: moderate (4-6)"),
    _NEO_LVOT_NOT_MET,
]


# Coronary obstruction (section 7.2), no planned valve: only the height criterion is
# assessable. LCA ostium at h = 12.0 mm, not below 12 mm: not met whatever the LCC sinus;
# RCA at 14.5 mm: not met. (With a 26 mm valve both VTCs are below 4 mm: see coronary_truth.)
_CORONARY_FLAGS = [
    _f("coronary.obstruction_LCA", "not_met", None, "LCA ostium at h = 12.0 mm, not < 12 mm"),
    _f("coronary.obstruction_RCA", "not_met", None, "RCA ostium at h = 14.5 mm, not < 12 mm"),
]
for _name, _flags in EXPECTED_FLAGS.items():
    _at = next(i for i, item in enumerate(_flags) if item["id"] == "as.agatston")
    _flags[_at:_at] = [dict(item) for item in _CORONARY_FLAGS]


def build_truth(
    spec: CaseSpec,
    seed: int,
    size: str,
    grid: GridSpec,
    affine: FloatArray,
    lumen_hu_sampled: float,
) -> dict[str, Any]:
    """The whole ``truth.json`` document for one case."""
    A = ANATOMY
    f = A.frame
    R = A.R_mm
    threshold, method = threshold_for(spec)
    lesions: list[dict[str, Any]] = []
    distractors: list[dict[str, Any]] = []
    for lesion in spec.lesions:
        target = distractors if lesion.distractor else lesions
        target.append(sphere_lesion_truth(len(target) + 1, lesion, spec, threshold))
    for item in lesions:
        if not item["in_analysis_region"]:
            raise ValueError(f"aortic lesion {item['name']!r} is outside the analysis region")
    for item in distractors:
        if item["in_analysis_region"]:
            raise ValueError(f"distractor {item['name']!r} is inside the analysis region")

    by_region = {k: 0.0 for k in ("leaflet", "annulus", "lvot", "conduction")}
    by_cusp = {k: 0.0 for k in CUSP_ANGLES_DEG}
    for item in lesions:
        for k, vol in item["volume_by_region_mm3"].items():
            if k in by_region:
                by_region[k] += vol
        by_cusp[item["cusp"]] += item["expected_volume_mm3"]
    total = sum(item["expected_volume_mm3"] for item in lesions)

    hinge_area = math.pi * R * R
    contour = spec.contrast
    truth: dict[str, Any] = {
        "schema": SCHEMA,
        "case": spec.name,
        "description": spec.description,
        "seed": seed,
        "size": size,
        "patient_sex": PATIENT_SEX,
        "volume": {
            "shape": [grid.slices, grid.rows, grid.columns],
            "spacing_mm": [grid.slice_mm, grid.pixel_mm, grid.pixel_mm],
            "affine": [[float(v) for v in row] for row in affine],
        },
        "blur_sigma_mm": BLUR_SIGMA_MM,
        "noise_sd_hu": NOISE_SD_HU,
        "materials_hu": dict(vars(spec.materials)),
        "contrast": spec.contrast,
        "lumen_hu": spec.materials.blood,
        "lumen_hu_sampled": _r(lumen_hu_sampled, 2),
        "lumen_sphere": {"centre_lps": _vec(f.origin - 5.0 * f.n), "radius_mm": 4.0},
        "threshold_hu": threshold,
        "threshold_method": method,
        "threshold_note": "LA + 100 with LA the nominal lumen HU; the sampled median is "
        "lumen_hu_sampled (noise moves it by < 1 HU)"
        if spec.contrast
        else "Agatston 130 HU on non-contrast CT",
        "frame": {
            "O_lps": _vec(f.origin, 9),
            "n_lps": _vec(f.n, 9),
            "u_lps": _vec(f.u, 9),
            "v_lps": _vec(f.v, 9),
            "hinge_radius_mm": _r(R, 9),
            "hinge_angles_deg": dict(CUSP_ANGLES_DEG),
            "commissure_angles_deg": dict(COMMISSURE_ANGLES_DEG),
            "note": "landmarks are rounded to 1e-4 mm, so the frame rebuilt from them matches "
            "to ~1e-4",
        },
        "annulus": {
            "expected_method": "lumen_contour" if contour else "hinge_circle",
            "a_mm": A.a_mm,
            "b_mm": A.b_mm,
            "major_axis_angle_deg": A.phi_deg,
            "perimeter_mm": _r(A.perimeter_mm),
            "area_mm2": _r(A.area_mm2),
            "d_min_mm": 2 * A.b_mm,
            "d_max_mm": 2 * A.a_mm,
            "d_area_mm": _r(2 * math.sqrt(A.area_mm2 / math.pi)),
            "d_perimeter_mm": _r(A.perimeter_mm / math.pi),
            "R_mm": _r(R),
            "hinge_circle": {
                "perimeter_mm": None,
                "area_mm2": None,
                "d_min_mm": None,
                "d_max_mm": None,
                "d_area_mm": None,
                "d_perimeter_mm": None,
                "radius_mm": _r(R),
                "area_if_measured_mm2": _r(hinge_area),
            },
            "note": "lumen ellipse at h = 0; without contrast the annulus is not sized (all "
            "sizes null, v2 section 4.1) and the hinge circle only places the regions; the "
            "hinge radius equals perimeter / (2 pi), so R is the same whichever method is used",
        },
        "coronary_heights_mm": {"LCA": A.lca_height_mm, "RCA": A.rca_height_mm},
        "coronary": coronary_truth(spec.contrast),
        "fluoroscopy": fluoroscopy_truth(),
        "root": root_truth(spec.contrast, tuple(spec.lesions)),
        "ms_length_mm": spec.ms_length_mm,
        "regions": {
            "R_mm": _r(R),
            "analysis_region": {
                "r_max_mm": _r(R + 12.0),
                "h_mm": [ANALYSIS_REGION["h_min_mm"], ANALYSIS_REGION["h_max_mm"]],
            },
            "cusp_sectors_deg": {k: list(v) for k, v in CUSP_SECTORS_DEG.items()},
            "conduction_zone": {
                k: [_r(x) for x in v] for k, v in conduction_zone(spec.ms_length_mm).items()
            },
        },
        "lesions": lesions,
        "distractors": distractors,
        "calcium_total_mm3": _r(total),
        "calcium_by_region_mm3": {k: _r(v) for k, v in by_region.items()},
        "calcium_by_cusp_mm3": {k: _r(v) for k, v in by_cusp.items()},
        "volume_note": "expected volumes = iso-surface of the blurred sphere at threshold_hu "
        "over a homogeneous background_hu (each lesion sits in a tissue halo); voxel counts "
        "scatter around them by a few percent",
        "expected_flags": EXPECTED_FLAGS[spec.name],
        "expected_flags_note": "hand-derived from clinical-model.md v2 section 7; no planned "
        "valve, PatientSex M; 'low' = assessed and not raised",
    }
    if spec.contrast:
        truth["leaflet_volume_850_mm3"] = _r(
            sum(item["expected_volume_850_mm3"] for item in lesions if item["region"] == "leaflet")
        )
        truth["agatston_expected"] = None
    else:
        z = affine[2, 3] + grid.slice_mm * np.arange(grid.slices)
        per: dict[str, float] = {}
        per_blur: dict[str, float] = {}
        aortic = [le for le in spec.lesions if not le.distractor]
        for item, lesion in zip(lesions, aortic, strict=True):
            plain, blur = agatston_expected(lesion, z, grid.slice_mm, spec.materials.wall)
            item["agatston_expected"] = _r(plain, 1)
            item["agatston_expected_blurred"] = _r(blur, 1)
            per[item["region"]] = per.get(item["region"], 0.0) + plain
            per_blur[item["region"]] = per_blur.get(item["region"], 0.0) + blur
        # Thin slices are scored on slabs (section 5): the range over every slab phase.
        per_slab = max(1, round(3.0 / grid.slice_mm)) if grid.slice_mm < 2.5 else 1
        slab_mm = per_slab * grid.slice_mm
        valve_lesions = [
            le
            for item, le in zip(lesions, aortic, strict=True)
            if item["region"] in ("leaflet", "annulus")
        ]
        slab_valve = [
            agatston_slab_expected(valve_lesions, slab_mm, spec.materials.wall, phase)
            for phase in np.arange(0.0, slab_mm, slab_mm / 16.0)
        ]
        truth["agatston_expected"] = {
            "slab_mm": _r(slab_mm, 3),
            "valve_slab_min": _r(min(slab_valve), 1),
            "valve_slab_max": _r(max(slab_valve), 1),
            "total": _r(sum(per.values()), 1),
            "valve": _r(per.get("leaflet", 0.0) + per.get("annulus", 0.0), 1),
            "by_region": {k: _r(v, 1) for k, v in per.items()},
            "total_blurred": _r(sum(per_blur.values()), 1),
            "valve_blurred": _r(per_blur.get("leaflet", 0.0) + per_blur.get("annulus", 0.0), 1),
            "note": "slice by slice from the unblurred sphere cross-sections (disc area >= 1 "
            "mm2, weight from the lesion HU, increment / 3 mm); approximate for the blurred "
            "volume, which measures larger: *_blurred use the 130 HU iso-sphere and the "
            "blurred peak per slice (closed form, no noise or pixelation); valve_slab_min/max: "
            "the unblurred valve spheres on slab_mm slabs averaged from the thin slices, over "
            "every slab phase (the score the analysis computes on slices under 2.5 mm)",
        }
    truth["mitral"] = mitral_truth(spec, threshold)
    return truth
