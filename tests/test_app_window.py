"""Drive the main window as a user would (pytest-qt under Xvfb); assert on what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from annulusview.app.messages import message_text
from annulusview.core.landmarks import read_landmarks

pytestmark = pytest.mark.gui

LOAD_TIMEOUT_MS = 60000


def _open_with_landmarks(qtbot, window, study: Path, landmarks: Path | None) -> None:
    runs = window.analysis_runs
    window.open_path(study, landmarks=landmarks)
    qtbot.waitUntil(lambda: window.volume is not None, timeout=LOAD_TIMEOUT_MS)
    if landmarks is not None:
        qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=LOAD_TIMEOUT_MS)


def _widget_point(view, lps) -> QPoint:
    x, y, _ = view.lps_to_widget(lps)
    return QPoint(round(x), round(y))


def test_pick_series_place_move_undo_and_analysis_updates(qtbot, main_window, two_series_dir):
    window = main_window
    window.open_path(two_series_dir)
    qtbot.waitUntil(lambda: window.series_dialog is not None, timeout=LOAD_TIMEOUT_MS)
    dialog = window.series_dialog
    assert dialog.table.rowCount() == 2
    assert "phantom" in dialog.table.item(0, 0).text().lower()
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(8)]
    assert headers[2] == "Slice thickness (mm)" and headers[5] == "Cardiac phase"
    import pydicom

    first = sorted((two_series_dir / "a" / "dicom").iterdir())[0]
    thickness = float(pydicom.dcmread(first, stop_before_pixels=True).SliceThickness)
    assert dialog.table.item(0, 2).text() == f"{thickness:.2f}"
    dialog.table.selectRow(1)
    dialog.accept()
    qtbot.waitUntil(lambda: window.volume is not None, timeout=LOAD_TIMEOUT_MS)
    assert window.series_id == dialog.series[1].id
    assert window.views["axial"].source is not None
    assert window.landmark_panel.hint.text().startswith("To run the analysis, place")

    # import the hinges etc.; the analysis runs by itself
    lm_file = two_series_dir / "b" / "landmarks.mrk.json"
    window.landmark_editor.import_landmarks(lm_file)
    qtbot.waitUntil(lambda: window.analysis_runs >= 1, timeout=LOAD_TIMEOUT_MS)
    perimeter = window.results_panel.annulus_labels["perimeter_mm"]
    before = perimeter.text()
    assert before.endswith("mm") and before != "—"
    # the plane check: the area's range with the plane moved, around the area shown
    plane = window.results_panel.annulus_labels["plane_range"].text()
    low, high = (float(x) for x in plane.split(" ")[0].split("-"))
    area = float(window.results_panel.annulus_labels["area_mm2"].text().split(" ")[0])
    # (the range is shown to the mm^2, the area to a tenth)
    assert low - 0.5 <= area <= high + 0.5 and "plane moved \u00b10.5 mm" in plane

    # place a landmark with the mouse: LCA ostium, clicked in the axial view
    window.landmark_panel.select("LCA_ostium")
    window.landmark_editor.delete_landmark("LCA_ostium")
    qtbot.waitUntil(lambda: "LCA_ostium" not in window.landmarks)
    window.landmark_editor.start_placing("LCA_ostium")
    axial = window.views["axial"]
    target = read_landmarks(lm_file)["LCA_ostium"]
    window.set_crosshair(target)
    qtbot.mouseClick(axial, Qt.MouseButton.LeftButton, pos=_widget_point(axial, target))
    placed = window.landmarks["LCA_ostium"]
    pix_mm = max(axial.source.pixel_mm()) * 2
    assert np.linalg.norm(placed - target) < pix_mm + axial.source.slice_mm()
    assert window.landmark_panel.items["LCA_ostium"].text(1) == "✓"

    # move RCC_hinge by dragging it in the axial view: the annulus changes
    runs = window.analysis_runs
    window.landmark_editor.jump_to_landmark("RCC_hinge")
    start = window.landmarks["RCC_hinge"].copy()
    p0 = _widget_point(axial, start)
    p1 = p0 + QPoint(25, 0)
    qtbot.mousePress(axial, Qt.MouseButton.LeftButton, pos=p0)
    qtbot.mouseMove(axial, pos=p0 + QPoint(10, 0))
    qtbot.mouseMove(axial, pos=p1)
    qtbot.mouseRelease(axial, Qt.MouseButton.LeftButton, pos=p1)
    moved = window.landmarks["RCC_hinge"]
    assert np.linalg.norm(moved - start) > 1.0
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: perimeter.text() != before, timeout=LOAD_TIMEOUT_MS)

    # undo: the hinge returns and the numbers with it
    runs = window.analysis_runs
    window.undo_stack.undo()
    np.testing.assert_allclose(window.landmarks["RCC_hinge"], start)
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: perimeter.text() == before, timeout=LOAD_TIMEOUT_MS)
    window.undo_stack.redo()
    np.testing.assert_allclose(window.landmarks["RCC_hinge"], moved)


def test_lesion_row_centres_views_and_highlights_in_3d(qtbot, main_window, phantom_dir):
    window = main_window
    _open_with_landmarks(qtbot, window, phantom_dir / "dicom", phantom_dir / "landmarks.mrk.json")
    table = window.results_panel.lesion_table
    assert table.rowCount() == len(window.results.to_dict()["lesions"]) >= 3
    window.results_panel.tabs.setCurrentWidget(table)
    row = 1
    lesion_id = table.item(row, 0).data(Qt.ItemDataRole.UserRole)
    lesion = next(les for les in window.results.lesions if les.id == lesion_id)
    rect = table.visualItemRect(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    centre = np.asarray(lesion.centroid_lps)
    for name in ("axial", "coronal", "sagittal"):
        view = window.views[name]
        s, _, _ = view.source.from_lps(centre)
        assert view.index == round(s), name
        x, y, _ = view.lps_to_widget(centre)
        # centred: the lesion is in the middle of the view
        assert abs(x - view.width() / 2) < 2 and abs(y - view.height() / 2) < 2
        np.testing.assert_allclose(view.highlight_lps, centre)
    assert window.scene_state.highlight_lesion == lesion_id
    assert "highlight" in window.viewer3d.handles.actors


def test_3d_view_shows_the_lesion_colour_where_it_projects(
    qtbot, main_window, phantom_dir, artifacts_dir
):
    from annulusview.scene.build import project_to_display

    window = main_window
    _open_with_landmarks(qtbot, window, phantom_dir / "dicom", phantom_dir / "landmarks.mrk.json")
    for key in ("annulus", "lvot", "conduction", "landmarks", "distance_lines"):
        window.toggle_actions[key].setChecked(False)
    window.refresh_scene()
    window.viewer3d.set_preset("front")
    plotter = window.viewer3d.plotter
    qtbot.wait(200)
    image = plotter.grab().toImage()
    image.save(str(artifacts_dir / "window-3d-calcium-only.png"))
    ratio = plotter.devicePixelRatioF()
    lesions = window.results.to_dict()["lesions"]
    near = min(lesions, key=lambda les: les["distance_to_conduction_mm"])
    far = max(lesions, key=lambda les: les["distance_to_conduction_mm"])
    colours = {}
    for lesion in (near, far):
        dx, dy = project_to_display(plotter, lesion["centroid_lps"])
        x = round(dx)
        y = round(image.height() - 1 - dy)
        assert 0 <= x < image.width() and 0 <= y < image.height()
        c = image.pixelColor(x, y)
        colours[lesion["id"]] = (c.red(), c.green(), c.blue())
    r, g, b = colours[near["id"]]
    assert r > b + 60 and g > b + 30, colours  # yellow: at the conduction zone
    r, g, b = colours[far["id"]]
    assert b > r, colours  # blue-grey: far from it
    assert ratio > 0
    assert window.viewer3d.carm_label.text().startswith(("LAO", "RAO"))


def test_broken_folder_shows_a_plain_message(qtbot, main_window, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "IM0001.dcm").write_bytes(b"DICM" + bytes(300))
    (broken / "notes.txt").write_text("not an image")
    window = main_window
    window.last_message = None
    window.open_path(broken)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    text = message_text(window.last_message)
    assert "No usable CT series" in text
    assert "Traceback" not in text
    assert window.volume is None
    window.last_message.close()
    # an empty folder too
    empty = tmp_path / "empty"
    empty.mkdir()
    window.last_message = None
    window.open_path(empty)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    assert "No usable CT series" in message_text(window.last_message)


def test_save_and_reopen_session_even_when_the_study_moved(
    qtbot, main_window, phantom_dir, tmp_path, user_dirs
):
    from annulusview.app.main_window import MainWindow

    window = main_window
    study = tmp_path / "study"
    shutil.copytree(phantom_dir, study)
    _open_with_landmarks(qtbot, window, study / "dicom", study / "landmarks.mrk.json")
    window.apply_window_preset(1)
    window.set_color_by("lvot")
    session_file = tmp_path / "case.session.json"
    window.sessions.save_to(session_file)
    assert session_file.is_file()
    saved = window.landmarks

    moved = tmp_path / "moved"
    study.rename(moved)
    other = MainWindow(settings_org="AnnulusViewTest2", autosave=False)
    qtbot.addWidget(other)
    other.show()
    asked = []

    def ask(missing):
        asked.append(missing)
        return moved / "dicom"

    other.ask_study_location = ask
    other.sessions.open(session_file)
    qtbot.waitUntil(lambda: other.analysis_runs >= 1, timeout=LOAD_TIMEOUT_MS)
    assert asked and asked[0].endswith("dicom")
    assert set(other.landmarks.names()) == set(saved.names())
    for name in saved.names():
        np.testing.assert_allclose(other.landmarks[name], saved[name])
    assert other.views["axial"].window_width == window.presets[1][1]
    assert other.scene_state.color_by == "lvot"
    assert other.study_path == moved / "dicom"
    other.close()


def test_autosave_and_crash_recovery(qtbot, phantom_dir, user_dirs):
    from annulusview.app.main_window import MainWindow
    from annulusview.app.session import autosave_path, load_session

    window = MainWindow(settings_org="AnnulusViewTest3", autosave=True)
    qtbot.addWidget(window)
    window.show()
    _open_with_landmarks(qtbot, window, phantom_dir / "dicom", phantom_dir / "landmarks.mrk.json")
    window.landmark_editor.place_landmark(
        "LCA_ostium", window.landmarks["LCA_ostium"] + [0.0, 0.0, 1.0]
    )
    expected = window.landmarks["LCA_ostium"].copy()

    def autosaved() -> bool:
        if not autosave_path().is_file():
            return False
        saved = load_session(autosave_path()).landmarks
        return bool(np.allclose(saved["LCA_ostium"], expected))

    qtbot.waitUntil(autosaved, timeout=10000)
    window.sessions.enabled = False  # simulate a crash: the autosave file stays behind
    window.close()
    assert autosave_path().is_file()

    again = MainWindow(settings_org="AnnulusViewTest3", autosave=True)
    qtbot.addWidget(again)
    again.show()
    box = again.sessions.offer_recovery()
    assert box is not None and "did not close normally" in message_text(box)
    box.accept()
    qtbot.waitUntil(lambda: again.analysis_runs >= 1, timeout=LOAD_TIMEOUT_MS)
    np.testing.assert_allclose(again.landmarks["LCA_ostium"], expected)
    again.close()
    assert not autosave_path().exists()  # a clean exit leaves nothing to recover


def test_cancel_stops_a_background_task(qtbot):
    import time

    from annulusview.app.workers import Task

    def job(progress, cancel):
        for n in range(500):
            cancel.raise_if_cancelled()
            progress(n / 500, "working")
            time.sleep(0.01)
        return "done"

    task = Task(job, "test")
    seen = []
    task.cancelled.connect(lambda: seen.append("cancelled"))
    task.succeeded.connect(lambda r: seen.append(r))
    task.start()
    qtbot.wait(50)
    task.cancel()
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen == ["cancelled"]


def test_window_opens_without_opengl(qtbot, monkeypatch, user_dirs, phantom_dir):
    monkeypatch.setenv("ANNULUSVIEW_NO_OPENGL", "1")
    from annulusview.app.main_window import MainWindow

    window = MainWindow(settings_org="AnnulusViewTest4", autosave=False)
    qtbot.addWidget(window)
    window.show()
    assert not window.viewer3d.available
    label = window.viewer3d.findChild(type(window.status_label), "no-3d")
    assert label is not None and "3D view unavailable" in label.text()
    _open_with_landmarks(qtbot, window, phantom_dir / "dicom", phantom_dir / "landmarks.mrk.json")
    assert window.results_panel.lesion_table.rowCount() >= 3  # everything else still works
    window.close()


def test_settings_threshold_reruns_analysis(qtbot, main_window, phantom_dir):
    from annulusview.app.dialogs import SettingsDialog

    window = main_window
    _open_with_landmarks(qtbot, window, phantom_dir / "dicom", phantom_dir / "landmarks.mrk.json")
    label = window.results_panel.annulus_labels["threshold"]
    assert label.text().startswith("550 HU")
    window.open_settings()
    dialog = window.settings_dialog
    assert isinstance(dialog, SettingsDialog)
    dialog.threshold_box.setCurrentIndex(1)  # fixed 850
    dialog.accept()
    qtbot.waitUntil(lambda: label.text().startswith("850 HU"), timeout=LOAD_TIMEOUT_MS)
    dialog = SettingsDialog(window.analysis_settings)
    dialog.reset()
    assert dialog.settings().threshold is None and dialog.settings().regions == {}


def test_demo_window_screenshots(qtbot, main_window, artifacts_dir):
    from annulusview.app.demo import open_demo

    window = main_window
    open_demo(window)
    qtbot.waitUntil(lambda: window.analysis_runs >= 1, timeout=180000)
    qtbot.wait(300)
    assert window.results_panel.lesion_table.rowCount() >= 3
    assert "not a diagnosis" in window.results_panel.disclaimer.text()
    window.grab().save(str(artifacts_dir / "main-window-demo.png"))
    window.toggle_actions["teaching"].setChecked(True)
    window.refresh_scene()
    window.viewer3d.set_preset("coplanar")
    window.oblique_tabs.setCurrentIndex(1)
    window.results_panel.tabs.setCurrentIndex(3)
    qtbot.wait(300)
    window.grab().save(str(artifacts_dir / "main-window-demo-teaching.png"))
    items = window.viewer3d.handles.teaching
    assert items
    from annulusview.scene.build import project_to_display

    plotter = window.viewer3d.plotter
    item = next(t for t in items if t.label == "Conduction zone")
    dx, dy = project_to_display(plotter, item.position_lps)
    ratio = plotter.devicePixelRatioF()
    text = window.viewer3d.teaching_text_at(dx / ratio, plotter.height() - dy / ratio)
    assert text is not None and "His bundle" in text


def test_3d_view_renders_once_per_frame_and_shows_every_change(qtbot, main_window, phantom_dir):
    window = main_window
    _open_with_landmarks(qtbot, window, phantom_dir / "dicom", phantom_dir / "landmarks.mrk.json")
    qtbot.waitUntil(lambda: "calcium" in window.viewer3d.handles.actors, timeout=LOAD_TIMEOUT_MS)
    plotter = window.viewer3d.plotter
    qtbot.wait(200)
    renders: list[int] = []
    plotter.ren_win.AddObserver("StartEvent", lambda *_: renders.append(1))
    before = plotter.grab().toImage()
    renders.clear()
    # a render from code (as the mouse interactor does): shown without rendering again
    plotter.camera.Azimuth(40.0)
    plotter.render()
    qtbot.wait(150)
    assert len(renders) == 1
    # a change with only a repaint request: the paint renders it (no stale frame)
    plotter.camera.Azimuth(40.0)
    plotter.update()
    qtbot.wait(150)
    assert len(renders) == 2
    after = plotter.grab().toImage()
    assert after != before


def test_many_short_tasks_end_cleanly(qtbot):
    """Tasks nobody keeps a reference to end and are released without destroying a running
    QThread (Qt aborts the process when that happens)."""
    import gc

    from annulusview.app.workers import Task

    results: list[int] = []
    for n in range(150):
        task = Task(lambda progress, cancel, n=n: n, f"short-{n}")
        task.succeeded.connect(results.append)
        task.start()
        del task  # only Task._live holds it now
    qtbot.waitUntil(lambda: not Task._live, timeout=30000)
    gc.collect()
    qtbot.wait(50)
    assert sorted(results) == list(range(150))


def test_signal_emit_keeps_refcounts():
    """The Qt binding must not leak or steal references when signals are emitted.

    PySide6 6.12.0 dropped a reference to ``True`` on every ``Signal.emit()``; after a few
    hundred progress signals the interpreter freed ``True`` and the app aborted. The pinned
    binding must keep the count steady.
    """
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        plain = Signal()
        carrying = Signal(object)

    emitter = Emitter()
    before = sys.getrefcount(True)
    for n in range(200):
        emitter.plain.emit()
        emitter.carrying.emit(n)
    assert sys.getrefcount(True) >= before - 5


def test_opening_a_study_reads_each_header_once(qtbot, main_window, two_series_dir, monkeypatch):
    """Scan, pick a series, load: every file's header is parsed once (the load reuses the
    scan's headers; before, the window scanned twice and loaded a third time on no series)."""
    from collections import Counter

    from annulusview.core.io import loader

    # every file passes the fast header parser once; the full parser reads only those the fast
    # one cannot (the first file of a series teaches it the layout)
    reads: Counter[str] = Counter()
    full_reads: Counter[str] = Counter()
    native, full = loader.read_native_header, loader.read_frames

    def counted_native(source, cache):
        reads[source.display] += 1
        return native(source, cache)

    def counted_full(source, cache):
        full_reads[source.display] += 1
        return full(source, cache)

    monkeypatch.setattr(loader, "read_native_header", counted_native)
    monkeypatch.setattr(loader, "read_frames", counted_full)
    window = main_window
    window.open_path(two_series_dir)
    qtbot.waitUntil(lambda: window.series_dialog is not None, timeout=LOAD_TIMEOUT_MS)
    window.series_dialog.table.selectRow(1)
    window.series_dialog.accept()
    qtbot.waitUntil(lambda: window.volume is not None, timeout=LOAD_TIMEOUT_MS)
    files = {p.resolve() for p in two_series_dir.rglob("*.dcm")}
    assert len(files) > window.volume.shape[0]  # both series were scanned
    dicom_reads = {Path(n).resolve(): c for n, c in reads.items() if n.endswith(".dcm")}
    assert set(dicom_reads) == files
    assert set(dicom_reads.values()) == {1}, sorted(dicom_reads.values())[-3:]
    assert set(full_reads.values()) <= {1}
    assert len([n for n in full_reads if n.endswith(".dcm")]) <= 2  # one per series


