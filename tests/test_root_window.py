"""The window's Root planes view: each measured plane (LVOT, sinus, STJ, ascending aorta) with
its contour and numbers, so a reader can check every root number against its image."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annulusview.phantom.anatomy import ANATOMY

pytestmark = pytest.mark.gui

LOAD_TIMEOUT_MS = 60000


def _open(qtbot, window, folder) -> None:
    runs = window.analysis_runs
    window.open_path(folder / "dicom", landmarks=folder / "landmarks.mrk.json")
    qtbot.waitUntil(lambda: window.volume is not None, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.analysis_runs > runs, timeout=LOAD_TIMEOUT_MS)


def test_root_planes_show_the_measured_contours(main_window, qtbot, phantom_dir) -> None:
    window = main_window
    _open(qtbot, window, phantom_dir)
    planes = window.root_planes
    window.oblique_tabs.setCurrentWidget(planes)
    root = window.results.root
    frame = window.results.frame
    n = np.asarray(frame.normal_lps)
    o = np.asarray(frame.origin_lps)
    for key, part in (("lvot", root.lvot), ("sinus", root.sinus), ("stj", root.stj)):
        planes.select(key)
        overlay = planes.view.overlay
        assert overlay.polylines, key
        contour = overlay.polylines[0][0]
        h = part.values.get("level_mm", part.values.get("height_mm"))
        # the contour lies on the plane the view shows, at the measured height
        assert np.allclose((contour - o) @ n, h, atol=1e-6), key
        source = planes.view.source
        assert float((source.origin - o) @ n) == pytest.approx(h, abs=1e-9)
        assert f"h = {h:+.1f} mm" in overlay.text[0]
    planes.select("sinus")
    overlay = planes.view.overlay
    assert len(overlay.polylines) == 4  # the contour and the three cusp chords
    sinus = root.sinus.values
    for cusp, value in sinus["diameter_mm"].items():
        assert f"{cusp} {value:.1f} mm" in overlay.text[1]
    axis = o + sinus["height_mm"] * n  # the valve axis on the sinus plane
    for ends, _colour in overlay.polylines[1:]:
        a, b = ends
        length = float(np.linalg.norm(a - b))
        # each chord is one of the measured sinus-to-commissure diameters, through the axis
        assert min(abs(length - v) for v in sinus["diameter_mm"].values()) < 0.05
        assert float(np.linalg.norm(np.cross(a - axis, b - axis))) / length < 1e-6
    # the LVOT contour's area (shoelace in the plane) is the number printed beside it
    planes.select("lvot")
    contour = planes.view.overlay.polylines[0][0]
    u, v = np.asarray(frame.u_lps), np.asarray(frame.v_lps)
    x, y = (contour - o) @ u, (contour - o) @ v
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    assert area == pytest.approx(root.lvot.values["area_mm2"], rel=0.01)
    # and it is the phantom's LVOT ellipse less the calcium dent (within the 3 % of test_root)
    assert area < math.pi * ANATOMY.a_mm * ANATOMY.b_mm


def test_root_planes_say_why_without_contrast(main_window, qtbot, tmp_path) -> None:
    from annulusview.phantom.dicom import write_case

    folder = write_case(tmp_path / "nc", "tavr-noncontrast", seed=0, size="small")
    _open(qtbot, main_window, folder)
    planes = main_window.root_planes
    planes.select("sinus")
    overlay = planes.view.overlay
    assert not overlay.polylines
    assert overlay.text[1].startswith("not measured:")
