"""The scan-quality block (clinical-model v2 section 10): values against the headers written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from annulusview.core.analysis import analyze
from annulusview.core.landmarks import read_landmarks
from annulusview.core.scan_quality import phase_from_description, scan_quality
from annulusview.core.volume import Volume


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("CTA 75% 0.6 mm", 75.0),
        ("BestSyst 38 %", 38.0),
        ("Cardiac 42.5%  Br36", 42.5),
        ("TAVI CTA 0.6 I26f", None),  # no percentage
        ("Multiphase 0-90% 10 phases", None),  # two percentages name no single phase
        ("Dose 150%", None),  # outside 0-100
        ("", None),
    ],
)
def test_phase_from_description(description: str, expected: float | None) -> None:
    assert phase_from_description(description) == expected


def _volume(metadata: dict, spacing=(0.5, 0.4, 0.75), description="") -> Volume:
    affine = np.diag([*spacing, 1.0])
    return Volume(
        hu=np.zeros((4, 5, 6), dtype=np.int16),
        affine=affine,
        description=description,
        metadata=metadata,
    )


def test_values_and_checks_from_metadata() -> None:
    vol = _volume({"cardiac_phase_pct": 75.0, "kvp": 100.0, "slice_thickness_mm": 0.75})
    scan = scan_quality(
        vol, contrast_state="contrast", lumen_hu=400.0, lumen_hu_sd=20.0, annulus_sized=True
    )
    assert scan.cardiac_phase_pct == 75.0 and scan.cardiac_phase_source == "header"
    assert scan.kvp == 100.0 and scan.slice_thickness_mm == 0.75
    # affine diag (0.5, 0.4, 0.75): columns 0.5 mm apart, rows 0.4 mm apart, slices 0.75 mm.
    assert scan.pixel_spacing_mm == (0.4, 0.5)
    assert scan.slice_increment_mm == pytest.approx(0.75)
    assert scan.ecg_gated is None  # never guessed
    assert len(scan.checks) == 1 and "75 % R-R phase, outside systole" in scan.checks[0]
    assert "Blanke" in scan.checks[0]


def test_systolic_phase_thin_slices_have_no_check() -> None:
    vol = _volume({"cardiac_phase_pct": 35.0, "slice_thickness_mm": 0.6})
    scan = scan_quality(
        vol, contrast_state="contrast", lumen_hu=400.0, lumen_hu_sd=20.0, annulus_sized=True
    )
    assert scan.checks == ()
    assert scan.phase_text == "35 % R-R (header)"


def test_phase_from_description_when_header_has_none() -> None:
    vol = _volume({"series_description": "CTA 40% 0.6"}, spacing=(0.5, 0.5, 0.5))
    scan = scan_quality(
        vol, contrast_state="contrast", lumen_hu=400.0, lumen_hu_sd=20.0, annulus_sized=True
    )
    assert (scan.cardiac_phase_pct, scan.cardiac_phase_source) == (40.0, "description")
    assert scan.checks == ()


def test_unknown_phase_thick_slices_and_neo_lvot_checks() -> None:
    vol = _volume({"slice_thickness_mm": 3.0, "ecg_gated": False}, spacing=(0.5, 0.5, 3.0))
    scan = scan_quality(
        vol,
        contrast_state="contrast",
        lumen_hu=400.0,
        lumen_hu_sd=20.0,
        annulus_sized=True,
        neo_lvot_read=True,
    )
    text = " | ".join(scan.checks)
    assert scan.cardiac_phase_pct is None and scan.phase_text == "unknown"
    assert scan.ecg_gated is False  # stated in the header, so reported
    assert "Cardiac phase unknown" in text
    assert "Slices of 3 mm" in text
    assert "Neo-LVOT predicted on an unknown phase" in text
    assert len(scan.checks) == 3


def test_no_sizing_no_sizing_checks() -> None:
    vol = _volume({"slice_thickness_mm": 3.0}, spacing=(0.5, 0.5, 3.0))
    scan = scan_quality(
        vol, contrast_state="non_contrast", lumen_hu=40.0, lumen_hu_sd=10.0, annulus_sized=False
    )
    assert scan.checks == ()


def test_dicom_phase_tag_reaches_the_results(tmp_path: Path, phantom_dir: Path) -> None:
    """NominalPercentageOfCardiacPhase written into real files is read back and checked."""
    import annulusview as av

    study = tmp_path / "dicom"
    shutil.copytree(phantom_dir / "dicom", study)
    for path in sorted(study.rglob("*")):
        if not path.is_file():
            continue
        ds = pydicom.dcmread(path)
        ds.NominalPercentageOfCardiacPhase = 70.0
        ds.SeriesDescription = "CTA 70% test"
        ds.KVP = 110
        ds.save_as(path)
    volume = av.load(study)
    landmarks = read_landmarks(phantom_dir / "landmarks.mrk.json")
    res = analyze(volume, landmarks)
    assert res.scan is not None
    block = res.to_dict()["scan"]
    assert block["cardiac_phase_pct"] == 70.0 and block["cardiac_phase_source"] == "header"
    assert block["kvp"] == 110.0
    assert block["series_description"] == "CTA 70% test"
    assert block["contrast_state"] == "contrast"
    assert any("70 % R-R phase, outside systole" in w for w in res.warnings)


def test_window_and_report_show_the_phase(main_window, qtbot, phantom_case) -> None:
    """The results panel and the PDF report state the scan's phase ("unknown" here)."""
    from annulusview.core.outputs.deid import CaseIdentity
    from annulusview.core.outputs.pdf_report import report_story

    res = analyze(phantom_case.volume, phantom_case.landmarks)
    main_window.results_panel.show_results(res)
    label = main_window.results_panel.annulus_labels["phase"]
    assert label.text() == "unknown"
    assert "Cardiac phase unknown" in label.toolTip()
    story = report_story(res, CaseIdentity("AV-1"), [])
    text = " ".join(str(getattr(f, "_cellvalues", "")) for f in story)
    assert "Cardiac phase" in text and "unknown" in text
