"""Analysis engine on small numpy volumes with closed-form answers.

Rules, landmark checks, the annulus frame, the lumen contour, lesions, regions, distances,
Agatston (hand-computed slice by slice), risk flags and the results document.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from annulusview import DISCLAIMER
from annulusview.core.analysis import analyze
from annulusview.core.aortic.annulus import polygon_calipers
from annulusview.core.aortic.frame import AnnulusFrame, circumcentre
from annulusview.core.aortic.regions import RegionGeometry
from annulusview.core.aortic.risk import RiskInputs, evaluate_flags
from annulusview.core.aortic.valve import PlannedValve
from annulusview.core.errors import InputError, LandmarkError, RulesError
from annulusview.core.landmarks import Landmarks
from annulusview.core.results import LESION_CSV_COLUMNS, lesions_csv
from annulusview.core.rules import load_rules
from annulusview.core.volume import Volume
from rule_ids import ALL_RULE_IDS, AORTIC_RULE_IDS
from synthetic_aortic import Sphere, ellipse_perimeter, make_synthetic

# Lesions of the standard synthetic case, in frame coordinates (h, r, theta).
LEAFLET_LCC = Sphere(8.0, 7.0, 120.0, 2.0)  # leaflet, LCC sector (60-180 deg)
ANNULUS_RCC = Sphere(0.0, 9.0, 20.0, 1.5)  # annulus band, RCC sector, inside the lumen
# lvot, NCC sector (180-300), inside the conduction zone: without MS_inferior it runs from 20 deg
# before the estimated NCC-RCC commissure (300) to 10 deg past the RCC hinge (0), i.e. 280-370
# deg, -10 <= h <= 0, r >= R - 3 = 8.6 mm; the sphere covers 290 +- 8.2 deg
LVOT_CONDUCTION = Sphere(-6.0, 10.5, 290.0, 1.5)


@pytest.fixture(scope="module")
def case():
    return make_synthetic(spheres=(LEAFLET_LCC, ANNULUS_RCC, LVOT_CONDUCTION))


@pytest.fixture(scope="module")
def result(case):
    return analyze(case.volume, case.landmarks)


def _lesion_at(result, case, sphere):
    centre = case.lps(sphere.h, sphere.r, sphere.theta_deg)
    return min(result.lesions, key=lambda les: np.linalg.norm(les.centroid_lps - centre))


# ---------------------------------------------------------------- rules


def test_default_rules_load_with_references():
    rules = load_rules()
    assert rules.number("contrast.contrast_min_hu") == 200.0
    assert rules.get("threshold.contrast_method") == "lumen_plus_100"
    assert "Jilaihawi" in rules.evidence("flags.pvl_lvot_calcium").reference
    assert rules.number("contrast.non_contrast_max_hu") == 100.0


def test_user_rules_merge_over_defaults(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[regions]\nradial_margin_mm = 4\n[threshold]\ncontrast_method = 600\n")
    rules = load_rules(path)
    assert rules.number("regions.radial_margin_mm") == 4.0
    assert rules.get("threshold.contrast_method") == 600
    assert rules.number("regions.leaflet_h_max_mm") == 20.0  # untouched default
    assert str(path) in rules.source


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[regions]\nradial_margn_mm = 4\n", "regions.radial_margn_mm"),
        ("[regions]\nradial_margin_mm = 'wide'\n", "regions.radial_margin_mm"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[threshold]\ncontrast_method = 'magic'\n", "threshold.contrast_method"),
        ("[agatston]\nweight_edges_hu = [1, 2]\n", "agatston.weight_edges_hu"),
        ("regions = 3\n", "regions"),
    ],
)
def test_bad_user_rules_name_the_key(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(RulesError, match=key.replace(".", r"\.")):
        load_rules(path)


def test_rules_file_not_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("this is = = not toml")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(path)


# ---------------------------------------------------------------- landmarks and frame


def test_circumcentre_of_right_triangle_is_hypotenuse_midpoint():
    a, b, c = np.array([0.0, 0, 0]), np.array([6.0, 0, 0]), np.array([0.0, 8, 0])
    assert np.allclose(circumcentre(a, b, c), [3.0, 4.0, 0.0])


def test_frame_matches_construction(case):
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    assert np.allclose(frame.origin_lps, case.origin, atol=1e-9)
    assert np.allclose(frame.normal_lps, case.n, atol=1e-9)
    assert np.allclose(frame.u_lps, case.u, atol=1e-9)
    assert np.allclose(frame.v_lps, case.v, atol=1e-9)
    assert frame.hinge_radius_mm == pytest.approx(11.5)
    # No commissure landmarks: circular midpoints of the shorter arcs between hinges.
    assert frame.commissure_angles_deg == pytest.approx(
        {"RCC_LCC_commissure": 60.0, "LCC_NCC_commissure": 180.0, "NCC_RCC_commissure": 300.0}
    )
    h, r, theta = frame.cylindrical(case.lps(-3.0, 5.0, 250.0))
    assert (h, r, theta) == pytest.approx((-3.0, 5.0, 250.0))
    assert frame.cusp_index(np.array([0.0, 59.9, 60.1, 179.0, 181.0, 299.0, 301.0])).tolist() == [
        0,
        0,
        1,
        1,
        2,
        2,
        0,
    ]


def test_commissure_landmark_overrides_midpoint():
    case = make_synthetic(shape=(64, 64, 64), extra_landmarks={"NCC_RCC_commissure": (8, 11, 310)})
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    assert frame.commissure_angles_deg["NCC_RCC_commissure"] == pytest.approx(310.0)
    assert not frame.commissure_estimated["NCC_RCC_commissure"]
    assert frame.commissure_estimated["RCC_LCC_commissure"]


def _hinges(**points):
    base = {"RCC_hinge": [0, 0, 0], "LCC_hinge": [10, 0, 0], "NCC_hinge": [5, 8, 0]}
    base.update(points)
    return Landmarks({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize(
    ("landmarks", "message"),
    [
        (_hinges(NCC_hinge=None), "Missing required landmark"),
        (_hinges(LCC_hinge=[0.5, 0, 0]), "coincide"),
        (_hinges(NCC_hinge=[20, 0.5, 0]), "collinear"),
        (_hinges(LCC_hinge=[60, 0, 0], NCC_hinge=[30, 1.5, 0]), "nearly collinear"),
    ],
)
def test_degenerate_hinges_raise(landmarks, message):
    with pytest.raises(LandmarkError, match=message):
        AnnulusFrame.from_landmarks(landmarks)


def test_landmark_outside_volume_raises(case):
    lm = case.landmarks.with_point("LCA_ostium", case.origin + np.array([0, 0, 500.0]))
    with pytest.raises(LandmarkError, match=r"LCA_ostium.*outside the CT volume"):
        analyze(case.volume, lm)


def test_unknown_labels_are_kept_and_reported(case):
    lm = case.landmarks.with_point("my_note", case.origin)
    res = analyze(case.volume, lm)
    assert any("my_note" in w for w in res.warnings)


# ---------------------------------------------------------------- annulus


def test_calipers_of_rectangle():
    rect = np.array([[0, 0], [4, 0], [4, 3], [0, 3]], dtype=float)
    assert polygon_calipers(rect) == pytest.approx((3.0, 5.0))


def test_lumen_contour_of_tilted_ellipse(result):
    a, b = 13.0, 10.0
    ann = result.annulus
    assert ann.method == "lumen_contour"
    assert ann.perimeter_mm == pytest.approx(ellipse_perimeter(a, b), rel=0.01)
    assert ann.area_mm2 == pytest.approx(math.pi * a * b, rel=0.01)
    assert ann.d_min_mm == pytest.approx(2 * b, abs=0.3)
    assert ann.d_max_mm == pytest.approx(2 * a, abs=0.3)
    assert ann.d_area_mm == pytest.approx(2 * math.sqrt(a * b), rel=0.01)
    assert ann.d_perimeter_mm == pytest.approx(ellipse_perimeter(a, b) / math.pi, rel=0.01)
    assert np.allclose(ann.center_lps, result.frame.origin_lps, atol=0.2)
    h, r, _ = result.frame.cylindrical(ann.contour_lps)
    assert np.allclose(h, 0.0, atol=1e-9)
    assert r.min() == pytest.approx(b, abs=0.3) and r.max() == pytest.approx(a, abs=0.3)


def test_wall_calcium_does_not_enlarge_the_lumen():
    # A calcium nodule half outside the wall at the end of the major axis.
    case = make_synthetic(spheres=(Sphere(0.0, 13.5, 0.0, 2.0),))
    ann = analyze(case.volume, case.landmarks).annulus
    assert ann.area_mm2 == pytest.approx(math.pi * 130.0, rel=0.02)
    assert ann.d_max_mm == pytest.approx(26.0, abs=0.5)


def test_noncontrast_uses_hinge_circle_with_warning():
    case = make_synthetic(lumen_hu=40.0, tissue_hu=40.0, shape=(60, 80, 80))
    res = analyze(case.volume, case.landmarks)
    assert not res.contrast
    assert res.annulus.method == "hinge_circle"
    # not sized without contrast (v2 section 4.1); the hinge radius only places the regions
    assert res.annulus.perimeter_mm is None
    assert res.parameters["annulus_radius_mm"] == pytest.approx(11.5)
    assert any("not sized" in w for w in res.warnings)


# ---------------------------------------------------------------- calcium, regions, distances


def test_contrast_detection_and_threshold(result):
    assert result.contrast
    assert result.lumen_hu == pytest.approx(400.0)
    assert result.threshold_hu == pytest.approx(500.0)
    assert result.threshold_method == "lumen_plus_100"


@pytest.mark.parametrize(
    ("option", "hu", "method"),
    [("fixed_850", 850.0, "fixed_850"), ("by_lumen_450_850", 850.0, "by_lumen_450_850"),
     ("by_lumen_450_850@250", 450.0, "by_lumen_450_850"), (700.0, 700.0, "user")],
)  # fmt: skip
def test_threshold_methods(option, hu, method):
    lumen = 250.0 if isinstance(option, str) and option.endswith("@250") else 400.0
    option = option.split("@")[0] if isinstance(option, str) else option
    case = make_synthetic(lumen_hu=lumen, shape=(64, 64, 64))
    res = analyze(case.volume, case.landmarks, threshold=option)
    assert (res.threshold_hu, res.threshold_method) == (hu, method)


def test_bad_threshold_option():
    case = make_synthetic(shape=(64, 64, 64))
    with pytest.raises(InputError, match="Unknown calcium threshold"):
        analyze(case.volume, case.landmarks, threshold="magic")


def test_lesion_volumes_are_voxel_counts(result, case):
    assert len(result.lesions) == 3
    for sphere in case.spheres:
        lesion = _lesion_at(result, case, sphere)
        expected = case.sphere_voxel_count(sphere) * case.volume.voxel_volume_mm3
        assert lesion.volume_mm3 == pytest.approx(expected)
        # and the voxelised sphere is close to 4/3 pi r^3
        assert lesion.volume_mm3 == pytest.approx(4 / 3 * math.pi * sphere.radius_mm**3, rel=0.1)
        assert lesion.max_hu == 1000.0


def test_regions_cusps_and_distances(result, case):
    diag = math.sqrt(3) * 0.5
    leaflet = _lesion_at(result, case, LEAFLET_LCC)
    assert (leaflet.region, leaflet.cusp) == ("leaflet", "LCC")
    # Lowest point h = 8 - 2 = 6 mm, inside r <= R + 5: 8 mm above the LVOT top (h = -2).
    assert leaflet.distance_to_lvot_mm == pytest.approx(8.0, abs=diag)
    assert leaflet.inward_extent_mm == 0.0
    annulus = _lesion_at(result, case, ANNULUS_RCC)
    assert (annulus.region, annulus.cusp) == ("annulus", "RCC")
    radius = result.parameters["annulus_radius_mm"]
    assert radius == pytest.approx(ellipse_perimeter(13, 10) / (2 * math.pi), rel=0.01)
    assert annulus.inward_extent_mm == pytest.approx(radius - (9.0 - 1.5), abs=diag)
    lvot = _lesion_at(result, case, LVOT_CONDUCTION)
    assert (lvot.region, lvot.cusp) == ("lvot", "NCC")
    assert lvot.distance_to_lvot_mm == 0.0 and lvot.distance_to_conduction_mm == 0.0
    assert lvot.volume_by_region_mm3["conduction"] == pytest.approx(lvot.volume_mm3)
    # Totals add up voxel by voxel.
    cal = result.calcium
    disjoint = sum(cal.by_region[k].volume_mm3 for k in ("leaflet", "annulus", "lvot", "other"))
    assert disjoint == pytest.approx(cal.volume_mm3)
    assert sum(t.volume_mm3 for t in cal.by_cusp.values()) == pytest.approx(cal.volume_mm3)
    assert cal.by_region["lvot"].volume_mm3 == pytest.approx(lvot.volume_mm3)


def _brute_force_distance(geometry: RegionGeometry, h, r, theta, region):
    """Minimum distance from a point to a dense sample of the region, in frame (x, y, h)."""
    hs = np.linspace(-25, 25, 251)  # 0.2 mm
    rs = np.linspace(0, 22, 111)  # 0.2 mm
    ts = np.arange(0.0, 360.0, 1.0)  # <= 0.2 mm of arc within r <= 12 mm
    hh, rr, tt = np.meshgrid(hs, rs, ts, indexing="ij")
    inside = geometry.masks(hh, rr, tt)[region]
    hh, rr, tt = hh[inside], rr[inside], tt[inside]
    px, py = r * math.cos(math.radians(theta)), r * math.sin(math.radians(theta))
    qx, qy = rr * np.cos(np.radians(tt)), rr * np.sin(np.radians(tt))
    return float(np.sqrt((qx - px) ** 2 + (qy - py) ** 2 + (hh - h) ** 2).min())


@pytest.mark.parametrize(
    ("h", "r", "theta"),
    [(5.0, 8.0, 120.0), (-15.0, 20.0, 300.0), (-5.0, 25.0, 20.0), (3.0, 2.0, 200.0),
     (-8.0, 9.0, 300.0), (-20.0, 14.0, 100.0)],
)  # fmt: skip
def test_closed_form_distances_match_brute_force(h, r, theta):
    frame = AnnulusFrame.from_landmarks(make_synthetic(shape=(8, 8, 8)).landmarks)
    landmarks = make_synthetic(shape=(8, 8, 8)).landmarks
    geometry = RegionGeometry.from_rules(load_rules(), 12.0, frame, landmarks)
    d_lvot = geometry.distance_to_lvot(np.array(h), np.array(r))[0]
    d_cond = geometry.distance_to_conduction(np.array(h), np.array(r), np.array(theta))[0]
    # Half-diagonal of a brute-force grid cell at the region's largest radius (R + 6 = 18 mm).
    step = math.sqrt(0.1**2 + 0.1**2 + (18 * math.radians(0.5)) ** 2) + 0.01
    assert float(d_lvot) == pytest.approx(
        _brute_force_distance(geometry, h, r, theta, "lvot"), abs=step
    )
    assert float(d_cond) == pytest.approx(
        _brute_force_distance(geometry, h, r, theta, "conduction"), abs=step
    )


def test_closest_points_realise_the_distance(result):
    for lesion in result.lesions:
        for dist, (p, q) in (
            (lesion.distance_to_lvot_mm, lesion.closest_to_lvot_lps),
            (lesion.distance_to_conduction_mm, lesion.closest_to_conduction_lps),
        ):
            assert np.linalg.norm(p - q) == pytest.approx(dist, abs=1e-6)


# ---------------------------------------------------------------- Agatston, hand computed


def _agatston_case():
    """Non-contrast axial volume (0.5 x 0.5 mm pixels, 1.5 mm increment) with two boxes.

    Box A: 8 x 6 pixels (4 x 3 mm = 12 mm^2) on 4 slices at 350 HU -> weight 3:
        12 * 3 * 4 * 1.5 / 3 = 72.
    Box B: 4 x 4 pixels (2 x 2 mm = 4 mm^2) on 2 slices at 250 HU with one 450 HU pixel on the
        first slice -> weights 4 and 2: 4 * 4 * 0.5 + 4 * 2 * 0.5 = 12.
    Speck: 1 x 3 pixels (0.75 mm^2 < 1 mm^2) on 3 slices at 500 HU -> 0 (but a 1.125 mm^3 lesion).
    Total 84; leaflet + annulus (valve) 84 when both boxes are leaflet calcium.
    """
    case = make_synthetic(
        lumen_hu=40.0, tissue_hu=40.0, spacing_mm=(1.5, 0.5, 0.5), shape=(40, 120, 120),
        normal=(0.0, 0.0, 1.0),
    )  # fmt: skip
    hu = case.volume.hu.copy()

    def paint(h, r, theta, ni, nj, nk, value):
        i, j, k = np.round(case.volume.lps_to_index(case.lps(h, r, theta))).astype(int)
        hu[k : k + nk, j : j + nj, i : i + ni] = value
        return (i, j, k)

    paint(8.0, 5.0, 120.0, 8, 6, 4, 350)
    i, j, k = paint(8.0, 5.0, 250.0, 4, 4, 2, 250)
    hu[k, j + 1, i + 2] = 450
    paint(6.0, 6.0, 0.0, 1, 3, 3, 500)
    volume = Volume(hu, case.volume.affine, metadata={"patient_sex": "F", "kvp": 120.0})
    return case, volume


def test_agatston_hand_computed():
    case, volume = _agatston_case()
    res = analyze(volume, case.landmarks)
    assert not res.contrast
    assert res.calcium.agatston == pytest.approx(84.0)
    assert res.calcium.valve_agatston == pytest.approx(84.0)
    assert res.calcium.by_region["leaflet"].agatston == pytest.approx(84.0)
    assert res.calcium.by_region["lvot"].agatston == 0.0
    assert res.calcium.by_cusp["LCC"].agatston == pytest.approx(72.0)
    assert res.calcium.by_cusp["NCC"].agatston == pytest.approx(12.0)
    scores = sorted(les.agatston for les in res.lesions)
    assert scores == pytest.approx([0.0, 12.0, 72.0])
    # Women: 84 < 800 -> not met (severe AS unlikely by calcium), at 120 kVp.
    assert res.flag("as.agatston").status == "not_met"


def test_agatston_null_on_contrast(result):
    assert result.calcium.agatston is None
    assert all(t.agatston is None for t in result.calcium.by_region.values())
    assert result.flag("as.agatston").status == "not_assessed"
    assert any("Agatston" in w for w in result.warnings)


# ---------------------------------------------------------------- risk rules


def _inputs(**kw):
    base = dict(
        contrast_state="contrast", calcium_reason="", annulus_area_mm2=450.0,
        annulus_perimeter_mm=76.0, lvot_calcium_mm3=0.0, lvot_grade="none",
        leaflet_calcium_850_mm3=0.0, leaflet_850_reason="", protrusion_mm=0.0,
        adherent_inward_mm=0.0, conduction_calcium_mm3=0.0, iams_mm=None, valve_agatston=None,
        kvp=120.0, sex="M", valve=PlannedValve(),
    )  # fmt: skip
    base.update(kw)
    return RiskInputs(**base)


def _outcomes(**kw):
    return {f.id: (f.status, f.level) for f in evaluate_flags(_inputs(**kw), load_rules())}


NC = {"contrast_state": "non_contrast"}
BE = "balloon"
MET_H, MET_M = ("met", "high"), ("met", "moderate")
NOT_MET, NA, IND = ("not_met", None), ("not_assessed", None), ("indeterminate", None)


# Hand-derived from the v2 rule table (clinical-model.md 7.2) and the evidence in the rules file
# (unverified sources are capped at moderate). Valve 26 mm over 450 mm^2: pi 13^2 / 450 - 1 =
# 17.99 %; 23 mm: -7.67 %; 29 mm: 46.8 %.
@pytest.mark.parametrize(
    ("kw", "rule", "outcome"),
    [
        ({}, "pvl.lvot_calcium", NOT_MET),
        ({"lvot_calcium_mm3": 0.1}, "pvl.lvot_calcium", MET_M),
        ({"lvot_calcium_mm3": 400.0, "lvot_grade": "severe"}, "pvl.lvot_calcium", MET_M),
        ({"lvot_calcium_mm3": 5.0, **NC}, "pvl.lvot_calcium", NA),
        ({"lvot_calcium_mm3": None, "calcium_reason": "LA 180 HU"}, "pvl.lvot_calcium", NA),
        ({"leaflet_calcium_850_mm3": 235.0}, "pvl.leaflet_calcium_850", MET_M),
        ({"leaflet_calcium_850_mm3": 234.9}, "pvl.leaflet_calcium_850", NOT_MET),
        ({"leaflet_calcium_850_mm3": None, "leaflet_850_reason": "x"},
         "pvl.leaflet_calcium_850", NA),
        ({"protrusion_mm": 4.0}, "pvl.protrusion", NOT_MET),
        ({"protrusion_mm": 4.01}, "pvl.protrusion", MET_H),
        ({"protrusion_mm": 1.0, "adherent_inward_mm": 6.0}, "pvl.protrusion", NOT_MET),
        ({}, "pvl.undersizing_with_lvot_calcium", NA),
        ({"lvot_calcium_mm3": 5.0, "valve": PlannedValve(23.0, BE)},
         "pvl.undersizing_with_lvot_calcium", MET_M),
        ({"lvot_calcium_mm3": 5.0, "valve": PlannedValve(23.0, "self-expanding")},
         "pvl.undersizing_with_lvot_calcium", NA),
        ({"lvot_calcium_mm3": 5.0, "valve": PlannedValve(23.0)},
         "pvl.undersizing_with_lvot_calcium", NA),
        ({"lvot_calcium_mm3": 5.0, "valve": PlannedValve(26.0, BE)},
         "pvl.undersizing_with_lvot_calcium", NOT_MET),
        ({"valve": PlannedValve(23.0, BE)}, "pvl.undersizing_with_lvot_calcium", NOT_MET),
        ({"annulus_area_mm2": None, "lvot_calcium_mm3": 5.0, "valve": PlannedValve(23.0, BE)},
         "pvl.undersizing_with_lvot_calcium", NA),
        ({"lvot_grade": "mild", "valve": PlannedValve(26.0, BE)},
         "rupture.lvot_calcium_oversizing", NOT_MET),
        ({"lvot_grade": "mild", "valve": PlannedValve(29.0, BE)},
         "rupture.lvot_calcium_oversizing", MET_M),
        ({"lvot_grade": "moderate", "valve": PlannedValve(26.0, BE)},
         "rupture.lvot_calcium_oversizing", MET_M),
        # both criteria: high in the table, capped at moderate (Barbanti's ORs were not read)
        ({"lvot_grade": "severe", "valve": PlannedValve(29.0, BE)},
         "rupture.lvot_calcium_oversizing", MET_M),
        # a 29 mm self-expanding valve at 48 % oversizing: outside the rule's evidence
        ({"lvot_grade": "severe", "valve": PlannedValve(29.0, "self-expanding")},
         "rupture.lvot_calcium_oversizing", NA),
        ({"annulus_area_mm2": None, "valve": PlannedValve(29.0, BE)},
         "rupture.lvot_calcium_oversizing", NA),
        ({"iams_mm": 2.9}, "conduction.ms_length", MET_H),
        ({"iams_mm": 2.1}, "conduction.ms_length", MET_H),
        ({"iams_mm": 3.0}, "conduction.ms_length", MET_M),
        ({"iams_mm": 6.0}, "conduction.ms_length", MET_M),
        ({"iams_mm": 6.1}, "conduction.ms_length", NOT_MET),
        ({}, "conduction.ms_length", NA),
        ({"iams_mm": 4.0}, "conduction.delta_msid", NA),
        # delta < 0: high in the table, capped at moderate (MIDAS abstract not read)
        ({"iams_mm": 4.0, "valve": PlannedValve(26.0, BE, 5.0)}, "conduction.delta_msid", MET_M),
        ({"iams_mm": 4.0, "valve": PlannedValve(26.0, BE, 3.0)},
         "conduction.delta_msid", NOT_MET),
        ({"iams_mm": 2.1, "valve": PlannedValve(26.0, BE, 0.0)},
         "conduction.delta_msid", NOT_MET),
        ({"conduction_calcium_mm3": 0.5}, "conduction.zone_calcium", MET_M),
        ({}, "conduction.zone_calcium", NOT_MET),
        ({"conduction_calcium_mm3": None, "calcium_reason": "x"}, "conduction.zone_calcium", NA),
        # very likely: high in the table, capped (thresholds read in summaries only)
        ({**NC, "valve_agatston": 3000.0}, "as.agatston", MET_M),
        ({**NC, "valve_agatston": 2000.0}, "as.agatston", MET_M),
        ({**NC, "valve_agatston": 1999.0}, "as.agatston", IND),
        ({**NC, "valve_agatston": 1600.0}, "as.agatston", IND),
        ({**NC, "valve_agatston": 1599.0}, "as.agatston", NOT_MET),
        ({**NC, "valve_agatston": 1600.0, "sex": "F"}, "as.agatston", MET_M),
        ({**NC, "valve_agatston": 1200.0, "sex": "F"}, "as.agatston", MET_M),
        ({**NC, "valve_agatston": 1000.0, "sex": "F"}, "as.agatston", IND),
        ({**NC, "valve_agatston": 799.0, "sex": "F"}, "as.agatston", NOT_MET),
        ({**NC, "valve_agatston": 5000.0, "kvp": 100.0}, "as.agatston", IND),
        ({**NC, "valve_agatston": 100.0, "kvp": None}, "as.agatston", IND),
        ({**NC, "valve_agatston": 5000.0, "agatston_slab_mm": 3.0}, "as.agatston", MET_M),
        ({**NC, "valve_agatston": 5000.0, "sex": None}, "as.agatston", NA),
        ({"valve_agatston": 5000.0}, "as.agatston", NA),
        ({"contrast_state": "indeterminate", "valve_agatston": None}, "as.agatston", NA),
    ],
)  # fmt: skip
def test_risk_rules(kw, rule, outcome):
    assert _outcomes(**kw)[rule] == outcome


def test_every_flag_has_value_threshold_evidence():
    flags = evaluate_flags(
        _inputs(iams_mm=4.0, valve=PlannedValve(26.0, "balloon", 2.0)), load_rules()
    )
    assert {f.id for f in flags} == AORTIC_RULE_IDS
    for flag in flags:
        assert flag.reference and flag.message
        assert flag.evidence.population and flag.evidence.endpoint and flag.evidence.effect
        assert flag.status in ("met", "not_met", "indeterminate", "not_assessed")
        if flag.status in ("met", "not_met"):
            assert flag.threshold is not None
        if flag.status in ("not_assessed", "indeterminate"):
            assert flag.reason
        # never a "high" on a source that was not checked
        assert flag.level != "high" or flag.evidence.verified
        assert "low" not in (flag.level or "")


def test_oversizing_formula():
    assert PlannedValve(26.0).area_oversizing_pct(450.0) == pytest.approx(
        (math.pi * 13.0**2 / 450.0 - 1) * 100
    )


def test_valve_and_sex_options_feed_the_rules():
    case = make_synthetic(
        spheres=(LVOT_CONDUCTION,), extra_landmarks={"MS_superior": (2, 12, 300),
                                                     "MS_inferior": (-2, 12, 300)},
    )  # fmt: skip
    res = analyze(case.volume, case.landmarks, valve=PlannedValve(29.0, "balloon", 6.0), sex="F")
    # infra-annular: MS_inferior at h = -2 -> 2 mm (the distance between the points is 4 mm)
    assert res.ms_length_mm == pytest.approx(2.0)
    assert res.ms_height_mm == pytest.approx(4.0)
    assert res.flag("conduction.delta_msid").value == pytest.approx(-4.0)
    assert res.flag("conduction.delta_msid").status == "met"
    assert res.flag("rupture.lvot_calcium_oversizing").status == "met"
    assert res.parameters["sex"] == {"value": "F", "source": "option"}
    assert res.parameters["valve"]["size_mm"] == 29.0


# ---------------------------------------------------------------- results document

CONTRACT_FIELDS = {
    "schema", "series_instance_uid", "contrast", "contrast_state", "calcium_assessed",
    "lumen_hu_sd", "ms_height_mm", "lvot_calcium_grade", "threshold_hu", "threshold_method",
    "lumen_hu",
    "annulus", "coronary_heights_mm", "ms_length_mm", "calcium", "lesions", "flags",
    "parameters", "warnings", "disclaimer",
}  # fmt: skip
ANNULUS_FIELDS = {
    "perimeter_mm", "area_mm2", "d_min_mm", "d_max_mm", "d_area_mm", "d_perimeter_mm",
    "center_lps", "normal_lps", "method",
}  # fmt: skip
LESION_FIELDS = {
    "id", "volume_mm3", "agatston", "max_hu", "centroid_lps", "region", "cusp",
    "volume_by_region_mm3", "distance_to_lvot_mm", "distance_to_conduction_mm",
    "inward_extent_mm",
}  # fmt: skip
FLAG_FIELDS = {
    "id", "status", "level", "value", "threshold", "message", "reference", "evidence",
    "inputs_unconfirmed",
}  # fmt: skip


def check_root_block(root: dict) -> None:
    """The ``root`` block of schema 2: every number present (None with a reason when not
    measured)."""
    assert {
        "lvot",
        "sinus",
        "stj",
        "sinus_heights_mm",
        "ascending_aorta_diameter_mm",
    } <= root.keys()
    assert root["lvot"].keys() >= {"level_mm", "area_mm2", "perimeter_mm", "d_min_mm", "d_max_mm"}
    assert root["sinus"].keys() >= {"height_mm", "area_mm2", "diameter_mm"}
    assert set(root["sinus"]["diameter_mm"]) == {"RCC", "LCC", "NCC"}
    assert root["stj"].keys() >= {"height_mm", "diameter_mm", "area_mm2"}
    assert set(root["sinus_heights_mm"]) == {"RCC", "LCC", "NCC"}
    for part in ("lvot", "sinus", "stj", "ascending_aorta"):
        block = root[part]
        assert block["status"] in ("measured", "not_assessed", "failed")
        if block["status"] != "measured":
            assert block["reason"]
            measures = {k: v for k, v in block.items() if k.endswith(("_mm", "_mm2"))}
            measures.pop("level_mm", None)  # where the plane is, not a measurement
            for value in measures.values():
                values = value.values() if isinstance(value, dict) else [value]
                assert all(v is None for v in values)


def check_results_document(doc: dict) -> None:
    """Every field of the cli-and-files.md results contract is present with its type."""
    assert doc.keys() >= CONTRACT_FIELDS
    assert doc["schema"] == "annulusview.results/2"
    assert doc["annulus"].keys() >= ANNULUS_FIELDS
    assert set(doc["coronary_heights_mm"]) == {"LCA", "RCA"}
    check_root_block(doc["root"])
    assert {"volume_mm3", "agatston", "by_region", "by_cusp"} <= doc["calcium"].keys()
    assert {"leaflet", "annulus", "lvot", "conduction"} <= doc["calcium"]["by_region"].keys()
    for total in doc["calcium"]["by_region"].values():
        assert {"volume_mm3", "agatston"} <= total.keys()
    assert set(doc["calcium"]["by_cusp"]) == {"RCC", "LCC", "NCC"}
    for lesion in doc["lesions"]:
        assert lesion.keys() >= LESION_FIELDS
    # The ten aortic rules of section 7 plus the two mitral rules of section 8.
    assert {f["id"] for f in doc["flags"]} == ALL_RULE_IDS
    for flag in doc["flags"]:
        assert flag.keys() >= FLAG_FIELDS
    assert doc["disclaimer"] == DISCLAIMER
    rules = doc["parameters"]["rules"]
    assert rules["threshold"]["min_lesion_mm3"] == 1.0
    assert "region_assignment" in doc["parameters"]["regions"]


def test_results_document(result):
    doc = json.loads(result.to_json())
    check_results_document(doc)
    assert doc["series_instance_uid"] == "1.2.3.4"
    assert doc["lumen_hu"] == 400.0
    assert set(doc["timings_s"]) >= {"annulus", "lesions", "regions", "total"}
    assert len(doc["lesions"]) == 3


def test_lesion_csv(result):
    lines = lesions_csv(result).strip().splitlines()
    assert lines[0].split(",") == list(LESION_CSV_COLUMNS)
    assert len(lines) == 1 + len(result.lesions)
    assert lines[1].split(",")[0] == "1"


def test_progress_reaches_one(case):
    seen = []
    analyze(case.volume, case.landmarks, progress=lambda f, t: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
