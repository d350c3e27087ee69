"""Proposed landmarks in the window (issue 12): a contrast CTA opened without landmarks gets a
proposal off the GUI thread, the analysis runs on it with its flags marked unconfirmed, the
points are drawn hollow, and Accept / Move / Skip review them one by one (undoable)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from annulusview.core.landmarks import write_landmarks
from annulusview.phantom.dicom import write_case

pytestmark = pytest.mark.gui

TIMEOUT_MS = 90000
HINGE_TOL_MM = 3.0  # the worst-hinge goal


@pytest.fixture(scope="module")
def contrast_study(tmp_path_factory):
    return write_case(tmp_path_factory.mktemp("review") / "case", "tavr-contrast", 0, "small")


def test_open_proposes_analyses_and_review_confirms(proposing_window, qtbot, contrast_study):
    from annulusview.core.landmarks import read_landmarks

    window = proposing_window
    truth = read_landmarks(contrast_study / "landmarks.mrk.json")
    runs = window.analysis_runs
    window.open_path(contrast_study / "dicom")  # no landmarks file
    qtbot.waitUntil(lambda: window.volume is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: bool(window.landmarks.proposed), timeout=TIMEOUT_MS)
    lms = window.landmarks
    for hinge in ("RCC_hinge", "LCC_hinge", "NCC_hinge"):
        assert hinge in lms.proposed
        assert float(np.linalg.norm(lms[hinge] - truth[hinge])) <= HINGE_TOL_MM, hinge
    # the analysis ran on the proposal, and its flags say they rest on unconfirmed points
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.results is not None, timeout=TIMEOUT_MS)
    res = window.results
    assert set(res.landmarks_proposed) == set(lms.proposed)
    assert any(f.inputs_unconfirmed for f in res.flags)
    # drawn hollow: the views and the 3D scene know which points are proposed
    assert window.views["axial"].proposed == lms.proposed
    review = window.review
    assert review.list.count() == len(lms.proposed)
    assert window.landmark_panel.items["RCC_hinge"].text(1) == "?"  # not a tick
    assert "confidence" in review.detail.text()

    # Skip moves on without changing anything
    first = review.current_name()
    review.skip_button.click()
    assert review.current_name() != first and window.landmarks.proposed == lms.proposed
    # Accept confirms the shown point (undoable) and the analysis reruns
    name = review.current_name()
    runs = window.analysis_runs
    qtbot.mouseClick(review.accept_button, Qt.MouseButton.LeftButton)
    assert name not in window.landmarks.proposed
    assert np.array_equal(window.landmarks[name], lms[name])  # accepted where it was
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=TIMEOUT_MS)
    assert name not in window.results.landmarks_proposed
    window.undo_stack.undo()
    assert name in window.landmarks.proposed
    window.undo_stack.redo()
    # Move: the next click places the point where the person puts it, no longer proposed
    review.list.setCurrentRow(0)
    moved = review.current_name()
    review.move_button.click()
    assert window.placing == moved
    target = truth[moved]
    window.landmark_editor.place_landmark(moved, target)
    assert moved not in window.landmarks.proposed
    assert np.allclose(window.landmarks[moved], target)
    # accept the rest: the results no longer rest on unconfirmed points
    while review.list.count():
        review.list.setCurrentRow(0)
        review.accept_current()
    runs = window.analysis_runs
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=TIMEOUT_MS)
    assert not window.results.landmarks_proposed
    assert not any(f.inputs_unconfirmed for f in window.results.flags)
    assert review.summary.text() == "No proposed landmarks."


def test_non_contrast_open_says_why_and_proposes_nothing(proposing_window, qtbot, tmp_path):
    window = proposing_window
    study = write_case(tmp_path / "nc", "tavr-noncontrast", 0, "small")
    window.open_path(study / "dicom")
    qtbot.waitUntil(lambda: window.volume is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: "No landmarks proposed" in window.review.summary.text(), timeout=TIMEOUT_MS
    )
    assert not window.landmarks.points
    assert window.status_label.text().startswith("No landmarks proposed:")


def test_import_keeps_proposed_marks(main_window, qtbot, contrast_study, tmp_path):
    """A markups file with "proposed": true imports as still-to-review, not as confirmed."""
    from annulusview.core.landmarks import Landmarks, read_landmarks

    window = main_window
    window.open_path(contrast_study / "dicom")
    qtbot.waitUntil(lambda: window.volume is not None, timeout=TIMEOUT_MS)
    truth = read_landmarks(contrast_study / "landmarks.mrk.json")
    path = tmp_path / "proposed.mrk.json"
    write_landmarks(path, Landmarks(truth.points, "", frozenset({"RCC_hinge", "LCA_ostium"})))
    window.landmark_editor.import_landmarks(path)
    assert window.landmarks.proposed == {"RCC_hinge", "LCA_ostium"}
    assert window.review.list.count() == 2
    window.undo_stack.undo()  # one step
    assert not window.landmarks.points


REAL_CTA = (
    __import__("pathlib").Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "real"
    / "aortic_root_cta"
    / "ct_cropped.nii.gz"
)


def test_real_diastolic_cta_is_proposed_with_the_closed_valve_reason(
    proposing_window, qtbot, artifacts_dir
):
    """The real CTA (diastolic: the valve is closed) opens with proposed hinges read from the
    closed cusps; the review panel shows each hinge's low confidence and says why, and the
    analysis runs on the proposal with its flags unconfirmed."""
    from annulusview.core.aortic.propose import CLOSED_VALVE_REASON

    window = proposing_window
    window.open_path(REAL_CTA)
    qtbot.waitUntil(lambda: window.volume is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: "RCC_hinge" in window.landmarks.proposed, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.results is not None, timeout=TIMEOUT_MS)
    assert any(f.inputs_unconfirmed for f in window.results.flags)
    review = window.review
    shown = []
    for _ in range(review.list.count()):
        name = review.current_name()
        if name.endswith("_hinge"):
            shown.append(name)
            assert CLOSED_VALVE_REASON in review.detail.text(), review.detail.text()
            window.grab().save(str(artifacts_dir / f"real-cta-proposal-{name}.png"))
        review.skip_button.click()
    assert sorted(shown) == ["LCC_hinge", "NCC_hinge", "RCC_hinge"]
    # On this scan the area depends steeply on the plane: the panel shows the plane check's
    # range (more than a fifth of the area wide) and the warning says why.
    panel = window.results_panel
    low, high = (float(x) for x in panel.annulus_labels["plane_range"].text().split()[0].split("-"))
    area = float(panel.annulus_labels["area_mm2"].text().split()[0])
    assert low < area < high and high - low > 0.2 * area
    assert "depends steeply on the plane" in panel.warnings.text()
    # noise lesions are marked in the lesion table (below the noise floor), real ones are not
    column = [key for key, _, _ in panel.LESION_COLUMNS].index("max_hu")
    faint = set(window.results.calcium_noise["faint_lesion_ids"])
    for row in range(panel.lesion_table.rowCount()):
        item = panel.lesion_table.item(row, column)
        lesion_id = item.data(Qt.ItemDataRole.UserRole)
        assert item.text().endswith("(faint)") == (lesion_id in faint)
    window.grab().save(str(artifacts_dir / "real-cta-plane-check.png"))
