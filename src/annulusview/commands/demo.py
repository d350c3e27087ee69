"""``annulusview demo``: the app on the built-in demo case, or a headless render without a display.

Headless (no ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux, or ``ANNULUSVIEW_HEADLESS=1``): the demo
case is analysed and rendered off-screen with the same scene code as the window, and annotated
screenshots, the PDF report and the results JSON are written to ``./demo-output/``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from annulusview.commands._common import stderr_progress

OUTPUT_DIR = Path("demo-output")


def has_display() -> bool:
    """Whether a window can be shown."""
    if os.environ.get("ANNULUSVIEW_HEADLESS"):
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


OUTPUT_NAMES = ("demo-3d.png", "demo-annulus.png", "demo-report.pdf", "demo-results.json")


def check_output_dir(outdir: Path, force: bool, ask: Callable[[str], str] | None) -> bool:
    """Whether the headless demo may write into ``outdir``.

    A folder that already holds demo files is replaced only with ``force`` or when the user
    answers yes to ``ask`` (None = not a terminal: refuse). Raises :class:`OutputError` when
    the folder cannot be created or written.
    """
    from annulusview.core.errors import OutputError

    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir} exists and is not a folder.", "Remove or rename it.")
    existing = [name for name in OUTPUT_NAMES if (outdir / name).exists()]
    if existing and not force:
        if ask is None:
            raise OutputError(
                f"{outdir}/ already holds an earlier demo ({', '.join(existing)}).",
                "Pass --force to replace it, or run the demo from another folder.",
            )
        answer = ask(f"Replace the earlier demo in {outdir.resolve()}/? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return False
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"Cannot create {outdir.resolve()}: {exc.strerror or exc}.",
            "Run the demo from a folder you can write to.",
        ) from None
    if not os.access(outdir, os.W_OK):
        raise OutputError(
            f"The folder {outdir.resolve()} is not writable.",
            "Run the demo from a folder you can write to.",
        )
    return True


def run_headless(outdir: Path = OUTPUT_DIR) -> tuple[Path, ...]:
    """Analyse the demo case and write its pictures, report and results off-screen.

    Returns the paths written: the annotated 3D and annulus-plane screenshots, the PDF report
    and the results JSON (all de-identified, through the same scene code as the window).
    The caller checks ``outdir`` first (:func:`check_output_dir`).
    """
    from annulusview.core.analysis import analyze
    from annulusview.core.io.loader import load
    from annulusview.core.landmarks import read_landmarks
    from annulusview.core.outputs.deid import volume_identity
    from annulusview.core.results import write_results_json
    from annulusview.phantom.dicom import demo_case_dir
    from annulusview.scene.report import write_case_report
    from annulusview.scene.state import SceneState
    from annulusview.scene.views2d import save_view_png

    folder = demo_case_dir(stderr_progress("demo case"))
    volume = load(folder / "dicom", progress=stderr_progress("loading"))
    landmarks = read_landmarks(folder / "landmarks.mrk.json")
    results = analyze(volume, landmarks, progress=stderr_progress("analysis"))
    outdir.mkdir(parents=True, exist_ok=True)
    state = SceneState(volume=volume, results=results, landmarks=landmarks)
    identity = volume_identity(volume)
    written = [
        save_view_png(state, outdir / f"demo-{view}.png", view, identity=identity)
        for view in ("3d", "annulus")
    ]
    written.append(write_case_report(outdir / "demo-report.pdf", state, identity))
    written.append(Path(write_results_json(outdir / "demo-results.json", results)))
    return tuple(written)


def run(args: argparse.Namespace) -> int:
    if has_display():
        from annulusview.app.application import run_app

        return run_app(demo=True)
    ask = input if sys.stdin is not None and sys.stdin.isatty() else None
    if not check_output_dir(OUTPUT_DIR, bool(getattr(args, "force", False)), ask):
        print("annulusview: demo: nothing was written.", file=sys.stderr)
        return 0
    for path in run_headless():
        print(path.resolve())
    return 0
