"""Proposed aortic landmarks (issue 12): phantom truth, the real CTA, and the plain failures.

Every comparison is with the phantom's known truth (its landmarks, built from the closed-form
anatomy) or with the real case's own masks, never with the proposal itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import annulusview
from annulusview.core.analysis import analyze
from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.errors import InputError
from annulusview.core.landmarks import Landmarks, markups_dict, parse_markups
from annulusview.core.volume import Volume
from annulusview.phantom import make_case, make_varied_case

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
SEEDS = (0, 1, 2, 3, 4)
HINGES = ("RCC_hinge", "LCC_hinge", "NCC_hinge")


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(min(1.0, abs(float(a @ b)))))


@pytest.fixture(scope="module")
def phantom_runs():
    runs = []
    for seed in SEEDS:
        case = make_case("tavr-contrast", seed, "small")
        proposal = annulusview.propose_landmarks(case.volume)
        runs.append((case, proposal))
    return runs


def test_phantom_hinges_normal_and_names(phantom_runs):
    errors, angles = [], []
    for case, proposal in phantom_runs:
        lm = proposal.landmarks
        for name in HINGES:  # a wrong cusp name shows as a hinge ~20 mm off
            errors.append(float(np.linalg.norm(lm[name] - case.landmarks[name])))
        truth = AnnulusFrame.from_landmarks(case.landmarks)
        got = AnnulusFrame.from_landmarks(lm)
        assert got.normal_lps @ truth.normal_lps > 0  # LV -> aorta, so R -> L -> N is right
        angles.append(_angle_deg(got.normal_lps, truth.normal_lps))
    assert np.mean(errors) <= 1.5, errors
    assert max(errors) <= 3.0, errors
    assert np.mean(angles) <= 4.0, angles
    assert max(angles) <= 8.0, angles


def test_phantom_ostia(phantom_runs):
    for case, proposal in phantom_runs:
        for name in ("LCA_ostium", "RCA_ostium"):
            assert name in proposal.landmarks, proposal.reasons
            error = float(np.linalg.norm(proposal.landmarks[name] - case.landmarks[name]))
            assert error <= 2.5, (name, error)


def test_phantom_annulus_area_from_proposal(phantom_runs):
    for case, proposal in phantom_runs[:3]:
        truth = analyze(case.volume, case.landmarks).annulus.area_mm2
        got = analyze(case.volume, proposal.landmarks).annulus.area_mm2
        assert truth is not None and got is not None
        assert abs(got - truth) / truth <= 0.03, (got, truth)


def test_proposal_is_marked_and_round_trips(phantom_runs):
    _, proposal = phantom_runs[0]
    lm = proposal.landmarks
    assert lm.proposed == frozenset(lm.names())
    assert not {"MS_inferior", "MS_superior", "MV_anterior"} & set(lm.names())  # stay manual
    assert set(proposal.confidence) == set(lm.names())
    assert all(0.0 <= c <= 1.0 for c in proposal.confidence.values())
    assert all(proposal.reasons.get(n) for n, c in proposal.confidence.items() if c < 0.7)
    data = json.loads(json.dumps(markups_dict(lm)))
    assert all(cp["proposed"] is True for cp in data["markups"][0]["controlPoints"])
    back = parse_markups(data)
    assert back.proposed == lm.proposed
    assert back.with_point("RCC_hinge", lm["RCC_hinge"]).proposed == lm.proposed - {"RCC_hinge"}


def test_unproposed_files_read_and_write_as_before():
    lm = Landmarks({"RCC_hinge": [1.0, 2.0, 3.0]})
    data = markups_dict(lm)
    assert "proposed" not in data["markups"][0]["controlPoints"][0]
    assert parse_markups(data).proposed == frozenset()


#: Seed 23 has leaflet calcium that dents all three lobes low in the sinus: the sinus onset must
#: be read on the flank above the dent, not extrapolated through the dent to the LVOT (it was
#: 8 mm low before). Seed 22 (a large root, 1.075) was refused as "root lumen lost": a
#: least-squares ellipse fitted to its three-lobed sinus sections pulled the section centre
#: 1.5-3 mm toward a lobe, and carried up that error lost every section above (the centre is
#: now the first Fourier harmonic of the outline, see root_profile.section_centre).
VARIED_SEEDS = (0, 1, 2, 3, 4, 5, 22, 23)


@pytest.fixture(scope="module")
def varied_runs():
    """Seeded root size (0.9-1.1), axis tilt (0-10 deg), cusp turn (+-25 deg), blood HU, on
    scalloped sinuses (their lower border follows the crown of the leaflet attachment)."""
    runs = []
    for seed in VARIED_SEEDS:
        case = make_varied_case(seed, "demo")
        runs.append((case, annulusview.propose_landmarks(case.volume)))
    return runs


def test_varied_phantoms(varied_runs):
    hinge, angles, ostia = [], [], []
    for case, proposal in varied_runs:
        lm = proposal.landmarks
        hinge += [float(np.linalg.norm(lm[n] - case.landmarks[n])) for n in HINGES]
        truth = AnnulusFrame.from_landmarks(case.landmarks).normal_lps
        angles.append(_angle_deg(AnnulusFrame.from_landmarks(lm).normal_lps, truth))
        ostia += [
            float(np.linalg.norm(lm[n] - case.landmarks[n])) for n in ("LCA_ostium", "RCA_ostium")
        ]
    assert np.mean(hinge) <= 1.5 and max(hinge) <= 3.0, hinge
    assert np.mean(angles) <= 4.0 and max(angles) <= 8.0, angles
    assert max(ostia) <= 2.5, ostia
    blood = [case.truth["blood_hu"] for case, _ in varied_runs]
    assert min(blood) >= 250 and max(blood) <= 550
    noise = [case.truth["noise_sd_hu"] for case, _ in varied_runs]
    assert min(noise) >= 10 and max(noise) <= 35 and max(noise) - min(noise) >= 10
    assert all(case.truth["sinus_scallop_mm"] == 13.5 for case, _ in varied_runs)  # 15 - 1.5


def test_section_centre_is_the_outline_offset_whatever_its_lobes():
    """The section centre from the ray lengths: a trefoil (three sinus lobes) on an oval,
    seen from a point 2 mm off its centre, with a 40 deg calcium dent and a coronary spike.
    By construction the outline's centre lies at (+1.2, -1.6) mm from the rays' origin."""
    from annulusview.core.aortic.root_lumen import ellipse_fit
    from annulusview.core.aortic.root_profile import ANGLES, section_centre

    centre = np.array([1.2, -1.6])
    phi = np.linspace(0.0, 2 * math.pi, 7200, endpoint=False)
    outline = 14.0 + 1.5 * np.cos(2 * phi) + 2.5 * np.cos(3 * (phi - 0.4))
    pts = centre + outline[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    seen = np.arctan2(pts[:, 1], pts[:, 0]) % (2 * math.pi)
    dist = np.hypot(pts[:, 0], pts[:, 1])
    order = np.argsort(seen)
    radii = np.interp(ANGLES, seen[order], dist[order], period=2 * math.pi)
    deg = np.degrees(ANGLES)
    radii[(deg > 200) & (deg < 240)] -= 4.0  # a dent
    radii[(deg > 80) & (deg < 90)] += 9.0  # a coronary
    cx, cy = section_centre(radii)
    assert math.hypot(cx - centre[0], cy - centre[1]) <= 0.5, (cx, cy)
    # the least-squares ellipse through the same ray ends is pulled toward a lobe
    ex, ey, _, _ = ellipse_fit(radii, ANGLES)
    assert math.hypot(ex - centre[0], ey - centre[1]) >= 1.5, (ex, ey)


def _mask_plane(name: str) -> tuple[np.ndarray, np.ndarray]:
    img = nib.load(DATA / "aortic_root_cta" / f"{name}.nii.gz")
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ img.affine
    pts = np.argwhere(np.asarray(img.dataobj) > 0) @ affine[:3, :3].T + affine[:3, 3]
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    return centre, vt[2]


def test_real_cta_centreline_passes_through_the_annulus():
    """The proposal finds the ascending aorta on the real CTA and tracks through the root to
    the annulus."""
    from annulusview.core.aortic.centreline import find_ascending_candidates, track_centreline
    from annulusview.core.aortic.root_lumen import blood_pool
    from annulusview.core.rules import default_rules

    volume = annulusview.load(DATA / "aortic_root_cta" / "ct_cropped.nii.gz")
    pool = blood_pool(volume, default_rules())
    assert 350 <= pool.blood_hu <= 650
    candidate = find_ascending_candidates(volume, pool)[0]
    stations = track_centreline(volume, pool, candidate.top, candidate.direction_down)
    centre, _ = _mask_plane("annulus_proper")
    distance = min(float(np.linalg.norm(s.centre - centre)) for s in stations)
    assert distance <= 5.0, distance


def test_real_cta_proposal_meets_the_plane_goal():
    """Issue 12 on the real CTA (a diastolic phase: the valve is closed, so the ring is read
    from the three closed cusps, core/aortic/closed_valve.py): the proposed annulus plane within
    2.5 mm (the mask's centre from the plane, and the measured annulus centre from the mask's
    centre) and 8 deg of the annulus_proper mask's plane; the annulus area measured on the
    proposal within 10 % of the mask's own cross-section on its plane. The hinges say they were
    read on a closed valve, at a capped confidence.

    Measured: 1.9 deg, 0.4 mm, area 403 vs 440 mm2 (-8 %). Against the analysis run on hinges
    built on the mask's plane (474 mm2) it is -15 %: on this scan the annulus area rises by
    about 170 mm2 per mm of plane height (the plane check: 360-532 mm2 within 0.5 mm of the
    proposal's plane, 389-580 mm2 of the mask's), so that stricter comparison needs the two
    planes within about 0.2 mm, a seventh of a voxel; it is not met and not asserted. What is
    asserted instead is that the program says so: the steep-plane warning, each area inside
    the other plane's check range, and a SAPIEN 3 size marked borderline."""
    from annulusview.core.aortic.propose import CLOSED_VALVE_CONFIDENCE, CLOSED_VALVE_REASON
    from test_analysis_realcta import real_case

    volume = annulusview.load(DATA / "aortic_root_cta" / "ct_cropped.nii.gz")
    proposal = annulusview.propose_landmarks(volume)
    centre, normal = _mask_plane("annulus_proper")
    frame = AnnulusFrame.from_landmarks(proposal.landmarks)
    assert _angle_deg(frame.normal_lps, normal) <= 8.0
    assert abs(float((centre - frame.origin_lps) @ frame.normal_lps)) <= 2.5
    result = analyze(volume, proposal.landmarks)
    assert float(np.linalg.norm(np.asarray(result.annulus.center_lps) - centre)) <= 2.5
    _, mask_section, on_mask_plane = real_case()
    got, truth = result.annulus.area_mm2, mask_section["area_mm2"]
    assert got is not None and abs(got - truth) / truth <= 0.10, (got, truth)
    # The plane check: each reading lies inside the other's range, and the program warns.
    low, high = result.annulus.area_plane_range_mm2
    assert low <= on_mask_plane.annulus.area_mm2 <= high
    low, high = on_mask_plane.annulus.area_plane_range_mm2
    assert low <= got <= high
    assert any("depends steeply on the plane" in w for w in result.warnings)
    # The LVOT 4 mm below leaks across the mitral leaflet into the atrium; it is measured on
    # the piece on the axis (it failed when the larger piece, the atrium, was taken).
    assert result.root.lvot.status == "measured", result.root.lvot.reason
    sapien = next(row for row in result.sizing if row["family"] == "sapien3")
    assert sapien["borderline"] and len(sapien["sizes_within_plane_check"]) >= 2
    for cusp in ("RCC", "LCC", "NCC"):
        name = f"{cusp}_hinge"
        assert proposal.confidence[name] <= CLOSED_VALVE_CONFIDENCE
        assert proposal.reasons[name] == CLOSED_VALVE_REASON
    # No ostium under the closed leaflets: a ray through a gap between them once read as an
    # RCA 2.1 mm above the ring. Ostia are looked for only above the leaflets' crossing of the
    # axis (none is found on this scan, and the names say so with a low confidence).
    for ostium in ("LCA_ostium", "RCA_ostium"):
        if ostium in proposal.confidence:
            height = float((proposal.landmarks[ostium] - frame.origin_lps) @ frame.normal_lps)
            assert height > 8.0, (ostium, height)
    assert "cusp_names" in proposal.reasons  # named without both coronaries: says so


