"""The window's straightened root view: computed off the GUI thread after each analysis of a
contrast study, with the measured levels drawn across it in anatomical order (aorta up)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui

TIMEOUT_MS = 60000


def test_straightened_view_follows_the_analysis(main_window, qtbot, phantom_dir) -> None:
    window = main_window
    runs = window.analysis_runs
    window.open_path(phantom_dir / "dicom", landmarks=phantom_dir / "landmarks.mrk.json")
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=TIMEOUT_MS)
    view = window.straightened
    window.oblique_tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.view is not None, timeout=TIMEOUT_MS)
    rows = {label.split(" ")[0]: row for label, row in view.levels}
    assert set(rows) == {"annulus", "LVOT", "sinus", "STJ"}
    # aorta up: the STJ above the sinus above the annulus above the LVOT
    assert rows["STJ"] < rows["sinus"] < rows["annulus"] < rows["LVOT"]
    res = window.results
    pixel = view.view.pixel_mm
    # rows are arc length along a straight phantom root: heights apart in mm / pixel
    stj_h = res.root.stj.values["height_mm"]
    assert (rows["annulus"] - rows["STJ"]) * pixel == pytest.approx(stj_h, abs=1.0)
    window.set_window(400.0, 40.0)
    assert view.window_width == 400.0
    view.grab().save(str(phantom_dir / "straightened.png"))


def test_straightened_view_says_why_without_contrast(main_window, qtbot, tmp_path) -> None:
    from annulusview.phantom.dicom import write_case

    folder = write_case(tmp_path / "nc", "tavr-noncontrast", 0, "small")
    runs = main_window.analysis_runs
    main_window.open_path(folder / "dicom", landmarks=folder / "landmarks.mrk.json")
    qtbot.waitUntil(lambda: main_window.analysis_runs > runs, timeout=TIMEOUT_MS)
    view = main_window.straightened
    assert view.view is None and "contrast CTA only" in view.message
