"""Root and LVOT dimensions (clinical-model.md 4.2) against the phantom's closed-form anatomy.

The truth is computed from the anatomy constants (``lumen_radius(theta, h)``, the LVOT ellipse
``a_mm x b_mm`` and the lesion spheres with their tissue halos), never from our own output.

Tolerances: the phantom has 0.625 mm voxels, a Gaussian blur of sigma 0.5 mm and 15 HU noise.
A symmetric blur leaves the half-maximum edge of a straight wall in place; on a curved wall of
radius R it moves the edge outward by about sigma^2 / (2 R) (< 0.02 mm here), and the
trilinear reformat plus the sub-sample ray crossing add < 0.1 voxel (~0.06 mm) of radial error.
A radial bias dr changes a diameter by 2 dr and an area by about 2 dr / R: we allow 0.5 mm on
diameters (the issue's tolerance, ~4 x that bias), 3 % on areas and perimeters (dr = 0.15 mm at
R = 11 mm plus the FWHM level's noise), and 0.5 mm on heights (one sweep step).

The phantom's ``truth.json`` carries the same closed-form values (``root``, from
:func:`annulusview.phantom.truth.root_truth`); the measurements are checked against it, and
:func:`test_truth_json_root_equals_the_closed_form` checks it against this file's own reading.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from annulusview.core.aortic.frame import CUSPS, AnnulusFrame
from annulusview.core.aortic.root import (
    ASCENDING_LEVEL_MM,
    LVOT_LEVEL_MM,
    NOT_ASSESSED,
    STJ_AREA_TOLERANCE,
    SWEEP_STEP_MM,
    measure_root,
)
from annulusview.core.rules import default_rules
from annulusview.phantom import make_case
from annulusview.phantom.anatomy import ANATOMY, CUSP_ANGLES_DEG, case_spec

REAL_CTA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "aortic_root_cta"
DIAMETER_TOL_MM = 0.5
HEIGHT_TOL_MM = 0.5
AREA_TOL = 0.03


def _true_area(h_mm: float) -> float:
    """Lumen area at height h from the closed-form radius profile (polar integral)."""
    theta = np.arange(0.0, 360.0, 0.05)
    r = ANATOMY.lumen_radius(theta, h_mm)
    return float(0.5 * np.sum(r**2) * math.radians(0.05))


def _true_lvot(case: str, h_mm: float, grid_mm: float = 0.02) -> tuple[float, float, float]:
    """(area, d_min, d_max) of the LVOT lumen at h: the ellipse a x b minus the cross-sections
    of the lesion spheres' tissue halos (calcium protruding into the lumen), on a fine grid."""
    a, b, phi = ANATOMY.a_mm, ANATOMY.b_mm, math.radians(ANATOMY.phi_deg)
    axis = np.arange(-a - 1, a + 1, grid_mm)
    x, y = np.meshgrid(axis, axis)
    xe = x * math.cos(phi) + y * math.sin(phi)
    ye = -x * math.sin(phi) + y * math.cos(phi)
    lumen = (xe / a) ** 2 + (ye / b) ** 2 <= 1.0
    for sphere in case_spec(case).lesions:
        dz = h_mm - sphere.h_mm
        reach = sphere.radius_mm + sphere.halo_mm
        if abs(dz) < reach:
            rc = math.sqrt(reach**2 - dz**2)
            t = math.radians(sphere.theta_deg)
            cx, cy = sphere.r_mm * math.cos(t), sphere.r_mm * math.sin(t)
            lumen &= np.hypot(x - cx, y - cy) > rc
    area = float(lumen.sum()) * grid_mm**2
    return area, 2 * b, 2 * a


def _true_sinus_height() -> float:
    """The largest lumen section for 5 <= h <= 25 mm, in 0.05 mm steps."""
    heights = np.arange(5.0, 25.0 + 1e-9, 0.05)
    return float(heights[np.argmax([_true_area(h) for h in heights])])


def _true_stj_height(sinus_h: float) -> float:
    """The lowest plane above the sinus (to 40 mm) within the STJ rule's 2 % of the smallest."""
    heights = np.arange(sinus_h + 0.05, 40.0 + 1e-9, 0.05)
    areas = np.array([_true_area(h) for h in heights])
    return float(heights[np.flatnonzero(areas <= areas.min() * (1 + STJ_AREA_TOLERANCE))[0]])


