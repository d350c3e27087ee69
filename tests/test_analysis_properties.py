"""Property tests: frame invariance, distances never negative, totals that add up."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annulusview.core.analysis import analyze
from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.aortic.regions import RegionGeometry
from annulusview.core.landmarks import Landmarks
from annulusview.core.rules import load_rules
from annulusview.core.volume import Volume
from synthetic_aortic import Sphere, make_synthetic

finite = st.floats(-100, 100, allow_nan=False)
angle = st.floats(0, 359.99)


def _rotation(q: tuple[float, float, float, float]) -> np.ndarray:
    w, x, y, z = np.asarray(q) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


quaternion = st.tuples(*[st.floats(-1, 1)] * 4).filter(lambda q: np.linalg.norm(q) > 0.1)

HINGES = {
    "RCC_hinge": np.array([11.0, 0.5, 0.2]),
    "LCC_hinge": np.array([-5.0, 10.0, -0.4]),
    "NCC_hinge": np.array([-6.5, -9.0, 0.3]),
}


@settings(max_examples=60, deadline=None)
@given(quaternion, st.tuples(finite, finite, finite), st.tuples(finite, finite, finite))
def test_frame_invariant_to_rigid_motion(q, shift, probe):
    rot, t = _rotation(q), np.array(shift)
    moved = Landmarks({k: rot @ p + t for k, p in HINGES.items()})
    a, b = AnnulusFrame.from_landmarks(Landmarks(HINGES)), AnnulusFrame.from_landmarks(moved)
    assert np.allclose(b.origin_lps, rot @ a.origin_lps + t, atol=1e-8)
    assert np.allclose(b.normal_lps, rot @ a.normal_lps, atol=1e-9)
    assert b.hinge_radius_mm == pytest.approx(a.hinge_radius_mm)
    for key, value in a.commissure_angles_deg.items():
        diff = (b.commissure_angles_deg[key] - value + 180) % 360 - 180
        assert abs(diff) < 1e-6
    p = np.array(probe)
    ha, ra, ta = a.cylindrical(p)
    hb, rb, tb = b.cylindrical(rot @ p + t)
    assert hb == pytest.approx(ha, abs=1e-8) and rb == pytest.approx(ra, abs=1e-8)
    assert ra < 1e-6 or abs((tb - ta + 180) % 360 - 180) < 1e-5


@settings(max_examples=300, deadline=None)
@given(
    st.floats(-40, 40), st.floats(0, 40), angle, st.floats(8, 16), st.floats(-10, 3), angle,
    st.floats(10, 170),
)  # fmt: skip
def test_distances_never_negative_and_zero_inside(h, r, theta, radius, ms_h, start, span):
    frame = AnnulusFrame.from_landmarks(Landmarks(HINGES))
    ms = Landmarks({**HINGES, "MS_inferior": frame.to_lps(ms_h, radius, 300.0)})
    geometry = RegionGeometry.from_rules(load_rules(), radius, frame, ms)
    geometry = RegionGeometry(
        **{
            **geometry.__dict__,
            "conduction_theta_start_deg": start,
            "conduction_theta_span_deg": span,
        }
    )
    h_a, r_a, t_a = np.array([h]), np.array([r]), np.array([theta])
    masks = geometry.masks(h_a, r_a, t_a)
    d_lvot = geometry.distance_to_lvot(h_a, r_a)[0][0]
    d_cond, h_s, rho_s, t_s = (x[0] for x in geometry.distance_to_conduction(h_a, r_a, t_a))
    assert d_lvot >= 0 and d_cond >= 0
    # Inside (closed region) <=> zero distance; the lvot top h = -2 is open in the mask.
    if masks["lvot"][0]:
        assert d_lvot == 0
    if masks["conduction"][0]:
        assert d_cond == pytest.approx(0, abs=1e-9)
    # The closest point lies in the (closed) conduction region and realises the distance.
    assert geometry.angle_outside_conduction_deg(np.array([t_s]))[0] < 1e-6
    rho_lo, rho_hi = geometry.conduction_rho_range_mm
    assert rho_lo - 1e-9 <= rho_s <= rho_hi + 1e-9
    p = np.array([r * np.cos(np.radians(theta)), r * np.sin(np.radians(theta)), h])
    q = np.array([rho_s * np.cos(np.radians(t_s)), rho_s * np.sin(np.radians(t_s)), h_s])
    assert np.linalg.norm(p - q) == pytest.approx(d_cond, abs=1e-6)


sphere = st.builds(
    Sphere,
    h=st.floats(-12, 18),
    r=st.floats(0, 18),
    theta_deg=angle,
    radius_mm=st.floats(0.8, 2.5),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sphere, min_size=1, max_size=4))
def test_region_and_cusp_totals_add_up(spheres):
    case = make_synthetic(shape=(90, 90, 90), spheres=tuple(spheres))
    res = analyze(case.volume, case.landmarks)
    cal = res.calcium
    disjoint = ("leaflet", "annulus", "lvot", "other")
    assert sum(cal.by_region[k].volume_mm3 for k in disjoint) == pytest.approx(cal.volume_mm3)
    assert sum(t.volume_mm3 for t in cal.by_cusp.values()) == pytest.approx(cal.volume_mm3)
    assert sum(les.volume_mm3 for les in res.lesions) == pytest.approx(cal.volume_mm3)
    for les in res.lesions:
        by = les.volume_by_region_mm3
        assert sum(by[k] for k in disjoint) == pytest.approx(les.volume_mm3)
        assert by["conduction"] <= les.volume_mm3 + 1e-9
        assert sum(les.volume_by_cusp_mm3.values()) == pytest.approx(les.volume_mm3)
        assert les.distance_to_lvot_mm >= 0 and les.distance_to_conduction_mm >= 0
        assert les.inward_extent_mm >= 0
        if by["lvot"] > 0:
            assert les.distance_to_lvot_mm == 0


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(finite, finite, finite), st.permutations([0, 1, 2]))
def test_whole_case_translation_and_axis_permutation(shift, order):
    """Moving the whole case (volume and landmarks) or re-ordering the voxel axes changes
    nothing: the analysis depends on patient coordinates only."""
    case = make_synthetic(shape=(70, 70, 70), spheres=(Sphere(8, 7, 120, 2.0),
                                                      Sphere(-6, 10.5, 285, 1.5)))  # fmt: skip
    base = analyze(case.volume, case.landmarks)
    t = np.array(shift)
    # Re-order the array axes [k, j, i] and the affine's step columns (i, j, k) to match.
    hu = np.ascontiguousarray(np.transpose(case.volume.hu, order))
    affine = case.volume.affine.copy()
    kji_cols = [2, 1, 0]  # array axis -> affine column
    affine[:3, [2, 1, 0]] = case.volume.affine[:3, [kji_cols[a] for a in order]]
    affine[:3, 3] += t
    moved = analyze(
        Volume(hu, affine), Landmarks({k: p + t for k, p in case.landmarks.points.items()})
    )
    assert moved.annulus.area_mm2 == pytest.approx(base.annulus.area_mm2, rel=1e-3)
    assert moved.annulus.perimeter_mm == pytest.approx(base.annulus.perimeter_mm, rel=1e-3)
    assert [les.volume_mm3 for les in moved.lesions] == pytest.approx(
        [les.volume_mm3 for les in base.lesions]
    )
    assert [les.region for les in moved.lesions] == [les.region for les in base.lesions]
    assert [les.distance_to_conduction_mm for les in moved.lesions] == pytest.approx(
        [les.distance_to_conduction_mm for les in base.lesions], abs=1e-6
    )
