"""3D marks of the mitral read: the D-shaped annulus (outline closed by TT, SL and IC lines)
and the suspected caseous MAC label, drawn from the analysis of the MAC phantom."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from annulusview.core.analysis import analyze
from annulusview.phantom import make_case
from annulusview.scene.build import build_scene
from annulusview.scene.render import offscreen_plotter
from annulusview.scene.state import SceneState, SceneToggles


@pytest.fixture(scope="module")
def mac_case():
    case = make_case("mac", 0, "small")
    return case, analyze(case.volume, case.landmarks)


def test_d_shape_lines_lie_on_the_measured_distances(mac_case) -> None:
    case, res = mac_case
    dsh = res.mitral.d_shape
    assert dsh is not None  # the MAC phantom places both trigones
    state = SceneState(
        volume=case.volume, results=res, landmarks=case.landmarks,
        toggles=SceneToggles(mitral=True),
    )  # fmt: skip
    plotter = offscreen_plotter((400, 300))
    try:
        handles = build_scene(plotter, state)
        outline = np.asarray(handles.actors["mitral_d_shape"].mapper.dataset.points)
        # the closing edge of the drawn D is the trigone line: its length is TT
        assert float(np.linalg.norm(outline[0] - outline[-2])) == pytest.approx(dsh.tt_mm, 1e-6)
        for name, value in (("mitral_sl", dsh.sl_mm), ("mitral_ic", dsh.ic_mm)):
            a, b = np.asarray(handles.actors[name].mapper.dataset.points)
            assert float(np.linalg.norm(a - b)) == pytest.approx(value, rel=1e-6), name
        assert "mac_caseous" not in handles.actors  # the phantom's MAC is solid
        # a lesion flagged as caseous is named where it sits
        mac = res.mitral.mac
        shell = dataclasses.replace(mac.lesions[0], caseous_suspected=True, enclosed_mm3=80.0)
        mitral = dataclasses.replace(
            res.mitral, mac=dataclasses.replace(mac, lesions=(shell, *mac.lesions[1:]))
        )
        state.results = dataclasses.replace(res, mitral=mitral)
        handles = build_scene(plotter, state)
        assert "mac_caseous" in handles.actors
        off = SceneState(volume=case.volume, results=state.results, toggles=SceneToggles())
        assert "mac_caseous" not in build_scene(plotter, off).actors  # mitral layer off
    finally:
        plotter.close()