def _close_the_valve(case, height_mm: float = 4.0, radius_mm: float = 16.0) -> Volume:
    """The phantom with a closed valve: a 1.5 mm leaflet sheet (150 HU) across the root lumen,
    ``height_mm`` above the basal ring, as a diastolic phase shows the coapted leaflets."""
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    vol = case.volume
    centre = vol.lps_to_index(frame.origin_lps + height_mm * frame.normal_lps)
    reach = np.ceil(radius_mm / np.array(vol.spacing_mm[::-1])).astype(int)  # (i, j, k)
    lo = np.maximum(np.floor(centre).astype(int) - reach, 0)
    hi = np.minimum(np.ceil(centre).astype(int) + reach + 1, np.array(vol.shape[::-1]))
    i, j, k = np.meshgrid(*(np.arange(a, b) for a, b in zip(lo, hi, strict=True)), indexing="ij")
    ijk = np.stack([i, j, k], axis=-1).reshape(-1, 3)
    rel = vol.index_to_lps(ijk) - (frame.origin_lps + height_mm * frame.normal_lps)
    h = rel @ frame.normal_lps
    r = np.linalg.norm(rel - h[:, None] * frame.normal_lps, axis=1)
    sheet = ijk[(np.abs(h) <= 0.75) & (r <= radius_mm)]
    hu = vol.hu.copy()
    inside = hu[sheet[:, 2], sheet[:, 1], sheet[:, 0]] > 200  # only the blood: walls stay
    hu[sheet[inside, 2], sheet[inside, 1], sheet[inside, 0]] = 150
    return Volume(hu, vol.affine)


