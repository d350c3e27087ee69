"""Open the built-in demo case in the window (the demo folder is made off the GUI thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annulusview.app import messages
from annulusview.app.workers import Task


def demo_folder_name() -> str:
    """The cached demo's folder name, as :func:`annulusview.phantom.dicom.demo_folder_name`
    makes it (repeated here so finding the cache needs no phantom import; a test keeps the two
    equal)."""
    from annulusview import __version__

    return f"demo-{__version__}-g2"


def _cached_demo_dir() -> Path | None:
    """The demo folder when it is already complete, found without importing the phantom
    generator (a large import); None when it must be made (or lives elsewhere)."""
    try:
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("annulusview")) / demo_folder_name()
    except Exception:  # defensive: the slow path below finds it anyway
        return None
    if (folder / "truth.json").is_file() and (folder / "dicom").is_dir():
        return folder
    return None


def _open_folder(window: Any, folder: Path) -> None:
    """Open the demo's DICOM folder (not its parent, whose JSON files would show up as
    skipped files) with its landmarks."""
    folder = Path(folder)
    dicom = folder / "dicom"
    window.open_path(dicom if dicom.is_dir() else folder, landmarks=folder / "landmarks.mrk.json")


def open_demo(window: Any) -> Task:
    """Make (or reuse) the cached demo case, then open it with its landmarks placed.

    The analysis then runs by itself because the landmarks include the three hinges.
    """
    cached = _cached_demo_dir()

    def job(progress: Any, cancel: Any) -> Path:
        if cached is not None:
            return cached
        from annulusview.phantom.dicom import demo_case_dir

        return demo_case_dir(progress)

    task = Task(job, "demo")
    task.progressed.connect(window.guard(window.show_progress))
    task.succeeded.connect(window.guard(lambda folder: _open_folder(window, folder)))
    task.failed.connect(window.guard(lambda exc: messages.show_error(window, exc, "Demo")))
    window.demo_task = task
    window.set_busy("Preparing the demo case…", task)
    task.start()
    return task