@pytest.fixture(scope="module")
def contrast_case():
    return make_case("tavr-contrast", 3, "small")


@pytest.fixture(scope="module")
def contrast_root(contrast_case):
    case = contrast_case
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    return measure_root(case.volume, frame, case.landmarks, default_rules(), True)


@pytest.fixture(scope="module")
def root_truth(contrast_case):
    """The ``root`` block of the case's truth.json."""
    return contrast_case.truth["root"]


def test_truth_json_root_equals_the_closed_form(root_truth):
    """truth.json's root values (hand-derived in the generator) equal this file's reading of
    the same anatomy: both are closed form, so they agree to the file's rounding."""
    from annulusview.phantom.truth_planning import ROOT_STJ_AREA_TOLERANCE

    assert ROOT_STJ_AREA_TOLERANCE == STJ_AREA_TOLERANCE  # one STJ rule
    a, b = ANATOMY.a_mm, ANATOMY.b_mm
    lvot = root_truth["lvot"]
    assert lvot["level_mm"] == LVOT_LEVEL_MM
    assert lvot["area_mm2"] == pytest.approx(math.pi * a * b, abs=1e-4)
    assert lvot["perimeter_mm"] == pytest.approx(ANATOMY.perimeter_mm, abs=1e-4)
    assert (lvot["d_min_mm"], lvot["d_max_mm"]) == (2 * b, 2 * a)
    # the truth is the calcium-free ellipse; the dent is named
    assert "RCC annulus nodule protruding into the lumen" in lvot["lesions_in_plane"]
    h_sinus = _true_sinus_height()
    sinus = root_truth["sinus"]
    assert sinus["height_mm"] == pytest.approx(h_sinus, abs=1e-6)
    assert sinus["area_mm2"] == pytest.approx(_true_area(h_sinus), abs=1e-3)
    for cusp in CUSPS:
        theta = CUSP_ANGLES_DEG[cusp]
        chord = ANATOMY.lumen_radius(theta, h_sinus) + ANATOMY.lumen_radius(theta + 180, h_sinus)
        assert sinus["diameter_mm"][cusp] == pytest.approx(float(chord), abs=1e-4)
    h_stj = _true_stj_height(h_sinus)
    stj = root_truth["stj"]
    assert stj["height_mm"] == pytest.approx(h_stj, abs=1e-6)
    assert stj["diameter_mm"] == pytest.approx(2 * math.sqrt(_true_area(h_stj) / math.pi), abs=1e-3)
    assert root_truth["sinus_heights_mm"] == {cusp: stj["height_mm"] for cusp in CUSPS}
    ascending = root_truth["ascending_aorta"]
    assert ascending["level_mm"] == ASCENDING_LEVEL_MM
    assert ascending["diameter_mm"] == 2 * ANATOMY.ascending_radius_mm


def test_lvot_against_the_ellipse_on_a_calcium_free_root():
    case = make_case("normal", 3, "small")
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    root, warnings = measure_root(case.volume, frame, case.landmarks, default_rules(), True)
    lvot = root.lvot.values
    truth = case.truth["root"]["lvot"]  # the calcium-free ellipse a x b
    assert root.lvot.status == "measured" and not warnings
    assert lvot["level_mm"] == truth["level_mm"] == LVOT_LEVEL_MM
    assert truth["lesions_in_plane"] == []
    assert lvot["area_mm2"] == pytest.approx(truth["area_mm2"], rel=AREA_TOL)
    assert lvot["perimeter_mm"] == pytest.approx(truth["perimeter_mm"], rel=AREA_TOL)
    assert lvot["d_min_mm"] == pytest.approx(truth["d_min_mm"], abs=DIAMETER_TOL_MM)
    assert lvot["d_max_mm"] == pytest.approx(truth["d_max_mm"], abs=DIAMETER_TOL_MM)


def test_lvot_keeps_the_calcium_dent(contrast_root, root_truth):
    """No convex hull in the LVOT: calcium bulging in reduces the area (section 4.2)."""
    root, _ = contrast_root
    area, _, d_max = _true_lvot("tavr-contrast", LVOT_LEVEL_MM)
    # truth.json's LVOT is the calcium-free ellipse; the halos it names cut into it
    assert root_truth["lvot"]["lesions_in_plane"]
    assert area < root_truth["lvot"]["area_mm2"] - 10.0  # the dent is real
    assert root.lvot.values["area_mm2"] == pytest.approx(area, rel=AREA_TOL)
    assert root.lvot.values["d_max_mm"] == pytest.approx(d_max, abs=DIAMETER_TOL_MM)


