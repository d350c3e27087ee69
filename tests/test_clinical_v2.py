"""The cases of the expert review (issue 10) that read as confident, wrong reassurance in v1.

Each case is built from a synthetic root with a closed-form answer (tests/synthetic_aortic.py)
and checked against clinical-model.md v2 worked by hand, never against the code's own output.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from annulusview.core.analysis import analyze
from annulusview.core.aortic.valve import PlannedValve
from annulusview.core.errors import InputError
from synthetic_aortic import Sphere, ellipse_perimeter, make_synthetic

CALCIUM_RULES = (
    "pvl.lvot_calcium",
    "pvl.leaflet_calcium_850",
    "pvl.protrusion",
    "conduction.zone_calcium",
)
LVOT_NCC = Sphere(-6.0, 9.0, 250.0, 1.5, hu=1500.0)  # in the LVOT slab (-10 <= h < -2)


def _with_metadata(case, **meta):
    volume = dataclasses.replace(case.volume, metadata={**case.volume.metadata, **meta})
    return dataclasses.replace(case, volume=volume)


def test_membranous_septum_is_infra_annular():
    """MS points where anatomy puts them: superior border 4.5 mm above the basal ring, inferior
    2.1 mm below. v1 read 'MS 6.6 mm, low' and 'dMSID +1.6 mm, low' with a 5 mm implant."""
    case = make_synthetic(
        extra_landmarks={"MS_superior": (4.5, 12.0, 300.0), "MS_inferior": (-2.1, 12.0, 300.0)}
    )
    res = analyze(case.volume, case.landmarks, valve=PlannedValve(26.0, "balloon", 5.0))
    assert res.ms_length_mm == pytest.approx(2.1, abs=1e-6)  # max(0, -h(MS_inferior))
    assert res.ms_height_mm == pytest.approx(6.6, abs=1e-6)  # reported only
    ms = res.flag("conduction.ms_length")
    assert (ms.status, ms.level) == ("met", "high")  # IAMS < 3 mm: the highest-risk stratum
    delta = res.flag("conduction.delta_msid")
    assert delta.value == pytest.approx(2.1 - 5.0, abs=1e-6)  # -2.9 mm
    assert delta.status == "met"
    # a 0 mm (high) implant can be entered: the septum then lies wholly below the valve
    high = analyze(case.volume, case.landmarks, valve=PlannedValve(26.0, "balloon", 0.0))
    assert high.flag("conduction.delta_msid").status == "not_met"


def test_ms_inferior_above_the_plane_is_zero_and_warned():
    case = make_synthetic(extra_landmarks={"MS_inferior": (1.5, 12.0, 300.0)})
    res = analyze(case.volume, case.landmarks)
    assert res.ms_length_mm == 0.0
    assert any("MS_inferior lies 1.5 mm above the annular plane" in w for w in res.warnings)


@pytest.mark.parametrize("depth", [-0.1, -5.0, math.nan, math.inf])
def test_negative_implant_depth_is_refused(depth):
    with pytest.raises(InputError, match=r"not allowed"):
        PlannedValve(26.0, "balloon", depth)


def test_poorly_opacified_cta_gives_no_calcium_numbers():
    """Blood at 180 HU: v1 called it non-contrast, thresholded blood at 130 HU and scored
    'severe AS very likely'. v2: indeterminate, nothing thresholded, the rules not assessed."""
    case = make_synthetic(lumen_hu=180.0, spheres=(LVOT_NCC,))
    res = analyze(case.volume, case.landmarks)
    assert res.contrast_state == "indeterminate" and not res.contrast
    assert "180 HU" in res.calcium_not_assessed_reason
    assert res.lesions == ()
    assert res.calcium.volume_mm3 is None and res.calcium.agatston is None
    assert res.calcium.valve_agatston is None
    assert all(t.volume_mm3 is None for t in res.calcium.by_region.values())
    assert res.lvot_calcium_grade is None
    for rule in (*CALCIUM_RULES, "as.agatston", "mitral.mac_score"):
        assert res.flag(rule).status == "not_assessed", rule
    assert not res.annulus.sized and res.annulus.area_mm2 is None
    doc = res.to_dict()
    assert doc["calcium_assessed"] is False and doc["calcium"]["volume_mm3"] is None


def test_threshold_inside_the_lumen_is_refused():
    """Blood at 900 HU with --threshold fixed_850: v1 counted 18,004 mm3 of 'calcium'."""
    case = make_synthetic(lumen_hu=900.0, spheres=(LVOT_NCC,))
    res = analyze(case.volume, case.landmarks, threshold="fixed_850")
    assert res.contrast_state == "contrast"
    reason = res.calcium_not_assessed_reason
    assert "850 HU" in reason and "900 HU" in reason
    assert res.lesions == () and res.calcium.volume_mm3 is None
    for rule in CALCIUM_RULES:
        assert res.flag(rule).status == "not_assessed", rule
    # the 850 HU leaflet rule is guarded the same way under the default threshold (LA + 100)
    default = analyze(case.volume, case.landmarks)
    assert default.calcium_not_assessed_reason == ""
    assert default.threshold_hu == pytest.approx(1000.0, abs=2.0)
    leaflet = default.flag("pvl.leaflet_calcium_850")
    assert leaflet.status == "not_assessed" and "900 HU" in leaflet.reason
    assert default.flag("pvl.lvot_calcium").status == "met"  # the 1500 HU sphere is found


def test_non_contrast_annulus_is_not_sized():
    """v1 printed the hinge circle as D min = D max and fed it to the oversizing rules."""
    case = make_synthetic(lumen_hu=40.0, tissue_hu=40.0, spheres=(LVOT_NCC,))
    res = analyze(case.volume, case.landmarks, valve=PlannedValve(26.0, "balloon"))
    assert res.contrast_state == "non_contrast"
    a = res.annulus
    assert a.method == "hinge_circle" and not a.sized
    for value in (a.perimeter_mm, a.area_mm2, a.d_min_mm, a.d_max_mm, a.d_area_mm):
        assert value is None
    assert res.to_dict()["annulus"]["d_min_mm"] is None
    for rule in ("pvl.undersizing_with_lvot_calcium", "rupture.lvot_calcium_oversizing"):
        flag = res.flag(rule)
        assert flag.status == "not_assessed" and "not measured" in flag.reason, rule
    assert any("not sized" in w for w in res.warnings)


def test_rupture_rule_only_for_balloon_expandable_valves():
    """A 29 mm self-expanding valve at ~62 % area oversizing got the balloon-expandable rule."""
    case = make_synthetic(spheres=(LVOT_NCC,))
    # the measured lumen ellipse is 13 x 10 mm: area pi * 13 * 10 = 408.4 mm2
    area = math.pi * 13.0 * 10.0
    oversizing = (math.pi * 14.5**2 / area - 1.0) * 100.0  # 61.7 %
    balloon = analyze(case.volume, case.landmarks, valve=PlannedValve(29.0, "balloon"))
    assert balloon.annulus.perimeter_mm == pytest.approx(ellipse_perimeter(13.0, 10.0), rel=0.02)
    flag = balloon.flag("rupture.lvot_calcium_oversizing")
    assert flag.status == "met" and flag.value == pytest.approx(oversizing, abs=3.0)
    self_exp = analyze(case.volume, case.landmarks, valve=PlannedValve(29.0, "self-expanding"))
    flag = self_exp.flag("rupture.lvot_calcium_oversizing")
    assert flag.status == "not_assessed" and "balloon-expandable" in flag.reason
    assert self_exp.flag("pvl.undersizing_with_lvot_calcium").status == "not_assessed"


def test_hinge_level_protruding_nodule():
    """A bulky nodule at the hinge level with a balloon valve at ~25 % oversizing read
    'No LVOT calcium, low' and rupture 'low' (the LVOT slab starts at h = -2)."""
    R = ellipse_perimeter(13.0, 10.0) / (2 * math.pi)  # R = D_perimeter / 2 = 11.55 mm
    # sphere radius 1.5 mm whose inner edge sits 5 mm inside R: inward extent ~5 mm (one voxel
    # of 0.5 mm either way); along the wall it covers ~3 mm: it protrudes (deeper than long)
    nodule = Sphere(0.0, R - 5.0 + 1.5, 10.0, 1.5)
    case = make_synthetic(spheres=(nodule,))
    size = 2.0 * math.sqrt(1.25 * math.pi * 13.0 * 10.0 / math.pi)  # 25 % area oversizing
    res = analyze(case.volume, case.landmarks, valve=PlannedValve(size, "balloon"))
    (lesion,) = res.lesions
    assert lesion.region == "annulus"
    # against the lumen ellipse's own radius at theta 10 deg (R(theta), section 6):
    # 1 / sqrt(cos^2 / 13^2 + sin^2 / 10^2) = 12.87 mm, inner edge at R - 5 = 6.55 mm
    t = math.radians(10.0)
    r_theta = 1.0 / math.sqrt(math.cos(t) ** 2 / 13.0**2 + math.sin(t) ** 2 / 10.0**2)
    assert lesion.inward_extent_mm == pytest.approx(r_theta - (R - 5.0), abs=0.75)
    assert lesion.tangential_length_mm < lesion.inward_extent_mm
    protrusion = res.flag("pvl.protrusion")
    assert (protrusion.status, protrusion.level) == ("met", "high")
    assert res.flag("pvl.lvot_calcium").status == "not_met"  # nothing in -10 <= h < -2
    # the LVOT grade counts the nodule's part below the hinges: 1 nodule, < 5 mm long and
    # covering ~3 mm / (2 pi 8 mm) = 6 % < 10 % of the circumference: mild
    assert res.lvot_calcium_grade["grade"] == "mild"
    assert [n["lesion_id"] for n in res.lvot_calcium_grade["nodules"]] == [lesion.id]
    rupture = res.flag("rupture.lvot_calcium_oversizing")
    assert rupture.status == "met" and rupture.value == pytest.approx(25.0, abs=3.0)


def test_lvot_grade_counts_nodules():
    """Three separate nodules below the hinges: severe (>= 3 nodules)."""
    spheres = tuple(Sphere(-5.0, 10.0, theta, 1.2, hu=1500.0) for theta in (20.0, 140.0, 260.0))
    case = make_synthetic(spheres=spheres)
    res = analyze(case.volume, case.landmarks)
    assert res.lvot_calcium_grade["grade"] == "severe"
    assert len(res.lvot_calcium_grade["nodules"]) == 3
    two = make_synthetic(spheres=spheres[:2])
    assert analyze(two.volume, two.landmarks).lvot_calcium_grade["grade"] == "moderate"


def test_agatston_off_120_kvp_is_indeterminate():
    """The non-contrast phantom (100 kVp) was scored without a technique warning."""
    spheres = tuple(Sphere(8.0, 5.0, theta, 2.5, hu=1000.0) for theta in (60.0, 180.0, 300.0))
    case = make_synthetic(lumen_hu=40.0, tissue_hu=40.0, spheres=spheres)
    at_100 = _with_metadata(case, kvp=100.0, patient_sex="F")
    res = analyze(at_100.volume, at_100.landmarks)
    flag = res.flag("as.agatston")
    assert flag.status == "indeterminate" and "100 kVp" in flag.reason
    assert any("100 kVp" in w for w in res.warnings)
    at_120 = _with_metadata(case, kvp=120.0, patient_sex="F")
    scored = analyze(at_120.volume, at_120.landmarks).flag("as.agatston")
    assert scored.status != "indeterminate" or "grey zone" in scored.reason


def test_not_met_is_never_shown_as_low_or_green():
    from annulusview.core import presentation
    from annulusview.core.flags import Evidence, not_met

    flag = not_met("pvl.lvot_calcium", 0.0, 0.0, "Criterion not met.", Evidence("x"), "mm3")
    assert presentation.flag_word(flag) == "NOT MET"
    red, green, blue = (int(presentation.flag_color(flag)[i : i + 2], 16) for i in (1, 3, 5))
    assert red == green == blue  # grey
    assert not flag.raised


def test_unverified_source_is_never_high():
    from annulusview.core.flags import HIGH, Evidence, Flag, met

    unverified = Evidence("someone 2020", verified=False)
    flag = met("x.rule", HIGH, 1.0, 0.0, "Criterion met.", unverified)
    assert flag.level == "moderate" and "not verified" in flag.message
    with pytest.raises(ValueError):
        Flag("x.rule", "met", HIGH, 1.0, 0.0, "m", unverified)


def test_every_rule_in_the_rules_file_carries_its_evidence():
    from annulusview.core.rules import load_rules

    rules = load_rules()
    tables = [k for k in rules.get("flags")] + ["mitral", "neo_lvot"]
    for key in tables:
        table = f"flags.{key}" if key not in ("mitral", "neo_lvot") else key
        e = rules.evidence(table)
        assert e.reference and e.population and e.device and e.endpoint and e.effect, key
        assert e.applies_to, key
        assert isinstance(e.verified, bool)
    assert np.isclose(rules.number("neo_lvot.high_le_mm2"), 189.4)


# Sizing by device family (section 7.1), worked by hand on the 13 x 10 mm lumen ellipse:
# area pi * 13 * 10 = 408.41 mm2 -> SAPIEN 3 range 23 mm (338-430); perimeter (Ramanujan)
# 72.66 mm -> Evolut range 29 mm (72.3-81.7), within 3 % of the 72.3 edge: borderline.
def test_sizing_by_family_convention():
    from annulusview.core.aortic.devices import load_devices, parse_valve_option

    case = make_synthetic()
    res = analyze(case.volume, case.landmarks)
    rows = {row["family"]: row for row in res.sizing}
    area = math.pi * 13.0 * 10.0
    perimeter = ellipse_perimeter(13.0, 10.0)
    s3, ev = rows["sapien3"], rows["evolut"]
    assert s3["measured"] == pytest.approx(area, rel=0.02)
    assert s3["suggested_size_mm"] == 23.0 and s3["borderline"] is False
    assert s3["oversizing_pct"]["23"] == pytest.approx(
        (math.pi * 11.5**2 / s3["measured"] - 1) * 100, abs=1e-9
    )
    assert ev["measured"] == pytest.approx(perimeter, rel=0.02)
    assert ev["suggested_size_mm"] == 29.0 and ev["borderline"] is True
    assert ev["oversizing_pct"]["29"] == pytest.approx(
        (math.pi * 29.0 / ev["measured"] - 1) * 100, abs=1e-9
    )
    valve = parse_valve_option("evolut:29", 3.0)
    assert (valve.valve_type, valve.family, valve.implant_depth_mm) == (
        "self-expanding",
        "evolut",
        3.0,
    )
    with pytest.raises(InputError, match="no 31 mm size"):
        parse_valve_option("sapien3:31")
    with pytest.raises(InputError, match="Unknown valve"):
        parse_valve_option("corevalve:26")
    assert set(load_devices()) == {"sapien3", "evolut"}
    # no contrast: nothing sized, every family not assessed
    nc = make_synthetic(lumen_hu=40.0, tissue_hu=40.0)
    nc_rows = analyze(nc.volume, nc.landmarks).sizing
    assert all(
        row["status"] == "not_assessed" and row["suggested_size_mm"] is None for row in nc_rows
    )


def test_conduction_zone_anchored_at_ms_inferior():
    """v2 section 6: from 20 deg before MS_inferior to 10 deg past the RCC hinge (the side away
    from the LCC hinge), from h_top = min(0, h(MS_inferior) + 1) down 10 mm. Hinges at 0 / 120 /
    240 deg; MS_inferior at h = -2.1, theta 292: sector 272..370 deg, h -11.1..-1.1 mm."""
    from annulusview.core.aortic.frame import AnnulusFrame
    from annulusview.core.aortic.regions import RegionGeometry
    from annulusview.core.rules import load_rules

    case = make_synthetic(shape=(8, 8, 8), extra_landmarks={"MS_inferior": (-2.1, 12.0, 292.0)})
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    zone = RegionGeometry.from_rules(load_rules(), 11.5, frame, case.landmarks)
    assert not zone.conduction_estimated
    assert zone.conduction_theta_start_deg == pytest.approx(272.0, abs=1e-6)
    assert zone.conduction_theta_span_deg == pytest.approx(98.0, abs=1e-6)
    assert zone.conduction_h_range_mm == pytest.approx((-11.1, -1.1), abs=1e-6)
    inside = zone.masks(np.array([-5.0, -5.0, -5.0, -0.5]), np.full(4, 11.5),
                        np.array([5.0, 275.0, 250.0, 300.0]))["conduction"]  # fmt: skip
    # under the RCC hinge: in; just past the MS: in; NCC side: out; above h_top: out
    assert inside.tolist() == [True, True, False, False]
    # a septum placed above the plane puts h_top at the plane
    high = make_synthetic(shape=(8, 8, 8), extra_landmarks={"MS_inferior": (2.0, 12.0, 292.0)})
    frame_high = AnnulusFrame.from_landmarks(high.landmarks)
    assert RegionGeometry.from_rules(
        load_rules(), 11.5, frame_high, high.landmarks
    ).conduction_h_top_mm == pytest.approx(0.0)
    # without MS_inferior: anchored at the (estimated) NCC-RCC commissure, 300 deg, h_top 0
    plain = make_synthetic(shape=(8, 8, 8))
    frame_plain = AnnulusFrame.from_landmarks(plain.landmarks)
    est = RegionGeometry.from_rules(load_rules(), 11.5, frame_plain, plain.landmarks)
    assert est.conduction_estimated
    assert est.conduction_theta_start_deg == pytest.approx(280.0, abs=1e-6)
    assert est.conduction_h_range_mm == pytest.approx((-10.0, 0.0))


def test_neo_lvot_is_measured_beside_the_valve(phantom_case, phantom_results):
    """v1 reported '399 mm2 at 0.0 mm below the aortic annulus' on the demo: it measured the
    aortic annulus. The phantom's LVOT is an ellipse of 449 mm2 and the default virtual valve can
    cut at most ~30 mm2 off it (truth.json, hand-derived), in the planes it reaches."""
    neo = phantom_results.mitral.neo_lvot
    assert neo is not None
    assert neo.distance_from_annulus_mm > 2.0  # not the annulus plane
    assert 449.0 - 30.0 <= neo.area_mm2 <= 449.0 * 1.03
    flag = phantom_results.flag("mitral.neo_lvot")
    assert flag.status == "not_met"


def test_inward_extent_against_the_local_lumen_radius():
    """On an elliptic annulus (13 x 10 mm) a constant R (11.55 mm) misreads protrusion: a
    nodule reaching 4.5 mm in from the 13 mm wall (theta 0) would read 3.05 mm (not met), one
    reaching 2 mm in from the 10 mm wall (theta 90) would read 3.55 mm. R(theta) reads both."""
    major = Sphere(0.0, 13.0 - 4.5 + 1.5, 0.0, 1.5)
    minor = Sphere(0.0, 10.0 - 2.0 + 1.5, 90.0, 1.5)
    case = make_synthetic(spheres=(major, minor))
    res = analyze(case.volume, case.landmarks)
    assert res.regions.radius_at(0.0) == pytest.approx(13.0, abs=0.3)
    assert res.regions.radius_at(90.0) == pytest.approx(10.0, abs=0.3)
    by_theta = {}
    for lesion in res.lesions:
        _, _, theta = res.frame.cylindrical(lesion.centroid_lps)
        by_theta[round(float(theta) / 90.0) % 4] = lesion
    assert by_theta[0].inward_extent_mm == pytest.approx(4.5, abs=0.6)
    assert by_theta[1].inward_extent_mm == pytest.approx(2.0, abs=0.6)
    protrusion = res.flag("pvl.protrusion")
    assert protrusion.status == "met" and protrusion.value == pytest.approx(4.5, abs=0.6)


def _plates_volume(thickness_mm: float = 1.0):
    """1 mm slices, 0.5 mm pixels, 0 HU; three 4 x 4 mm (16 mm^2) squares of calcium."""
    from annulusview.core.volume import Volume

    hu = np.zeros((12, 40, 40), dtype=np.int16)
    hu[4, 2:10, 2:10] = 600  # one slice, in the slab of slices 3-5
    hu[7, 2:10, 20:28] = 300  # one slice, in the slab of slices 6-8
    hu[9:12, 20:28, 2:10] = 450  # three slices: a whole slab (9-11)
    affine = np.diag([0.5, 0.5, 1.0, 1.0])
    return Volume(hu, affine, metadata={"kvp": 120.0, "slice_thickness_mm": thickness_mm})


def test_agatston_on_thin_slices_uses_3_mm_slabs():
    """Section 5: under 2.5 mm the score is computed on 3 mm slabs averaged from the slices.

    By hand: the 600 HU plate averages to 200 HU over its slab (weight 2): 16 x 2 x 3/3 = 32
    (scored slice by slice it would be 16 x 4 x 1/3 = 21.3); the 300 HU plate averages to 100 HU,
    under 130: 0 (slice by slice 16); the 450 HU block fills its slab: 16 x 4 = 64.
    """
    import annulusview as av

    score = av.calcium_score(_plates_volume())
    assert score.technique["agatston_slab_mm"] == pytest.approx(3.0)
    assert any("3 mm slabs" in w for w in score.warnings)
    per_component = sorted(round(c.agatston, 6) for c in score.components)
    assert per_component == pytest.approx([0.0, 32.0, 64.0])
    # volumes stay on the thin slices: 64 pixels x 0.25 mm^2 x 1 mm per slice
    assert sorted(c.volume_mm3 for c in score.components) == pytest.approx([16.0, 16.0, 48.0])
    # 3 mm slices are scored as they are
    thick = av.calcium_score(_plates_volume(thickness_mm=3.0))
    assert thick.technique["agatston_slab_mm"] is None
    assert sum(c.agatston for c in thick.components) == pytest.approx(
        16 * 4 / 3 + 16 + 64 * 3 / 3 * 1
    )


def _sphere_slab_agatston(radius: float, hu: float, background: float, phase: float) -> float:
    """Closed-form Agatston of a sphere on 3 mm slabs starting ``phase`` mm below its centre.

    A pixel at distance rho from the axis averages ``background + (hu - background) * c / 3``
    with c the sphere's chord inside the slab; it counts from 130 HU; the disc of counted pixels
    has area pi * rho*^2; the weight comes from the axis pixel (the peak).
    """
    total = 0.0
    rho = np.linspace(0.0, radius, 20001)
    half = np.sqrt(radius**2 - rho**2)
    start = -phase - 3.0 * math.ceil((radius - phase) / 3.0)
    while start < radius:
        chord = np.clip(np.minimum(half, start + 3.0) - np.maximum(-half, start), 0.0, None)
        avg = background + (hu - background) * chord / 3.0
        counted = avg >= 130.0
        if counted.any():
            area = math.pi * rho[counted].max() ** 2
            weight = np.searchsorted([130.0, 200.0, 300.0, 400.0], avg[0], side="right")
            total += area * weight if area >= 1.0 else 0.0
        start += 3.0
    return total


def test_valve_agatston_on_thin_slices_is_scored_on_slabs():
    """The non-contrast case on 0.5 mm slices: the AS rule reads a slab score (no longer
    indeterminate), within the closed-form range over every slab phase."""
    sphere = Sphere(8.0, 5.0, 60.0, 2.5, hu=1000.0)
    case = make_synthetic(lumen_hu=40.0, tissue_hu=40.0, spheres=(sphere,))
    thin = _with_metadata(case, kvp=120.0, patient_sex="M", slice_thickness_mm=0.5)
    res = analyze(thin.volume, thin.landmarks)
    assert res.parameters["technique"]["agatston_slab_mm"] == pytest.approx(3.0)
    assert any("3 mm slabs" in w for w in res.warnings)
    flag = res.flag("as.agatston")
    assert flag.status == "not_met" and "slabs" in flag.message + flag.reason
    phases = [_sphere_slab_agatston(2.5, 1000.0, 40.0, p) for p in np.arange(0.0, 3.0, 0.1)]
    valve = res.calcium.valve_agatston
    # (scored slice by slice it would be about 4 x 65.4 mm^3 / 3 mm = 87 AU)
    assert 0.9 * min(phases) <= valve <= 1.1 * max(phases)
