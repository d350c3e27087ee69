"""Neo-LVOT against a closed form, bad inputs, and the phantom's `mac` case.

The closed-form case: a straight cylindrical LVOT of radius r (contrast, 450 HU, in 100 HU
myocardium) along the aortic normal n = +z below the aortic annulus centre O = 0; a circular
mitral annulus (radius 15 mm) in the plane z = -5 mm, its centre e mm from the LVOT axis. The
virtual valve (29 mm, 22 mm, 80 % ventricular) is coaxial with the annulus, so it spans
0.6 <= depth <= 22.6 mm below O, parallel to the LVOT. In every plane it cuts the lens
between two circles (radii r and 14.5 mm, centres e apart) out of the LVOT disc:

    neo-LVOT area = pi r^2 - lens(r, 14.5, e)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from annulusview.core.analysis import analyze
from annulusview.core.errors import InputError
from annulusview.core.landmarks import Landmarks
from annulusview.core.mitral import analyze_mitral
from annulusview.core.mitral.common import NotAssessed
from annulusview.core.mitral.neo_lvot import VirtualValve, analyze_neo_lvot
from annulusview.core.volume import Volume
from annulusview.phantom import make_case

SPACING_MM = 0.5
LUMEN_HU, MYOCARDIUM_HU = 450, 100
VALVE_RADIUS_MM = 14.5
AORTIC_NORMAL = np.array([0.0, 0.0, 1.0])


def lens_area(r: float, big_r: float, d: float) -> float:
    """Area of the intersection of two circles (radii r and R, centres d apart)."""
    if d >= r + big_r:
        return 0.0
    if d <= abs(big_r - r):
        return math.pi * min(r, big_r) ** 2
    a = math.acos((d * d + r * r - big_r * big_r) / (2 * d * r))
    b = math.acos((d * d + big_r * big_r - r * r) / (2 * d * big_r))
    k = math.sqrt((-d + r + big_r) * (d + r - big_r) * (d - r + big_r) * (d + r + big_r))
    return r * r * a + big_r * big_r * b - 0.5 * k


def lvot_volume(radius_mm: float, x_max_mm: float = 40.0) -> Volume:
    lo = np.array([-30.0, -30.0, -40.0])
    nx = round((x_max_mm - lo[0]) / SPACING_MM)
    affine = np.eye(4)
    affine[:3, :3] *= SPACING_MM
    affine[:3, 3] = lo
    i, j = np.meshgrid(np.arange(nx), np.arange(120), indexing="ij")
    x, y = lo[0] + SPACING_MM * i, lo[1] + SPACING_MM * j
    # partial volume across the wall: half-way HU exactly on the cylinder r = radius
    fraction = np.clip(0.5 - (np.hypot(x, y) - radius_mm) / (2 * SPACING_MM), 0.0, 1.0)
    plane = (MYOCARDIUM_HU + (LUMEN_HU - MYOCARDIUM_HU) * fraction).astype(np.float32)
    hu = np.repeat(plane.T[None, :, :], 110, axis=0)  # [k, j, i], constant along z
    return Volume(np.ascontiguousarray(hu), affine)


def mitral_ring(offset_mm: float, z_mm: float = -5.0) -> Landmarks:
    return Landmarks(
        {
            f"MA_{m + 1:02d}": np.array(
                [
                    offset_mm + 15.0 * math.cos(2 * math.pi * m / 16),
                    15.0 * math.sin(2 * math.pi * m / 16),
                    z_mm,
                ]
            )
            for m in range(16)
        }
    )


@pytest.mark.parametrize(
    ("radius", "offset"),
    [(8.0, 15.0), (10.0, 16.0), (12.0, 15.0), (10.0, 22.0)],
)
def test_neo_lvot_against_circle_minus_lens(radius, offset):
    expected = math.pi * radius**2 - lens_area(radius, VALVE_RADIUS_MM, offset)
    result = analyze_mitral(
        lvot_volume(radius),
        mitral_ring(offset),
        None,
        aortic_origin=[0.0, 0.0, 0.0],
        aortic_normal=AORTIC_NORMAL,
    )
    neo = result.neo_lvot
    assert neo is not None, result.not_assessed
    assert neo.area_mm2 == pytest.approx(expected, rel=0.03)
    assert neo.area_without_valve_mm2 == pytest.approx(math.pi * radius**2, rel=0.03)
    # the narrowest plane lies where the valve is: 0.6 to 22.6 mm below the aortic annulus
    assert 0.6 - 0.5 <= neo.distance_from_annulus_mm <= 22.6 + 0.5
    assert np.allclose(neo.position_lps, [0.0, 0.0, -neo.distance_from_annulus_mm])
    assert abs(float(neo.plane_normal_lps @ AORTIC_NORMAL)) == pytest.approx(1.0)
    assert float(neo.valve_axis_lps @ AORTIC_NORMAL) == pytest.approx(-1.0)  # toward the LV
    flag = next(f for f in result.flags if f.id == "mitral.neo_lvot")
    # one cut-off, 189.4 mm^2 (Wang 2018), met high (v2)
    assert (flag.status, flag.level) == (
        ("met", "high") if expected <= 189.4 else ("not_met", None)
    )
    assert flag.value == pytest.approx(neo.area_mm2, abs=0.1)


def test_valve_size_is_user_set():
    """A smaller valve cuts a smaller lens."""
    valve = VirtualValve(diameter_mm=26.0, height_mm=20.0, ventricular_share=0.5)
    result = analyze_mitral(
        lvot_volume(10.0),
        mitral_ring(16.0),
        None,
        aortic_origin=[0.0, 0.0, 0.0],
        aortic_normal=AORTIC_NORMAL,
        valve=valve,
    )
    assert result.neo_lvot is not None
    expected = math.pi * 100 - lens_area(10.0, 13.0, 16.0)
    assert result.neo_lvot.area_mm2 == pytest.approx(expected, rel=0.03)
    assert result.to_dict()["neo_lvot"]["valve"]["diameter_mm"] == 26.0


@pytest.mark.parametrize(
    ("kwargs", "volume_x_max", "offset", "reason"),
    [
        ({"contrast": False}, 40.0, 16.0, "non-contrast"),
        ({}, 40.0, 16.0 + 0.0, None),  # control: assessed
        ({}, 30.0, 16.0, "outside the CT volume"),  # valve rim reaches x = 30.5
        ({}, 45.0, 25.0, "holds no contrast blood pool"),  # 25 > 10 + 14.5: misses the LVOT
        ({}, 40.0, 4.0, "covers the LVOT"),  # the valve swallows the LVOT below O
        ({"aortic_origin": None}, 40.0, 16.0, "aortic annulus"),
    ],
)
def test_neo_lvot_not_assessed_with_reason(kwargs, volume_x_max, offset, reason):
    args = {"aortic_origin": [0.0, 0.0, 0.0], "aortic_normal": AORTIC_NORMAL, **kwargs}
    result = analyze_mitral(lvot_volume(10.0, volume_x_max), mitral_ring(offset), None, **args)
    flag = next(f for f in result.flags if f.id == "mitral.neo_lvot")
    if reason is None:
        assert result.neo_lvot is not None
        return
    assert result.neo_lvot is None
    assert result.annulus is not None  # the rest of the mitral analysis still ran
    assert reason in result.not_assessed["neo_lvot"]
    assert flag.status == "not_assessed" and reason in flag.reason


def test_neo_lvot_function_raises_not_assessed():
    with pytest.raises(NotAssessed, match="non-contrast"):
        analyze_neo_lvot(
            lvot_volume(10.0),
            [16.0, 0.0, -5.0],
            -AORTIC_NORMAL,
            aortic_origin_lps=[0.0, 0.0, 0.0],
            aortic_normal_lps=AORTIC_NORMAL,
            contrast=False,
        )


@pytest.mark.parametrize(
    "values", [(0.0, 22.0, 0.8), (29.0, -1.0, 0.8), (29.0, 22.0, 1.5), (float("nan"), 22, 0.5)]
)
def test_bad_valve_is_an_input_error(values):
    with pytest.raises(InputError):
        VirtualValve(*values)


# --- the phantom's mac case ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mac_case():
    return make_case("mac")


def test_phantom_mac_case_against_truth(mac_case):
    aortic = analyze(mac_case.volume, mac_case.landmarks)
    result = analyze_mitral(
        mac_case.volume,
        mac_case.landmarks,
        aortic.threshold_hu,
        aortic_origin=aortic.frame.origin_lps,
        aortic_normal=aortic.frame.normal_lps,
        lumen_hu=aortic.lumen_hu,
        contrast=aortic.contrast,
    )
    truth = mac_case.truth["mitral"]
    voxel = max(mac_case.volume.spacing_mm)

    annulus = result.annulus
    assert annulus is not None
    assert annulus.perimeter_mm == pytest.approx(truth["annulus"]["perimeter_mm"], rel=0.01)
    assert annulus.area_mm2 == pytest.approx(truth["annulus"]["area_mm2"], rel=0.01)
    assert annulus.ap_diameter_mm == pytest.approx(truth["annulus"]["ap_diameter_mm"], abs=0.01)
    assert annulus.ic_diameter_mm == pytest.approx(
        truth["annulus"]["intercommissural_diameter_mm"], abs=0.01
    )
    assert np.allclose(annulus.center_lps, truth["annulus"]["centre_lps"], atol=0.05)
    # the phantom's normal points to the atrium; ours to the LV apex
    assert float(annulus.normal_lps @ np.asarray(truth["annulus"]["normal_lps"])) == (
        pytest.approx(-1.0, abs=1e-4)
    )

    mac = result.mac
    expected = truth["mac"]
    assert mac is not None
    assert len(mac.lesions) == 1
    assert mac.extent_deg == pytest.approx(expected["expected_extent_deg"], abs=5.0)
    assert mac.thickness_mean_mm == pytest.approx(expected["expected_thickness_mm"], abs=voxel)
    assert mac.lesions[0].volume_mm3 == pytest.approx(expected["expected_volume_mm3"], rel=0.1)
    assert mac.trigones == {
        "L": expected["trigones"]["L_trigone"]["involved"],
        "R": expected["trigones"]["R_trigone"]["involved"],
    }
    assert mac.anterior_leaflet == expected["anterior_leaflet_calcification"]
    score = expected["score"]
    assert {
        "thickness": mac.score.thickness,
        "extent": mac.score.extent,
        "trigones": mac.score.trigones,
        "leaflets": mac.score.leaflets,
    } == score["components"]
    assert (mac.score.total, mac.score.grade) == (score["total"], score["grade"])
    # the phantom has no mitral valve prosthesis problem: the LVOT stays wide
    assert result.neo_lvot is not None
    assert result.neo_lvot.area_mm2 > 190


def test_valve_that_misses_the_lvot_is_not_met_and_says_why():
    """A virtual valve wholly above the aortic annulus (ring at z = +4 mm, all atrial) meets no
    LVOT section: the rule is not met with the native LVOT's narrowest area (the 10 mm
    cylinder: pi x 10^2 = 314 mm^2), and the partial mitral result says why there is no
    neo-LVOT."""
    ring = mitral_ring(16.0, z_mm=4.0)
    valve = VirtualValve(diameter_mm=29.0, height_mm=8.0, ventricular_share=0.0)
    result = analyze_mitral(
        lvot_volume(10.0, 45.0),
        ring,
        None,
        aortic_origin=[0.0, 0.0, 0.0],
        aortic_normal=AORTIC_NORMAL,
        valve=valve,
    )
    flag = next(f for f in result.flags if f.id == "mitral.neo_lvot")
    assert flag.status == "not_met" and "does not reach the outflow tract" in flag.message
    assert flag.value == pytest.approx(math.pi * 100.0, rel=0.03)
    assert result.neo_lvot is None and result.status == "partial"
    assert "does not reach the outflow tract" in result.not_assessed["neo_lvot"]
