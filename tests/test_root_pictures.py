"""Pictures of the measured root planes (report and `screenshot --view`): each plane drawn at
its measured height with its contour and numbers, the sinus with its three cusp chords."""

from __future__ import annotations

import numpy as np
import pytest

from annulusview.core.analysis import analyze
from annulusview.phantom import make_case
from annulusview.scene.render import offscreen_plotter
from annulusview.scene.state import SceneState
from annulusview.scene.views2d import ROOT_PLANE_VIEWS, render_view


@pytest.fixture(scope="module")
def contrast_state():
    case = make_case("tavr-contrast", 0, "small")
    res = analyze(case.volume, case.landmarks)
    return SceneState(volume=case.volume, results=res, landmarks=case.landmarks)


@pytest.mark.parametrize("view", list(ROOT_PLANE_VIEWS))
def test_root_plane_view_draws_its_measured_contour(contrast_state, view) -> None:
    res = contrast_state.results
    part = getattr(res.root, ROOT_PLANE_VIEWS[view][0])
    plotter = offscreen_plotter((600, 600))
    try:
        result = render_view(plotter, contrast_state, view)
        plane = result.plane
        frame = res.frame
        h = part.values.get("level_mm", part.values.get("height_mm"))
        # the picture's plane is parallel to the annulus, at the measured height
        assert abs(float(plane.normal @ np.asarray(frame.normal_lps))) == pytest.approx(1.0)
        offset = np.asarray(plane.origin) - np.asarray(frame.origin_lps)
        assert float(offset @ np.asarray(frame.normal_lps)) == pytest.approx(h, abs=1e-9)
        drawn = plotter.actors["root_contour"].mapper.dataset.points
        # the drawn contour is the measured one, in the plane's coordinates (z = overlay)
        expected = plane.to_xy(part.contour.contour_lps)
        assert np.allclose(np.asarray(drawn)[:, :2], expected, atol=1e-4)
        assert f"h = {h:+.1f} mm" in result.info.notes[0]
        assert result.info.compact  # no badges over a small plane picture
        chords = [name for name in plotter.actors if name.startswith("sinus_chord_")]
        assert len(chords) == (3 if view == "sinus_plane" else 0)
        if view == "sinus_plane":
            for cusp, value in part.values["diameter_mm"].items():
                assert f"{cusp} {value:.1f} mm" in result.info.notes[1]
    finally:
        plotter.close()


def test_root_plane_view_says_why_without_contrast() -> None:
    case = make_case("tavr-noncontrast", 0, "small")
    res = analyze(case.volume, case.landmarks)
    state = SceneState(volume=case.volume, results=res, landmarks=case.landmarks)
    plotter = offscreen_plotter((400, 400))
    try:
        result = render_view(plotter, state, "sinus_plane")
        assert "root_contour" not in plotter.actors
        assert result.info.notes[1].startswith("not measured:")
    finally:
        plotter.close()


def test_report_carries_the_plane_pictures(contrast_state, tmp_path) -> None:
    from reportlab.platypus import Image, Table

    from annulusview.core.outputs.deid import CaseIdentity
    from annulusview.core.outputs.pdf_report import ReportPicture, report_story
    from annulusview.scene.report import REPORT_VIEWS

    pictures = [ReportPicture(caption, _tiny_png()) for _, caption in REPORT_VIEWS]
    story = report_story(contrast_state.results, CaseIdentity("AV-1"), pictures)

    def images(item) -> int:
        if isinstance(item, Image):
            return 1
        if isinstance(item, Table):
            return sum(images(c) for row in item._cellvalues for c in row)
        if isinstance(item, list):
            return sum(images(c) for c in item)
        return sum(images(c) for c in getattr(item, "_content", []))

    assert sum(images(item) for item in story) == len(REPORT_VIEWS) == 6


def _tiny_png() -> bytes:
    from annulusview.scene.views2d import png_bytes

    return png_bytes(np.zeros((8, 8, 3), dtype=np.uint8))
