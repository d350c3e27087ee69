"""The mitral part of the window (pytest-qt under Xvfb): MA curve, panel, valve, neo-LVOT, 3D."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from annulusview.core.landmarks import read_landmarks

pytestmark = pytest.mark.gui

TIMEOUT_MS = 60000


@pytest.fixture(scope="module")
def mac_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small ``mac`` phantom as DICOM, with its landmarks and truth.json."""
    from annulusview.phantom.dicom import write_case

    return write_case(tmp_path_factory.mktemp("mac") / "case", "mac", seed=0, size="small")


def _open(qtbot, window, case: Path, landmarks: Path | None) -> None:
    runs = window.analysis_runs
    window.open_path(case / "dicom", landmarks=landmarks)
    qtbot.waitUntil(lambda: window.volume is not None, timeout=TIMEOUT_MS)
    if landmarks is not None:
        qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=TIMEOUT_MS)


def _rerun(qtbot, window, change) -> None:
    runs = window.analysis_runs
    change()
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=TIMEOUT_MS)


def test_mac_score_valve_and_neo_lvot_tab(qtbot, main_window, mac_dir, artifacts_dir):
    window = main_window
    truth = json.loads((mac_dir / "truth.json").read_text())["mitral"]
    _open(qtbot, window, mac_dir, mac_dir / "landmarks.mrk.json")
    panel = window.mitral_ui.panel
    window.mitral_ui.dock.raise_()

    # every mitral landmark of the checklist is ticked; the MA curve item counts its points
    for name in ("MV_anterior", "MV_posterior", "MV_AL_commissure", "MV_PM_commissure"):
        assert window.landmark_panel.items[name].text(1) == "✓", name
    n_curve = len(window.landmarks.mitral_curve)
    assert n_curve >= 8
    assert window.mitral_ui.curve_item.text(1) == f"{n_curve} pts"
    assert window.landmark_panel.other_group.isHidden()  # MA_* are not "unknown"

    # the MAC CT score, each component and the grade, as truth.json has them
    score = truth["mac"]["score"]
    for key, value in score["components"].items():
        assert panel.text(f"score.{key}") == str(value), key
    assert panel.text("score.total") == str(score["total"])
    assert panel.text("score.grade") == score["grade"]
    assert panel.text("mac.trigones") == "L yes, R no"
    assert panel.text("mac.leaflets") == "anterior no, posterior no"
    extent = float(panel.text("mac.extent_deg").rstrip("°"))
    assert extent == pytest.approx(truth["mac"]["expected_extent_deg"], abs=5.0)
    perimeter = float(panel.text("annulus.perimeter_mm").split()[0])
    assert perimeter == pytest.approx(truth["annulus"]["perimeter_mm"], abs=1.0)

    # neo-LVOT: area in the panel and in its own plane view
    area_before = window.results.to_dict()["mitral"]["neo_lvot"]["area_mm2"]
    assert panel.text("neo.area_mm2") == f"{area_before:.0f} mm²"
    assert "below the aortic annulus" in panel.text("neo.where")
    tabs = window.oblique_tabs
    tabs.setCurrentIndex(window.mitral_ui.tab_index)
    assert tabs.tabText(tabs.currentIndex()) == "Neo-LVOT plane"
    view = window.mitral_ui.view
    assert view.source is not None
    assert view.overlay.text[0] == f"Neo-LVOT area {area_before:.0f} mm² (outlined)"
    assert view.overlay.polylines, "the remaining lumen is outlined"
    qtbot.wait(100)
    window.grab().save(str(artifacts_dir / "mitral-window.png"))
    view.grab().save(str(artifacts_dir / "mitral-neo-lvot-plane.png"))
    panel.grab().save(str(artifacts_dir / "mitral-panel.png"))
    # the outline's centre is the lumen centroid and it is drawn where the section is
    outline = view.overlay.polylines[0][0]
    centroid = np.asarray(window.results.to_dict()["mitral"]["neo_lvot"]["centroid_lps"])
    assert np.linalg.norm(outline.mean(axis=0) - centroid) < 3.0
    x, y, dz = view.lps_to_widget(centroid)
    assert 0 < x < view.width() and 0 < y < view.height() and abs(dz) < 1.0

    # a bigger valve narrows the neo-LVOT: the analysis reruns with it
    _rerun(qtbot, window, lambda: panel.diameter.setValue(40.0))
    neo = window.results.to_dict()["mitral"]["neo_lvot"]
    assert neo["valve"]["diameter_mm"] == 40.0
    assert neo["area_mm2"] < area_before - 5.0
    assert panel.text("neo.area_mm2") == f"{neo['area_mm2']:.0f} mm²"
    assert view.overlay.text[0] == f"Neo-LVOT area {neo['area_mm2']:.0f} mm² (outlined)"
    view.grab().save(str(artifacts_dir / "mitral-neo-lvot-plane-40mm.png"))

    # a valve that leaves the volume: the reason is shown, not an error
    _rerun(qtbot, window, lambda: window.mitral_ui.set_valve(48.0, 40.0, 0.9))
    assert "Neo-LVOT not assessed" in panel.not_assessed.text()
    assert panel.text("neo.area_mm2") == "—"


