"""Mitral annulus, MAC and MAC CT score against closed-form answers (clinical-model.md section 8).

Synthetic volumes are built here: a planar circular annulus (radius R) with a tube of calcium
along an arc of it (flat ends, tube radius rho, partial-volume ramp centred on the surface so
that the threshold half-way between background and calcium sits on the surface). Closed forms:

* extent (calcium within 3 mm of the curve) = arc + 2 asin(3 / R) degrees (the flat end face
  is a half-plane through the annulus axis; a curve point delta past it lies R sin(delta) away);
* thickness across the annulus = 2 rho (the tube's cross-section is a disc);
* a trigone on the curve delta degrees past an end is R sin(delta) from the calcium;
* score from the tables of Guerrero et al. (JACC Cardiovasc Imaging 2020).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import ellipe

from annulusview.core.landmarks import Landmarks
from annulusview.core.mitral import (
    MitralResults,
    analyze_mitral,
    fit_mitral_annulus,
    mac_score,
)
from annulusview.core.mitral.common import NotAssessed
from annulusview.core.volume import Volume

SPACING_MM = 0.5
BACKGROUND_HU = 100.0
CALCIUM_HU = 1000.0
THRESHOLD_HU = 550.0  # half-way: the iso-surface of the ramp
RING_RADIUS_MM = 15.0


def _grid(lo: tuple[float, float, float], shape_xyz: tuple[int, int, int]):
    affine = np.eye(4)
    affine[:3, :3] *= SPACING_MM
    affine[:3, 3] = lo
    i, j, k = np.meshgrid(*[np.arange(n) for n in shape_xyz], indexing="ij")
    return affine, lo[0] + SPACING_MM * i, lo[1] + SPACING_MM * j, lo[2] + SPACING_MM * k


def _ramp(distance_outside_mm: np.ndarray) -> np.ndarray:
    """Partial volume over one mm, 0.5 exactly on the surface (distance 0)."""
    return np.clip(0.5 - distance_outside_mm / (2 * SPACING_MM), 0.0, 1.0)


def _on_ring(deg: float, radius: float = RING_RADIUS_MM, z: float = 0.0) -> np.ndarray:
    t = math.radians(deg)
    return np.array([radius * math.cos(t), radius * math.sin(t), z])


def mac_volume(arc_deg: float, tube_radius_mm: float, leaflet_blob: bool = True) -> Volume:
    """Annulus ring of radius 15 mm in the plane z = 0, centred on the z axis; calcium tube
    along the arc |phi| <= arc/2 (phi from +x, posterior); optional 2 mm calcium ball on the
    anterior leaflet at (-6, 0, -5) (9 mm inside the anterior annulus, 5 mm toward the LV)."""
    affine, x, y, z = _grid((-30.0, -30.0, -30.0), (120, 120, 90))
    phi = np.degrees(np.arctan2(y, x))
    r = np.hypot(x, y)
    on_arc = (np.abs(phi) <= arc_deg / 2) & (arc_deg > 0)
    d_tube = np.where(on_arc, np.hypot(r - RING_RADIUS_MM, z), np.inf)
    fraction = _ramp(d_tube - tube_radius_mm)
    if leaflet_blob:
        d_ball = np.sqrt((x + 6.0) ** 2 + y**2 + (z + 5.0) ** 2)
        fraction = np.maximum(fraction, _ramp(d_ball - 2.0))
    hu = BACKGROUND_HU + (CALCIUM_HU - BACKGROUND_HU) * fraction
    return Volume(np.ascontiguousarray(hu.astype(np.float32).transpose(2, 1, 0)), affine)


def mac_landmarks(l_trigone_deg: float, r_trigone_deg: float, curve: bool = True) -> Landmarks:
    """Anterior annulus at phi = 180 (-x), posterior at 0, commissures at 270 (AL) and 90 (PM)."""
    points = {
        "MV_anterior": _on_ring(180.0),
        "MV_posterior": _on_ring(0.0),
        "MV_AL_commissure": _on_ring(270.0),
        "MV_PM_commissure": _on_ring(90.0),
        "L_trigone": _on_ring(l_trigone_deg),
        "R_trigone": _on_ring(r_trigone_deg),
    }
    if curve:
        points.update({f"MA_{m + 1:02d}": _on_ring(360.0 * m / 16) for m in range(16)})
    return Landmarks(points)


def expected_extent(arc_deg: float) -> float:
    """v2: a calcium arc with flat ends measures its own arc (no search-radius widening)."""
    return arc_deg


def bar_volume(arc_deg: float, width_mm: float, height_mm: float) -> Volume:
    """A calcium bar of rectangular cross-section along the ring: ``width_mm`` across the
    annulus (radially, centred on r = 15 mm), ``height_mm`` along the normal, over |phi| <=
    arc/2, with the same one-voxel partial-volume ramp."""
    affine, x, y, z = _grid((-30.0, -30.0, -30.0), (120, 120, 90))
    phi = np.degrees(np.arctan2(y, x))
    r = np.hypot(x, y)
    outside = np.maximum(np.abs(r - RING_RADIUS_MM) - width_mm / 2, np.abs(z) - height_mm / 2)
    outside = np.where(np.abs(phi) <= arc_deg / 2, outside, np.inf)
    hu = BACKGROUND_HU + (CALCIUM_HU - BACKGROUND_HU) * _ramp(outside)
    return Volume(np.ascontiguousarray(hu.astype(np.float32).transpose(2, 1, 0)), affine)


@pytest.mark.parametrize(
    ("arc", "width", "height"),
    [(200.0, 7.0, 4.0), (200.0, 11.0, 5.0), (140.0, 4.0, 7.0)],
    ids=["7x4", "11x5", "4x7"],
)
def test_mac_bar_width_and_arc_as_in_the_short_axis_view(arc, width, height):
    """v1 read a 7 mm wide, 4 mm high bar as 4.1 mm (its smallest chord) and a 200 deg arc as
    243 deg; v2 reads the width across the annulus and the arc itself."""
    volume = bar_volume(arc, width, height)
    result = analyze_mitral(
        volume, mac_landmarks(120.0, 240.0), THRESHOLD_HU, aortic_normal=[0.0, 0.0, 1.0]
    )
    mac = result.mac
    assert mac is not None and len(mac.lesions) == 1
    assert mac.extent_deg == pytest.approx(arc, abs=5.0)
    assert mac.thickness_mean_mm == pytest.approx(width, abs=SPACING_MM)
    assert mac.thickness_max_mm == pytest.approx(width, abs=SPACING_MM)


def _trigone_distance(trigone_deg: float, arc_deg: float) -> float:
    """Distance from a trigone on the ring to the tube (flat ends), closed form."""
    phi = (trigone_deg + 180.0) % 360.0 - 180.0
    beyond = abs(phi) - arc_deg / 2
    return 0.0 if beyond <= 0 else RING_RADIUS_MM * math.sin(math.radians(beyond))


# arc, tube radius, trigones (L, R), expected leaflets (anterior, posterior)
MAC_CASES = [
    # extent 200 -> 2; thickness 6 -> 2; L 1.0 mm (in), R 9.6 mm (out) -> 1; anterior -> 1
    pytest.param(200.0, 3.0, (104.0, 220.0), (True, False), id="moderate-200deg-6mm"),
    # extent 300 -> 3; thickness 3 -> 1; both trigones 2.6 mm -> 2; anterior -> 1: severe
    pytest.param(300.0, 1.5, (160.0, 200.0), (True, False), id="severe-300deg-3mm"),
    # extent 120 -> 1; thickness 11 -> 3; no trigone (13 mm) -> 0; the 11 mm bar reaches
    # 5.5 mm inside the ring, but that is the bar itself (v2: leaflet calcium lies more than
    # 3 mm beyond the bar's inner edge), so only the anterior ball -> 1
    pytest.param(120.0, 5.5, (120.0, 240.0), (True, False), id="moderate-120deg-11mm"),
]


@pytest.mark.parametrize(("arc", "rho", "trigones", "leaflets"), MAC_CASES)
def test_mac_against_closed_form(arc, rho, trigones, leaflets):
    volume = mac_volume(arc, rho)
    landmarks = mac_landmarks(*trigones)
    result = analyze_mitral(volume, landmarks, THRESHOLD_HU, aortic_normal=[0.0, 0.0, 1.0])
    mac = result.mac
    assert mac is not None and result.annulus is not None

    assert len(mac.lesions) == 1  # the tube; the leaflet ball is > 5 mm from the curve
    extent = expected_extent(arc)
    assert mac.extent_deg == pytest.approx(extent, abs=5.0)
    assert mac.thickness_mean_mm == pytest.approx(2 * rho, abs=SPACING_MM)
    assert mac.thickness_max_mm == pytest.approx(2 * rho, abs=SPACING_MM)

    expected_trigones = {
        key: _trigone_distance(deg, arc) <= 5.0 for key, deg in zip("LR", trigones, strict=True)
    }
    assert dict(mac.trigones) == expected_trigones
    assert (mac.anterior_leaflet, mac.posterior_leaflet) == leaflets

    thickness_points = 1 if 2 * rho < 5 else 2 if 2 * rho < 10 else 3
    extent_points = 1 if extent < 180 else 2 if extent <= 270 else 3
    trigone_points = sum(expected_trigones.values())
    leaflet_points = sum(leaflets)
    total = thickness_points + extent_points + trigone_points + leaflet_points
    grade = "mild" if total <= 3 else "moderate" if total <= 6 else "severe"
    score = mac.score
    assert (score.thickness, score.extent, score.trigones, score.leaflets) == (
        thickness_points,
        extent_points,
        trigone_points,
        leaflet_points,
    )
    assert (score.total, score.grade) == (total, grade)
    flag = next(f for f in result.flags if f.id == "mitral.mac_score")
    # a descriptor (derived for valve-in-MAC embolisation): met, with no risk level (v2)
    assert (flag.status, flag.level) == ("met", None)
    assert flag.value == total
    assert "Guerrero" in flag.reference


def test_mac_from_a_mask_and_from_the_four_landmarks():
    """A boolean calcium mask gives the same lesions and extent as the threshold; the curve
    through the four landmarks (a circle here) gives the same answer as the MA_* curve."""
    volume = mac_volume(200.0, 3.0)
    mask = volume.hu >= THRESHOLD_HU
    by_mask = analyze_mitral(volume, mac_landmarks(104.0, 220.0), mask)
    by_points = analyze_mitral(volume, mac_landmarks(104.0, 220.0, curve=False), THRESHOLD_HU)
    assert by_mask.mac is not None and by_points.mac is not None
    assert by_points.annulus is not None and by_points.annulus.method == "landmark_curve"
    for mac in (by_mask.mac, by_points.mac):
        assert mac.extent_deg == pytest.approx(expected_extent(200.0), abs=5.0)
        assert mac.thickness_mean_mm == pytest.approx(6.0, abs=2 * SPACING_MM)
        assert mac.score.total == 6
    assert by_mask.mac.volume_mm3 == pytest.approx(by_points.mac.volume_mm3)


def test_no_calcium_scores_zero():
    volume = mac_volume(0.0, 3.0, leaflet_blob=False)
    result = analyze_mitral(volume, mac_landmarks(104.0, 220.0), THRESHOLD_HU)
    assert result.mac is not None
    assert result.mac.lesions == ()
    assert result.mac.extent_deg == 0.0
    assert result.mac.thickness_mean_mm is None
    assert (result.mac.score.total, result.mac.score.grade) == (0, "none")
    mac_flag = next(f for f in result.flags if f.id == "mitral.mac_score")
    assert (mac_flag.status, mac_flag.level) == ("met", None)


@pytest.mark.parametrize(
    ("thickness", "extent", "trigones", "leaflets", "expected"),
    [
        (4.99, 179.9, 0, 0, (1, 1, 0, 0, 2, "mild")),
        (5.0, 180.0, 1, 0, (2, 2, 1, 0, 5, "moderate")),
        (9.99, 270.0, 1, 1, (2, 2, 1, 1, 6, "moderate")),
        (10.0, 270.1, 2, 2, (3, 3, 2, 2, 10, "severe")),
        (10.0, 200.0, 2, 0, (3, 2, 2, 0, 7, "severe")),
        (None, 100.0, 0, 0, (1, 1, 0, 0, 2, "mild")),
    ],
)
def test_mac_score_table(thickness, extent, trigones, leaflets, expected):
    """Guerrero 2020: thickness < 5 / 5-9.9 / >= 10; extent < 180 / 180-270 / > 270."""
    s = mac_score(
        has_mac=True,
        thickness_mean_mm=thickness,
        extent_deg=extent,
        trigones_involved=trigones,
        leaflets_involved=leaflets,
    )
    assert (s.thickness, s.extent, s.trigones, s.leaflets, s.total, s.grade) == expected


# --- annulus geometry ------------------------------------------------------------------------


def _tilted_frame() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An oblique plane: centre, unit A-P axis, unit I-C axis, normal."""
    centre = np.array([12.0, -30.0, 140.0])
    ap = np.array([0.2, 0.9, -0.3])
    ap /= np.linalg.norm(ap)
    helper = np.array([1.0, 0.0, 0.2])
    ic = helper - (helper @ ap) * ap
    ic /= np.linalg.norm(ic)
    return centre, ap, ic, np.cross(ap, ic)


