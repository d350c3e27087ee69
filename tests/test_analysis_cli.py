"""``annulusview analyze``: outputs, summary, and exit code 3 with one line for bad inputs."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from annulusview.cli import main
from annulusview.core.landmarks import Landmarks, write_landmarks
from synthetic_aortic import Sphere, make_synthetic
from test_analysis_synthetic import check_results_document


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A synthetic contrast root written as NIfTI (RAS affine) with its landmark file."""
    folder = tmp_path_factory.mktemp("study")
    case = make_synthetic(
        shape=(80, 90, 90), spheres=(Sphere(-6.0, 10.5, 285.0, 1.5), Sphere(8.0, 7.0, 120.0, 2.0))
    )
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ case.volume.affine
    nifti = folder / "ct.nii.gz"
    nib.save(nib.Nifti1Image(case.volume.hu.transpose(2, 1, 0), ras), nifti)
    landmarks = folder / "case.mrk.json"
    write_landmarks(landmarks, case.landmarks, coordinate_system="RAS")
    return case, nifti, landmarks


def _run(capsys, *argv):
    code = main(["analyze", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_and_csv_outputs(study, tmp_path, capsys):
    _, nifti, landmarks = study
    out_json, out_csv = tmp_path / "r.json", tmp_path / "l.csv"
    code, _, err = _run(capsys, nifti, "--landmarks", landmarks, "--json", out_json,
                        "--csv", out_csv, "--valve-size", "26", "--implant-depth", "4")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    check_results_document(doc)
    assert doc["contrast"] is True
    assert doc["parameters"]["valve"]["size_mm"] == 26.0
    assert {les["region"] for les in doc["lesions"]} == {"lvot", "leaflet"}
    rows = out_csv.read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("id,volume_mm3")


def test_json_to_stdout(study, capsys):
    _, nifti, landmarks = study
    code, out, _ = _run(capsys, nifti, "--landmarks", landmarks, "--json", "-")
    assert code == 0
    check_results_document(json.loads(out))


def test_summary_table(study, capsys):
    _, nifti, landmarks = study
    code, out, _ = _run(capsys, nifti, "--landmarks", landmarks, "--threshold", "fixed_850")
    assert code == 0
    for text in ("Annulus (lumen_contour)", "Lesions (2)", "pvl.lvot_calcium", "source:",
                 "not a diagnosis", "fixed_850"):  # fmt: skip
        assert text in out


def _bad_landmarks(tmp_path, points):
    path = tmp_path / "bad.mrk.json"
    write_landmarks(path, Landmarks(points))
    return path


@pytest.mark.parametrize("problem", ["missing", "collinear", "not_markups", "outside", "no_file"])
def test_bad_landmarks_exit_3(study, tmp_path, capsys, problem):
    case, nifti, _ = study
    pts = dict(case.landmarks.points)
    if problem == "missing":
        del pts["NCC_hinge"]
        path, expect = _bad_landmarks(tmp_path, pts), "NCC_hinge"
    elif problem == "collinear":
        pts["NCC_hinge"] = 2 * pts["LCC_hinge"] - pts["RCC_hinge"]
        path, expect = _bad_landmarks(tmp_path, pts), "collinear"
    elif problem == "not_markups":
        path, expect = tmp_path / "x.json", "not a 3D Slicer markups"
        path.write_text(json.dumps({"points": [1, 2, 3]}))
    elif problem == "outside":
        pts["RCA_ostium"] = case.origin + np.array([0.0, 0.0, 300.0])
        path, expect = _bad_landmarks(tmp_path, pts), "outside the CT volume"
    else:
        path, expect = tmp_path / "nothing.mrk.json", "does not exist"
    code, out, err = _run(capsys, nifti, "--landmarks", path)
    assert code == 3
    assert expect in err
    # Progress lines may precede it; the error itself is one plain last line.
    lines = err.strip().splitlines()
    assert lines[-1].startswith("annulusview: ") and expect in lines[-1]
    assert sum(line.startswith("annulusview: ") for line in lines) == 1
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--threshold", "magic"], "Unknown calcium threshold"),
        (["--rules", "RULES"], "regions.radial_margn_mm"),
        (["--valve-size", "80"], "Valve size"),
    ],
)
def test_bad_options_exit_3(study, tmp_path, capsys, extra, expect):
    _, nifti, landmarks = study
    rules = tmp_path / "r.toml"
    rules.write_text("[regions]\nradial_margn_mm = 3\n")
    extra = [str(rules) if e == "RULES" else e for e in extra]
    code, _, err = _run(capsys, nifti, "--landmarks", landmarks, *extra)
    assert code == 3 and expect in err and len(err.strip().splitlines()) == 1


def test_missing_study_exit_3(study, tmp_path, capsys):
    landmarks = study[2]
    code, _, err = _run(capsys, tmp_path / "nope", "--landmarks", landmarks)
    assert code == 3 and "Traceback" not in err
