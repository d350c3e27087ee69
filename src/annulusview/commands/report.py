"""``annulusview report``: the PDF case report (pictures rendered headless by the scene)."""

from __future__ import annotations

import argparse
from pathlib import Path

from annulusview.core.atomic import check_output_path

REPORT_VIEWS = (
    ("3d", "3D view: calcium coloured by distance to the conduction zone, LVOT and zone shown"),
    ("annulus", "Annulus plane: measured lumen contour and calcium outlines"),
    ("lvot", "LVOT long axis through the conduction zone: LVOT (blue), conduction zone (orange)"),
)
PICTURE_SIZE = (1600, 900)


def run(args: argparse.Namespace) -> int:
    from annulusview.commands._common import prepare_case
    from annulusview.core.deid import volume_identity
    from annulusview.core.report import ReportPicture, write_report_pdf
    from annulusview.scene.state import SceneState
    from annulusview.scene.views2d import png_bytes, render_image

    out = check_output_path(Path(args.out), args.force)
    case = prepare_case(args)
    identity = volume_identity(case.volume, args.show_identity)
    state = SceneState(volume=case.volume, results=case.results, landmarks=case.landmarks)
    pictures = [
        ReportPicture(caption, png_bytes(render_image(state, view, PICTURE_SIZE, 1, identity)))
        for view, caption in REPORT_VIEWS
    ]
    write_report_pdf(
        out,
        case.results,
        identity,
        pictures,
        series_description=case.volume.description,
    )
    print(out)
    return 0