SEMI_AP_MM, SEMI_IC_MM = 14.0, 18.0
ELLIPSE_PERIMETER = 4 * SEMI_IC_MM * ellipe(1 - (SEMI_AP_MM / SEMI_IC_MM) ** 2)
ELLIPSE_AREA = math.pi * SEMI_AP_MM * SEMI_IC_MM


def _ellipse_point(t_deg: float, saddle_mm: float = 0.0) -> np.ndarray:
    """t = 0 anterior, 90 anterolateral commissure, 180 posterior, 270 posteromedial;
    the saddle lifts the anterior and posterior annulus by ``saddle_mm`` (height cos 2t)."""
    centre, ap, ic, normal = _tilted_frame()
    t = math.radians(t_deg)
    return (
        centre
        - SEMI_AP_MM * math.cos(t) * ap
        + SEMI_IC_MM * math.sin(t) * ic
        + saddle_mm * math.cos(2 * t) * normal
    )


@pytest.mark.parametrize("count", [8, 12, 16, 24])
def test_spline_annulus_of_an_ellipse(count):
    """Perimeter (complete elliptic integral) and area (pi a b) within 1 %."""
    points = {f"MA_{m + 1:02d}": _ellipse_point(360.0 * m / count) for m in range(count)}
    points["MV_anterior"] = _ellipse_point(0.0)
    points["MV_posterior"] = _ellipse_point(180.0)
    annulus, _ = fit_mitral_annulus(Landmarks(points))
    assert annulus.method == "MA_curve"
    assert annulus.perimeter_mm == pytest.approx(ELLIPSE_PERIMETER, rel=0.01)
    assert annulus.area_mm2 == pytest.approx(ELLIPSE_AREA, rel=0.01)
    centre, _, _, normal = _tilted_frame()
    assert np.allclose(annulus.center_lps, centre, atol=0.05)
    assert abs(float(annulus.normal_lps @ normal)) == pytest.approx(1.0, abs=1e-6)
    assert annulus.ap_diameter_mm == pytest.approx(2 * SEMI_AP_MM, abs=1e-6)  # landmarks
    assert annulus.ap_method == "landmarks"
    assert annulus.ic_method == "curve_extent"
    assert annulus.ic_diameter_mm == pytest.approx(2 * SEMI_IC_MM, rel=0.01)


