"""The PDF case report with its pictures: rendered off-screen by the scene, laid out by core.

One function serves ``annulusview report``, the headless demo and the window's report export,
so the pictures in every report are the ones the screenshot command draws.
"""

from __future__ import annotations

from pathlib import Path

from annulusview.core.outputs.deid import CaseIdentity
from annulusview.core.outputs.pdf_report import ReportPicture, write_report_pdf
from annulusview.scene.state import SceneState
from annulusview.scene.views2d import png_bytes, render_image

PICTURE_SIZE = (1600, 900)
#: The measured root planes are square and small in the report (three in a row).
PLANE_PICTURE_SIZE = (900, 900)
REPORT_VIEWS = (
    ("3d", "3D view: calcium coloured by distance to the conduction zone, LVOT and zone shown"),
    ("annulus", "Annulus plane: measured lumen contour and calcium outlines"),
    ("lvot", "LVOT long axis through the conduction zone: LVOT (blue), conduction zone (orange)"),
    ("lvot_plane", "LVOT at -4 mm: measured contour"),
    ("sinus_plane", "Sinus of Valsalva: contour and the cusp chords"),
    ("stj_plane", "Sinotubular junction: contour"),
)


def picture_size(view: str) -> tuple[int, int]:
    """Render size of a report picture (the root planes are square)."""
    return PLANE_PICTURE_SIZE if view.endswith("_plane") else PICTURE_SIZE


def write_case_report(path: Path, state: SceneState, identity: CaseIdentity) -> Path:
    """Render the report pictures of ``state`` and write the PDF atomically to ``path``.

    The caller checks the path first (:func:`annulusview.core.atomic.check_output_path`).
    """
    if state.results is None or state.volume is None:
        raise ValueError("a report needs a volume and analysis results")
    pictures = [
        ReportPicture(
            caption, png_bytes(render_image(state, view, picture_size(view), 1, identity))
        )
        for view, caption in REPORT_VIEWS
    ]
    write_report_pdf(
        path,
        state.results,
        identity,
        pictures,
        series_description=state.volume.description,
    )
    return Path(path)
