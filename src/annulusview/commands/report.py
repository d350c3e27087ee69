"""``annulusview report``: the PDF case report (pictures rendered headless by the scene)."""

from __future__ import annotations

import argparse
from pathlib import Path

from annulusview.core.atomic import check_output_path


def run(args: argparse.Namespace) -> int:
    from annulusview.commands._common import prepare_case
    from annulusview.core.outputs.deid import volume_identity
    from annulusview.scene.report import write_case_report
    from annulusview.scene.state import SceneState

    out = check_output_path(Path(args.out), args.force)
    case = prepare_case(args)
    identity = volume_identity(case.volume, args.show_identity)
    state = SceneState(volume=case.volume, results=case.results, landmarks=case.landmarks)
    write_case_report(out, state, identity)
    print(out)
    return 0
