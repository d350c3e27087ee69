"""The mitral section through `annulusview analyze`: JSON, virtual-valve option, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annulusview.cli import main
from annulusview.phantom.dicom import write_case


@pytest.fixture(scope="module")
def mac_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_case(tmp_path_factory.mktemp("mac") / "case", case="mac")


def test_analyze_json_has_mitral_section_matching_truth(mac_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "res.json"
    code = main(
        [
            "analyze",
            str(mac_case / "dicom"),
            "--landmarks",
            str(mac_case / "landmarks.mrk.json"),
            "--json",
            str(out),
            "--mitral-valve",
            "26,20,0.7",
        ]
    )
    assert code == 0
    doc = json.loads(out.read_text())
    truth = json.loads((mac_case / "truth.json").read_text())["mitral"]
    mitral = doc["mitral"]
    assert mitral["annulus"]["area_mm2"] == pytest.approx(truth["annulus"]["area_mm2"], rel=0.01)
    assert mitral["mac"]["score"]["total"] == truth["mac"]["score"]["total"]
    assert mitral["mac"]["score"]["grade"] == truth["mac"]["score"]["grade"]
    assert mitral["neo_lvot"]["valve"]["diameter_mm"] == 26.0
    assert mitral["neo_lvot"]["valve"]["ventricular_share"] == 0.7
    ids = {f["id"] for f in doc["flags"]}
    assert {"mitral.mac_score", "mitral.neo_lvot"} <= ids


@pytest.mark.parametrize("value", ["26,20", "a,b,c", "26,20,1.5", "-5,20,0.5"])
def test_bad_virtual_valve_is_a_plain_input_error(
    mac_case: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "analyze",
            str(mac_case / "dicom"),
            "--landmarks",
            str(mac_case / "landmarks.mrk.json"),
            f"--mitral-valve={value}",
        ]
    )
    assert code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "valve" in err[0].lower()