def test_closed_valve_is_refused_with_its_reason(phantom_runs):
    """The same phantom with its valve closed (a diastolic phase) is refused, and says why."""
    case, _ = phantom_runs[0]
    with pytest.raises(InputError) as info:
        annulusview.propose_landmarks(_close_the_valve(case))
    assert "valve is closed" in info.value.message
    assert "systolic" in info.value.hint


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: make_case("tavr-noncontrast", 0, "small").volume, id="noncontrast"),
        pytest.param(
            lambda: annulusview.load(DATA / "abdomen_ct_j2k" / "example_ct_sm.nii.gz"),
            id="abdomen",
        ),
        pytest.param(
            lambda: Volume(np.full((80, 80, 80), -1000, dtype=np.int16), np.eye(4)), id="empty"
        ),
        pytest.param(lambda: Volume(np.zeros((0, 5, 5), dtype=np.int16), np.eye(4)), id="void"),
        pytest.param(
            lambda: Volume(np.full((10, 10, 10), 400, dtype=np.int16), np.eye(4)), id="tiny"
        ),
    ],
)
def test_plain_failure(make):
    with pytest.raises(InputError) as info:
        annulusview.propose_landmarks(make())
    assert info.value.message


@pytest.fixture(scope="module")
def phantom_nifti(tmp_path_factory, phantom_runs):
    case, _ = phantom_runs[0]
    path = tmp_path_factory.mktemp("propose") / "tavr.nii.gz"
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ case.volume.affine
    # NIfTI stores [i, j, k]; the volume holds [k, j, i].
    nib.save(nib.Nifti1Image(np.transpose(case.volume.hu, (2, 1, 0)), ras), path)
    return path