def test_empty_folder_says_why_without_loading_again(qtbot, main_window, tmp_path, monkeypatch):
    """A folder with no CT series gives the plain message from the scan alone."""
    from annulusview.core.io import loader

    (tmp_path / "notes.txt").write_text("not DICOM")
    loads: list[object] = []
    monkeypatch.setattr(loader, "load", lambda *a, **k: loads.append(a))
    window = main_window
    window.open_path(tmp_path)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    assert "No usable CT series" in message_text(window.last_message)
    assert loads == []


def test_valve_picker_zero_depth_and_evidence_card(qtbot, main_window, phantom_dir, artifacts_dir):
    """Settings: a valve family with its suggested size preselected (from the IFU ranges), an
    implant at 0 mm (the annular plane) accepted; each rule opens its evidence card."""
    import json

    window = main_window
    _open_with_landmarks(qtbot, window, phantom_dir / "dicom", phantom_dir / "landmarks.mrk.json")
    area = json.loads((phantom_dir / "truth.json").read_text())["annulus"]["area_mm2"]
    # SAPIEN 3 by area (IFU): 20 mm 273-345, 23 mm 338-430, 26 mm 430-546, 29 mm 540-683 mm2
    expected = next(s for s, lo, hi in ((20, 273, 345), (23, 338, 430), (26, 430, 546),
                                        (29, 540, 683)) if lo <= area <= hi)  # fmt: skip
    window.open_settings()
    dialog = window.settings_dialog
    dialog.valve_family.setCurrentIndex(dialog.valve_family.findData("sapien3"))
    assert dialog.family_size.currentData() == float(expected)
    assert "suggested" in dialog.family_size.currentText()
    assert not dialog.valve_size.isEnabled()  # the family names size and type
    dialog.implant_depth.setValue(0.0)
    assert dialog.implant_depth.text() != "not planned"
    runs = window.analysis_runs
    dialog.accept()
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=LOAD_TIMEOUT_MS)
    valve = window.results.parameters["valve"]
    assert (valve["family"], valve["size_mm"], valve["implant_depth_mm"]) == (
        "sapien3",
        float(expected),
        0.0,
    )
    assert window.results.flag("rupture.lvot_calcium_oversizing").status != "not_assessed"
    delta = window.results.flag("conduction.delta_msid")
    assert delta.status == "not_met" and delta.value == pytest.approx(window.results.ms_length_mm)
    # the rule table: not met rows are grey, never green; double-click opens the evidence card
    panel = window.results_panel
    table = panel.flag_table
    outcomes = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert "NOT MET" in outcomes and not any("LOW" in o for o in outcomes)
    card = panel.show_evidence(0)
    assert card is not None
    assert "Population" in card.text and "Endpoint" in card.text
    assert card.flag.id == table.item(0, 0).toolTip().split(":")[0]
    qtbot.wait(100)
    card.grab().save(str(artifacts_dir / "evidence-card.png"))
    window.grab().save(str(artifacts_dir / "main-window-v2-rules.png"))
