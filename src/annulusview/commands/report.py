"""``annulusview report``: the PDF case report (pictures rendered headless by the scene)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from annulusview.commands._common import check_run_outputs, prepare_case
    from annulusview.core.outputs.deid import volume_identity
    from annulusview.scene.report import write_case_report
    from annulusview.scene.state import SceneState

    out = check_run_outputs(args, {"--out": args.out})["--out"]
    case = prepare_case(args)
    identity = volume_identity(case.volume, args.show_identity)
    state = SceneState(volume=case.volume, results=case.results, landmarks=case.landmarks)
    write_case_report(out, state, identity)
    print(out)
    return 0