@pytest.mark.parametrize("saddle_mm", [0.0, 3.0])
def test_four_landmark_annulus_is_exact_for_an_ellipse_and_saddle(saddle_mm):
    """Through the four landmarks the curve c + a cos t + b sin t + d cos 2t reproduces the
    ellipse and the saddle exactly: projected area pi a b, diameters 2a and 2b."""
    names = ("MV_anterior", "MV_AL_commissure", "MV_posterior", "MV_PM_commissure")
    points = {name: _ellipse_point(90.0 * k, saddle_mm) for k, name in enumerate(names)}
    annulus, _ = fit_mitral_annulus(Landmarks(points))
    assert annulus.method == "landmark_curve"
    assert annulus.area_mm2 == pytest.approx(ELLIPSE_AREA, rel=0.001)
    assert annulus.ap_diameter_mm == pytest.approx(2 * SEMI_AP_MM, rel=1e-6)
    assert annulus.ic_diameter_mm == pytest.approx(2 * SEMI_IC_MM, rel=1e-6)
    if saddle_mm == 0:
        assert annulus.perimeter_mm == pytest.approx(ELLIPSE_PERIMETER, rel=0.001)
    else:  # a saddle is longer than its projection
        assert annulus.perimeter_mm > ELLIPSE_PERIMETER


