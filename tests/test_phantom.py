"""The phantom against its own closed-form answers (geometry, HU, volumes, truth)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage, spatial

from annulusview.core.landmarks import read_landmarks, write_landmarks
from annulusview.core.volume import Volume
from annulusview.phantom import BUILT_CASES, PhantomCase, PhantomCaseNotBuilt, make_case
from annulusview.phantom.anatomy import ANATOMY, CONTRAST, CROWN_SCALLOP_MM, case_spec
from annulusview.phantom.geometry import (
    blurred_ball_profile,
    distance_to_annular_wedge,
    ellipse_perimeter,
    iso_radius_ball,
)
from annulusview.phantom.render import SIZES, render
from rule_ids import ALL_RULE_IDS as FLAG_IDS


@pytest.fixture(scope="module", params=BUILT_CASES)
def phantom(request: pytest.FixtureRequest) -> PhantomCase:
    return make_case(request.param, seed=1, size="small")


@pytest.fixture(scope="module")
def contrast_case() -> PhantomCase:
    return make_case("tavr-contrast", seed=0, size="small")


def _frame(case: PhantomCase) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    f = case.truth["frame"]
    return tuple(np.array(f[k]) for k in ("O_lps", "n_lps", "u_lps", "v_lps"))  # type: ignore[return-value]


def _sample(case: PhantomCase, points: np.ndarray) -> np.ndarray:
    """Trilinear HU at LPS points (..., 3)."""
    ijk = case.volume.lps_to_index(points)
    coords = [ijk[..., 2], ijk[..., 1], ijk[..., 0]]
    return ndimage.map_coordinates(case.volume.hu.astype(np.float32), coords, order=1)


def _voxel_centres(case: PhantomCase) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    aff = case.volume.affine
    k, j, i = case.volume.shape
    x = aff[0, 3] + aff[0, 0] * np.arange(i)
    y = aff[1, 3] + aff[1, 1] * np.arange(j)
    z = aff[2, 3] + aff[2, 2] * np.arange(k)
    return x[None, None, :], y[None, :, None], z[:, None, None]


# --- closed-form helpers -------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [(10.0, 10.0), (13.0, 11.0), (20.0, 5.0)])
def test_ellipse_perimeter_matches_ramanujan(a: float, b: float) -> None:
    # Ramanujan's second approximation is good to ~1e-5 relative for these shapes.
    h = (a - b) ** 2 / (a + b) ** 2
    approx = math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))
    assert ellipse_perimeter(a, b) == pytest.approx(approx, rel=2e-5)


def test_blurred_ball_profile_matches_numeric_convolution() -> None:
    # A ball of radius 2 mm voxelised at 0.05 mm and blurred: the profile along a line.
    step, a, s = 0.05, 2.0, 0.5
    ax = np.arange(-4.0, 4.0 + step / 2, step)
    X, Y, Z = np.meshgrid(ax, ax, ax, indexing="ij", sparse=True)
    ball = (np.sqrt(X**2 + Y**2 + Z**2) <= a).astype(np.float32)
    blurred = ndimage.gaussian_filter(ball, s / step)
    mid = len(ax) // 2
    for r in (0.0, 1.0, 1.8, 2.0, 2.3, 3.0):
        idx = mid + round(r / step)
        assert blurred[idx, mid, mid] == pytest.approx(blurred_ball_profile(r, a, s), abs=0.01)


def test_iso_radius_of_half_level_is_just_inside_the_ball() -> None:
    r = iso_radius_ball(2.0, 0.5, 1000.0, 0.0, 500.0)
    assert 1.85 < r < 1.9  # curvature pulls (about sigma^2 / a) the half-level surface inward


def test_wedge_distance_simple_cases() -> None:
    zone = ((-9.0, 0.0), (9.0, 18.0), (270.0, 330.0))
    assert distance_to_annular_wedge(-5.0, 12.0, 300.0, *zone) == 0.0
    assert distance_to_annular_wedge(-12.0, 12.0, 300.0, *zone) == pytest.approx(3.0)
    assert distance_to_annular_wedge(-5.0, 12.0, 240.0, *zone) == pytest.approx(
        12 * math.sin(math.radians(30))
    )
    assert distance_to_annular_wedge(-5.0, 12.0, 0.0, *zone) == pytest.approx(
        12 * math.sin(math.radians(30))
    )


# --- frame, annulus, landmarks -------------------------------------------------------------


def test_hinges_give_the_designed_frame(contrast_case: PhantomCase) -> None:
    origin, n, u, v = _frame(contrast_case)
    lm = contrast_case.landmarks
    r_, l_, n_ = lm["RCC_hinge"], lm["LCC_hinge"], lm["NCC_hinge"]
    # circumcentre of the three hinges in their plane
    a, b = l_ - r_, n_ - r_
    axb = np.cross(a, b)
    centre = r_ + np.cross(np.dot(a, a) * b - np.dot(b, b) * a, axb) / (2 * np.dot(axb, axb))
    assert np.allclose(centre, origin, atol=1e-3)
    assert np.allclose(axb / np.linalg.norm(axb), n, atol=1e-5)
    ru = r_ - origin
    assert np.allclose(ru / np.linalg.norm(ru), u, atol=1e-5)
    assert np.allclose(np.cross(n, u), v, atol=1e-6)
    radius = contrast_case.truth["frame"]["hinge_radius_mm"]
    for p in (r_, l_, n_):
        assert np.linalg.norm(p - origin) == pytest.approx(radius, abs=1e-3)
    assert radius == pytest.approx(contrast_case.truth["annulus"]["perimeter_mm"] / (2 * math.pi))


def test_landmark_heights_and_lengths(contrast_case: PhantomCase) -> None:
    origin, n, u, v = _frame(contrast_case)
    lm, t = contrast_case.landmarks, contrast_case.truth
    assert (lm["LCA_ostium"] - origin) @ n == pytest.approx(
        t["coronary_heights_mm"]["LCA"], abs=1e-3
    )
    assert (lm["RCA_ostium"] - origin) @ n == pytest.approx(
        t["coronary_heights_mm"]["RCA"], abs=1e-3
    )
    # infra-annular MS length: the inferior border lies ms_length below the annular plane, the
    # superior border above it (v2 section 3)
    assert -((lm["MS_inferior"] - origin) @ n) == pytest.approx(t["ms_length_mm"], abs=1e-3)
    assert (lm["MS_superior"] - origin) @ n > 0
    for name, theta in (("RCC_LCC", 60), ("LCC_NCC", 180), ("NCC_RCC", 300)):
        p = lm[f"{name}_commissure"] - origin
        angle = math.degrees(math.atan2(p @ v, p @ u)) % 360
        assert angle == pytest.approx(theta, abs=1e-3)
    assert len(contrast_case.landmarks.mitral_curve) == 16
    assert not contrast_case.landmarks.unknown_names


def test_landmark_file_reads_back_identical(contrast_case: PhantomCase, tmp_path) -> None:
    path = write_landmarks(tmp_path / "lm.mrk.json", contrast_case.landmarks)
    back = read_landmarks(path)
    assert back.names() == contrast_case.landmarks.names()
    for name in back:
        assert np.array_equal(back[name], contrast_case.landmarks[name]), name


def test_annulus_area_by_counting_a_fine_reformat(contrast_case: PhantomCase) -> None:
    origin, _, u, v = _frame(contrast_case)
    t = contrast_case.truth
    step = 0.1
    s = np.arange(-18.0, 18.0 + step / 2, step)
    A, B = np.meshgrid(s, s, indexing="ij")
    plane = _sample(contrast_case, origin + A[..., None] * u + B[..., None] * v)
    half = (t["materials_hu"]["blood"] + t["materials_hu"]["wall"]) / 2
    labels, _ = ndimage.label(plane >= half)
    lumen = ndimage.binary_fill_holes(labels == labels[len(s) // 2, len(s) // 2])
    pts = np.column_stack([A[lumen], B[lumen]])
    hull = spatial.ConvexHull(pts)
    # hull.volume is the 2-D area; add the half-pixel rim the pixel centres miss.
    area = hull.volume + hull.area * step / 2
    assert area == pytest.approx(t["annulus"]["area_mm2"], rel=0.01)
    assert hull.area == pytest.approx(t["annulus"]["perimeter_mm"], rel=0.015)


# --- HU and lesions -------------------------------------------------------------------------


def test_lumen_and_lesion_centres_have_their_hu(phantom: PhantomCase) -> None:
    t = phantom.truth
    centre = np.array(t["lumen_sphere"]["centre_lps"])
    assert _sample(phantom, centre[None])[0] == pytest.approx(t["lumen_hu"], abs=60)
    assert t["lumen_hu_sampled"] == pytest.approx(t["lumen_hu"], abs=3)
    for les in t["lesions"] + t["distractors"]:
        peak = les["background_hu"] + (les["hu"] - les["background_hu"]) * float(
            blurred_ball_profile(0.0, les["radius_mm"], t["blur_sigma_mm"])
        )
        got = _sample(phantom, np.array(les["centre_lps"])[None])[0]
        assert got == pytest.approx(peak, abs=80), les["name"]


def test_only_designed_lesions_exceed_the_threshold_in_the_analysis_region(
    phantom: PhantomCase,
) -> None:
    t = phantom.truth
    origin, n, _, _ = _frame(phantom)
    X, Y, Z = _voxel_centres(phantom)
    d = np.stack(np.broadcast_arrays(X - origin[0], Y - origin[1], Z - origin[2]), axis=-1)
    h = d @ n
    r = np.linalg.norm(d - h[..., None] * n, axis=-1)
    reg = t["regions"]["analysis_region"]
    region = (r <= reg["r_max_mm"]) & (h >= reg["h_mm"][0]) & (h <= reg["h_mm"][1])
    mask = (phantom.volume.hu >= t["threshold_hu"]) & region
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    vox = phantom.volume.voxel_volume_mm3
    sizes = np.bincount(labels.ravel())[1:] * vox
    big = sizes[sizes >= 1.0]
    assert len(big) == len(t["lesions"])
    assert (sizes < 1.0).sum() == 0  # no noise specks at all
    expected = sorted(les["expected_volume_mm3"] for les in t["lesions"])
    for got, want in zip(sorted(big), expected, strict=True):
        assert got == pytest.approx(want, rel=0.06)
    # each component's centroid is its lesion's centre
    for les in t["lesions"]:
        ijk = np.rint(phantom.volume.lps_to_index(les["centre_lps"])).astype(int)
        lab = labels[ijk[2], ijk[1], ijk[0]]
        assert lab > 0
        cen = np.array(ndimage.center_of_mass(labels == lab))
        lps = phantom.volume.index_to_lps(cen[::-1])
        assert np.linalg.norm(lps - les["centre_lps"]) < 0.3


def test_truth_document(phantom: PhantomCase) -> None:
    t = phantom.truth
    assert t["schema"] == "annulusview.phantom-truth/2"
    assert {f["id"] for f in t["expected_flags"]} == FLAG_IDS
    assert all(
        f["status"] in ("met", "not_met", "indeterminate", "not_assessed")
        and f["level"] in (None, "moderate", "high")
        and (f["level"] is None or f["status"] == "met")
        for f in t["expected_flags"]
    )
    ann = t["annulus"]
    assert ann["area_mm2"] == pytest.approx(math.pi * ann["a_mm"] * ann["b_mm"], abs=1e-3)
    assert ann["d_area_mm"] == pytest.approx(2 * math.sqrt(ann["area_mm2"] / math.pi), abs=1e-3)
    for les in t["lesions"]:
        assert les["in_analysis_region"]
        assert les["clearance_mm"]["sector"] >= 1.0
        min_clear = 0.3 if les["region"] == "annulus" else 1.5
        assert les["clearance_mm"]["region"] >= min_clear
    for les in t["distractors"]:
        assert not les["in_analysis_region"]
        assert les["distance_to_analysis_region_mm"] >= 3.0
    total = sum(t["calcium_by_cusp_mm3"].values())
    assert total == pytest.approx(t["calcium_total_mm3"], abs=1e-3)
    regions = t["calcium_by_region_mm3"]
    assert regions["leaflet"] + regions["annulus"] + regions["lvot"] == pytest.approx(
        total, abs=1e-3
    )


def test_tavr_contrast_lesion_design(contrast_case: PhantomCase) -> None:
    les = {(x["region"], x["cusp"]): x for x in contrast_case.truth["lesions"]}
    assert set(les) == {("leaflet", "LCC"), ("annulus", "RCC"), ("lvot", "NCC"), ("lvot", "RCC")}
    assert les[("annulus", "RCC")]["inward_extent_mm"] > 4.5
    assert les[("lvot", "NCC")]["distance_to_conduction_mm"] == 0.0
    assert "conduction" in les[("lvot", "NCC")]["volume_by_region_mm3"]
    # v2: the zone reaches 10 deg past the RCC hinge, so this lesion lies inside it
    assert les[("lvot", "RCC")]["distance_to_conduction_mm"] == 0.0
    assert "conduction" in les[("lvot", "RCC")]["volume_by_region_mm3"]
    assert contrast_case.truth["calcium_by_region_mm3"]["lvot"] > 50.0
    assert contrast_case.truth["threshold_hu"] == 550.0


def test_noncontrast_agatston_is_clearly_high() -> None:
    t = make_case("tavr-noncontrast", size="small").truth
    assert not t["contrast"] and t["threshold_hu"] == 130.0
    assert t["agatston_expected"]["valve"] > 3100
    assert t["annulus"]["expected_method"] == "hinge_circle"


def test_mac_volume_and_score() -> None:
    case = make_case("mac", size="small")
    t = case.truth
    mac = t["mitral"]["mac"]
    assert mac["score"]["total"] == 5 and mac["score"]["grade"] == "moderate"
    assert mac["trigones"]["L_trigone"]["involved"] and not mac["trigones"]["R_trigone"]["involved"]
    assert 180 <= mac["expected_extent_deg"] <= 270
    # calcium voxels near the annulus curve add up to the expected MAC volume
    curve = case.landmarks.mitral_curve
    X, Y, Z = _voxel_centres(case)
    mask = case.volume.hu >= t["threshold_hu"]
    k, j, i = np.nonzero(mask)
    pts = np.column_stack([X[0, 0, i], Y[0, j, 0], Z[k, 0, 0]])
    dense = np.concatenate(
        [np.linspace(curve[m], curve[(m + 1) % 16], 50, endpoint=False) for m in range(16)]
    )
    near = spatial.cKDTree(dense).query(pts)[0] <= 6.0
    volume = near.sum() * case.volume.voxel_volume_mm3
    assert volume == pytest.approx(mac["expected_volume_mm3"], rel=0.05)


def test_normal_case_has_no_aortic_calcium() -> None:
    t = make_case("normal", size="small").truth
    assert t["lesions"] == [] and t["calcium_total_mm3"] == 0.0
    assert t["mitral"]["mac"] is None


def test_determinism_by_seed() -> None:
    a = make_case("tavr-contrast", seed=7)
    b = make_case("tavr-contrast", seed=7)
    c = make_case("tavr-contrast", seed=8)
    assert a.volume.hu.tobytes() == b.volume.hu.tobytes()
    assert a.volume.hu.tobytes() != c.volume.hu.tobytes()
    assert a.truth["lesions"] == c.truth["lesions"]


def test_unbuilt_and_unknown_cases() -> None:
    with pytest.raises(PhantomCaseNotBuilt):
        make_case("neo-lvot")
    with pytest.raises(ValueError):
        make_case("nonsense")
    with pytest.raises(ValueError):
        make_case("tavr-contrast", size="huge")


# --- scalloped sinus (the seeded phantoms' crown) ------------------------------------------

SCALLOPED = replace(ANATOMY, sinus_scallop_mm=CROWN_SCALLOP_MM)


@pytest.mark.parametrize(
    ("theta", "border"),
    [
        # b = 1.5 + 13.5 (rho / 60)^2, rho = angle from the nearest cusp centre (0, 120, 240)
        (0.0, 1.5),  # RCC nadir
        (120.0, 1.5),  # LCC nadir
        (240.0, 1.5),  # NCC nadir
        (60.0, 15.0),  # RCC-LCC commissure: 1.5 + 13.5 = the commissure landmark height
        (180.0, 15.0),
        (300.0, 15.0),
        (40.0, 7.5),  # rho = 40: 1.5 + 13.5 * 4 / 9
        (100.0, 3.0),  # rho = -20: 1.5 + 13.5 / 9
        (210.0, 1.5 + 13.5 / 4),  # rho = -30
    ],
)
def test_crown_height_by_hand(theta: float, border: float) -> None:
    assert float(SCALLOPED.crown_height(theta)) == pytest.approx(border, abs=1e-12)
    assert float(ANATOMY.crown_height(theta)) == 1.5  # the standard cases: a flat border


def test_scalloped_lumen_keeps_the_annulus_and_has_no_bulge_below_the_crown() -> None:
    theta = np.arange(0.0, 360.0, 0.5)
    # at and below the nadir level the lumen is the annulus ellipse for every angle
    for h in (-4.0, 0.0, 1.0, 1.5):
        assert np.array_equal(SCALLOPED.lumen_radius(theta, h), ANATOMY.lumen_radius(theta, h))
    # theta = 40 (crown 7.5 mm), h = 7: by hand, no bulge: t = (7 - 1.5) / 18.5 = 0.297297,
    # s(t) = t^2 (3 - 2t) = 0.212604, ellipse radius at 10 deg from the major axis
    # 143 / sqrt(121 cos^2 10 + 169 sin^2 10) = 12.92295, base = 12.92295 + s (13.5 - 12.92295)
    # = 13.0456. The flat border adds 4.5 sin^2(pi t) cos^2(60 deg) = 4.5 * 0.64642 / 4 = 0.7272.
    assert float(SCALLOPED.lumen_radius(40.0, 7.0)) == pytest.approx(13.0456, abs=1e-4)
    assert float(ANATOMY.lumen_radius(40.0, 7.0)) == pytest.approx(13.0456 + 0.7272, abs=1e-4)
    # over the cusp centres the sinus is the flat-border one (its border is the nadir there)
    h = np.arange(0.0, 30.0, 0.25)
    for cusp in (0.0, 120.0, 240.0):
        assert np.allclose(SCALLOPED.lumen_radius(cusp, h), ANATOMY.lumen_radius(cusp, h))
    # at each commissure there is no bulge at all: the base (ellipse to ascending blend) only
    for commissure in (60.0, 180.0, 300.0):
        assert np.allclose(
            SCALLOPED.lumen_radius(commissure, h), ANATOMY.lumen_radius(commissure, h)
        )
    with pytest.raises(ValueError, match="sinus_scallop_mm"):
        replace(ANATOMY, sinus_scallop_mm=20.0)  # the crown would pass the STJ


def _edge_radius(case_hu: np.ndarray, affine: np.ndarray, theta: float, h: float) -> float:
    """Radius (mm) where the blood-to-wall profile crosses its half level along the ray at
    ``(theta, h)``, averaged over +-1 deg and +-0.3 mm (noise)."""
    f = SCALLOPED.frame
    r = np.arange(10.0, 15.5, 0.02)
    volume = Volume(case_hu, affine)
    profiles = []
    for dt in (-1.0, 0.0, 1.0):
        for dh in (-0.3, 0.0, 0.3):
            pts = f.point(h + dh, r[:, None], theta + dt)
            ijk = volume.lps_to_index(pts.reshape(-1, 3))
            coords = [ijk[:, 2], ijk[:, 1], ijk[:, 0]]
            profiles.append(ndimage.map_coordinates(case_hu.astype(np.float32), coords, order=1))
    profile = np.mean(profiles, axis=0)
    half = (CONTRAST.blood + CONTRAST.wall) / 2
    k = int(np.flatnonzero((profile[:-1] >= half) & (profile[1:] < half))[-1])
    return float(r[k] + (profile[k] - half) / (profile[k] - profile[k + 1]) * 0.02)


def test_rendered_scalloped_sinus_follows_the_crown() -> None:
    """The voxelised lumen of the scalloped root has no bulge below the crown: at theta = 40
    (crown 7.5 mm) its wall sits at the base radius, 0.727 mm inside the flat-border sinus."""
    hu, affine = render(case_spec("normal"), SIZES["small"], 3, anatomy=SCALLOPED)
    edge = _edge_radius(hu, affine, 40.0, 7.0)
    assert edge == pytest.approx(13.0456, abs=0.25)  # by hand, see the test above
    # above the crown the sinus bulges: theta = 40, h = 12 (t_b = 4.5 / 12.5)
    high = _edge_radius(hu, affine, 40.0, 12.0)
    assert high == pytest.approx(float(SCALLOPED.lumen_radius(40.0, 12.0)), abs=0.25)
    # the annulus plane is untouched: the leaflets attach along the crown, never below 1.5 mm
    for theta in (0.0, 40.0, 60.0, 120.0):
        edge0 = _edge_radius(hu, affine, theta, 0.0)
        assert edge0 == pytest.approx(float(ANATOMY.lumen_radius(theta, 0.0)), abs=0.25)


def test_varied_cases_draw_their_noise_level():
    """The seeded cases vary the image noise (SD 10-35 HU): the HU spread in the ascending
    aorta's uniform blood (3 mm around the axis, 35 mm above the annulus) is the drawn SD."""
    from annulusview.core.aortic.frame import AnnulusFrame
    from annulusview.phantom.case import make_varied_case

    for seed in (1, 3):
        case = make_varied_case(seed, "demo")
        f = AnnulusFrame.from_landmarks(case.landmarks)
        vol = case.volume
        centre = f.origin_lps + 35.0 * f.normal_lps
        k, j, i = np.indices(vol.shape).reshape(3, -1)
        near = vol.lps_to_index(centre)
        box = (np.abs(i - near[0]) < 8) & (np.abs(j - near[1]) < 8) & (np.abs(k - near[2]) < 8)
        pts = vol.index_to_lps(np.stack([i[box], j[box], k[box]], axis=1))
        ball = np.linalg.norm(pts - centre, axis=1) <= 3.0
        values = vol.hu[k[box][ball], j[box][ball], i[box][ball]].astype(float)
        assert values.size > 100
        assert float(values.std()) == pytest.approx(case.truth["noise_sd_hu"], rel=0.15)
        assert float(values.mean()) == pytest.approx(case.truth["blood_hu"], abs=10.0)
