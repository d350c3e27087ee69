"""The D-shaped mitral annulus (Blanke et al., JACC Cardiovasc Imaging 2015) and the aorto-mitral
angle against hand-derived closed forms (clinical-model.md sections 8 and 11).

Curves are built here in a local frame (x along the trigone line, y toward the posterior
annulus, z along the plane normal), then optionally rotated and shifted as a whole:

* D of a posterior semicircle of radius R closed by its diameter (trigones at (+-R, 0)):
  TT = 2R; SL = R; IC through the SL midpoint (y = R/2) = 2 sqrt(R^2 - (R/2)^2) = sqrt(3) R;
  D area = pi R^2 / 2; D perimeter = pi R + 2R.
* The whole closed curve = that semicircle plus an anterior half-ellipse (semi-axes R along x,
  b along -y; b = 0 is the diameter itself): saddle perimeter = pi R + half the ellipse's
  perimeter = pi R + 2 max(R, b) E(1 - (min/max)^2) (complete elliptic integral E(m)).
* Saddle z = s cos(2 phi) on the circle of radius R: projected values are those of the circle;
  3-D length = integral over 0..2 pi of sqrt(R^2 + (2 s sin 2 phi)^2) dphi (quad).
* Aorto-mitral angle: the acute angle of the two normals as lines.
* Phantom (src/annulusview/phantom/anatomy.py): planar ellipse point(phi) = c - a cos(phi) e_ap
  + b sin(phi) e_ic, a = 14, b = 17, trigones at phi = +-alpha (35 deg). In (e_ap, e_ic):
  TT = 2 b sin(alpha); the TT line is x = -a cos(alpha); SL = a (1 + cos(alpha)); the SL
  midpoint is x_m = a (1 - cos(alpha)) / 2, so IC = 2 b sqrt(1 - (x_m / a)^2); D area = ellipse
  minus the cap x < -a cos(alpha) = a b (pi - alpha + sin(alpha) cos(alpha)); D perimeter = TT +
  integral over alpha..2 pi - alpha of sqrt(a^2 sin^2 + b^2 cos^2); saddle perimeter = ellipse
  perimeter; aorto-mitral angle = atan(0.66 / 0.75) (n_m = unit(0.75 n + 0.66 e), e _|_ n).

Tolerances: 0.1 % relative for the densely sampled curves built here (20 000 samples; the
polygon error is below 1e-5), 0.5 % or 0.2 mm for the spline through 16-24 annulus landmarks.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.spatial.transform import Rotation
from scipy.special import ellipe

from annulusview.core.landmarks import Landmarks
from annulusview.core.mitral import analyze_mitral
from annulusview.core.mitral.common import NotAssessed
from annulusview.core.mitral.dshape import (
    aorto_mitral_angle_deg,
    d_shape_from_landmarks,
    measure_d_shape,
)
from annulusview.core.volume import Volume

SAMPLES = 20000
REL = 1e-3  # densely sampled curves built here
AORTIC_SIDE = np.array([0.0, -20.0, 0.0])  # anterior of the trigone line (y < 0)


def _d_curve(radius: float, anterior_b: float, saddle_mm: float = 0.0) -> np.ndarray:
    """Posterior semicircle (y > 0) then anterior half-ellipse (y = b sin t < 0), closed,
    uniform in t; z = saddle cos(2 t). Trigones at t = 0 and pi (samples 0 and SAMPLES/2)."""
    t = np.linspace(0.0, 2.0 * np.pi, SAMPLES, endpoint=False)
    y_scale = np.where(t < np.pi, radius, anterior_b)
    return np.stack([radius * np.cos(t), y_scale * np.sin(t), saddle_mm * np.cos(2.0 * t)], axis=1)


def _half_ellipse_perimeter(a: float, b: float) -> float:
    if b == 0.0:
        return 2.0 * a
    big, small = max(a, b), min(a, b)
    return 2.0 * big * float(ellipe(1.0 - (small / big) ** 2))


def _trigones(radius: float, saddle_mm: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    # L at t = pi, R at t = 0 (z = saddle cos 0 = saddle cos 2 pi)
    return np.array([-radius, 0.0, saddle_mm]), np.array([radius, 0.0, saddle_mm])


def _expected_semicircle_d(radius: float) -> dict[str, float]:
    return {
        "tt_mm": 2.0 * radius,
        "sl_mm": radius,
        "ic_mm": math.sqrt(3.0) * radius,
        "d_area_mm2": math.pi * radius**2 / 2.0,
        "d_perimeter_mm": math.pi * radius + 2.0 * radius,
    }


def _assert_measurements(shape, expected: dict[str, float], rel: float = REL) -> None:
    for key, value in expected.items():
        assert getattr(shape, key) == pytest.approx(value, rel=rel), key


@pytest.mark.parametrize("radius", [12.0, 16.0])
@pytest.mark.parametrize("anterior_b", [0.0, 8.0, 24.0])
def test_semicircle_d_with_anterior_arc(radius: float, anterior_b: float) -> None:
    curve = _d_curve(radius, anterior_b)
    left, right = _trigones(radius)
    shape = measure_d_shape(curve, np.zeros(3), [0, 0, 1], left, right, aortic_side_lps=AORTIC_SIDE)
    assert shape.posterior_arc == "aortic_side"
    _assert_measurements(shape, _expected_semicircle_d(radius))
    saddle = math.pi * radius + _half_ellipse_perimeter(radius, anterior_b)
    assert shape.saddle_perimeter_mm == pytest.approx(saddle, rel=REL)
    # the drawn points: SL from the TT midpoint (origin) to the top of the semicircle; IC at
    # y = R/2 from x = -sqrt(3) R / 2 to +sqrt(3) R / 2
    assert np.allclose(shape.sl_points_lps, [[0, 0, 0], [0, radius, 0]], atol=0.01)
    half_ic = math.sqrt(3.0) * radius / 2.0
    ic = shape.ic_points_lps[np.argsort(shape.ic_points_lps[:, 0])]
    assert np.allclose(ic, [[-half_ic, radius / 2, 0], [half_ic, radius / 2, 0]], atol=0.01)
    assert np.allclose(shape.trigones_lps, [left, right], atol=1e-9)


@pytest.mark.parametrize("anterior_b", [0.0, 8.0])
def test_without_aortic_side_the_longer_arc_is_posterior(anterior_b: float) -> None:
    """An anterior arc shorter than the semicircle: the longer arc is the semicircle."""
    radius = 15.0
    left, right = _trigones(radius)
    shape = measure_d_shape(_d_curve(radius, anterior_b), np.zeros(3), [0, 0, 1], left, right)
    assert shape.posterior_arc == "longer_arc"
    _assert_measurements(shape, _expected_semicircle_d(radius))


def test_longer_anterior_arc_needs_the_aortic_side() -> None:
    """An anterior half-ellipse (b = 24) longer than the semicircle (R = 15): with the aortic
    side the semicircle is still posterior; without it the documented fallback takes the longer
    arc, whose D (half-ellipse closed by its 2R axis) has area pi R b / 2 and SL = b."""
    radius, b = 15.0, 24.0
    left, right = _trigones(radius)
    curve = _d_curve(radius, b)
    right_way = measure_d_shape(
        curve, np.zeros(3), [0, 0, 1], left, right, aortic_side_lps=AORTIC_SIDE
    )
    _assert_measurements(right_way, _expected_semicircle_d(radius))
    fallback = measure_d_shape(curve, np.zeros(3), [0, 0, 1], left, right)
    assert fallback.posterior_arc == "longer_arc"
    assert fallback.d_area_mm2 == pytest.approx(math.pi * radius * b / 2.0, rel=REL)
    assert fallback.sl_mm == pytest.approx(b, rel=REL)
    # the aortic side on the other side of TT flips the choice to the half-ellipse as well
    flipped = measure_d_shape(
        curve, np.zeros(3), [0, 0, 1], left, right, aortic_side_lps=-AORTIC_SIDE
    )
    assert flipped.d_area_mm2 == pytest.approx(math.pi * radius * b / 2.0, rel=REL)


@pytest.mark.parametrize("saddle_mm", [2.0, 5.0])
def test_saddle_projects_to_the_circle(saddle_mm: float) -> None:
    radius = 14.0
    curve = _d_curve(radius, radius, saddle_mm)  # circle of radius R with z = s cos 2 phi
    left, right = _trigones(radius, saddle_mm)
    shape = measure_d_shape(curve, np.zeros(3), [0, 0, 1], left, right, aortic_side_lps=AORTIC_SIDE)
    _assert_measurements(shape, _expected_semicircle_d(radius))
    length, _ = quad(
        lambda p: math.sqrt(radius**2 + (2.0 * saddle_mm * math.sin(2.0 * p)) ** 2),
        0.0,
        2.0 * math.pi,
    )
    assert shape.saddle_perimeter_mm == pytest.approx(length, rel=REL)
    assert shape.saddle_perimeter_mm > 2.0 * math.pi * radius  # longer than the flat circle


@pytest.mark.parametrize("euler_deg", [(30.0, 0.0, 0.0), (25.0, -40.0, 70.0), (90.0, 45.0, 10.0)])
def test_tilted_and_shifted_plane_gives_the_same_numbers(euler_deg) -> None:
    radius, b, saddle_mm = 15.0, 9.0, 3.0
    rot = Rotation.from_euler("xyz", euler_deg, degrees=True)
    shift = np.array([-12.0, 40.0, 95.0])

    def move(p: np.ndarray) -> np.ndarray:
        return rot.apply(p) + shift

    curve = _d_curve(radius, b, saddle_mm)
    left, right = _trigones(radius, saddle_mm)
    flat = measure_d_shape(curve, np.zeros(3), [0, 0, 1], left, right, aortic_side_lps=AORTIC_SIDE)
    moved = measure_d_shape(
        move(curve),
        move(np.zeros(3)),
        -rot.apply([0.0, 0.0, 1.0]),  # the sign of N does not matter
        move(left),
        move(right),
        aortic_side_lps=move(AORTIC_SIDE),
    )
    _assert_measurements(moved, _expected_semicircle_d(radius))
    for key in ("tt_mm", "sl_mm", "ic_mm", "d_area_mm2", "d_perimeter_mm", "saddle_perimeter_mm"):
        assert getattr(moved, key) == pytest.approx(getattr(flat, key), rel=1e-9), key
    # projected trigones are the trigones dropped onto the plane z = 0 of the local frame
    assert np.allclose(moved.trigones_lps, move(np.array([[-radius, 0, 0], [radius, 0, 0]])))


def test_trigones_off_the_curve_are_projected() -> None:
    """Trigones 2 mm above the plane (along N): the same D as trigones in the plane."""
    radius = 13.0
    left, right = _trigones(radius)
    lift = np.array([0.0, 0.0, 2.0])
    shape = measure_d_shape(
        _d_curve(radius, 0.0),
        np.zeros(3),
        [0, 0, 1],
        left + lift,
        right + lift,
        aortic_side_lps=AORTIC_SIDE,
    )
    _assert_measurements(shape, _expected_semicircle_d(radius))


def test_missing_trigone_is_not_assessed_with_the_reason() -> None:
    radius = 15.0
    curve = _d_curve(radius, 0.0)
    left, _ = _trigones(radius)
    with pytest.raises(NotAssessed, match="needs both L_trigone and R_trigone") as info:
        d_shape_from_landmarks(curve, np.zeros(3), [0, 0, 1], Landmarks({"L_trigone": left}))
    assert "R_trigone" in info.value.message.split("(missing")[1]


def test_coinciding_trigones_are_not_assessed() -> None:
    left, _ = _trigones(15.0)
    with pytest.raises(NotAssessed, match="trigones"):
        measure_d_shape(_d_curve(15.0, 0.0), np.zeros(3), [0, 0, 1], left, left + 0.1)


@pytest.mark.parametrize(
    ("mitral_normal", "expected_deg"),
    [
        ((0.0, 0.0, 1.0), 0.0),
        ((0.0, 0.0, -1.0), 0.0),  # opposite orientation: the same line
        ((0.0, 0.5, math.sqrt(3.0) / 2.0), 30.0),  # sin 30, cos 30
        ((1.0, 0.0, 0.0), 90.0),
        ((0.0, 0.5, -math.sqrt(3.0) / 2.0), 30.0),  # 150 deg between the vectors: acute 30
        ((0.0, 3.0, -3.0), 45.0),  # not unit length; 135 deg between the vectors
    ],
)
def test_aorto_mitral_angle_is_the_acute_angle(mitral_normal, expected_deg: float) -> None:
    assert aorto_mitral_angle_deg((0.0, 0.0, 2.0), mitral_normal) == pytest.approx(
        expected_deg, abs=1e-9
    )


# --- through analyze_mitral ----------------------------------------------------------------


def _small_volume() -> Volume:
    affine = np.eye(4)
    affine[:3, :3] *= 2.0
    affine[:3, 3] = (-30.0, -30.0, -30.0)
    return Volume(np.zeros((30, 30, 30), dtype=np.float32), affine)


def _saddle_ma_landmarks(radius: float, saddle_mm: float, count: int = 24) -> dict[str, np.ndarray]:
    """MA_* on the saddle circle, starting at the right trigone (phi = 0), counter-clockwise;
    trigones at phi = 0 and 180 (on the curve, also spline nodes)."""
    points = {}
    for k in range(count):
        phi = 2.0 * math.pi * k / count
        points[f"MA_{k + 1:02d}"] = np.array(
            [radius * math.cos(phi), radius * math.sin(phi), saddle_mm * math.cos(2.0 * phi)]
        )
    points["L_trigone"], points["R_trigone"] = _trigones(radius, saddle_mm)
    return points


def test_analyze_mitral_reports_the_d_shape_and_angle() -> None:
    radius, saddle_mm = 15.0, 3.0
    points = _saddle_ma_landmarks(radius, saddle_mm)
    tilt = math.radians(30.0)
    aortic_normal = np.array([0.0, math.sin(tilt), math.cos(tilt)])  # 30 deg from N = z
    result = analyze_mitral(
        _small_volume(),
        Landmarks(points),
        calcium_reason="not needed here",
        aortic_origin=AORTIC_SIDE,
        aortic_normal=aortic_normal,
    )
    assert result.annulus is not None and result.d_shape is not None
    assert result.d_shape.posterior_arc == "aortic_side"
    data = result.to_dict()
    json.dumps(data)
    ann = data["annulus"]
    expected = _expected_semicircle_d(radius)
    for key, value in expected.items():
        assert ann[key] == pytest.approx(value, rel=0.005, abs=0.2), key
    length, _ = quad(
        lambda p: math.sqrt(radius**2 + (2.0 * saddle_mm * math.sin(2.0 * p)) ** 2),
        0.0,
        2.0 * math.pi,
    )
    assert ann["saddle_perimeter_mm"] == pytest.approx(length, rel=0.005)
    assert data["aorto_mitral_angle_deg"] == pytest.approx(30.0, abs=0.1)
    # earlier annulus keys are still there; the perimeter-derived diameter moved
    assert ann["perimeter_derived_diameter_mm"] == pytest.approx(
        ann["perimeter_mm"] / math.pi, abs=0.01
    )
    assert {"area_mm2", "d_area_mm", "ap_diameter_mm", "ic_diameter_mm"} <= set(ann)
    assert "d_shape" not in result.not_assessed
    assert "aorto_mitral_angle" not in result.not_assessed


def test_analyze_mitral_without_a_trigone_or_aortic_normal() -> None:
    points = _saddle_ma_landmarks(15.0, 0.0)
    del points["R_trigone"]
    result = analyze_mitral(_small_volume(), Landmarks(points), calcium_reason="not needed here")
    assert result.annulus is not None
    assert result.d_shape is None and result.aorto_mitral_angle_deg is None
    assert "needs both L_trigone and R_trigone" in result.not_assessed["d_shape"]
    assert "aortic annulus normal" in result.not_assessed["aorto_mitral_angle"]
    data = result.to_dict()
    for key in ("tt_mm", "sl_mm", "ic_mm", "d_area_mm2", "d_perimeter_mm", "saddle_perimeter_mm"):
        assert data["annulus"][key] is None, key
    assert data["aorto_mitral_angle_deg"] is None
    assert data["annulus"]["area_mm2"] == pytest.approx(math.pi * 15.0**2, rel=0.005)


def test_phantom_mac_case_matches_its_ellipse() -> None:
    from annulusview.phantom.anatomy import ANATOMY, case_spec

    m = ANATOMY.mitral
    a, b = m.semi_ap_mm, m.semi_ic_mm
    alpha = math.radians(ANATOMY.trigone_angle_deg)
    assert (a, b, ANATOMY.trigone_angle_deg) == (14.0, 17.0, 35.0)  # as in the docstring
    lm = Landmarks(ANATOMY.landmarks(case_spec("mac").ms_length_mm))
    f = ANATOMY.frame
    result = analyze_mitral(
        _small_volume(),
        lm,
        calcium_reason="not needed here",
        aortic_origin=f.origin,
        aortic_normal=f.n,
    )
    shape = result.d_shape
    assert shape is not None, result.not_assessed
    assert shape.posterior_arc == "aortic_side"
    x_m = a * (1.0 - math.cos(alpha)) / 2.0
    arc, _ = quad(
        lambda p: math.sqrt((a * math.sin(p)) ** 2 + (b * math.cos(p)) ** 2),
        alpha,
        2.0 * math.pi - alpha,
    )
    full, _ = quad(
        lambda p: math.sqrt((a * math.sin(p)) ** 2 + (b * math.cos(p)) ** 2), 0.0, 2.0 * math.pi
    )
    tt = 2.0 * b * math.sin(alpha)
    expected = {
        "tt_mm": tt,
        "sl_mm": a * (1.0 + math.cos(alpha)),
        "ic_mm": 2.0 * b * math.sqrt(1.0 - (x_m / a) ** 2),
        "d_area_mm2": a * b * (math.pi - alpha + math.sin(alpha) * math.cos(alpha)),
        "d_perimeter_mm": tt + arc,
        "saddle_perimeter_mm": full,
    }
    for key, value in expected.items():
        assert getattr(shape, key) == pytest.approx(value, rel=0.005, abs=0.2), key
    # TT is the in-plane distance of the trigone landmarks (hand computation)
    n_m = result.annulus.normal_lps
    diff = np.asarray(lm["L_trigone"]) - np.asarray(lm["R_trigone"])
    assert shape.tt_mm == pytest.approx(float(np.linalg.norm(diff - (diff @ n_m) * n_m)), abs=1e-6)
    assert result.aorto_mitral_angle_deg == pytest.approx(
        math.degrees(math.atan2(ANATOMY.mitral_tilt, 0.75)), abs=0.05
    )
    data = result.to_dict()
    for key in expected:
        assert math.isfinite(data["annulus"][key]), key
    assert math.isfinite(data["aorto_mitral_angle_deg"])


def test_phantom_analyze_json_carries_the_d_shape(tmp_path) -> None:
    """The whole `analyze --json` path on the written mac phantom: the contract keys are there,
    finite, and TT is the in-plane distance of the trigone landmarks of the markups file."""
    from annulusview.cli import main
    from annulusview.core.landmarks import read_landmarks
    from annulusview.phantom.dicom import write_case

    case = write_case(tmp_path / "case", case="mac")
    out = tmp_path / "res.json"
    markups = case / "landmarks.mrk.json"
    assert (
        main(["analyze", str(case / "dicom"), "--landmarks", str(markups), "--json", str(out)]) == 0
    )
    mitral = json.loads(out.read_text())["mitral"]
    ann = mitral["annulus"]
    for key in ("tt_mm", "sl_mm", "ic_mm", "d_area_mm2", "d_perimeter_mm", "saddle_perimeter_mm"):
        assert math.isfinite(ann[key]), key
    assert 0.0 <= mitral["aorto_mitral_angle_deg"] <= 90.0
    lm = read_landmarks(markups)
    n_m = np.asarray(ann["normal_lps"])
    diff = np.asarray(lm["L_trigone"]) - np.asarray(lm["R_trigone"])
    assert ann["tt_mm"] == pytest.approx(float(np.linalg.norm(diff - (diff @ n_m) * n_m)), abs=0.02)


def test_mv_anterior_marks_the_aortic_side_without_aortic_hinges() -> None:
    """Circle R = 15 (16 MA points), MV_anterior at 180 deg, trigones at 104 and 220 deg, no
    aortic annulus. The anterior arc (containing 180) spans 116 deg, half-angle beta = 58 deg;
    the TT chord lies d0 = R cos(beta) from the centre. TT = 2 R sin(beta); the perpendicular
    bisector of TT passes the centre, so SL = R + d0; the SL midpoint is (R - d0) / 2 from the
    centre, so IC = 2 sqrt(R^2 - ((R - d0) / 2)^2); D area = R^2 (pi - beta + sin cos beta);
    D perimeter = R (2 pi - 2 beta) + TT; saddle perimeter = 2 pi R."""
    radius = 15.0

    def on_ring(deg: float) -> np.ndarray:
        t = math.radians(deg)
        return np.array([radius * math.cos(t), radius * math.sin(t), 0.0])

    points = {f"MA_{k + 1:02d}": on_ring(22.5 * k) for k in range(16)}
    points.update(
        {"MV_anterior": on_ring(180.0), "L_trigone": on_ring(104.0), "R_trigone": on_ring(220.0)}
    )
    result = analyze_mitral(_small_volume(), Landmarks(points), calcium_reason="not needed here")
    shape = result.d_shape
    assert shape is not None, result.not_assessed
    assert shape.posterior_arc == "aortic_side"
    beta = math.radians(58.0)
    d0 = radius * math.cos(beta)
    tt = 2.0 * radius * math.sin(beta)
    expected = {
        "tt_mm": tt,
        "sl_mm": radius + d0,
        "ic_mm": 2.0 * math.sqrt(radius**2 - ((radius - d0) / 2.0) ** 2),
        "d_area_mm2": radius**2 * (math.pi - beta + math.sin(beta) * math.cos(beta)),
        "d_perimeter_mm": radius * (2.0 * math.pi - 2.0 * beta) + tt,
        "saddle_perimeter_mm": 2.0 * math.pi * radius,
    }
    for key, value in expected.items():
        assert getattr(shape, key) == pytest.approx(value, rel=0.005, abs=0.2), key
    # no aortic normal: the angle is not assessed, with the reason
    assert result.aorto_mitral_angle_deg is None
    assert "aorto_mitral_angle" in result.not_assessed
