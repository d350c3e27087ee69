"""The window's Root tab (root, coronaries, C-arm views) and the C-arm view buttons, in the real
window with its real VTK view. Angles are checked against the phantom's closed form
(``annulusview.phantom.truth.fluoroscopy_truth``), not against the analysis' own numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from annulusview.core.analysis import analyze
from annulusview.core.aortic.valve import PlannedValve
from annulusview.phantom import make_case
from annulusview.phantom.truth import VTC_VALVE_MM, coronary_truth, fluoroscopy_truth
from annulusview.scene.state import SceneState


@pytest.fixture(scope="module")
def planned():
    case = make_case("tavr-contrast", 3, "small")
    return case, analyze(case.volume, case.landmarks, valve=PlannedValve(VTC_VALVE_MM, "balloon"))


def _view_direction(plotter) -> np.ndarray:
    position, focal, _ = plotter.camera_position
    d = np.asarray(focal, dtype=float) - np.asarray(position, dtype=float)
    return d / np.linalg.norm(d)


def test_root_tab_shows_coronary_rows_and_views(main_window, planned) -> None:
    _case, res = planned
    panel = main_window.results_panel
    panel.show_results(res)
    table = panel.root_table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    notes = {table.item(r, 0).text(): table.item(r, 2).text() for r in range(table.rowCount())}
    truth = coronary_truth(True)
    assert rows["LCA ostium height"] == f"{truth['LCA']['height_mm']:.1f} mm"
    assert f"VTC {truth['LCA']['vtc_mm']:.1f} mm" in notes["LCA ostium height"]
    assert "MET · HIGH" in notes["LCA ostium height"]
    assert "LVOT area" in rows and "STJ diameter" in rows
    fluoro = fluoroscopy_truth()
    label = rows["C-arm: Three-cusp coplanar"]
    side, lao, _, cranial = label.replace("°", "").split()
    assert (1 if side == "LAO" else -1) * float(lao) == pytest.approx(
        fluoro["three_cusp"]["lao_deg"], abs=0.51
    )
    assert -float(cranial) == pytest.approx(fluoro["three_cusp"]["cranial_deg"], abs=0.51)


def test_carm_buttons_put_the_camera_on_the_planned_views(main_window, qtbot, planned) -> None:
    case, res = planned
    viewer = main_window.viewer3d
    assert viewer.available, viewer.error  # GUI tests run with a display; never skipped
    viewer.show_state(SceneState(volume=case.volume, results=None, landmarks=case.landmarks))
    assert not viewer.view_buttons["three_cusp"].isEnabled()  # no analysis: no views
    viewer.show_state(SceneState(volume=case.volume, results=res, landmarks=case.landmarks))
    truth = fluoroscopy_truth()
    for key in ("three_cusp", "cusp_overlap"):
        button = viewer.view_buttons[key]
        assert button.isEnabled()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        a = math.radians(truth[key]["lao_deg"])
        b = math.radians(truth[key]["cranial_deg"])
        # the camera looks from the image intensifier p = (sin a cos b, -cos a cos b, sin b)
        expected = -np.array([math.sin(a) * math.cos(b), -math.cos(a) * math.cos(b), math.sin(b)])
        angle = math.degrees(
            math.acos(float(np.clip(_view_direction(viewer.plotter) @ expected, -1, 1)))
        )
        assert angle < 1.0, (key, angle)
        assert viewer.carm_label.text() == res.to_dict()["fluoroscopy"][key]["label"]