def test_normal_points_to_the_lv():
    _, _, _, normal = _tilted_frame()
    names = ("MV_anterior", "MV_AL_commissure", "MV_posterior", "MV_PM_commissure")
    landmarks = Landmarks({n: _ellipse_point(90.0 * k) for k, n in enumerate(names)})
    explicit, _ = fit_mitral_annulus(landmarks, lv_direction=-normal)
    assert explicit.normal_source == "explicit"
    assert float(explicit.normal_lps @ normal) == pytest.approx(-1.0)
    # the aortic normal points from the LV to the aorta: the LV side is opposite
    by_aorta, _ = fit_mitral_annulus(landmarks, aortic_normal=normal + 0.5 * np.array([1, 0, 0]))
    assert by_aorta.normal_source == "aortic_normal"
    assert float(by_aorta.normal_lps @ normal) == pytest.approx(-1.0)
    typical, warnings = fit_mitral_annulus(landmarks)
    assert typical.normal_source == "typical_anatomy"
    assert float(typical.normal_lps @ np.array([1.0, -1.0, -1.0])) > 0
    assert any("typical anatomy" in w for w in warnings)


# --- bad input -----------------------------------------------------------------------------


def test_three_mitral_points_are_not_assessed_and_do_not_raise():
    landmarks = Landmarks(
        {
            "MV_anterior": _on_ring(180.0),
            "MV_posterior": _on_ring(0.0),
            "MV_AL_commissure": _on_ring(270.0),
            "MA_01": _on_ring(0.0),
            "MA_02": _on_ring(120.0),
        }
    )
    volume = mac_volume(200.0, 3.0)
    result = analyze_mitral(volume, landmarks, THRESHOLD_HU)
    assert result.annulus is None and result.mac is None and result.neo_lvot is None
    assert result.status == "not_assessed"
    assert "MV_PM_commissure" in result.not_assessed["annulus"]
    assert set(result.not_assessed) == {"annulus", "mac", "neo_lvot"}
    assert "(2 given)" in result.not_assessed["annulus"]
    flags = {f.id: f for f in result.flags}
    assert flags["mitral.mac_score"].status == "not_assessed"
    assert flags["mitral.neo_lvot"].status == "not_assessed"
    assert flags["mitral.mac_score"].reason
    with pytest.raises(NotAssessed, match="MV_PM_commissure"):
        fit_mitral_annulus(landmarks)