def test_mitral_curve_clicks_drag_and_undo(qtbot, main_window, mac_dir):
    window = main_window
    _open(qtbot, window, mac_dir, None)
    full = read_landmarks(mac_dir / "landmarks.mrk.json")
    curve = full.mitral_curve
    aortic_only = [n for n in full.names() if not n.startswith("MA_")]
    window.undo_stack.beginMacro("aortic and mitral landmarks")
    from annulusview.app.undo import SetLandmarkCommand

    for name in aortic_only:
        window.undo_stack.push(SetLandmarkCommand(window, name, None, full[name], name))
    window.undo_stack.endMacro()
    assert len(window.landmarks.mitral_curve) == 0

    window.landmark_panel.tree.setCurrentItem(window.mitral_ui.curve_item)
    window.landmark_panel.place_button.click()
    assert window.placing == "MA_curve"
    axial = window.views["axial"]
    for n, point in enumerate(curve[:3]):
        window.set_crosshair(point)
        x, y, _ = axial.lps_to_widget(point)
        qtbot.mouseClick(axial, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
        assert window.placing == "MA_curve"  # keeps adding
        placed = window.landmarks[f"MA_{n + 1:02d}"]
        assert np.linalg.norm(placed - point) < 2 * axial.source.slice_mm() + 1.0
    assert window.mitral_ui.curve_item.text(1) == "3 pts"
    # the rest of the curve through the same method the click calls
    for point in curve[3:]:
        window.mitral_ui.add_curve_point(point)
    assert len(window.landmarks.mitral_curve) == len(curve)
    window.landmark_editor.stop_placing()

    # drag MA_02 in the axial view, then undo the drag and the last point
    start = window.landmarks["MA_02"].copy()
    window.set_crosshair(start)
    x, y, _ = axial.lps_to_widget(start)
    p0 = QPoint(round(x), round(y))
    qtbot.mousePress(axial, Qt.MouseButton.LeftButton, pos=p0)
    qtbot.mouseMove(axial, pos=p0 + QPoint(8, 0))
    qtbot.mouseMove(axial, pos=p0 + QPoint(16, 0))
    qtbot.mouseRelease(axial, Qt.MouseButton.LeftButton, pos=p0 + QPoint(16, 0))
    assert np.linalg.norm(window.landmarks["MA_02"] - start) > 1.0
    window.undo_stack.undo()
    np.testing.assert_allclose(window.landmarks["MA_02"], start)
    last = f"MA_{len(curve):02d}"
    window.undo_stack.undo()
    assert last not in window.landmarks
    window.undo_stack.redo()
    assert last in window.landmarks

    # the analysis uses the curve: the annulus comes from MA_*
    _rerun(qtbot, window, window.run_analysis)
    assert window.results.to_dict()["mitral"]["annulus"]["method"] == "MA_curve"
    assert window.mitral_ui.panel.text("annulus.method").startswith("MA_* curve")


def test_3d_shows_mac_colour_where_it_projects(qtbot, main_window, mac_dir, artifacts_dir):
    from annulusview.scene.build import project_to_display
    from annulusview.scene.mitral import MAC_COLOR

    window = main_window
    _open(qtbot, window, mac_dir, mac_dir / "landmarks.mrk.json")
    window.refresh_scene()
    window.viewer3d.set_preset("front")
    plotter = window.viewer3d.plotter
    qtbot.wait(200)
    actors = window.viewer3d.handles.actors
    assert {"mac", "mitral_annulus", "virtual_valve"} <= set(actors)
    window.grab().save(str(artifacts_dir / "mitral-window-3d.png"))

    # MAC only (no valve in front of it, no aortic layers): its colour where it projects
    for key in ("annulus", "lvot", "conduction", "landmarks", "distance_lines", "calcium"):
        window.toggle_actions[key].setChecked(False)
    window.toggle_actions["virtual_valve"].setChecked(False)
    window.refresh_scene()
    window.viewer3d.set_preset("front")
    qtbot.wait(200)
    assert "virtual_valve" not in window.viewer3d.handles.actors
    image = plotter.grab().toImage()
    image.save(str(artifacts_dir / "mitral-3d-mac-only.png"))
    mac = window.results.mitral.mac
    kji = np.asarray(mac.lesion_kji)
    lps = window.volume.index_to_lps(kji[:, ::-1].astype(float))
    target = np.array([int(MAC_COLOR[i : i + 2], 16) for i in (1, 3, 5)])
    # voxels on the camera side of the tube (nearest the camera) project onto the MAC surface
    camera = np.asarray(plotter.camera.position)
    sample = lps[np.argsort(np.linalg.norm(lps - camera, axis=1))[:: max(1, len(lps) // 40)]]
    hits = 0
    for point in sample[:20]:
        dx, dy = project_to_display(plotter, point)
        x, y = round(dx), round(image.height() - 1 - dy)
        if not (0 <= x < image.width() and 0 <= y < image.height()):
            continue
        c = image.pixelColor(x, y)
        rgb = np.array([c.red(), c.green(), c.blue()])
        # magenta-red hue (shading scales it): red well above green, blue between
        if rgb[0] > rgb[1] + 60 and rgb[2] > rgb[1] + 10:
            hits += 1
    assert hits >= 15, hits
    assert target[0] > target[1]

    # toggled off: the MAC colour is gone from the picture
    window.toggle_actions["mitral"].setChecked(False)
    window.refresh_scene()
    qtbot.wait(200)
    assert "mac" not in window.viewer3d.handles.actors
    pixels = plotter.grab().toImage()
    pixels.save(str(artifacts_dir / "mitral-3d-off.png"))
    dx, dy = project_to_display(plotter, lps.mean(axis=0))
    c = pixels.pixelColor(round(dx), round(pixels.height() - 1 - dy))
    assert not (c.red() > c.green() + 60 and c.blue() > c.green() + 10)