def test_sinus_plane_and_diameters(contrast_root, root_truth):
    root, _ = contrast_root
    truth = root_truth["sinus"]
    h_true = truth["height_mm"]
    sinus = root.sinus.values
    assert sinus["height_mm"] == pytest.approx(h_true, abs=HEIGHT_TOL_MM + SWEEP_STEP_MM / 2)
    assert sinus["area_mm2"] == pytest.approx(truth["area_mm2"], rel=AREA_TOL)
    h = sinus["height_mm"]
    for cusp in CUSPS:
        theta = CUSP_ANGLES_DEG[cusp]
        chord = float(ANATOMY.lumen_radius(theta, h) + ANATOMY.lumen_radius(theta + 180.0, h))
        assert sinus["diameter_mm"][cusp] == pytest.approx(chord, abs=DIAMETER_TOL_MM), cusp


def test_stj_and_ascending_aorta(contrast_root, root_truth):
    root, _ = contrast_root
    h_stj = _true_stj_height(root.sinus.values["height_mm"])
    # from the measured sinus plane or the true one: the same junction (the smallest section
    # lies in the round aorta above, whichever plane the search starts from)
    assert h_stj == pytest.approx(root_truth["stj"]["height_mm"], abs=0.05)
    assert ANATOMY.stj_mm - 2.0 <= h_stj <= ANATOMY.stj_mm  # the design junction, from below
    stj = root.stj.values
    assert stj["height_mm"] == pytest.approx(h_stj, abs=HEIGHT_TOL_MM + SWEEP_STEP_MM / 2)
    d_true = 2 * math.sqrt(_true_area(stj["height_mm"]) / math.pi)
    assert stj["diameter_mm"] == pytest.approx(d_true, abs=DIAMETER_TOL_MM)
    assert stj["diameter_mm"] == pytest.approx(2 * ANATOMY.ascending_radius_mm, abs=1.0)
    for cusp in CUSPS:  # hinges lie in the plane h = 0
        assert root.sinus_heights_mm[cusp] == pytest.approx(stj["height_mm"], abs=0.01)
    assert root.ascending.values["level_mm"] == ASCENDING_LEVEL_MM
    assert root.ascending_aorta_diameter_mm == pytest.approx(
        root_truth["ascending_aorta"]["diameter_mm"], abs=DIAMETER_TOL_MM
    )


def test_non_contrast_is_not_assessed_with_a_reason():
    case = make_case("tavr-noncontrast", 3, "small")
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    root, warnings = measure_root(case.volume, frame, case.landmarks, default_rules(), False)
    doc = json.loads(json.dumps(root.to_dict()))
    for part in ("lvot", "sinus", "stj", "ascending_aorta"):
        assert doc[part]["status"] == NOT_ASSESSED
        assert "no lumen to contour" in doc[part]["reason"]
    assert doc["lvot"]["area_mm2"] is None and doc["stj"]["diameter_mm"] is None
    assert set(doc["sinus"]["diameter_mm"].values()) == {None}
    assert doc["ascending_aorta_diameter_mm"] is None
    assert any("no lumen to contour" in w for w in warnings)
    truth = case.truth["root"]  # truth.json: null sizes too, with the reason in its note
    assert truth["lvot"]["area_mm2"] is None and truth["stj"]["diameter_mm"] is None
    assert set(truth["sinus"]["diameter_mm"].values()) == {None}
    assert truth["ascending_aorta"]["diameter_mm"] is None and "non-contrast" in truth["note"]


def test_plane_outside_the_volume_is_none_with_a_reason():
    case = make_case("normal", 3, "small")
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    root, warnings = measure_root(
        case.volume, frame, case.landmarks, default_rules(), True, lvot_level_mm=-80.0
    )
    assert root.lvot.status == "failed"
    assert root.lvot.values["area_mm2"] is None
    assert "outside the CT volume" in (root.lvot.reason or "")
    assert any(w.startswith("LVOT") for w in warnings)