def test_collinear_points_are_not_assessed():
    names = ("MV_anterior", "MV_AL_commissure", "MV_posterior", "MV_PM_commissure")
    landmarks = Landmarks({n: np.array([5.0 * k, 0.0, 0.0]) for k, n in enumerate(names)})
    result = analyze_mitral(mac_volume(0.0, 1.0, leaflet_blob=False), landmarks, THRESHOLD_HU)
    assert result.annulus is None
    assert "collinear" in result.not_assessed["annulus"]


def test_results_dict_layout_is_json_ready():
    result = analyze_mitral(
        mac_volume(200.0, 3.0), mac_landmarks(104.0, 220.0), THRESHOLD_HU, contrast=False
    )
    assert isinstance(result, MitralResults)
    data = result.to_dict()
    json.dumps(data)  # plain types only
    assert set(data) >= {"status", "annulus", "mac", "neo_lvot", "flags", "warnings"}
    assert set(data["annulus"]) >= {
        "center_lps",
        "normal_lps",
        "perimeter_mm",
        "area_mm2",
        "ap_diameter_mm",
        "ic_diameter_mm",
        "method",
    }
    assert set(data["mac"]) >= {
        "lesions",
        "extent_deg",
        "thickness_mean_mm",
        "thickness_max_mm",
        "trigones",
        "anterior_leaflet",
        "score",
    }
    assert set(data["mac"]["score"]) >= {
        "thickness",
        "extent",
        "trigones",
        "leaflets",
        "total",
        "grade",
    }
    assert data["mac"]["trigones"] == {"L": True, "R": False}
    assert data["neo_lvot"] is None
    assert "non-contrast" in data["not_assessed"]["neo_lvot"]
    assert data["parameters"]["mitral"]["mac_max_distance_mm"] == 5.0


