"""``annulusview screenshot``: an annotated, de-identified PNG of one view, rendered headless."""

from __future__ import annotations

import argparse
import re
import sys

_SIZE = re.compile(r"^\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*$")


def parse_size(text: str) -> tuple[int, int] | None:
    """``"1920x1080"`` -> ``(1920, 1080)``; None when malformed or out of 64-8192."""
    m = _SIZE.match(text or "")
    if not m:
        return None
    w, h = int(m.group(1)), int(m.group(2))
    if not (64 <= w <= 8192 and 64 <= h <= 8192):
        return None
    return w, h


def run(args: argparse.Namespace) -> int:
    from annulusview.commands._common import check_run_outputs, prepare_case
    from annulusview.core.outputs.deid import volume_identity

    size = parse_size(args.size)
    if size is None:
        print(
            f"annulusview: screenshot: --size {args.size!r} is not WxH (e.g. 1920x1080, 64-8192).",
            file=sys.stderr,
        )
        return 2
    from annulusview.scene.views2d import check_render_size

    check_render_size(size, args.scale)
    out = check_run_outputs(args, {"--out": args.out})["--out"]
    case = prepare_case(args)

    from annulusview.scene.state import SceneState
    from annulusview.scene.views2d import save_view_png

    state = SceneState(volume=case.volume, results=case.results, landmarks=case.landmarks)
    identity = volume_identity(case.volume, args.show_identity)
    save_view_png(state, out, args.view, size, args.scale, identity)
    print(out)
    return 0