def _mask_section_area(name: str, frame, h_mm: float) -> float:
    """Area (mm^2) of a mask's cross-section on the plane h of the frame, at 0.25 mm (the
    component on the axis, holes filled), as the real annulus test samples its mask."""
    from scipy import ndimage

    from test_analysis_realcta import _mask_points

    _, mask, affine = _mask_points(name)
    axis = np.arange(-25.0, 25.0 + 1e-9, 0.25)
    x, y = np.meshgrid(axis, axis, indexing="xy")
    plane = frame.to_lps(h_mm, 0.0, 0.0) + x[..., None] * frame.u_lps + y[..., None] * frame.v_lps
    inv = np.linalg.inv(affine)
    ijk = plane @ inv[:3, :3].T + inv[:3, 3]
    section = ndimage.map_coordinates(mask.astype(np.uint8), np.moveaxis(ijk, -1, 0), order=0)
    labels, _ = ndimage.label(section > 0)
    centre = labels[len(axis) // 2, len(axis) // 2]
    return float(ndimage.binary_fill_holes(labels == centre).sum() * 0.0625)


@pytest.mark.skipif(not (REAL_CTA / "sinotubular_junction.nii.gz").exists(), reason="no real CTA")
def test_real_cta_stj_against_its_masks():
    """The real CTA (TotalSegmentator test case, 1.5 mm voxels, a dissected, dilated ascending
    aorta). STJ level: the STJ mask is a one-voxel slab; its mean height is the reference,
    within one voxel (1.5 mm) plus one sweep step. STJ size: the two masks
    disagree by ~5 mm (the STJ label is ~25-26.5 mm across, the aorta label, which holds the
    wall, ~32 mm on the same plane), so ours must lie between them, with one voxel of slack."""
    from scipy.spatial import ConvexHull

    from test_analysis_realcta import _mask_points, real_case

    _, _, res = real_case()
    root, frame = res.root, res.frame
    assert root is not None
    stj = root.stj.values
    assert root.sinus.values["height_mm"] < stj["height_mm"]

    pts, _, _ = _mask_points("sinotubular_junction")
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    # The STJ label is tilted ~16 deg to the planes parallel to the annulus, so its height
    # varies by about +-4 mm around the circumference (where its plane meets our axis: +21.6
    # mm); its mean height is the level a plane parallel to the annulus matches best.
    h_ref = float(np.mean(frame.cylindrical(pts)[0]))
    assert stj["height_mm"] == pytest.approx(h_ref, abs=1.5 + SWEEP_STEP_MM)

    xy = (pts - centre) @ vt[:2].T
    hull = ConvexHull(xy)
    grown = hull.volume + hull.area * 0.75 + math.pi * 0.75**2  # voxel centres -> voxel edges
    d_stj_mask = 2 * math.sqrt(grown / math.pi)
    d_aorta_mask = 2 * math.sqrt(_mask_section_area("aorta", frame, stj["height_mm"]) / math.pi)
    assert d_stj_mask - 1.5 <= stj["diameter_mm"] <= d_aorta_mask + 1.5
    # the sinus: its area-derived diameter within one voxel of the aorta label's on its plane
    sinus = root.sinus.values
    d_sinus = 2 * math.sqrt(sinus["area_mm2"] / math.pi)
    d_mask = 2 * math.sqrt(_mask_section_area("aorta", frame, sinus["height_mm"]) / math.pi)
    assert d_sinus == pytest.approx(d_mask, abs=1.5)


@pytest.mark.parametrize("case_name", ["tavr-contrast", "tavr-noncontrast"])
def test_root_in_results_summary_and_report(case_name):
    """The root block reaches the results JSON, the text summary and the PDF's table."""
    from reportlab.platypus import KeepTogether, Table

    from annulusview.commands.analyze import format_summary
    from annulusview.core.analysis import analyze
    from annulusview.core.outputs.deid import CaseIdentity
    from annulusview.core.outputs.pdf_report import build_report_pdf, report_story
    from test_analysis_synthetic import check_results_document

    case = make_case(case_name, 3, "small")
    res = analyze(case.volume, case.landmarks)
    doc = json.loads(res.to_json())
    check_results_document(doc)
    contrast = case_name == "tavr-contrast"
    assert (doc["root"]["lvot"]["status"] == "measured") is contrast
    summary = format_summary(res)
    identity = CaseIdentity("AV-1", False)
    tables = [
        flow
        for item in report_story(res, identity, ())
        if isinstance(item, KeepTogether)
        for flow in item._content
        if isinstance(flow, Table)
    ]
    cells = [str(c) for t in tables for row in t._cellvalues for c in row]
    assert "Annulus eccentricity" in cells  # the root table's first row, always there
    if contrast:
        assert "Sinus RCC to commissure" in summary and "LVOT area" in cells
        assert f"{doc['root']['stj']['diameter_mm']:.1f} mm" in summary
    else:
        assert "no lumen to contour" in summary
        assert any("no lumen to contour" in c for c in cells)
    assert build_report_pdf(res, identity).startswith(b"%PDF")


def _reference_lumen_mask(section, level_hu, calcium_hu, max_radius_mm):
    """The lumen mask as first written: every step on the whole plane with scipy's own
    morphology (closing by the 1 mm disc, fill holes, opening by the 2.5 mm disc, the opened
    piece on the axis)."""
    from scipy import ndimage

    def disc(r):
        a = np.arange(-r, r + 1)
        return np.hypot(a[:, None], a[None, :]) <= r

    pixel = section.step_mm
    size = section.values.shape[0]
    axis = (np.arange(size) - (size - 1) / 2) * pixel
    rr = np.hypot(axis[None, :], axis[:, None])
    raw = section.inside & (section.values >= level_hu) & (section.values < calcium_hu)
    raw &= rr <= max_radius_mm
    bridge = max(1, round(1.0 / pixel))
    dilated = ndimage.binary_dilation(raw, disc(bridge))
    closed = ndimage.binary_erosion(dilated, disc(bridge), border_value=0) | raw
    labels, _ = ndimage.label(closed)
    c = (size - 1) // 2
    near = labels[c - 4 : c + 5, c - 4 : c + 5]
    hits = near[near > 0]
    if hits.size == 0:
        return None
    filled = ndimage.binary_fill_holes(labels == np.bincount(hits).argmax())
    cut = max(1, round(2.5 / pixel))
    opened = ndimage.binary_dilation(
        ndimage.binary_erosion(filled, disc(cut), border_value=0), disc(cut)
    )
    labels, count = ndimage.label(opened)
    if count == 0:
        return None
    # the opened piece on the axis, else the largest
    near = labels[c - 4 : c + 5, c - 4 : c + 5]
    hits = near[near > 0]
    if hits.size:
        return labels == np.bincount(hits).argmax()
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == np.argmax(sizes)


@pytest.mark.parametrize("radius", [1, 2, 3, 4, 6])
def test_disc_morphology_equals_scipy(radius):
    """Dilation and erosion by a disc (shifted copies for small discs, a distance transform
    for larger ones) give scipy's binary_dilation / binary_erosion with that disc, and the
    hole filling scipy's binary_fill_holes, on random blobs touching the image border."""
    from scipy import ndimage

    from annulusview.core.aortic.plane_masks import dilate as _dilate
    from annulusview.core.aortic.plane_masks import erode as _erode
    from annulusview.core.aortic.plane_masks import fill_holes as _fill_holes

    rng = np.random.default_rng(radius)
    a = np.arange(-radius, radius + 1)
    disc = np.hypot(a[:, None], a[None, :]) <= radius
    for _ in range(5):
        mask = ndimage.gaussian_filter(rng.random((41, 37)), 2.0) > 0.5
        assert np.array_equal(_dilate(mask, radius), ndimage.binary_dilation(mask, disc))
        assert np.array_equal(
            _erode(mask, radius), ndimage.binary_erosion(mask, disc, border_value=0)
        )
        assert np.array_equal(_fill_holes(mask), ndimage.binary_fill_holes(mask))


@pytest.mark.parametrize("h_mm", [LVOT_LEVEL_MM, 8.0, 12.0, 19.0, 30.0, ASCENDING_LEVEL_MM])
@pytest.mark.parametrize("pixel_mm", [0.5, 0.75])
def test_sampled_planes_and_lumen_mask_equal_the_whole_plane_method(contrast_case, h_mm, pixel_mm):
    """The disc sampling of a batch of planes reads the same HU as sample_section on the disc
    the contour reads, and the boxed lumen mask is the whole-plane mask, at the sweep's and the
    reported planes' pixels, on the LVOT, sinus, STJ and aorta."""
    from annulusview.core.aortic.root_contour import READ_MARGIN_MM, lumen_mask, sample_planes
    from annulusview.core.aortic.root_lumen import sample_section

    case = contrast_case
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    rules = default_rules()
    max_r = rules.number("annulus.max_radius_mm")
    batch = sample_planes(case.volume, frame, [h_mm - 1.0, h_mm], rules, pixel_mm)
    section = batch[1]
    whole = sample_section(
        case.volume, frame.to_lps(h_mm, 0.0, 0.0), frame.normal_lps, frame.u_lps,
        max_r + 4.0, pixel_mm,
    )  # fmt: skip
    size = whole.values.shape[0]
    axis = (np.arange(size) - (size - 1) / 2) * pixel_mm
    disc = np.hypot(axis[None, :], axis[:, None]) <= max_r + READ_MARGIN_MM
    assert section.values.shape == whole.values.shape
    assert np.array_equal(section.values[disc], whole.values[disc])
    assert np.array_equal(section.inside[disc], whole.inside[disc])
    lumen_hu = float(np.median(whole.values[np.hypot(axis[None, :], axis[:, None]) <= 4.0]))
    calcium_hu = lumen_hu + rules.number("threshold.lumen_plus_offset_hu")
    for level in (0.5 * lumen_hu, 0.5 * (lumen_hu + 60.0)):
        reference = _reference_lumen_mask(whole, level, calcium_hu, max_r)
        assert reference is not None
        assert np.array_equal(lumen_mask(section, level, calcium_hu, max_r), reference)


def test_lvot_that_leaks_into_a_larger_cavity_is_measured_on_the_axis():
    """A round LVOT (radius 10 mm, 314.2 mm^2) joined by a 3 mm neck to a larger contrast
    cavity wrapped around it (a 200 deg crescent 15-24 mm out, 612 mm^2: the left atrium
    behind the mitral leaflet, as on the real diastolic CTA). The opening that cuts
    coronary branches also cuts the neck, and the LVOT is the piece on the axis, not the
    larger cavity; extruded along z, so every plane shows the same section."""
    from scipy import ndimage

    from annulusview.core.landmarks import Landmarks
    from annulusview.core.volume import Volume

    pixel, n = 0.5, 161
    axis = (np.arange(n) - (n - 1) / 2) * pixel
    x, y = np.meshgrid(axis, axis, indexing="xy")
    r = np.hypot(x, y)
    angle = np.degrees(np.arctan2(y, x)) % 360.0
    img = np.full(x.shape, 40.0)
    img[r <= 10.0] = 400.0
    img[(r >= 15.0) & (r <= 24.0) & (angle >= 80.0) & (angle <= 280.0)] = 400.0
    img[(np.abs(y) <= 1.5) & (x <= -9.0) & (x >= -16.0)] = 400.0  # the neck, at 180 deg
    img = ndimage.gaussian_filter(img, 0.5 / pixel)
    hu = np.repeat(img[None], 40, axis=0).astype(np.int16)
    affine = np.diag([pixel, pixel, 1.0, 1.0])
    affine[:2, 3] = -(n - 1) / 2 * pixel
    volume = Volume(hu, affine)
    z0 = 25.0
    landmarks = Landmarks(
        {
            name: np.array([10.0 * math.cos(math.radians(t)), 10.0 * math.sin(math.radians(t)), z0])
            for name, t in (("RCC_hinge", 0.0), ("LCC_hinge", 120.0), ("NCC_hinge", 240.0))
        }
    )
    frame = AnnulusFrame.from_landmarks(landmarks)
    root, _ = measure_root(volume, frame, landmarks, default_rules(), True)
    assert root.lvot.status == "measured", root.lvot.reason
    lvot = root.lvot.values
    assert lvot["area_mm2"] == pytest.approx(math.pi * 10.0**2, rel=0.03)
    assert lvot["d_min_mm"] == pytest.approx(20.0, abs=0.5)
    # the opening leaves the stub where the neck was cut (as at a coronary ostium): the
    # largest caliper runs into it, by at most the 2.5 mm cut radius
    assert 19.5 <= lvot["d_max_mm"] <= 22.5
