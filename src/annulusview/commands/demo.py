"""``annulusview demo``: the app on the built-in demo case, or a headless render without a display.

Headless (no ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux, or ``ANNULUSVIEW_HEADLESS=1``): the demo
case is analysed and rendered off-screen with the same ``build_scene`` as the window, and the
screenshot and results JSON are written to ``./demo-output/``.
"""

from __future__ import annotations

import argparse
import os
import sys
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


def run_headless(outdir: Path = OUTPUT_DIR) -> tuple[Path, Path]:
    """Analyse and render the demo case off-screen. Returns (screenshot, results JSON)."""
    from annulusview.core.analysis import analyze
    from annulusview.core.io.loader import load
    from annulusview.core.landmarks import read_landmarks
    from annulusview.core.phantom.dicom import demo_case_dir
    from annulusview.core.results import write_results_json
    from annulusview.scene.render import save_screenshot
    from annulusview.scene.state import SceneState

    folder = demo_case_dir(stderr_progress("demo case"))
    volume = load(folder, progress=stderr_progress("loading"))
    landmarks = read_landmarks(folder / "landmarks.mrk.json")
    results = analyze(volume, landmarks, progress=stderr_progress("analysis"))
    outdir.mkdir(parents=True, exist_ok=True)
    png = save_screenshot(
        SceneState(volume=volume, results=results, landmarks=landmarks),
        outdir / "demo-3d.png",
        size=(1280, 800),
        camera="front",
    )
    results_path = write_results_json(outdir / "demo-results.json", results)
    return png, Path(results_path)


def run(args: argparse.Namespace) -> int:
    if has_display():
        from annulusview.app.application import run_app

        return run_app(demo=True)
    png, results = run_headless()
    print(png.resolve())
    print(results.resolve())
    return 0
