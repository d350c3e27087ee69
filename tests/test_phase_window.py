"""Multi-phase studies in the window: the phase picker, and a phase switch that keeps the
landmarks and reruns the analysis (issue 16)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from annulusview.app import messages

LOAD_TIMEOUT_MS = 120000


@pytest.fixture(scope="module")
def three_phase_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small phantom written as 3 phases (0, 33.3 and 66.7 % R-R) in one DICOM folder."""
    from annulusview.phantom.dicom import write_case

    return write_case(
        tmp_path_factory.mktemp("phases") / "case", "tavr-contrast", 0, "small", phases=3
    )


def _open_phase(qtbot, window, case: Path, row: int):
    """Open ``case`` with its landmarks, pick phase ``row`` in the series dialog, wait for the
    first analysis; returns the dialog."""
    window.open_path(case / "dicom", landmarks=case / "landmarks.mrk.json")
    qtbot.waitUntil(lambda: window.series_dialog is not None, timeout=LOAD_TIMEOUT_MS)
    dialog = window.series_dialog
    dialog.table.selectRow(row)
    dialog.accept()
    qtbot.waitUntil(lambda: window.volume is not None, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.analysis_runs >= 1, timeout=LOAD_TIMEOUT_MS)
    return dialog


def _phase_pct(text: str) -> float:
    """The percent of the scan block's "66.6667 % R-R (header)"."""
    return float(text.split("%")[0])


def _points(landmarks) -> dict[str, np.ndarray]:
    return {name: np.asarray(p, dtype=float).copy() for name, p in landmarks.points.items()}


def test_phase_switch_keeps_landmarks_and_reruns_the_analysis(
    qtbot, main_window, three_phase_dir, artifacts_dir
):
    window = main_window
    dialog = _open_phase(qtbot, window, three_phase_dir, 1)
    # the series dialog lists the phases with their percent, in order
    assert [dialog.table.item(r, 5).text() for r in range(3)] == [
        "0 % R-R",
        "33.3 % R-R",
        "66.7 % R-R",
    ]
    combo = window.phases.combo
    assert combo.objectName() == "phase-picker"
    assert window.findChild(type(combo), "phase-picker") is combo
    assert window.phases.shown and combo.isVisible()
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "0 % R-R",
        "33.3 % R-R",
        "66.7 % R-R",
    ]
    assert combo.currentIndex() == 1  # the loaded phase
    first_volume = window.volume
    assert window.series_id == dialog.series[1].id
    phase = window.results_panel.annulus_labels["phase"]
    assert _phase_pct(phase.text()) == pytest.approx(100 / 3, abs=0.05)
    before = _points(window.landmarks)
    assert {"LCC_hinge", "NCC_hinge", "RCC_hinge"} <= set(before)
    crosshair = np.array([1.5, -2.0, 3.0]) + np.asarray(window.views["axial"].crosshair_lps)
    window.set_crosshair(crosshair)
    runs = window.analysis_runs

    # the user picks the next phase (arrow key on the combo box, as from the keyboard)
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: window.volume is not first_volume, timeout=LOAD_TIMEOUT_MS)
    assert window.series_id == dialog.series[2].id
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=LOAD_TIMEOUT_MS)
    assert "% R-R" in phase.text()
    assert _phase_pct(phase.text()) == pytest.approx(200 / 3, abs=0.05)
    assert window.results is not None and window.results.scan.cardiac_phase_pct == pytest.approx(
        200 / 3, abs=1e-3
    )
    after = _points(window.landmarks)
    assert after.keys() == before.keys()
    for name, point in before.items():
        np.testing.assert_array_equal(after[name], point)
    # the view carried over too: same crosshair, not reset to the volume centre
    np.testing.assert_allclose(window.views["axial"].crosshair_lps, crosshair)
    assert combo.currentIndex() == 2 and combo.isEnabled()
    assert window.last_message is None
    window.grab().save(str(artifacts_dir / "phase_picker_window.png"))


def test_single_phase_study_hides_the_picker(qtbot, main_window, phantom_dir):
    window = main_window
    window.open_path(phantom_dir / "dicom")
    qtbot.waitUntil(lambda: window.volume is not None, timeout=LOAD_TIMEOUT_MS)
    assert window.series_dialog is None
    assert not window.phases.shown
    assert not window.phases.combo.isVisible()
    assert window.phases.phases == []


def test_switch_to_another_frame_of_reference_does_not_keep_landmarks(
    qtbot, main_window, three_phase_dir
):
    window = main_window
    _open_phase(qtbot, window, three_phase_dir, 0)
    assert window.landmarks.points
    # make the loaded phase claim another patient frame than the phase about to load
    volume = window.volume
    other = dict(volume.metadata, frame_of_reference_uid="1.2.826.0.1.3680043.8.498.1")
    window.study.volume = dataclasses.replace(volume, metadata=other)
    window.phases.choose(window.phases.phases[2].id)
    qtbot.waitUntil(lambda: window.series_id == window.phases.phases[2].id, timeout=LOAD_TIMEOUT_MS)
    assert not window.landmarks.points
    box = window.last_message
    assert box is not None and box.windowTitle() == "Landmarks not kept"
    assert "FrameOfReferenceUID" in messages.message_text(box)
    box.close()


def test_failed_switch_keeps_the_loaded_phase(qtbot, main_window, tmp_path):
    from annulusview.phantom.dicom import write_case

    case = write_case(tmp_path / "case", "tavr-contrast", 0, "small", phases=3)
    window = main_window
    _open_phase(qtbot, window, case, 0)
    volume, series = window.volume, window.series_id
    before = _points(window.landmarks)
    target = window.phases.phases[1]
    # the phase's files go away after the scan: its pixels cannot be read
    for path in (case / "dicom").glob("PH02_*"):
        path.unlink()
    window.phases.choose(target.id)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    box = window.last_message
    assert "Traceback" not in messages.message_text(box)
    assert "phase" in box.windowTitle().lower()
    assert window.volume is volume and window.series_id == series
    combo = window.phases.combo
    assert combo.currentIndex() == 0 and combo.isEnabled()
    after = _points(window.landmarks)
    assert after.keys() == before.keys()
    box.close()


def test_phases_of_a_scan_in_percent_order(three_phase_dir):
    from annulusview.app.phases import phase_label, phase_labels, phases_of
    from annulusview.core.io import scan

    assert [phase_label(p) for p in (0, 100 / 3, 75, 12.5)] == [
        "0 % R-R",
        "33.3 % R-R",
        "75 % R-R",
        "12.5 % R-R",
    ]
    result = scan(three_phase_dir / "dicom")
    phases = phases_of(result, result.series[2].id)
    assert [p.id for p in phases] == [s.id for s in result.series]
    assert phase_labels(phases) == ["0 % R-R", "33.3 % R-R", "66.7 % R-R"]
    # a session may name the series by its SeriesInstanceUID; None is the default series
    assert phases_of(result, result.series[1].series_instance_uid) == phases
    assert phases_of(result, None) == phases
    assert phases_of(result, "1.2.3.not-here") == []
    assert phases_of(None, None) == []