def shell_volume(outer_mm: float, inner_mm: float) -> Volume:
    """A calcified spherical shell on the posterior annulus (phi = 0), softer core inside."""
    affine, x, y, z = _grid((-30.0, -30.0, -30.0), (120, 120, 90))
    d = np.sqrt((x - RING_RADIUS_MM) ** 2 + y**2 + z**2)
    fraction = np.minimum(_ramp(d - outer_mm), _ramp(inner_mm - d))
    hu = BACKGROUND_HU + (CALCIUM_HU - BACKGROUND_HU) * fraction
    return Volume(np.ascontiguousarray(hu.astype(np.float32).transpose(2, 1, 0)), affine)


def test_caseous_mac_is_suspected_from_a_shell():
    """A 2 mm thick calcified shell of outer radius 5 mm encloses a 3 mm core: 4/3 pi 3^3 =
    113 mm3 below the threshold (>= 50 mm3): caseous MAC suspected; a solid ball is not."""
    result = analyze_mitral(
        shell_volume(5.0, 3.0), mac_landmarks(120.0, 240.0), THRESHOLD_HU,
        aortic_normal=[0.0, 0.0, 1.0],
    )  # fmt: skip
    (lesion,) = result.mac.lesions
    assert lesion.enclosed_mm3 == pytest.approx(4 / 3 * math.pi * 3.0**3, rel=0.15)
    assert lesion.caseous_suspected and result.mac.caseous_suspected
    assert any("caseous" in w for w in result.warnings)
    solid = analyze_mitral(
        shell_volume(5.0, 0.0), mac_landmarks(120.0, 240.0), THRESHOLD_HU,
        aortic_normal=[0.0, 0.0, 1.0],
    )  # fmt: skip
    assert not solid.mac.caseous_suspected and solid.mac.lesions[0].enclosed_mm3 == 0.0