def test_cli_landmarks_propose(phantom_nifti, tmp_path, capsys):
    from annulusview.cli import main
    from annulusview.core.landmarks import read_landmarks

    out, doc_path = tmp_path / "proposed.mrk.json", tmp_path / "proposed.json"
    code = main(
        ["landmarks", "propose", str(phantom_nifti), "--out", str(out), "--json", str(doc_path)]
    )
    assert code == 0, capsys.readouterr().err
    lm = read_landmarks(out)
    assert set(HINGES) <= lm.proposed
    doc = json.loads(doc_path.read_text())
    assert {row["name"] for row in doc["landmarks"]} == set(lm.names())
    # an existing output needs --force; nothing is computed first
    assert main(["landmarks", "propose", str(phantom_nifti), "--out", str(out)]) == 3


def test_cli_analyze_auto_landmarks(phantom_nifti, tmp_path, capsys):
    from annulusview.cli import main
    from test_analysis_synthetic import check_results_document

    out = tmp_path / "results.json"
    code = main(["analyze", str(phantom_nifti), "--auto-landmarks", "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    check_results_document(doc)
    assert set(HINGES) <= set(doc["landmarks_proposed"])
    assert any("Proposed landmarks" in w for w in doc["warnings"])


def test_cli_auto_landmarks_refuses_noncontrast(tmp_path, capsys):
    from annulusview.cli import main

    vol = make_case("tavr-noncontrast", 0, "small").volume
    path = tmp_path / "nc.nii.gz"
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ vol.affine
    nib.save(nib.Nifti1Image(np.transpose(vol.hu, (2, 1, 0)), ras), path)
    assert main(["analyze", str(path), "--auto-landmarks"]) == 3
    assert "contrast" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # --landmarks and --auto-landmarks exclude each other
        main(["analyze", str(path), "--auto-landmarks", "--landmarks", "x.mrk.json"])


def test_pictures_say_the_landmarks_are_proposed(phantom_runs):
    """An exported picture of an analysis on proposed landmarks says so in its header."""
    import dataclasses

    from annulusview.core.outputs.deid import CaseIdentity
    from annulusview.scene.annotate import ViewInfo, add_annotations
    from annulusview.scene.render import offscreen_plotter

    case, proposal = phantom_runs[0]
    results = analyze(case.volume, proposal.landmarks)
    assert {"RCC_hinge", "LCC_hinge", "NCC_hinge"} <= set(results.landmarks_proposed)
    confirmed = dataclasses.replace(results, landmarks_proposed=())
    for res, expect in ((results, True), (confirmed, False)):
        plotter = offscreen_plotter((640, 360))
        try:
            add_annotations(plotter, res, CaseIdentity("AV-1"), ViewInfo("3d", "t"))
            texts = [
                a.GetInput() for a in plotter.renderer.actors.values() if hasattr(a, "GetInput")
            ]
        finally:
            plotter.close()
        assert any("NOT CONFIRMED" in t for t in texts) is expect


def test_every_flag_lists_the_proposed_landmarks_it_rests_on(phantom_runs):
    case, proposal = phantom_runs[0]
    results = analyze(case.volume, proposal.landmarks)
    assert results.flags
    for flag in results.flags:
        if flag.id == "mitral.mac_score":  # mitral landmarks only: never proposed
            assert flag.inputs_unconfirmed == ()
        else:
            assert set(HINGES) <= set(flag.inputs_unconfirmed), flag.id
        assert flag.to_dict()["inputs_unconfirmed"] == list(flag.inputs_unconfirmed)
    confirmed = analyze(case.volume, case.landmarks)  # the phantom's true (placed) landmarks
    assert all(flag.inputs_unconfirmed == () for flag in confirmed.flags)
