"""GUI benchmarks: demo to first 3D frame, GUI-thread stalls while a full study loads and is
analysed, and 3D rotation frame rate.

Run under a display (Xvfb on a headless machine)::

    QT_API=pyside6 QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 2560x1600x24" \\
        .venv/bin/python benchmarks/bench_gui.py

Targets (issue 16): demo to first 3D frame <= 3 s (demo case cached), GUI stall < 100 ms,
rotation >= 30 fps at 1280x800 on software OpenGL. Rotation is measured two ways: the full
scene redrawn for each camera step (``render()`` after an azimuth step), and a left-button mouse
drag through the interactor (what a user does, with the view's interaction level of detail).
Prints each number next to its target and the ratio; ``--repeat N`` runs each measurement N
times and prints the median (the first-frame time is measured in a fresh process each time,
from that process's start, with the demo case already cached).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("VTK_SMP_BACKEND_IN_USE", "STDThread")

DATA = Path(__file__).resolve().parent / "_data"


def _pump(app, until, timeout_s: float) -> bool:
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        app.processEvents()
        if until():
            return True
        time.sleep(0.002)
    return False


def bench_demo_first_frame(app, window_cls) -> float:
    """Seconds from process start to the first 3D frame showing the demo's calcium.

    Run in a fresh process (``--first-frame-only``): the demo case must already be cached.
    """
    from annulusview.app.demo import open_demo

    window = window_cls(settings_org="AnnulusViewBench", autosave=False)
    window.resize(1600, 1000)
    window.show()
    drawn: list[bool] = []

    def frame_done(*_: object) -> None:  # a VTK render finished: was the calcium in it?
        if "calcium" in window.viewer3d.handles.actors:
            drawn.append(True)

    window.viewer3d.plotter.ren_win.AddObserver("EndEvent", frame_done)
    open_demo(window)
    ok = _pump(app, lambda: bool(drawn), 120)
    app.processEvents()  # the rendered frame reaches the window
    elapsed = time.perf_counter() - T0
    if window.skipped:
        print(f"  note: {len(window.skipped)} skipped file(s) while opening the demo")
    window.close()
    if not ok:
        raise RuntimeError("the demo never showed calcium")
    return elapsed


def first_frame_in_fresh_process() -> float:
    """Run ``--first-frame-only`` in a new interpreter and return its number."""
    import subprocess
    import sys

    from annulusview.phantom.dicom import demo_case_dir

    demo_case_dir()  # make sure it is cached (the target is for the cached case)
    out = subprocess.run(
        [sys.executable, __file__, "--first-frame-only"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("FIRST_FRAME_S "))
    return float(line.split()[1])


def bench_gui_stall(app, window_cls, size: str) -> dict[str, float]:
    """Lateness of a 10 ms QTimer while a phantom of ``size`` loads and is analysed."""
    from PySide6.QtCore import QTimer

    from annulusview.phantom.dicom import write_case

    case_dir = DATA / f"gui-{size}"
    if not (case_dir / "truth.json").is_file():
        print(f"writing the {size} phantom to {case_dir} (once)…")
        write_case(case_dir, "tavr-contrast", seed=0, size=size)
    window = window_cls(settings_org="AnnulusViewBench", autosave=False)
    window.resize(1600, 1000)
    window.show()
    _pump(app, lambda: False, 0.5)
    lateness: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) - 0.010))
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    start = time.perf_counter()
    window.open_path(case_dir / "dicom", landmarks=case_dir / "landmarks.mrk.json")
    ok = _pump(app, lambda: window.analysis_runs >= 1, 300)
    total = time.perf_counter() - start
    _pump(app, lambda: False, 0.3)
    timer.stop()
    window.close()
    if not ok:
        raise RuntimeError("the analysis never finished")
    return {
        "load_and_analyse_s": total,
        "max_ms": 1000 * max(lateness),
        "p99_ms": 1000 * statistics.quantiles(lateness, n=100, method="inclusive")[98],
        "ticks": float(len(lateness)),
    }


def _rotate(app, plotter, frames: int) -> float:
    plotter.render()
    app.processEvents()
    start = time.perf_counter()
    for _ in range(frames):
        plotter.camera.Azimuth(3.0)
        plotter.render()
        app.processEvents()  # the frame reaches the screen
    return frames / (time.perf_counter() - start)


def _drag(app, plotter, frames: int) -> float:
    """Frames per second of a left-button mouse drag (what a user's rotation is): the
    interactor rotates and renders on each move, with its interaction level of detail."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    renders = [0]
    tag = plotter.ren_win.AddObserver("EndEvent", lambda *_: renders.__setitem__(0, renders[0] + 1))
    x0, y = plotter.width() // 2 - 3 * frames // 2, plotter.height() // 2
    QTest.mousePress(plotter, Qt.MouseButton.LeftButton, pos=QPoint(x0, y))
    QTest.mouseMove(plotter, QPoint(x0 + 1, y))  # the first move starts the rotation
    app.processEvents()
    renders[0] = 0
    start = time.perf_counter()
    for i in range(frames):
        QTest.mouseMove(plotter, QPoint(x0 + 2 + 3 * i, y))
        app.processEvents()  # the frame reaches the screen
    elapsed = time.perf_counter() - start
    drawn = renders[0]
    QTest.mouseRelease(plotter, Qt.MouseButton.LeftButton, pos=QPoint(x0 + 2 + 3 * frames, y))
    app.processEvents()
    plotter.ren_win.RemoveObserver(tag)
    if drawn < frames:
        print(f"  note: {frames} moves drew {drawn} frames")
    return drawn / elapsed


def bench_rotation_fps(app, window_cls, frames: int = 60) -> dict[str, float]:
    """Frames per second rotating the demo scene with the 3D view at exactly 1280x800 pixels:
    in the main window (3D view sized to 1280x800, the window around it) and in a dedicated
    window holding only a 3D view of the same scene."""
    from annulusview.app.demo import open_demo
    from annulusview.app.viewer3d import Viewer3D

    window = window_cls(settings_org="AnnulusViewBench", autosave=False)
    window.show()
    open_demo(window)
    _pump(app, lambda: "calcium" in window.viewer3d.handles.actors, 120)
    plotter = window.viewer3d.plotter
    plotter.setFixedSize(1280, 800)
    _pump(app, lambda: False, 0.7)
    size = (plotter.width(), plotter.height())
    out = {"main_window_fps": _rotate(app, plotter, frames)}
    out["main_window_drag_fps"] = _drag(app, plotter, frames)
    print(f"  main window {window.width()}x{window.height()}, 3D view {size[0]}x{size[1]}")

    viewer = Viewer3D()
    viewer.setWindowTitle("3D view")
    viewer.plotter.setFixedSize(1280, 800)
    viewer.show()
    viewer.show_state(window.scene_state, reset_camera=True)
    _pump(app, lambda: False, 0.7)
    dsize = (viewer.plotter.width(), viewer.plotter.height())
    out["dedicated_window_fps"] = _rotate(app, viewer.plotter, frames)
    out["dedicated_window_drag_fps"] = _drag(app, viewer.plotter, frames)
    print(f"  dedicated window {viewer.width()}x{viewer.height()}, 3D view {dsize[0]}x{dsize[1]}")
    viewer.close_plotter()
    viewer.close()
    window.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stall-size", default="full", choices=("small", "demo", "full"))
    parser.add_argument("--repeat", type=int, default=1, help="runs per number (median)")
    parser.add_argument("--first-frame-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from annulusview.app.application import make_application

    app = make_application()
    from annulusview.app.main_window import MainWindow

    if args.first_frame_only:
        print(f"FIRST_FRAME_S {bench_demo_first_frame(app, MainWindow):.3f}")
        return
    med = statistics.median
    firsts = [first_frame_in_fresh_process() for _ in range(args.repeat)]
    first = med(firsts)
    print(
        f"demo -> first 3D frame: {first:.2f} s (runs {', '.join(f'{v:.2f}' for v in firsts)}; "
        f"target <= 3 s, ratio {first / 3:.2f})"
    )
    stalls = [bench_gui_stall(app, MainWindow, args.stall_size) for _ in range(args.repeat)]
    stall = {k: med(s[k] for s in stalls) for k in stalls[0]}
    per_run = ", ".join(f"{s['max_ms']:.0f}" for s in stalls)
    print(
        f"GUI stall while a {args.stall_size} phantom loads + is analysed "
        f"({stall['load_and_analyse_s']:.1f} s): max {stall['max_ms']:.0f} ms, "
        f"p99 {stall['p99_ms']:.0f} ms (median of {len(stalls)}; max per run "
        f"{per_run}; target < 100 ms, "
        f"ratio {stall['max_ms'] / 100:.2f})"
    )
    rots = [bench_rotation_fps(app, MainWindow) for _ in range(args.repeat)]
    for key, label in (
        ("main_window_fps", "main window, full-scene redraw"),
        ("main_window_drag_fps", "main window, mouse drag"),
        ("dedicated_window_fps", "3D window, full-scene redraw"),
        ("dedicated_window_drag_fps", "3D window, mouse drag"),
    ):
        fps = med(r[key] for r in rots)
        print(
            f"3D rotation at 1280x800 ({label}): {fps:.1f} fps (runs "
            f"{', '.join(f'{r[key]:.1f}' for r in rots)}; target >= 30, ratio {fps / 30:.2f})"
        )
    print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
